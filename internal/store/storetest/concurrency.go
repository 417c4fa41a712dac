package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// testConcurrentPolls: 50 agents poll one backend holding 200 queued jobs
// at once. Every job is claimed exactly once, none is lost, and no two
// claims share a lease.
func testConcurrentPolls(t *testing.T, e *env) {
	const (
		workers  = 50
		requests = 20
		perReq   = 10
	)
	workspaces := []*store.Workspace{e.w1, e.w2, e.workspace("ws-three"), e.workspace("ws-four")}
	queued := map[string]bool{}
	for r := range requests {
		var specs []js
		for k := range perReq {
			specs = append(specs, js{action: fmt.Sprintf("a%02d", k), db: k%3 == 0, at: at(r*perReq + k)})
		}
		_, jobs := e.request(workspaces[r%len(workspaces)], e.b1, at(r*perReq), specs...)
		for _, j := range jobs {
			queued[j.ID] = true
		}
	}
	other, _ := e.request(e.w1, e.b2, at(500), job("elsewhere"))

	var (
		mu     sync.Mutex
		claims = map[string]int{}    // job → times claimed
		leases = map[string]string{} // lease → job
		byJob  = map[string]string{} // job → lease
		wg     sync.WaitGroup
		start  = make(chan struct{})
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			agentID := fmt.Sprintf("agent-%02d", w)
			for i := 0; ; i++ {
				task, err := e.s.Poll(e.ctx, e.b1.ID, agentID, big, at(1000+i), ttl)
				if err != nil {
					t.Errorf("%s: Poll: %v", agentID, err)
					return
				}
				if task == nil {
					return
				}
				if task.Kind != store.TaskRun || task.Job == nil {
					t.Errorf("%s: Poll = %s, want run tasks only", agentID, describe(task))
					return
				}
				mu.Lock()
				claims[task.Job.ID]++
				if prev, ok := leases[task.Job.LeaseID]; ok {
					t.Errorf("lease %q handed out twice (jobs %s and %s)", task.Job.LeaseID, prev, task.Job.ID)
				}
				leases[task.Job.LeaseID] = task.Job.ID
				byJob[task.Job.ID] = task.Job.LeaseID
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()

	// Every worker stopped on an empty answer, so nothing may be left.
	for {
		task, err := e.s.Poll(e.ctx, e.b1.ID, agent, big, at(5000), ttl)
		if err != nil {
			t.Fatalf("Poll after the workers: %v", err)
		}
		if task == nil {
			break
		}
		t.Errorf("job %s was still claimable after every worker's Poll answered no work", task.Job.ID)
		claims[task.Job.ID]++
	}

	claimed := 0
	for id, n := range claims {
		if !queued[id] {
			t.Errorf("claimed job %s is not one of tpp's queued jobs", id)
		}
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
		claimed++
	}
	if claimed != len(queued) {
		t.Errorf("%d of %d jobs claimed", claimed, len(queued))
	}
	for id := range queued {
		j := e.job(id)
		if j.State != haven.StateRunning || j.Attempt != 1 || j.LeaseID == "" || j.LeaseID != byJob[id] {
			t.Errorf("job %s after the claims: %s, attempt %d, lease %q (handed out %q)", id, j.State, j.Attempt, j.LeaseID, byJob[id])
		}
	}
	if pending, running, err := e.s.QueueCounts(e.ctx, e.b1.ID); err != nil || pending != 0 || running != len(queued) {
		t.Errorf("QueueCounts(tpp) = %d pending, %d running, %v; want 0, %d", pending, running, err, len(queued))
	}
	if j := e.job(jid(other, "elsewhere")); j.State != haven.StatePending {
		t.Errorf("emis's job was claimed by tpp's agents: %s", j.State)
	}
}

// testConcurrentCancelAndPoll: users cancel requests while agents poll.
// Each job is either claimed (then it runs on, cancelled, and its agent
// gets exactly one cancel task) or cancelled before any claim (then it is
// final at once and never handed out).
func testConcurrentCancelAndPoll(t *testing.T, e *env) {
	const (
		n         = 40
		pollers   = 8
		cancelers = 8
	)
	var reqs []*store.JobRequest
	for i := range n {
		w := e.w1
		if i%2 == 1 {
			w = e.w2
		}
		jr, _ := e.request(w, e.b1, at(i), job("a"))
		reqs = append(reqs, jr)
	}
	var (
		mu      sync.Mutex
		runs    = map[string]int{}
		cancels = map[string]int{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	record := func(task *store.Task) {
		mu.Lock()
		defer mu.Unlock()
		switch task.Kind {
		case store.TaskRun:
			runs[task.Job.ID]++
		case store.TaskCancel:
			cancels[task.Job.ID]++
		default:
			t.Errorf("unexpected %s", describe(task))
		}
	}
	for p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				task, err := e.s.Poll(e.ctx, e.b1.ID, fmt.Sprintf("agent-%d", p), big, at(100+i), ttl)
				if err != nil {
					t.Errorf("Poll: %v", err)
					return
				}
				if task == nil {
					return
				}
				record(task)
			}
		}()
	}
	for c := range cancelers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := c; i < n; i += cancelers {
				got, err := e.s.Cancel(e.ctx, reqs[i].ID, nil, at(100))
				if err != nil {
					t.Errorf("Cancel(%d): %v", reqs[i].ID, err)
					continue
				}
				if len(got) != 1 || got[0] != "a" {
					t.Errorf("Cancel(%d) = %v, want [a]", reqs[i].ID, got)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	// Every job is cancelled now: only cancel tasks can be left.
	for i := 0; ; i++ {
		task := e.poll(e.b1, big, at(1000+i))
		if task == nil {
			break
		}
		record(task)
	}
	for _, jr := range reqs {
		id := jid(jr, "a")
		j := e.job(id)
		if !j.Cancelled {
			t.Errorf("job %s: Cancelled = false after Cancel", id)
		}
		switch runs[id] {
		case 0:
			wantState(t, j, haven.StateFailed, haven.StatusCancelledByUser)
			if cancels[id] != 0 {
				t.Errorf("job %s never claimed but got %d cancel tasks", id, cancels[id])
			}
			e.wantStatus(jr, store.RequestFailed)
		case 1:
			if j.State != haven.StateRunning || cancels[id] != 1 || !j.CancelSent {
				t.Errorf("claimed job %s after Cancel: %s, %d cancel tasks, cancel sent %v; want running and one cancel task",
					id, j.State, cancels[id], j.CancelSent)
			}
			e.wantStatus(jr, store.RequestRunning)
		default:
			t.Errorf("job %s claimed %d times", id, runs[id])
		}
	}
}

// testConcurrentCancels: users cancel different actions of one request at
// once; every cancelled action is recorded.
func testConcurrentCancels(t *testing.T, e *env) {
	const n = 20
	var specs []js
	for i := range n {
		specs = append(specs, job(fmt.Sprintf("action_%02d", i)))
	}
	jr, _ := e.request(e.w1, e.b1, at(0), specs...)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			action := fmt.Sprintf("action_%02d", i)
			got, err := e.s.Cancel(e.ctx, jr.ID, []string{action}, at(10+i))
			if err != nil || len(got) != 1 || got[0] != action {
				t.Errorf("Cancel(%s) = %v, %v", action, got, err)
			}
		}()
	}
	wg.Wait()
	stored := e.jobRequest(jr.ID)
	var want []string
	for _, sp := range specs {
		want = append(want, sp.action)
		wantState(t, e.job(jid(jr, sp.action)), haven.StateFailed, haven.StatusCancelledByUser)
	}
	if got := sorted(stored.CancelledActions); !slices.Equal(got, want) {
		t.Errorf("CancelledActions after %d concurrent cancels = %v (%d), want all %d actions", n, got, len(got), n)
	}
	if stored.Status != store.RequestFailed {
		t.Errorf("request status = %q, want failed", stored.Status)
	}
}

// testConcurrentUpdates: an agent's updates arrive at once, each twice and
// out of order. Each seq is applied at most once and the newest wins.
func testConcurrentUpdates(t *testing.T, e *env) {
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	j := e.claim(e.b1, at(1), jid(jr, "a"))
	codes := []haven.StatusCode{haven.StatusPreparing, haven.StatusPrepared, haven.StatusExecuting, haven.StatusExecuted, haven.StatusFinalizing}
	const last = 20
	var (
		mu      sync.Mutex
		applied = map[int64]int{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for i := range 2 * last {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := int64(last - i/2) // newest first, so stale ones follow
			code := codes[int(seq)%len(codes)]
			if seq == last {
				code = haven.StatusFinalized
			}
			<-start
			now := at(10)
			ok, err := e.s.ApplyUpdate(e.ctx, e.b1.ID, j.ID, upd(1, seq, code, now), now, ttl)
			if err != nil {
				t.Errorf("ApplyUpdate(seq %d): %v", seq, err)
				return
			}
			if ok {
				mu.Lock()
				applied[seq]++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	for seq, n := range applied {
		if n > 1 {
			t.Errorf("seq %d applied %d times", seq, n)
		}
	}
	if applied[last] != 1 {
		t.Errorf("the newest update (seq %d) applied %d times, want once", last, applied[last])
	}
	got := e.job(j.ID)
	if got.LastUpdateSeq != last || got.StatusCode != haven.StatusFinalized {
		t.Errorf("after concurrent updates the job is %s at seq %d, want finalized at seq %d", got.StatusCode, got.LastUpdateSeq, last)
	}
}
