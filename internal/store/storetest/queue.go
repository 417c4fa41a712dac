package storetest

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// leaseIDPattern: a 128-bit random id in URL-safe characters (22 base64
// characters or 32 hex digits at least).
var leaseIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22,}$`)

func testPollClaim(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"), js{action: "b", at: at(1)})
	task := e.poll(e.b1, big, at(10))
	if task == nil || task.Kind != store.TaskRun || task.Job == nil || task.Job.ID != jid(jr, "a") {
		t.Fatalf("Poll = %s, want a run task for a", describe(task))
	}
	check := func(what string, j *store.Job) {
		t.Helper()
		wantState(t, j, haven.StateRunning, haven.StatusInitiated)
		if j.Attempt != 1 || !leaseIDPattern.MatchString(j.LeaseID) || j.LeaseAgent != agent || j.LastUpdateSeq != 0 ||
			j.NeedsRecovery || j.JobRequestID != jr.ID || j.BackendID != e.b1.ID || j.Action != "a" || j.Workspace != "ws-one" {
			t.Errorf("%s = attempt %d, lease %q, agent %q, seq %d, recovery %v, request %d, backend %d, action %q, workspace %q",
				what, j.Attempt, j.LeaseID, j.LeaseAgent, j.LastUpdateSeq, j.NeedsRecovery, j.JobRequestID, j.BackendID, j.Action, j.Workspace)
		}
		wantTime(t, what+".LeaseExpiresAt", j.LeaseExpiresAt, at(10).Add(ttl))
		wantTime(t, what+".StartedAt", j.StartedAt, at(10))
	}
	check("task job", task.Job)
	stored := e.job(task.Job.ID)
	check("stored job", stored)
	if stored.LeaseID != task.Job.LeaseID {
		t.Errorf("stored lease %q, task lease %q", stored.LeaseID, task.Job.LeaseID)
	}
	e.wantStatus(jr, store.RequestRunning)

	b := e.claim(e.b1, at(11), jid(jr, "b"))
	if b.LeaseID == task.Job.LeaseID {
		t.Errorf("two claims got the same lease id %q", b.LeaseID)
	}
	e.noTask(e.b1, big, at(12))
}

func testPollNothing(t *testing.T, e *env) {
	e.noTask(e.b1, big, at(0))
	e.request(e.w1, e.b2, at(1), job("a"))
	e.noTask(e.b1, big, at(2))
}

func testPollOtherBackend(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b2, at(0), job("a"))
	e.noTask(e.b1, big, at(1))
	e.claim(e.b2, at(2), jid(jr, "a"))
}

func testPollCreatedAtOrder(t *testing.T, e *env) {
	r1, _ := e.request(e.w1, e.b1, at(0), js{action: "late", at: at(5)}, js{action: "early", at: at(3)})
	r2, _ := e.request(e.w1, e.b1, at(1), js{action: "mid", at: at(4)})
	e.claim(e.b1, at(10), jid(r1, "early"))
	e.claim(e.b1, at(11), jid(r2, "mid"))
	e.claim(e.b1, at(12), jid(r1, "late"))
}

func testPollDBFirst(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0), js{action: "plain", at: at(0)}, js{action: "db", db: true, at: at(1)})
	e.claim(e.b1, at(10), jid(jr, "db"))
	e.claim(e.b1, at(11), jid(jr, "plain"))
}

func testPollFairness(t *testing.T, e *env) {
	r1, _ := e.request(e.w1, e.b1, at(0), js{action: "j1", at: at(0)}, js{action: "d", db: true, at: at(3)})
	r2, _ := e.request(e.w2, e.b1, at(2), js{action: "k1", at: at(2)})
	// No workspace has a running job: the DB job first.
	e.claim(e.b1, at(10), jid(r1, "d"))
	// ws-one now has a running job: ws-two's job goes before ws-one's
	// older one.
	e.claim(e.b1, at(11), jid(r2, "k1"))
	e.claim(e.b1, at(12), jid(r1, "j1"))
}

func testPollCapacity(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0), js{action: "db", db: true, at: at(0)}, js{action: "plain", at: at(1)})
	e.noTask(e.b1, store.Capacity{}, at(10))
	// The DB job does not fit without DB capacity; the other one does.
	if task := e.poll(e.b1, store.Capacity{Jobs: 1}, at(11)); task == nil || task.Kind != store.TaskRun || task.Job.ID != jid(jr, "plain") {
		t.Fatalf("Poll(jobs 1, db 0) = %s, want a run task for plain", describe(task))
	}
	e.noTask(e.b1, store.Capacity{Jobs: 1}, at(12))
	if task := e.poll(e.b1, store.Capacity{Jobs: 1, DBJobs: 1}, at(13)); task == nil || task.Kind != store.TaskRun || task.Job.ID != jid(jr, "db") {
		t.Fatalf("Poll(jobs 1, db 1) = %s, want a run task for db", describe(task))
	}
	r2, _ := e.request(e.w1, e.b1, at(20), job("plain2"))
	e.noTask(e.b1, store.Capacity{DBJobs: 5}, at(21))
	if task := e.poll(e.b1, store.Capacity{Jobs: 1}, at(22)); task == nil || task.Kind != store.TaskRun || task.Job.ID != jid(r2, "plain2") {
		t.Fatalf("Poll(jobs 1) = %s, want a run task for plain2", describe(task))
	}
	if j := e.job(jid(r2, "plain2")); j.State != haven.StateRunning {
		t.Errorf("claimed job is %s", j.State)
	}
}

func testPollPaused(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	other, _ := e.request(e.w1, e.b2, at(1), job("a"))
	if err := s.SetBackendPaused(ctx, e.b1.ID, true); err != nil {
		t.Fatalf("SetBackendPaused: %v", err)
	}
	e.noTask(e.b1, big, at(10))
	wantState(t, e.job(jid(jr, "a")), haven.StatePending, haven.StatusPaused)
	e.claim(e.b2, at(11), jid(other, "a")) // other backends carry on
	if err := s.SetBackendPaused(ctx, e.b1.ID, false); err != nil {
		t.Fatalf("SetBackendPaused(false): %v", err)
	}
	j := e.claim(e.b1, at(12), jid(jr, "a"))
	wantState(t, j, haven.StateRunning, haven.StatusInitiated)
	if j.Attempt != 1 {
		t.Errorf("attempt = %d, want 1", j.Attempt)
	}
}

func testPollDBMaintenance(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), js{action: "db", db: true, at: at(0)}, js{action: "plain", at: at(1)})
	if err := s.TouchBackend(ctx, e.b1.ID, at(5), true); err != nil {
		t.Fatalf("TouchBackend: %v", err)
	}
	e.claim(e.b1, at(10), jid(jr, "plain"))
	e.noTask(e.b1, big, at(11))
	if j := e.job(jid(jr, "db")); j.State != haven.StatePending {
		t.Errorf("DB job during maintenance is %s, want pending", j.State)
	}
	if err := s.TouchBackend(ctx, e.b1.ID, at(20), false); err != nil {
		t.Fatalf("TouchBackend: %v", err)
	}
	e.claim(e.b1, at(21), jid(jr, "db"))
}

func testPollDependencies(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"), js{action: "b", needs: []string{"a"}}, js{action: "c", needs: []string{"b"}})
	a := e.claim(e.b1, at(10), jid(jr, "a"))
	e.noTask(e.b1, big, at(11))
	e.update(e.b1, a.ID, 1, 1, haven.StatusExecuting, at(12))
	e.noTask(e.b1, big, at(13))
	if j := e.job(jid(jr, "b")); j.State != haven.StatePending {
		t.Errorf("b waiting on a is %s, want pending", j.State)
	}
	e.update(e.b1, a.ID, 1, 2, haven.StatusSucceeded, at(14))
	b := e.claim(e.b1, at(15), jid(jr, "b"))
	e.noTask(e.b1, big, at(16))
	e.update(e.b1, b.ID, 1, 1, haven.StatusSucceeded, at(17))
	e.claim(e.b1, at(18), jid(jr, "c"))
}

func testPollDependencyEarlierRequest(t *testing.T, e *env) {
	r1, _ := e.request(e.w1, e.b1, at(0), job("a"))
	e.run(e.b1, jid(r1, "a"), haven.StatusSucceeded, at(1))
	r2, _ := e.request(e.w1, e.b1, at(10), js{action: "b", waitIDs: []string{jid(r1, "a")}})
	e.claim(e.b1, at(11), jid(r2, "b"))
	// A job waiting on a running job of an earlier request waits.
	e.request(e.w1, e.b1, at(12), js{action: "c", waitIDs: []string{jid(r2, "b")}})
	e.noTask(e.b1, big, at(13))
}

func testDependencyFailedOnUpdate(t *testing.T, e *env) {
	r1, _ := e.request(e.w1, e.b1, at(0), job("a"))
	r2, _ := e.request(e.w1, e.b1, at(1), js{action: "b", waitIDs: []string{jid(r1, "a")}}, js{action: "c", needs: []string{"b"}})
	a := e.claim(e.b1, at(10), jid(r1, "a"))
	e.update(e.b1, a.ID, 1, 1, haven.StatusExecuting, at(11))
	e.update(e.b1, a.ID, 1, 2, haven.StatusNonzeroExit, at(12))
	b := e.job(jid(r2, "b"))
	wantState(t, b, haven.StateFailed, haven.StatusDependencyFailed)
	if b.CompletedAt.IsZero() {
		t.Errorf("dependency_failed job has no CompletedAt")
	}
	e.noTask(e.b1, big, at(13))
	wantState(t, e.job(jid(r2, "c")), haven.StateFailed, haven.StatusDependencyFailed)
	e.wantStatus(r1, store.RequestFailed)
	if got := e.wantStatus(r2, store.RequestFailed); got.StatusMessage != "Failed due to job failure" {
		t.Errorf("request message = %q, want %q", got.StatusMessage, "Failed due to job failure")
	}
}

func testDependencyFailedOnPoll(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0),
		js{action: "a", at: at(0)}, js{action: "b", needs: []string{"a"}, at: at(1)},
		js{action: "c", needs: []string{"b"}, at: at(2)}, js{action: "d", at: at(3)})
	if got, err := e.s.Cancel(e.ctx, jr.ID, []string{"a"}, at(5)); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("Cancel(a) = %v, %v", got, err)
	}
	d := e.claim(e.b1, at(6), jid(jr, "d"))
	for _, action := range []string{"b", "c"} {
		j := e.job(jid(jr, action))
		wantState(t, j, haven.StateFailed, haven.StatusDependencyFailed)
		if j.Cancelled {
			t.Errorf("%s marked cancelled; only a was", action)
		}
	}
	e.noTask(e.b1, big, at(7))
	e.wantStatus(jr, store.RequestRunning)
	e.update(e.b1, d.ID, 1, 1, haven.StatusSucceeded, at(8))
	e.wantStatus(jr, store.RequestFailed)
}

// Leases.

func testExtendLease(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	a := e.claim(e.b1, at(10), jid(jr, "a"))
	expires, cancel, err := s.ExtendLease(ctx, e.b1.ID, a.LeaseID, agent, at(40), ttl)
	if err != nil || cancel {
		t.Fatalf("ExtendLease = %v, cancel %v, %v", expires, cancel, err)
	}
	wantTime(t, "ExtendLease expires", expires, at(40).Add(ttl))
	wantTime(t, "stored LeaseExpiresAt", e.job(a.ID).LeaseExpiresAt, at(40).Add(ttl))

	for _, tc := range []struct {
		name           string
		backend        int64
		lease, agentID string
	}{
		{"another agent", e.b1.ID, a.LeaseID, "agent-2"},
		{"an unknown lease", e.b1.ID, "AAAAAAAAAAAAAAAAAAAAAA", agent},
		{"another backend", e.b2.ID, a.LeaseID, agent},
		{"an empty lease id", e.b1.ID, "", agent},
	} {
		_, _, err := s.ExtendLease(ctx, tc.backend, tc.lease, tc.agentID, at(50), ttl)
		wantErr(t, "ExtendLease by "+tc.name, err, store.ErrLeaseLost)
	}
	wantTime(t, "LeaseExpiresAt after refused extensions", e.job(a.ID).LeaseExpiresAt, at(40).Add(ttl))

	e.update(e.b1, a.ID, 1, 1, haven.StatusSucceeded, at(60))
	_, _, err = s.ExtendLease(ctx, e.b1.ID, a.LeaseID, agent, at(61), ttl)
	wantErr(t, "ExtendLease of a finished job", err, store.ErrLeaseLost)
}

func testReleaseLease(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	a := e.claim(e.b1, at(10), jid(jr, "a"))
	wantErr(t, "ReleaseLease by another agent", s.ReleaseLease(ctx, e.b1.ID, a.LeaseID, "agent-2", at(11)), store.ErrLeaseLost)
	if j := e.job(a.ID); j.LeaseID != a.LeaseID || j.State != haven.StateRunning {
		t.Fatalf("a refused release changed the job: %s, lease %q", j.State, j.LeaseID)
	}
	if err := s.ReleaseLease(ctx, e.b1.ID, a.LeaseID, agent, at(12)); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	j := e.job(a.ID)
	wantState(t, j, haven.StatePending, haven.StatusWaitingOnNewTask)
	if j.LeaseID != "" {
		t.Errorf("released job keeps lease %q", j.LeaseID)
	}
	wantTime(t, "released job StartedAt", j.StartedAt, zero)
	e.wantStatus(jr, store.RequestPending)

	again := e.claim(e.b1, at(13), a.ID)
	if again.Attempt != 2 || again.LeaseID == a.LeaseID {
		t.Errorf("claim after release: attempt %d, lease %q (old %q); want attempt 2 and a new lease", again.Attempt, again.LeaseID, a.LeaseID)
	}
	_, _, err := s.ExtendLease(ctx, e.b1.ID, a.LeaseID, agent, at(14), ttl)
	wantErr(t, "ExtendLease of a released lease", err, store.ErrLeaseLost)
	wantErr(t, "ReleaseLease of a released lease", s.ReleaseLease(ctx, e.b1.ID, a.LeaseID, agent, at(15)), store.ErrLeaseLost)
	if j := e.job(a.ID); j.LeaseID != again.LeaseID || j.State != haven.StateRunning {
		t.Errorf("releasing the old lease changed the new claim: %s, lease %q", j.State, j.LeaseID)
	}
}

func testLeaseLostAfterReclaim(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	first := e.claim(e.b1, at(10), jid(jr, "a"))
	if n, err := s.Reap(ctx, at(10).Add(ttl+time.Second), 30*time.Minute); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1", n, err)
	}
	second := e.claim(e.b1, at(200), first.ID)
	if second.Attempt != 2 || second.LeaseID == first.LeaseID {
		t.Fatalf("reclaim: attempt %d, lease %q (old %q)", second.Attempt, second.LeaseID, first.LeaseID)
	}
	_, _, err := s.ExtendLease(ctx, e.b1.ID, first.LeaseID, agent, at(201), ttl)
	wantErr(t, "ExtendLease of the reaped lease", err, store.ErrLeaseLost)
	wantErr(t, "ReleaseLease of the reaped lease", s.ReleaseLease(ctx, e.b1.ID, first.LeaseID, agent, at(202)), store.ErrLeaseLost)
	_, err = s.ApplyUpdate(ctx, e.b1.ID, first.ID, upd(1, 1, haven.StatusPreparing, at(203)), at(203), ttl)
	wantErr(t, "ApplyUpdate for the reaped attempt", err, store.ErrSuperseded)
	j := e.job(first.ID)
	wantState(t, j, haven.StateRunning, haven.StatusInitiated)
	if j.Attempt != 2 || j.LeaseID != second.LeaseID {
		t.Errorf("after refused calls for the old attempt: attempt %d, lease %q; want 2, %q", j.Attempt, j.LeaseID, second.LeaseID)
	}
	if _, _, err := s.ExtendLease(ctx, e.b1.ID, second.LeaseID, agent, at(204), ttl); err != nil {
		t.Errorf("ExtendLease of the current lease: %v", err)
	}
}

// Reaping.

func testReap(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	codes := []haven.StatusCode{
		haven.StatusInitiated, haven.StatusPreparing, haven.StatusPrepared,
		haven.StatusExecuting, haven.StatusExecuted, haven.StatusFinalizing, haven.StatusFinalized,
	}
	var (
		claimed []*store.Job
		reqs    []*store.JobRequest
	)
	for i, code := range codes {
		jr, _ := e.request(e.w1, e.b1, at(i), job(string(code)))
		reqs = append(reqs, jr)
		j := e.claim(e.b1, at(10+i), jid(jr, string(code)))
		if code != haven.StatusInitiated {
			e.update(e.b1, j.ID, 1, 1, code, at(20+i))
		}
		claimed = append(claimed, j)
	}
	// A job still inside its lease is left alone.
	fresh, _ := e.request(e.w2, e.b1, at(30), job("fresh"))
	e.claim(e.b1, at(400), jid(fresh, "fresh"))

	if n, err := s.Reap(ctx, at(50), 30*time.Minute); err != nil || n != 0 {
		t.Errorf("Reap before any lease expired = %d, %v; want 0", n, err)
	}
	if n, err := s.Reap(ctx, at(450), 30*time.Minute); err != nil || n != len(codes) {
		t.Errorf("Reap = %d, %v; want %d", n, err, len(codes))
	}
	var recovering []string
	for i, code := range codes {
		j := e.job(claimed[i].ID)
		if j.LeaseID != "" {
			t.Errorf("%s: reaped job keeps lease %q", code, j.LeaseID)
		}
		if i < 3 { // nothing started: back to the queue
			wantState(t, j, haven.StatePending, haven.StatusWaitingOnNewTask)
			wantTime(t, string(code)+" StartedAt", j.StartedAt, zero)
			if j.NeedsRecovery {
				t.Errorf("%s: requeued job needs recovery", code)
			}
			e.wantStatus(reqs[i], store.RequestPending) // re-derived
			continue
		}
		wantState(t, j, haven.StateRunning, code)
		if !j.NeedsRecovery {
			t.Errorf("%s: NeedsRecovery = false after its lease expired", code)
		}
		wantTime(t, string(code)+" RecoverySince", j.RecoverySince, at(450))
		e.wantStatus(reqs[i], store.RequestRunning)
		recovering = append(recovering, j.ID)
	}
	if j := e.job(jid(fresh, "fresh")); j.State != haven.StateRunning || j.LeaseID == "" || j.NeedsRecovery {
		t.Errorf("job inside its lease was reaped: %+v", j)
	}
	if n, err := s.Reap(ctx, at(451), 30*time.Minute); err != nil || n != 0 {
		t.Errorf("Reap again = %d, %v; want 0", n, err)
	}

	// Recover tasks come first, then the requeued jobs as new attempts.
	var recovered []string
	for i := range recovering {
		task := e.poll(e.b1, big, at(460+i))
		if task == nil || task.Kind != store.TaskRecover {
			t.Fatalf("Poll %d = %s, want a recover task", i+1, describe(task))
		}
		if task.Job.Attempt != 1 {
			t.Errorf("recover task attempt = %d, want 1 (same attempt)", task.Job.Attempt)
		}
		recovered = append(recovered, task.Job.ID)
	}
	if !slices.Equal(sorted(recovered), sorted(recovering)) {
		t.Errorf("recover tasks for %v, want %v", recovered, recovering)
	}
	for i := range 3 {
		j := e.claim(e.b1, at(470+i), claimed[i].ID)
		if j.Attempt != 2 {
			t.Errorf("requeued job attempt = %d, want 2", j.Attempt)
		}
	}
	e.noTask(e.b1, big, at(480))
}

func testReapRecover(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	r1, _ := e.request(e.w1, e.b1, at(0), job("a"))
	a := e.claim(e.b1, at(10), jid(r1, "a"))
	e.update(e.b1, a.ID, 1, 1, haven.StatusExecuting, at(20))
	r2, _ := e.request(e.w1, e.b1, at(30), job("b"))

	if n, err := s.Reap(ctx, at(111), 30*time.Minute); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1", n, err)
	}
	task := e.poll(e.b1, big, at(112))
	if task == nil || task.Kind != store.TaskRecover || task.Job.ID != a.ID {
		t.Fatalf("Poll = %s, want the recover task for a before any run task", describe(task))
	}
	r := task.Job
	if r.Attempt != 1 || !leaseIDPattern.MatchString(r.LeaseID) || r.LeaseID == a.LeaseID || r.LeaseAgent != agent {
		t.Errorf("recover task: attempt %d, lease %q (old %q), agent %q; want attempt 1 and a new lease", r.Attempt, r.LeaseID, a.LeaseID, r.LeaseAgent)
	}
	wantTime(t, "recover lease expiry", r.LeaseExpiresAt, at(112).Add(ttl))
	j := e.job(a.ID)
	if j.NeedsRecovery || j.LeaseID != r.LeaseID || j.Attempt != 1 {
		t.Errorf("after the recover task: recovery %v, lease %q, attempt %d", j.NeedsRecovery, j.LeaseID, j.Attempt)
	}
	wantState(t, j, haven.StateRunning, haven.StatusExecuting)
	wantTime(t, "RecoverySince", j.RecoverySince, at(111))

	_, _, err := s.ExtendLease(ctx, e.b1.ID, a.LeaseID, agent, at(113), ttl)
	wantErr(t, "ExtendLease of the expired lease", err, store.ErrLeaseLost)
	if _, _, err := s.ExtendLease(ctx, e.b1.ID, r.LeaseID, agent, at(113), ttl); err != nil {
		t.Errorf("ExtendLease of the recovery lease: %v", err)
	}
	e.claim(e.b1, at(114), jid(r2, "b"))
	e.noTask(e.b1, big, at(115))

	if !e.update(e.b1, a.ID, 1, 2, haven.StatusFinalized, at(116)) || !e.update(e.b1, a.ID, 1, 3, haven.StatusSucceeded, at(117)) {
		t.Errorf("updates after recovery not applied")
	}
	wantState(t, e.job(a.ID), haven.StateSucceeded, haven.StatusSucceeded)
	e.wantStatus(r1, store.RequestSucceeded)
}

func testReapDeadline(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	const deadline = 30 * time.Minute
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	a := e.claim(e.b1, at(0), jid(jr, "a"))
	e.update(e.b1, a.ID, 1, 1, haven.StatusExecuting, at(10)) // lease to 100
	if n, err := s.Reap(ctx, at(101), deadline); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1", n, err)
	}
	if task := e.poll(e.b1, big, at(102)); task == nil || task.Kind != store.TaskRecover {
		t.Fatalf("Poll = %s, want a recover task", describe(task))
	}
	// The recovery lease lapses too: recovery_since is kept.
	if n, err := s.Reap(ctx, at(200), deadline); err != nil || n != 1 {
		t.Fatalf("Reap of the recovery lease = %d, %v; want 1", n, err)
	}
	j := e.job(a.ID)
	if !j.NeedsRecovery {
		t.Errorf("NeedsRecovery = false after the recovery lease expired")
	}
	wantTime(t, "RecoverySince after a second expiry", j.RecoverySince, at(101))

	before := at(101).Add(deadline - time.Second)
	if n, err := s.Reap(ctx, before, deadline); err != nil || n != 0 {
		t.Errorf("Reap before the deadline = %d, %v; want 0", n, err)
	}
	if j := e.job(a.ID); j.State != haven.StateRunning {
		t.Errorf("job failed before its recovery deadline: %s", j.StatusCode)
	}
	after := at(101).Add(deadline + time.Second)
	if n, err := s.Reap(ctx, after, deadline); err != nil || n != 1 {
		t.Errorf("Reap after the deadline = %d, %v; want 1", n, err)
	}
	j = e.job(a.ID)
	wantState(t, j, haven.StateFailed, haven.StatusInternalError)
	wantTime(t, "CompletedAt", j.CompletedAt, after)
	if got := e.wantStatus(jr, store.RequestFailed); got.StatusMessage != "Failed due to job failure" {
		t.Errorf("request message = %q", got.StatusMessage)
	}
	e.noTask(e.b1, big, after.Add(time.Second)) // no recover task for a final job
	if n, err := s.Reap(ctx, after.Add(time.Hour), deadline); err != nil || n != 0 {
		t.Errorf("Reap of a failed job = %d, %v; want 0", n, err)
	}
}

// testCancelledJobLeavesQueue: a cancelled job whose claim ends without a
// final report (released, reaped before it started, or reported for
// retry) is not left pending forever: nothing would ever claim it.
func testCancelledJobLeavesQueue(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), js{action: "a", at: at(0)}, js{action: "b", at: at(1)}, js{action: "c", at: at(2)})
	a := e.claim(e.b1, at(10), jid(jr, "a")) // lease to 100
	e.claim(e.b1, at(11), jid(jr, "b"))      // lease to 101
	c := e.claim(e.b1, at(12), jid(jr, "c"))
	e.update(e.b1, c.ID, 1, 1, haven.StatusPreparing, at(13)) // lease to 103
	if _, err := s.Cancel(ctx, jr.ID, nil, at(20)); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if err := s.ReleaseLease(ctx, e.b1.ID, a.LeaseID, agent, at(21)); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	e.update(e.b1, c.ID, 1, 2, haven.StatusWaitingOnNewTask, at(22))
	if n, err := s.Reap(ctx, at(102), 30*time.Minute); err != nil || n != 1 {
		t.Errorf("Reap = %d, %v; want 1 (b)", n, err)
	}
	for _, action := range []string{"a", "b", "c"} {
		j := e.job(jid(jr, action))
		if j.State == haven.StatePending {
			t.Errorf("cancelled job %s was put back in the queue (%s), where nothing will claim it", action, j.StatusCode)
			continue
		}
		wantState(t, j, haven.StateFailed, haven.StatusCancelledByUser)
	}
	e.wantStatus(jr, store.RequestFailed)
	e.noTask(e.b1, big, at(103))
}

// testTimesInUTC: times given in another zone are stored and returned as
// the same instants in UTC.
func testTimesInUTC(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	cet := time.FixedZone("CET", 3600)
	if err := s.TouchBackend(ctx, e.b1.ID, at(5).In(cet), false); err != nil {
		t.Fatalf("TouchBackend: %v", err)
	}
	b, err := s.Backend(ctx, e.b1.ID)
	if err != nil {
		t.Fatalf("Backend: %v", err)
	}
	wantTime(t, "LastSeenAt", b.LastSeenAt, at(5))

	jr, _ := e.request(e.w1, e.b1, at(0).In(cet), job("a"))
	wantTime(t, "JobRequest.CreatedAt", e.jobRequest(jr.ID).CreatedAt, at(0))
	task := e.poll(e.b1, big, at(10).In(cet))
	if task == nil {
		t.Fatalf("Poll = nil, want a run task")
	}
	wantTime(t, "task LeaseExpiresAt", task.Job.LeaseExpiresAt, at(10).Add(ttl))
	wantTime(t, "task StartedAt", task.Job.StartedAt, at(10))
	j := e.job(task.Job.ID)
	wantTime(t, "CreatedAt", j.CreatedAt, at(0))
	wantTime(t, "StartedAt", j.StartedAt, at(10))
	wantTime(t, "LeaseExpiresAt", j.LeaseExpiresAt, at(10).Add(ttl))
	e.update(e.b1, j.ID, 1, 1, haven.StatusSucceeded, at(20).In(cet))
	wantTime(t, "CompletedAt", e.job(j.ID).CompletedAt, at(20))
}
