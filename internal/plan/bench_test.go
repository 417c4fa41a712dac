package plan

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/bench/projgen"
	"github.com/haven-tre/haven/internal/pipeline"
)

// Benchmarks of planning a run_all request for a large project against a
// long workspace history; docs/benchmarks.md ("Job planning") records the
// figures. The target is 200 ms for LatestPerAction and Plan together on
// one core (-cpu 1).

const (
	benchActions = 5000
	benchHistory = 100000
)

// benchHistoryJobs makes n historical jobs spread over the project's
// actions, seeded so every run sees the same history: mostly succeeded,
// some failed, a few pending or running, cancelled or for actions that
// have since left project.yaml, and error jobs, created at random times
// over a year.
func benchHistoryJobs(p *pipeline.Pipeline, n int) []*haven.Job {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := p.AllActions()
	jobs := make([]*haven.Job, n)
	for i := range jobs {
		action := ids[rng.IntN(len(ids))]
		switch r := rng.IntN(100); {
		case r == 0:
			action = fmt.Sprintf("removed_%d", rng.IntN(50))
		case r == 1:
			action = ErrorAction
		}
		var state haven.State
		switch r := rng.IntN(100); {
		case r < 80:
			state = haven.StateSucceeded
		case r < 97:
			state = haven.StateFailed
		case r < 99:
			state = haven.StatePending
		default:
			state = haven.StateRunning
		}
		jobs[i] = &haven.Job{
			ID:        fmt.Sprintf("job%06d", i),
			RequestID: fmt.Sprintf("req%05d", rng.IntN(n/10)),
			Workspace: "bench",
			Action:    action,
			State:     state,
			Cancelled: rng.IntN(50) == 0,
			CreatedAt: testNow.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))),
		}
	}
	return jobs
}

// BenchmarkPlan plans run_all for generated 5,000-action projects (a chain
// and a fan-out/fan-in) against 100,000 historical jobs. step=latest is
// LatestPerAction over the history; step=plan is Plan given its result;
// step=total is both, what a job request costs. b.Loop keeps the calls'
// results alive, so no sink is needed. force=true re-runs every
// action that is not pending or running, the most jobs a plan can create.
func BenchmarkPlan(b *testing.B) {
	for _, shape := range projgen.Shapes {
		src, err := projgen.Generate(shape, benchActions)
		if err != nil {
			b.Fatal(err)
		}
		p := parse(b, string(src))
		history := benchHistoryJobs(p, benchHistory)
		b.Run(fmt.Sprintf("shape=%s/step=latest", shape), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				LatestPerAction(history, p, nil)
			}
		})
		for _, force := range []bool{false, true} {
			req := Request{ID: "benchrequest0001", Workspace: "bench", RequestedActions: []string{pipeline.RunAll},
				ForceRunDependencies: force, CodelistsOK: true}
			latest := LatestPerAction(history, p, nil)
			jobs, err := Plan(p, req, latest, testNow)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("shape=%s force=%v: %d latest jobs, %d new jobs", shape, force, len(latest), len(jobs))
			b.Run(fmt.Sprintf("shape=%s/force=%v/step=plan", shape, force), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Plan(p, req, latest, testNow); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("shape=%s/force=%v/step=total", shape, force), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Plan(p, req, LatestPerAction(history, p, nil), testNow); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
