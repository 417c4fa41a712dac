// Package sqltest holds the checks the SQL stores (internal/store/sqlite's
// server database and internal/store/postgres) run on top of the
// conformance suite: what depends on the database itself rather than on
// the Store contract — the schema refusing changes to the audit log,
// migrations surviving a reopen, and claims staying unique across several
// handles on one database (several processes or server replicas).
package sqltest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/store"
)

// t0 is the tests' clock origin.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Fixture is a user, project, workspace and backend in a store.
type Fixture struct {
	User      *store.User
	Project   *store.Project
	Workspace *store.Workspace
	Backend   *store.Backend
}

// Seed creates a Fixture in s.
func Seed(t testing.TB, s store.Store) *Fixture {
	t.Helper()
	ctx := context.Background()
	f := &Fixture{
		User:    &store.User{Username: "alice", Email: "alice@example.org", Fullname: "Alice Analyst", CreatedAt: t0},
		Project: &store.Project{Name: "Vaccine uptake", Slug: "vaccine-uptake", CreatedAt: t0},
		Backend: &store.Backend{Slug: "tpp", Name: "TPP", IsActive: true, CreatedAt: t0},
	}
	if err := s.CreateUser(ctx, f.User); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.CreateProject(ctx, f.Project); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	f.Workspace = &store.Workspace{Name: "ws", ProjectID: f.Project.ID, RepoURL: "https://github.com/example/study", Branch: "main", CreatedBy: f.User.ID, CreatedAt: t0}
	if err := s.CreateWorkspace(ctx, f.Workspace); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	if err := s.CreateBackend(ctx, f.Backend); err != nil {
		t.Fatalf("CreateBackend: %v", err)
	}
	return f
}

// Request queues a job request with n independent jobs at t0+offset and
// returns it.
func (f *Fixture) Request(t testing.TB, s store.Store, identifier string, n int, offset time.Duration) *store.JobRequest {
	t.Helper()
	created := t0.Add(offset)
	jr := &store.JobRequest{Identifier: identifier, WorkspaceID: f.Workspace.ID, BackendID: f.Backend.ID,
		SHA: "3f2a7c1d9e8b4a6f0c5d2e1b7a9c8d6e4f3a2b1c", CodelistsOK: true, CreatedBy: f.User.ID, CreatedAt: created}
	_, err := s.CreateJobRequest(context.Background(), jr, func([]*store.Job) ([]*store.Job, error) {
		var jobs []*store.Job
		for i := range n {
			action := fmt.Sprintf("action_%03d", i)
			jr.RequestedActions = append(jr.RequestedActions, action)
			j := &store.Job{}
			j.ID, j.Action = pipeline.JobID(identifier, action), action
			j.Image, j.RunCommand = "ehrql:v1", "ehrql:v1 generate-dataset analysis/"+action+".py"
			j.SetCode(haven.StatusCreated, "", created)
			jobs = append(jobs, j)
		}
		return jobs, nil
	})
	if err != nil {
		t.Fatalf("CreateJobRequest: %v", err)
	}
	return jr
}

// AuditAppendOnly checks that the database itself refuses to change or
// delete audit events, through raw SQL on db (the store's own database).
func AuditAppendOnly(t *testing.T, s store.Store, db *sql.DB) {
	ctx := context.Background()
	e := &store.AuditEvent{Type: "auth.sign_in", Target: "user:1", Extra: map[string]string{"ip": "192.0.2.1"}, CreatedAt: t0}
	if err := s.AppendAudit(ctx, e); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET type = 'forged'`,
		`UPDATE audit_events SET extra = '{}' WHERE id = ` + fmt.Sprint(e.ID),
		`DELETE FROM audit_events`,
		`DELETE FROM audit_events WHERE id = ` + fmt.Sprint(e.ID),
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil {
			t.Errorf("%s: succeeded, want the database to refuse it", stmt)
		}
	}
	got, err := s.AuditEvents(ctx, "", 0)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if len(got) != 1 || got[0].Type != "auth.sign_in" || got[0].Extra["ip"] != "192.0.2.1" {
		t.Errorf("after the refused changes the log is %+v, want the one event unchanged", got)
	}
}

// Constraints checks CHECK constraints the schema adds beyond the
// Store's own validation: a lease's id, holder and expiry go together.
func Constraints(t *testing.T, s store.Store, db *sql.DB) {
	ctx := context.Background()
	f := Seed(t, s)
	jr := f.Request(t, s, "aaaaaaaaaaaaaaaa", 1, 0)
	for _, stmt := range []string{
		`UPDATE jobs SET lease_id = 'x' WHERE job_request_id = ` + fmt.Sprint(jr.ID),
		`UPDATE jobs SET lease_expires_at = 5 WHERE job_request_id = ` + fmt.Sprint(jr.ID),
		`UPDATE jobs SET state = 'done' WHERE job_request_id = ` + fmt.Sprint(jr.ID),
		`UPDATE job_requests SET status = 'weird' WHERE id = ` + fmt.Sprint(jr.ID),
		`UPDATE users SET api_token_hash = 'abc' WHERE id = ` + fmt.Sprint(f.User.ID),
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil {
			t.Errorf("%s: succeeded, want a CHECK constraint to refuse it", stmt)
		}
	}
}

// Reopen checks that a database closed and opened again keeps its data
// and that the migrations, already applied, are not applied again.
func Reopen(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	s := open()
	f := Seed(t, s)
	jr := f.Request(t, s, "bbbbbbbbbbbbbbbb", 2, 0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		s = open()
		got, err := s.JobRequest(ctx, jr.ID)
		if err != nil {
			t.Fatalf("after reopening, JobRequest(%d): %v", jr.ID, err)
		}
		if got.Identifier != jr.Identifier || got.CreatedBy != f.User.ID || !got.CreatedAt.Equal(jr.CreatedAt) {
			t.Errorf("after reopening, job request = %+v, want %+v", got, jr)
		}
		jobs, err := s.RequestJobs(ctx, jr.ID)
		if err != nil || len(jobs) != 2 {
			t.Errorf("after reopening, RequestJobs = %d jobs, %v; want 2", len(jobs), err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// ConcurrentClaims queues jobs jobs on one backend and polls it from
// goroutines per store (several handles on one database) until the queue
// is empty; every job must be claimed exactly once.
func ConcurrentClaims(t *testing.T, stores []store.Store, goroutines, jobs int) {
	ctx := context.Background()
	f := Seed(t, stores[0])
	const perRequest = 10
	for i := 0; i*perRequest < jobs; i++ {
		f.Request(t, stores[0], fmt.Sprintf("cccccccccccc%04d", i), min(perRequest, jobs-i*perRequest), time.Duration(i)*time.Second)
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, len(stores)*goroutines)
	)
	for si, s := range stores {
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				agent := fmt.Sprintf("agent-%d-%d", si, g)
				for {
					task, err := s.Poll(ctx, f.Backend.ID, agent, store.Capacity{Jobs: 1000, DBJobs: 1000}, t0.Add(time.Hour), 90*time.Second)
					if err != nil {
						errs <- fmt.Errorf("%s: Poll: %w", agent, err)
						return
					}
					if task == nil {
						return
					}
					if task.Kind != store.TaskRun {
						errs <- fmt.Errorf("%s: got a %s task, want run", agent, task.Kind)
						return
					}
					mu.Lock()
					claimed[task.Job.ID]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(claimed) != jobs {
		t.Errorf("%d jobs claimed, want %d", len(claimed), jobs)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
	}
	pending, running, err := stores[0].QueueCounts(ctx, f.Backend.ID)
	if err != nil || pending != 0 || running != jobs {
		t.Errorf("QueueCounts = %d pending, %d running, %v; want 0, %d", pending, running, err, jobs)
	}
}
