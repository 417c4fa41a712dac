package agentapi

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the agent endpoints' counters.
type metrics struct {
	polls   *prometheus.CounterVec // by outcome
	claims  *prometheus.CounterVec // by task kind
	updates *prometheus.CounterVec // by outcome
}

// Outcome labels.
const (
	outcomeTask         = "task"
	outcomeEmpty        = "empty"
	outcomeUnauthorized = "unauthorized"
	outcomeForbidden    = "forbidden"
	outcomeInvalid      = "invalid"
	outcomeError        = "error"
	outcomeApplied      = "applied"
	outcomeIgnored      = "ignored"
	outcomeConflict     = "conflict"
	outcomeNotFound     = "not_found"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "haven_agent_polls_total",
			Help: "Agent polls answered, by outcome (task, empty, unauthorized, forbidden, invalid, error).",
		}, []string{"outcome"}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "haven_agent_tasks_total",
			Help: "Tasks handed to agents, by kind (run, cancel, recover).",
		}, []string{"kind"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "haven_agent_updates_total",
			Help: "Agent status updates, by outcome (applied, ignored, conflict, invalid, not_found, unauthorized, forbidden, error).",
		}, []string{"outcome"}),
	}
	if reg != nil {
		m.polls = register(reg, m.polls)
		m.claims = register(reg, m.claims)
		m.updates = register(reg, m.updates)
	}
	return m
}

// register registers c, or returns the collector already registered under
// its name (two APIs on one registry share counters).
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return c
}
