package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// contentSecurityPolicy is sent with every response (spec §14).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"

// reqState is what one request carries through the handlers: its
// reference id and, once looked up, the signed-in user.
type reqState struct {
	id      string // reference shown on error pages and logged
	route   string
	loaded  bool // the session has been looked up
	user    *store.User
	session *store.Session
	api     bool // authenticated with a bearer token
}

// csrfToken is the signed-in session's CSRF token; "" when signed out.
func (st *reqState) csrfToken() string {
	if st.session == nil {
		return ""
	}
	return st.session.CSRFToken
}

type stateKey struct{}

func state(r *http.Request) *reqState {
	if s, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{id: webkit.NewRequestID()}
}

// wrap puts the middleware around one route's handler: the request's
// state, then webkit's security headers, panic recovery and logging,
// then the metrics.
func (h *Handler) wrap(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &reqState{id: webkit.NewRequestID(), route: route}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		status, elapsed := h.mw.Serve(w, r, st.id, route, next)
		h.metrics.observe(route, r.Method, status, elapsed)
	})
}

// metrics are the HTTP metrics: requests by route, method and status,
// and latency by route.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "haven_http_requests_total",
			Help: "HTTP requests served by the job server's pages and API, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "haven_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests to the job server's pages and API, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("registering HTTP metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		method = "other" // keep the label set bounded
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
