package storetest

import (
	"maps"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// agentCodes are the codes an agent may report (spec §4.1).
var agentCodes = []haven.StatusCode{
	haven.StatusPreparing, haven.StatusPrepared, haven.StatusExecuting, haven.StatusExecuted,
	haven.StatusFinalizing, haven.StatusFinalized,
	haven.StatusSucceeded, haven.StatusNonzeroExit, haven.StatusUnmatchedPatterns, haven.StatusInternalError,
	haven.StatusJobError, haven.StatusCancelledByUser,
	haven.StatusWaitingOnNewTask,
}

func testUpdateAgentCodes(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	for i, code := range agentCodes {
		jr, _ := e.request(e.w1, e.b1, at(100*i), job(string(code)))
		claimedAt := at(100*i + 1)
		j := e.claim(e.b1, claimedAt, jid(jr, string(code)))
		now := at(100*i + 5)
		u := upd(1, 1, code, now)
		u.StatusMessage = "message for " + string(code)
		applied, err := s.ApplyUpdate(ctx, e.b1.ID, j.ID, u, now, ttl)
		if err != nil || !applied {
			t.Errorf("ApplyUpdate(%s) = %v, %v; want applied", code, applied, err)
			continue
		}
		got := e.job(j.ID)
		wantState(t, got, code.State(), code)
		if got.StatusMessage != u.StatusMessage || got.LastUpdateSeq != 1 || got.Attempt != 1 {
			t.Errorf("%s: message %q, seq %d, attempt %d; want %q, 1, 1", code, got.StatusMessage, got.LastUpdateSeq, got.Attempt, u.StatusMessage)
		}
		switch {
		case code.IsRunning():
			wantTime(t, string(code)+" StartedAt", got.StartedAt, claimedAt)
			wantTime(t, string(code)+" CompletedAt", got.CompletedAt, zero)
			wantTime(t, string(code)+" renewed LeaseExpiresAt", got.LeaseExpiresAt, now.Add(ttl))
			if got.LeaseID != j.LeaseID {
				t.Errorf("%s: lease %q, want %q", code, got.LeaseID, j.LeaseID)
			}
			e.wantStatus(jr, store.RequestRunning)
		case code.IsFinal():
			if got.StartedAt.IsZero() {
				t.Errorf("%s: final job lost its StartedAt", code)
			}
			wantTime(t, string(code)+" CompletedAt", got.CompletedAt, now)
			if got.LeaseID != "" {
				t.Errorf("%s: final job keeps lease %q", code, got.LeaseID)
			}
			e.wantStatus(jr, string(code.State()))
		default: // waiting_on_new_task: back to the queue
			wantTime(t, string(code)+" StartedAt", got.StartedAt, zero)
			if got.LeaseID != "" {
				t.Errorf("%s: requeued job keeps lease %q", code, got.LeaseID)
			}
			e.wantStatus(jr, store.RequestPending)
			// Take it off the queue so later iterations claim their own job.
			e.claim(e.b1, at(100*i+6), j.ID)
		}
	}
}

func testUpdateInvalidCode(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	j := e.claim(e.b1, at(1), jid(jr, "a"))
	bad := []haven.StatusCode{
		haven.StatusCreated, haven.StatusInitiated, haven.StatusPaused, haven.StatusWaitingDBMaintenance,
		haven.StatusWaitingOnDependencies, haven.StatusWaitingOnWorkers, haven.StatusWaitingOnDBWorkers,
		haven.StatusWaitingOnReboot, haven.StatusDependencyFailed, haven.StatusKilledByAdmin, haven.StatusStaleCodelists,
		"", "bogus", "SUCCEEDED",
	}
	for i, code := range bad {
		now := at(10 + i)
		applied, err := s.ApplyUpdate(ctx, e.b1.ID, j.ID, upd(1, int64(i+1), code, now), now, ttl)
		if applied {
			t.Errorf("ApplyUpdate(%q) applied", code)
		}
		wantCode(t, "ApplyUpdate(code "+string(code)+")", err, haven.EINVALID)
	}
	got := e.job(j.ID)
	wantState(t, got, haven.StateRunning, haven.StatusInitiated)
	if got.LastUpdateSeq != 0 {
		t.Errorf("refused updates moved LastUpdateSeq to %d", got.LastUpdateSeq)
	}
	wantTime(t, "LeaseExpiresAt after refused updates", got.LeaseExpiresAt, at(1).Add(ttl))
	if !e.update(e.b1, j.ID, 1, 1, haven.StatusPreparing, at(40)) {
		t.Errorf("a valid update after refused ones was not applied")
	}
}

func testUpdateSeq(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	j := e.claim(e.b1, at(1), jid(jr, "a"))
	steps := []struct {
		seq     int64
		code    haven.StatusCode
		applied bool
		want    haven.StatusCode
		seqNow  int64
		expires time.Time
	}{
		{1, haven.StatusPreparing, true, haven.StatusPreparing, 1, at(10).Add(ttl)},
		{1, haven.StatusPrepared, false, haven.StatusPreparing, 1, at(10).Add(ttl)}, // replay of seq 1
		{3, haven.StatusExecuting, true, haven.StatusExecuting, 3, at(14).Add(ttl)},
		{2, haven.StatusPrepared, false, haven.StatusExecuting, 3, at(14).Add(ttl)},  // stale
		{3, haven.StatusExecuting, false, haven.StatusExecuting, 3, at(14).Add(ttl)}, // replay
		{0, haven.StatusExecuted, false, haven.StatusExecuting, 3, at(14).Add(ttl)},
		{4, haven.StatusExecuted, true, haven.StatusExecuted, 4, at(22).Add(ttl)},
	}
	for i, st := range steps {
		now := at(10 + 2*i) // step i is sent at 10+2i seconds
		if got := e.update(e.b1, j.ID, 1, st.seq, st.code, now); got != st.applied {
			t.Errorf("step %d: ApplyUpdate(seq %d, %s) applied = %v, want %v", i, st.seq, st.code, got, st.applied)
		}
		got := e.job(j.ID)
		if got.StatusCode != st.want || got.LastUpdateSeq != st.seqNow {
			t.Errorf("step %d: job is %s at seq %d, want %s at seq %d", i, got.StatusCode, got.LastUpdateSeq, st.want, st.seqNow)
		}
		wantTime(t, "LeaseExpiresAt", got.LeaseExpiresAt, st.expires)
	}
}

func testUpdateFinalSticky(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	j := e.claim(e.b1, at(1), jid(jr, "a"))
	if !e.update(e.b1, j.ID, 1, 1, haven.StatusSucceeded, at(2)) {
		t.Fatalf("succeeded not applied")
	}
	for i, code := range []haven.StatusCode{haven.StatusNonzeroExit, haven.StatusExecuting, haven.StatusWaitingOnNewTask, haven.StatusCancelledByUser} {
		if e.update(e.b1, j.ID, 1, int64(2+i), code, at(10+i)) {
			t.Errorf("ApplyUpdate(%s) after succeeded was applied", code)
		}
	}
	got := e.job(j.ID)
	wantState(t, got, haven.StateSucceeded, haven.StatusSucceeded)
	wantTime(t, "CompletedAt", got.CompletedAt, at(2))
	e.wantStatus(jr, store.RequestSucceeded)
}

func testUpdateSuperseded(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	j := e.claim(e.b1, at(1), jid(jr, "a"))
	e.update(e.b1, j.ID, 1, 1, haven.StatusPreparing, at(2))
	e.update(e.b1, j.ID, 1, 2, haven.StatusWaitingOnNewTask, at(3))
	j2 := e.claim(e.b1, at(4), j.ID)
	if j2.Attempt != 2 || j2.LastUpdateSeq != 0 {
		t.Fatalf("second claim: attempt %d, seq %d; want 2, 0", j2.Attempt, j2.LastUpdateSeq)
	}
	for _, attempt := range []int{1, 0} {
		applied, err := s.ApplyUpdate(ctx, e.b1.ID, j.ID, upd(attempt, 9, haven.StatusSucceeded, at(5)), at(5), ttl)
		if applied {
			t.Errorf("update for attempt %d applied", attempt)
		}
		wantErr(t, "ApplyUpdate(older attempt)", err, store.ErrSuperseded)
	}
	got := e.job(j.ID)
	wantState(t, got, haven.StateRunning, haven.StatusInitiated)
	if got.Attempt != 2 || got.LeaseID != j2.LeaseID {
		t.Errorf("superseded updates changed the job: attempt %d, lease %q", got.Attempt, got.LeaseID)
	}
	if !e.update(e.b1, j.ID, 2, 1, haven.StatusPreparing, at(6)) {
		t.Errorf("first update of attempt 2 (seq 1) not applied")
	}
}

func testUpdateWrongBackend(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	j := e.claim(e.b1, at(1), jid(jr, "a"))
	_, err := s.ApplyUpdate(ctx, e.b2.ID, j.ID, upd(1, 1, haven.StatusSucceeded, at(2)), at(2), ttl)
	wantCode(t, "ApplyUpdate from another backend", err, haven.ENOTFOUND)
	_, err = s.ApplyUpdate(ctx, e.b1.ID, "aaaaaaaaaaaaaaaa", upd(1, 1, haven.StatusSucceeded, at(2)), at(2), ttl)
	wantCode(t, "ApplyUpdate(unknown job)", err, haven.ENOTFOUND)
	got := e.job(j.ID)
	wantState(t, got, haven.StateRunning, haven.StatusInitiated)
	if got.LastUpdateSeq != 0 {
		t.Errorf("refused update moved LastUpdateSeq to %d", got.LastUpdateSeq)
	}
}

func testUpdateMetrics(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"), js{action: "b", at: at(1)})
	a := e.claim(e.b1, at(2), jid(jr, "a"))
	u := upd(1, 1, haven.StatusExecuting, at(3))
	u.Metrics = map[string]float64{"cpu_mean": 5}
	if ok, err := s.ApplyUpdate(ctx, e.b1.ID, a.ID, u, at(3), ttl); err != nil || !ok {
		t.Fatalf("ApplyUpdate: %v, %v", ok, err)
	}
	if got := e.job(a.ID).Metrics; !maps.Equal(got, u.Metrics) {
		t.Errorf("metrics after a running update = %v, want %v", got, u.Metrics)
	}
	zeroExit := 0
	u = upd(1, 2, haven.StatusSucceeded, at(4))
	u.Metrics = map[string]float64{"cpu_mean": 12.5, "cpu_peak": 99.75, "mem_mb_peak": 2048}
	u.ExitCode = &zeroExit
	u.ImageDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if ok, err := s.ApplyUpdate(ctx, e.b1.ID, a.ID, u, at(4), ttl); err != nil || !ok {
		t.Fatalf("ApplyUpdate: %v, %v", ok, err)
	}
	got := e.job(a.ID)
	if !maps.Equal(got.Metrics, u.Metrics) {
		t.Errorf("metrics = %v, want %v", got.Metrics, u.Metrics)
	}
	if got.ExitCode == nil || *got.ExitCode != 0 {
		t.Errorf("exit code = %v, want 0", got.ExitCode)
	}

	b := e.claim(e.b1, at(5), jid(jr, "b"))
	three := 3
	u = upd(1, 1, haven.StatusNonzeroExit, at(6))
	u.StatusMessage = "Job exited with error code 3"
	u.ExitCode = &three
	if ok, err := s.ApplyUpdate(ctx, e.b1.ID, b.ID, u, at(6), ttl); err != nil || !ok {
		t.Fatalf("ApplyUpdate: %v, %v", ok, err)
	}
	got = e.job(b.ID)
	if got.ExitCode == nil || *got.ExitCode != 3 || got.StatusMessage != u.StatusMessage {
		t.Errorf("exit code = %v, message %q; want 3, %q", got.ExitCode, got.StatusMessage, u.StatusMessage)
	}
}

func testUpdateRetry(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	first := e.claim(e.b1, at(1), jid(jr, "a"))
	e.update(e.b1, first.ID, 1, 1, haven.StatusPreparing, at(2))
	if !e.update(e.b1, first.ID, 1, 2, haven.StatusWaitingOnNewTask, at(3)) {
		t.Fatalf("waiting_on_new_task not applied")
	}
	j := e.job(first.ID)
	wantState(t, j, haven.StatePending, haven.StatusWaitingOnNewTask)
	wantTime(t, "StartedAt", j.StartedAt, zero)
	if j.LeaseID != "" || j.Attempt != 1 {
		t.Errorf("requeued job: lease %q, attempt %d; want no lease, attempt 1", j.LeaseID, j.Attempt)
	}
	e.wantStatus(jr, store.RequestPending)
	_, _, err := s.ExtendLease(ctx, e.b1.ID, first.LeaseID, agent, at(4), ttl)
	wantErr(t, "ExtendLease after a requeue", err, store.ErrLeaseLost)

	second := e.claim(e.b1, at(5), first.ID)
	if second.Attempt != 2 || second.LeaseID == first.LeaseID || second.LastUpdateSeq != 0 {
		t.Errorf("new attempt: attempt %d, lease %q (old %q), seq %d", second.Attempt, second.LeaseID, first.LeaseID, second.LastUpdateSeq)
	}
	wantTime(t, "new attempt StartedAt", second.StartedAt, at(5))
	if !e.update(e.b1, first.ID, 2, 1, haven.StatusPreparing, at(6)) {
		t.Errorf("seq 1 of attempt 2 not applied")
	}
}

func testUpdateLateFinal(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"), js{action: "b", at: at(1)})
	a := e.claim(e.b1, at(10), jid(jr, "a"))
	e.update(e.b1, a.ID, 1, 1, haven.StatusExecuting, at(20)) // lease to 110
	if n, err := s.Reap(ctx, at(111), 30*time.Minute); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1", n, err)
	}
	if j := e.job(a.ID); !j.NeedsRecovery {
		t.Fatalf("reaped job does not need recovery")
	}
	// The agent's final report arrives late: it is not lost.
	if !e.update(e.b1, a.ID, 1, 2, haven.StatusSucceeded, at(112)) {
		t.Fatalf("late final report not applied")
	}
	j := e.job(a.ID)
	wantState(t, j, haven.StateSucceeded, haven.StatusSucceeded)
	if j.NeedsRecovery {
		t.Errorf("NeedsRecovery still set after the late final report")
	}
	wantTime(t, "CompletedAt", j.CompletedAt, at(112))

	// Lapsed but not yet reaped: also accepted.
	b := e.claim(e.b1, at(113), jid(jr, "b")) // lease to 203
	if !e.update(e.b1, b.ID, 1, 1, haven.StatusFinalized, at(300)) {
		t.Errorf("update after the lease lapsed (not reaped) not applied")
	}
	if !e.update(e.b1, b.ID, 1, 2, haven.StatusSucceeded, at(301)) {
		t.Errorf("final update after the lease lapsed (not reaped) not applied")
	}
	e.wantStatus(jr, store.RequestSucceeded)
	e.noTask(e.b1, big, at(302)) // no recover task
}

func testRequestStatus(t *testing.T, e *env) {
	r1, _ := e.request(e.w1, e.b1, at(0), job("a"), js{action: "b", at: at(1)})
	e.wantStatus(r1, store.RequestPending)
	e.claim(e.b1, at(2), jid(r1, "a"))
	e.wantStatus(r1, store.RequestRunning)
	e.update(e.b1, jid(r1, "a"), 1, 1, haven.StatusSucceeded, at(3))
	e.wantStatus(r1, store.RequestRunning) // a succeeded, b pending
	e.claim(e.b1, at(4), jid(r1, "b"))
	e.update(e.b1, jid(r1, "b"), 1, 1, haven.StatusSucceeded, at(5))
	e.wantStatus(r1, store.RequestSucceeded)

	r2, _ := e.request(e.w1, e.b1, at(10), job("c"), js{action: "d", at: at(11)})
	e.run(e.b1, jid(r2, "c"), haven.StatusSucceeded, at(12))
	e.run(e.b1, jid(r2, "d"), haven.StatusNonzeroExit, at(20))
	if got := e.wantStatus(r2, store.RequestFailed); got.StatusMessage != "Failed due to job failure" {
		t.Errorf("message = %q, want %q", got.StatusMessage, "Failed due to job failure")
	}

	r3, _ := e.request(e.w2, e.b1, at(30), job("e"))
	e.run(e.b1, jid(r3, "e"), haven.StatusJobError, at(31))
	if got := e.wantStatus(r3, store.RequestFailed); got.StatusMessage != "Failed due to job failure" {
		t.Errorf("message = %q, want %q", got.StatusMessage, "Failed due to job failure")
	}
}
