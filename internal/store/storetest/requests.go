package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

func testCreateJobRequest(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	specs := []js{job("extract"), {action: "analyse", needs: []string{"extract"}}}
	jr := e.newRequest(e.w1, e.b1, at(0), specs)
	jr.ForceRunDependencies = true
	jobs, err := s.CreateJobRequest(ctx, jr, func([]*store.Job) ([]*store.Job, error) {
		return plan(jr, e.w1, specs), nil
	})
	if err != nil {
		t.Fatalf("CreateJobRequest: %v", err)
	}
	if jr.ID == 0 {
		t.Fatalf("CreateJobRequest left jr.ID 0")
	}
	if len(jobs) != 2 {
		t.Fatalf("CreateJobRequest returned %d jobs, want 2", len(jobs))
	}
	for _, j := range jobs {
		if j.JobRequestID != jr.ID || j.BackendID != e.b1.ID {
			t.Errorf("returned job %s has JobRequestID %d, BackendID %d; want %d, %d", j.Action, j.JobRequestID, j.BackendID, jr.ID, e.b1.ID)
		}
	}
	check := func(what string, got *store.JobRequest) {
		t.Helper()
		if got.ID != jr.ID || got.Identifier != jr.Identifier || got.WorkspaceID != e.w1.ID || got.BackendID != e.b1.ID ||
			!slices.Equal(got.RequestedActions, []string{"extract", "analyse"}) || len(got.CancelledActions) != 0 ||
			!got.ForceRunDependencies || !got.WillNotify || got.SHA != jr.SHA || got.ProjectDefinition != jr.ProjectDefinition ||
			!got.CodelistsOK || got.CreatedBy != e.user.ID {
			t.Errorf("%s = %+v, want %+v", what, got, jr)
		}
		if got.Status != store.RequestPending {
			t.Errorf("%s.Status = %q, want pending (a request with jobs)", what, got.Status)
		}
		wantTime(t, what+".CreatedAt", got.CreatedAt, at(0))
	}
	got, err := s.JobRequest(ctx, jr.ID)
	if err != nil {
		t.Fatalf("JobRequest: %v", err)
	}
	check("JobRequest", got)
	got, err = s.JobRequestByIdentifier(ctx, jr.Identifier)
	if err != nil {
		t.Fatalf("JobRequestByIdentifier: %v", err)
	}
	check("JobRequestByIdentifier", got)
	_, err = s.JobRequest(ctx, jr.ID+1000)
	wantCode(t, "JobRequest(missing)", err, haven.ENOTFOUND)
	_, err = s.JobRequestByIdentifier(ctx, "aaaaaaaaaaaaaaaa")
	wantCode(t, "JobRequestByIdentifier(missing)", err, haven.ENOTFOUND)

	stored, err := s.RequestJobs(ctx, jr.ID)
	if err != nil {
		t.Fatalf("RequestJobs: %v", err)
	}
	if want := []string{jid(jr, "extract"), jid(jr, "analyse")}; !slices.Equal(ids(stored), want) {
		t.Errorf("RequestJobs = %v, want %v", ids(stored), want)
	}
}

func testJobRequestNumbers(t *testing.T, e *env) {
	var got []int64
	for i, where := range []struct {
		w *store.Workspace
		b *store.Backend
	}{{e.w1, e.b1}, {e.w2, e.b1}, {e.w1, e.b2}, {e.w1, e.b1}} {
		jr, _ := e.request(where.w, where.b, at(i), job("a"))
		got = append(got, jr.ID)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Errorf("job request numbers = %v, want sequential", got)
			break
		}
	}
}

// A request may come with its number (an imported request, or the demo's
// copies of published ones); the job identifiers still derive from its
// identifier, and later numbers continue above the highest.
func testJobRequestGivenNumber(t *testing.T, e *env) {
	create := func(number int64, when time.Time) (*store.JobRequest, error) {
		t.Helper()
		jr := e.newRequest(e.w1, e.b1, when, []js{job("counts")})
		jr.ID = number
		_, err := e.s.CreateJobRequest(e.ctx, jr, func([]*store.Job) ([]*store.Job, error) {
			return plan(jr, e.w1, []js{job("counts")}), nil
		})
		return jr, err
	}
	jr, err := create(9050, at(0))
	if err != nil || jr.ID != 9050 {
		t.Fatalf("CreateJobRequest with number 9050: %v, got number %d", err, jr.ID)
	}
	if got, err := e.s.JobRequest(e.ctx, 9050); err != nil || got.Identifier != jr.Identifier {
		t.Fatalf("JobRequest(9050) = %+v, %v", got, err)
	}
	next, _ := e.request(e.w1, e.b1, at(1), job("a"))
	if next.ID != 9051 {
		t.Errorf("the request after number 9050 got %d, want 9051", next.ID)
	}
	if _, err := create(9050, at(2)); haven.ErrorCode(err) != haven.ECONFLICT {
		t.Errorf("a second request numbered 9050: %v, want a conflict", err)
	}
	if low, err := create(17, at(3)); err != nil || low.ID != 17 {
		t.Errorf("a lower given number: %v, got %d", err, low.ID)
	}
	if after, _ := e.request(e.w1, e.b1, at(4), job("b")); after.ID != 9052 {
		t.Errorf("after a lower given number the next request got %d, want 9052", after.ID)
	}
}

func testJobRequestDuplicateIdentifier(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr1, _ := e.request(e.w1, e.b1, at(0), job("a"))

	dup := e.newRequest(e.w1, e.b1, at(1), []js{job("b")})
	dup.Identifier = jr1.Identifier
	_, err := s.CreateJobRequest(ctx, dup, func([]*store.Job) ([]*store.Job, error) {
		return plan(dup, e.w1, []js{job("b")}), nil
	})
	wantCode(t, "CreateJobRequest(duplicate identifier)", err, haven.ECONFLICT)

	// A job identifier already used by another request.
	jr3 := e.newRequest(e.w1, e.b1, at(2), []js{job("c")})
	_, err = s.CreateJobRequest(ctx, jr3, func([]*store.Job) ([]*store.Job, error) {
		jobs := plan(jr3, e.w1, []js{job("c")})
		jobs[0].ID = jid(jr1, "a")
		return jobs, nil
	})
	wantCode(t, "CreateJobRequest(duplicate job identifier)", err, haven.ECONFLICT)

	// Neither failed request left anything behind (one transaction).
	all, total, err := s.JobRequests(ctx, store.JobRequestFilter{})
	if err != nil {
		t.Fatalf("JobRequests: %v", err)
	}
	if total != 1 || len(all) != 1 || all[0].ID != jr1.ID {
		t.Errorf("JobRequests after two refused creates = %v (total %d), want only %d", requestIDs(all), total, jr1.ID)
	}
	if j := e.job(jid(jr1, "a")); j.JobRequestID != jr1.ID {
		t.Errorf("job %s now belongs to request %d, want %d", j.ID, j.JobRequestID, jr1.ID)
	}
}

func testPlanHistory(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	// Planned out of created_at order: the history is oldest first.
	r1, _ := e.request(e.w1, e.b1, at(0), js{action: "b", at: at(2)}, js{action: "a", at: at(1)})
	e.request(e.w1, e.b2, at(10), job("a")) // same workspace, other backend
	e.request(e.w2, e.b1, at(20), job("a")) // other workspace, same backend

	var seen []*store.Job
	r4 := e.newRequest(e.w1, e.b1, at(30), []js{job("c")})
	if _, err := s.CreateJobRequest(ctx, r4, func(history []*store.Job) ([]*store.Job, error) {
		seen = history
		return plan(r4, e.w1, []js{job("c")}), nil
	}); err != nil {
		t.Fatalf("CreateJobRequest: %v", err)
	}
	if want := []string{jid(r1, "a"), jid(r1, "b")}; !slices.Equal(ids(seen), want) {
		t.Errorf("history = %v, want %v (w1 on tpp only, oldest first)", ids(seen), want)
	}
	for _, j := range seen {
		if j.JobRequestID != r1.ID || j.BackendID != e.b1.ID || j.Workspace != e.w1.Name || j.State != haven.StatePending {
			t.Errorf("history job %s = request %d, backend %d, workspace %q, state %s", j.ID, j.JobRequestID, j.BackendID, j.Workspace, j.State)
		}
	}

	r5 := e.newRequest(e.w1, e.b1, at(40), []js{job("d")})
	if _, err := s.CreateJobRequest(ctx, r5, func(history []*store.Job) ([]*store.Job, error) {
		seen = history
		return plan(r5, e.w1, []js{job("d")}), nil
	}); err != nil {
		t.Fatalf("CreateJobRequest: %v", err)
	}
	if want := []string{jid(r1, "a"), jid(r1, "b"), jid(r4, "c")}; !slices.Equal(ids(seen), want) {
		t.Errorf("history = %v, want %v", ids(seen), want)
	}
}

func testPlanError(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	for i, tc := range []struct{ status, message string }{
		{store.RequestFailed, `Action "missing" not found in project.yaml`},
		{store.RequestUnknownErrorCreatingJobs, "Could not read project.yaml"},
	} {
		jr := e.newRequest(e.w1, e.b1, at(i), []js{job("missing")})
		planErr := haven.Errorf(haven.EINVALID, "plan failed: %s", tc.message)
		jobs, err := s.CreateJobRequest(ctx, jr, func([]*store.Job) ([]*store.Job, error) {
			jr.Status, jr.StatusMessage = tc.status, tc.message
			return nil, planErr
		})
		if err == nil || haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("CreateJobRequest with a failing plan = %v, want the plan's error", err)
		}
		if len(jobs) != 0 {
			t.Errorf("CreateJobRequest with a failing plan returned %d jobs", len(jobs))
		}
		if jr.ID == 0 {
			t.Errorf("CreateJobRequest with a failing plan left jr.ID 0; the request must be stored")
			continue
		}
		got, err := s.JobRequest(ctx, jr.ID)
		if err != nil {
			t.Errorf("JobRequest(%d) after a failing plan: %v", jr.ID, err)
			continue
		}
		if got.Status != tc.status || got.StatusMessage != tc.message {
			t.Errorf("stored request = %q %q, want %q %q", got.Status, got.StatusMessage, tc.status, tc.message)
		}
		if jobs, err := s.RequestJobs(ctx, jr.ID); err != nil || len(jobs) != 0 {
			t.Errorf("RequestJobs after a failing plan = %v, %v; want none", ids(jobs), err)
		}
	}
}

func testConcurrentPlans(t *testing.T, e *env) {
	const n = 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen []int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			jr := e.newRequest(e.w1, e.b1, at(i), []js{job(fmt.Sprintf("a%d", i))})
			mu.Unlock()
			last := -1
			_, err := e.s.CreateJobRequest(e.ctx, jr, func(history []*store.Job) ([]*store.Job, error) {
				last = len(history)
				return plan(jr, e.w1, []js{job(fmt.Sprintf("a%d", i))}), nil
			})
			if err != nil {
				t.Errorf("concurrent CreateJobRequest: %v", err)
				return
			}
			mu.Lock()
			seen = append(seen, last)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(seen)
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(seen, want) {
		t.Errorf("history lengths seen by %d concurrent plans = %v, want %v (each plan sees every earlier request's jobs)", n, seen, want)
	}
}

func testJobRequestsPaging(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	var w1b1, w1, b1, all []int64
	for i, where := range []struct {
		w *store.Workspace
		b *store.Backend
	}{{e.w1, e.b1}, {e.w2, e.b1}, {e.w1, e.b1}, {e.w1, e.b2}, {e.w1, e.b1}, {e.w2, e.b1}, {e.w1, e.b1}, {e.w1, e.b1}} {
		jr, _ := e.request(where.w, where.b, at(i), job("a"))
		id := jr.ID
		all = append([]int64{id}, all...) // newest first
		if where.w == e.w1 {
			w1 = append([]int64{id}, w1...)
		}
		if where.b == e.b1 {
			b1 = append([]int64{id}, b1...)
		}
		if where.w == e.w1 && where.b == e.b1 {
			w1b1 = append([]int64{id}, w1b1...)
		}
	}
	page := func(lo, hi int, s []int64) []int64 { return s[min(lo, len(s)):min(hi, len(s))] }
	for _, tc := range []struct {
		name  string
		f     store.JobRequestFilter
		want  []int64
		total int
	}{
		{"all", store.JobRequestFilter{}, all, 8},
		{"workspace", store.JobRequestFilter{WorkspaceID: e.w1.ID, Limit: 2}, page(0, 2, w1), 6},
		{"workspace page 2", store.JobRequestFilter{WorkspaceID: e.w1.ID, Limit: 2, Offset: 2}, page(2, 4, w1), 6},
		{"workspace and backend", store.JobRequestFilter{WorkspaceID: e.w1.ID, BackendID: e.b1.ID, Limit: 3, Offset: 3}, page(3, 6, w1b1), 5},
		{"backend", store.JobRequestFilter{BackendID: e.b1.ID}, b1, 7},
		{"past the end", store.JobRequestFilter{Offset: 20}, nil, 8},
	} {
		got, total, err := s.JobRequests(ctx, tc.f)
		if err != nil {
			t.Errorf("JobRequests(%s): %v", tc.name, err)
			continue
		}
		if !slices.Equal(requestIDs(got), tc.want) || total != tc.total {
			t.Errorf("JobRequests(%s, %+v) = %v, total %d; want %v, total %d", tc.name, tc.f, requestIDs(got), total, tc.want, tc.total)
		}
	}

	// The default page is 25 requests.
	for i := range 20 {
		jr, _ := e.request(e.w2, e.b2, at(100+i), job("a"))
		all = append([]int64{jr.ID}, all...)
	}
	got, total, err := s.JobRequests(ctx, store.JobRequestFilter{})
	if err != nil {
		t.Fatalf("JobRequests: %v", err)
	}
	if !slices.Equal(requestIDs(got), all[:25]) || total != 28 {
		t.Errorf("JobRequests(no limit) = %v, total %d; want the newest 25 of 28", requestIDs(got), total)
	}
}

func testPreviousJobRequest(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	r1, _ := e.request(e.w1, e.b1, at(0), job("a"))
	e.run(e.b1, jid(r1, "a"), haven.StatusSucceeded, at(1))
	e.wantStatus(r1, store.RequestSucceeded)
	r2, _ := e.request(e.w1, e.b1, at(10), job("a"))
	e.run(e.b1, jid(r2, "a"), haven.StatusNonzeroExit, at(11))
	e.wantStatus(r2, store.RequestFailed)
	e.request(e.w2, e.b1, at(20), job("a")) // other workspace
	e.request(e.w1, e.b2, at(21), job("a")) // other backend
	r3, _ := e.request(e.w1, e.b1, at(30), job("a"))
	e.request(e.w1, e.b1, at(40), job("a")) // later

	for _, tc := range []struct {
		name      string
		jr        *store.JobRequest
		succeeded bool
		want      *store.JobRequest // nil: ENOTFOUND
	}{
		{"r3", r3, false, r2},
		{"r3 succeeded", r3, true, r1},
		{"r2", r2, false, r1},
		{"r2 succeeded", r2, true, r1},
		{"r1", r1, false, nil},
		{"r1 succeeded", r1, true, nil},
	} {
		got, err := s.PreviousJobRequest(ctx, tc.jr, tc.succeeded)
		if tc.want == nil {
			wantCode(t, "PreviousJobRequest("+tc.name+")", err, haven.ENOTFOUND)
			continue
		}
		if err != nil || got.ID != tc.want.ID {
			t.Errorf("PreviousJobRequest(%s, %v) = %v, %v; want request %d", tc.name, tc.succeeded, got, err, tc.want.ID)
		}
	}
}

func testJobs(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0),
		js{action: "late", at: at(2)},
		js{action: "early", at: at(1)},
		js{action: "early2", at: at(1), db: true, needs: []string{"early"}},
	)
	got, err := s.RequestJobs(ctx, jr.ID)
	if err != nil {
		t.Fatalf("RequestJobs: %v", err)
	}
	if want := []string{jid(jr, "early"), jid(jr, "early2"), jid(jr, "late")}; !slices.Equal(ids(got), want) {
		t.Errorf("RequestJobs = %v, want %v (created_at, then id)", ids(got), want)
	}

	want := plan(jr, e.w1, []js{{action: "early2", at: at(1), db: true, needs: []string{"early"}}})[0]
	j := e.job(want.ID)
	if j.ID != want.ID || j.RequestID != jr.Identifier || j.Workspace != "ws-one" || j.Action != "early2" ||
		j.RunCommand != want.RunCommand || !j.RequiresDB || j.Cancelled ||
		!slices.Equal(j.WaitForJobIDs, want.WaitForJobIDs) || !slices.Equal(j.RequiresOutputsFrom, []string{"early"}) ||
		!maps.Equal(j.OutputSpec, want.OutputSpec) {
		t.Errorf("Job(%s) = %+v, want %+v", want.ID, j.Job, want.Job)
	}
	wantState(t, j, haven.StatePending, haven.StatusCreated)
	if j.StatusMessage != "Created" {
		t.Errorf("StatusMessage = %q, want Created", j.StatusMessage)
	}
	if j.JobRequestID != jr.ID || j.BackendID != e.b1.ID || j.Attempt != 0 || j.LeaseID != "" || j.LeaseAgent != "" ||
		j.NeedsRecovery || j.CancelSent || j.LastUpdateSeq != 0 {
		t.Errorf("Job(%s) queue columns = %+v", want.ID, j)
	}
	wantTime(t, "CreatedAt", j.CreatedAt, at(1))
	wantTime(t, "StartedAt", j.StartedAt, zero)
	wantTime(t, "CompletedAt", j.CompletedAt, zero)
	wantTime(t, "LeaseExpiresAt", j.LeaseExpiresAt, zero)

	_, err = s.Job(ctx, "aaaaaaaaaaaaaaaa")
	wantCode(t, "Job(missing)", err, haven.ENOTFOUND)
}

func testJobsByPrefix(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	var specs []js
	for i := range 12 {
		specs = append(specs, job(fmt.Sprintf("action_%d", i)))
	}
	_, jobs := e.request(e.w1, e.b1, at(0), specs...)
	_, more := e.request(e.w2, e.b2, at(1), specs...)
	all := append(ids(jobs), ids(more)...)

	matching := func(prefix string) []string {
		var out []string
		for _, id := range all {
			if strings.HasPrefix(id, prefix) {
				out = append(out, id)
			}
		}
		return sorted(out)
	}
	for _, prefix := range []string{all[0], all[0][:4], all[3][:1], all[17][:2]} {
		got, err := s.JobsByPrefix(ctx, prefix, 100)
		if err != nil {
			t.Errorf("JobsByPrefix(%q): %v", prefix, err)
			continue
		}
		if !slices.Equal(sorted(ids(got)), matching(prefix)) {
			t.Errorf("JobsByPrefix(%q) = %v, want %v", prefix, sorted(ids(got)), matching(prefix))
		}
	}
	// The limit caps the answer.
	first := all[0][:1]
	got, err := s.JobsByPrefix(ctx, first, 1)
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0].ID, first) {
		t.Errorf("JobsByPrefix(%q, 1) = %v, %v; want one matching job", first, ids(got), err)
	}
	// SQL wildcards in a prefix are plain characters.
	for _, prefix := range []string{"%", "_", "%" + all[0][2:4], "_" + all[0][1:3], `\`} {
		got, err := s.JobsByPrefix(ctx, prefix, 100)
		if err != nil || len(got) != 0 {
			t.Errorf("JobsByPrefix(%q) = %v, %v; want none", prefix, ids(got), err)
		}
	}
	got, err = s.JobsByPrefix(ctx, "99999", 10) // 9 is not in the base32 alphabet
	if err != nil || len(got) != 0 {
		t.Errorf("JobsByPrefix(no match) = %v, %v; want none", ids(got), err)
	}
}

func testLatestJobs(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	r1, _ := e.request(e.w1, e.b1, at(0), job("a"), job("b"))
	r2, _ := e.request(e.w1, e.b1, at(10), job("a"))
	r3, _ := e.request(e.w1, e.b2, at(20), job("a"))
	e.request(e.w2, e.b1, at(30), job("a"), job("c"))

	for _, tc := range []struct {
		name    string
		backend int64
		want    map[string]string
	}{
		{"tpp", e.b1.ID, map[string]string{"a": jid(r2, "a"), "b": jid(r1, "b")}},
		{"any backend", 0, map[string]string{"a": jid(r3, "a"), "b": jid(r1, "b")}},
	} {
		got, err := s.LatestJobs(ctx, e.w1.ID, tc.backend)
		if err != nil {
			t.Errorf("LatestJobs(%s): %v", tc.name, err)
			continue
		}
		gotIDs := map[string]string{}
		for action, j := range got {
			gotIDs[action] = j.ID
			if j.Action != action {
				t.Errorf("LatestJobs(%s)[%q] is a job of action %q", tc.name, action, j.Action)
			}
		}
		if !maps.Equal(gotIDs, tc.want) {
			t.Errorf("LatestJobs(ws-one, %s) = %v, want %v", tc.name, gotIDs, tc.want)
		}
	}
	got, err := s.LatestJobs(ctx, e.w2.ID, e.b2.ID)
	if err != nil || len(got) != 0 {
		t.Errorf("LatestJobs(ws-two, emis) = %v, %v; want none", got, err)
	}
}

func testQueueCounts(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"), job("b"), job("c"))
	e.request(e.w1, e.b2, at(1), job("d"))
	counts := func(b *store.Backend) [2]int {
		t.Helper()
		p, r, err := s.QueueCounts(ctx, b.ID)
		if err != nil {
			t.Fatalf("QueueCounts(%s): %v", b.Slug, err)
		}
		return [2]int{p, r}
	}
	if got := counts(e.b1); got != [2]int{3, 0} {
		t.Errorf("QueueCounts(tpp) = %v, want [3 0] (pending, running)", got)
	}
	e.claim(e.b1, at(10), jid(jr, "a"))
	if got := counts(e.b1); got != [2]int{2, 1} {
		t.Errorf("QueueCounts(tpp) after a claim = %v, want [2 1]", got)
	}
	if got := counts(e.b2); got != [2]int{1, 0} {
		t.Errorf("QueueCounts(emis) = %v, want [1 0]", got)
	}
	e.update(e.b1, jid(jr, "a"), 1, 1, haven.StatusSucceeded, at(20))
	if got := counts(e.b1); got != [2]int{2, 0} {
		t.Errorf("QueueCounts(tpp) after a job succeeded = %v, want [2 0]", got)
	}
}

// Cancellation.

func testCancel(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), js{action: "a", at: at(0)}, js{action: "b", at: at(1)}, js{action: "c", at: at(2)})
	a := e.claim(e.b1, at(10), jid(jr, "a"))
	b := e.claim(e.b1, at(11), jid(jr, "b"))
	e.update(e.b1, b.ID, b.Attempt, 1, haven.StatusExecuting, at(12))

	got, err := s.Cancel(ctx, jr.ID, nil, at(20))
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if !slices.Equal(sorted(got), []string{"a", "b", "c"}) {
		t.Errorf("Cancel(all) = %v, want [a b c]", got)
	}
	stored := e.jobRequest(jr.ID)
	if !slices.Equal(sorted(stored.CancelledActions), []string{"a", "b", "c"}) {
		t.Errorf("CancelledActions = %v, want [a b c]", stored.CancelledActions)
	}
	if stored.Status != store.RequestRunning {
		t.Errorf("request status after cancelling = %q, want running (two jobs still running)", stored.Status)
	}

	// The pending job is final at once.
	c := e.job(jid(jr, "c"))
	wantState(t, c, haven.StateFailed, haven.StatusCancelledByUser)
	wantTime(t, "cancelled pending job CompletedAt", c.CompletedAt, at(20))
	if !c.Cancelled {
		t.Errorf("pending job c: Cancelled = false")
	}
	// Leased jobs keep running, marked cancelled, with their lease.
	for _, want := range []*store.Job{a, b} {
		j := e.job(want.ID)
		if j.State != haven.StateRunning || !j.Cancelled || j.LeaseID != want.LeaseID || j.CancelSent {
			t.Errorf("leased job %s after Cancel: state %s, cancelled %v, lease %q (was %q), cancel sent %v; want running, cancelled, same lease, not sent",
				j.Action, j.State, j.Cancelled, j.LeaseID, want.LeaseID, j.CancelSent)
		}
	}
	// The lease extension reports the cancel.
	if _, cancel, err := s.ExtendLease(ctx, e.b1.ID, a.LeaseID, agent, at(21), ttl); err != nil || !cancel {
		t.Errorf("ExtendLease of a cancelled job = cancel %v, %v; want cancel true", cancel, err)
	}
	// Each leased job gets exactly one cancel task.
	leases := map[string]string{a.ID: a.LeaseID, b.ID: b.LeaseID}
	sent := map[string]bool{}
	for i := range 2 {
		task := e.poll(e.b1, big, at(22+i))
		if task == nil || task.Kind != store.TaskCancel || task.Job == nil || leases[task.Job.ID] == "" || sent[task.Job.ID] {
			t.Fatalf("Poll %d after Cancel = %s, want a cancel task for a or b (not repeated)", i+1, describe(task))
		}
		if task.Job.LeaseID != leases[task.Job.ID] {
			t.Errorf("cancel task for %s carries lease %q, want %q", task.Job.Action, task.Job.LeaseID, leases[task.Job.ID])
		}
		sent[task.Job.ID] = true
	}
	e.noTask(e.b1, big, at(30))
	for id := range leases {
		if j := e.job(id); !j.CancelSent {
			t.Errorf("job %s: CancelSent = false after its cancel task", j.Action)
		}
	}
	if _, cancel, err := s.ExtendLease(ctx, e.b1.ID, b.LeaseID, agent, at(31), ttl); err != nil || !cancel {
		t.Errorf("ExtendLease after the cancel task = cancel %v, %v; want cancel true", cancel, err)
	}

	// The agent reports the cancellations; the request is then failed.
	if !e.update(e.b1, a.ID, 1, 1, haven.StatusCancelledByUser, at(40)) {
		t.Errorf("cancelled_by_user from the agent not applied")
	}
	e.wantStatus(jr, store.RequestRunning)
	if !e.update(e.b1, b.ID, 1, 2, haven.StatusCancelledByUser, at(41)) {
		t.Errorf("cancelled_by_user from the agent not applied")
	}
	wantState(t, e.job(a.ID), haven.StateFailed, haven.StatusCancelledByUser)
	e.wantStatus(jr, store.RequestFailed)
	e.noTask(e.b1, big, at(42))
}

func testCancelOneAction(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), js{action: "a", at: at(0)}, js{action: "b", at: at(1)}, js{action: "c", at: at(2)})
	got, err := s.Cancel(ctx, jr.ID, []string{"b"}, at(5))
	if err != nil || !slices.Equal(got, []string{"b"}) {
		t.Fatalf("Cancel(b) = %v, %v; want [b]", got, err)
	}
	wantState(t, e.job(jid(jr, "b")), haven.StateFailed, haven.StatusCancelledByUser)
	for _, action := range []string{"a", "c"} {
		j := e.job(jid(jr, action))
		wantState(t, j, haven.StatePending, haven.StatusCreated)
		if j.Cancelled {
			t.Errorf("job %s cancelled by Cancel(b)", action)
		}
	}
	stored := e.jobRequest(jr.ID)
	if !slices.Equal(stored.CancelledActions, []string{"b"}) {
		t.Errorf("CancelledActions = %v, want [b]", stored.CancelledActions)
	}
	// Spec §4.2 rule 6: pending jobs left beside a failed one: running.
	if stored.Status != store.RequestRunning {
		t.Errorf("request status = %q, want running", stored.Status)
	}
	// An action the request does not have is not active: nothing to cancel.
	got, err = s.Cancel(ctx, jr.ID, []string{"nope"}, at(6))
	if err != nil || len(got) != 0 {
		t.Errorf("Cancel(unknown action) = %v, %v; want none", got, err)
	}
	e.claim(e.b1, at(10), jid(jr, "a"))
	e.claim(e.b1, at(11), jid(jr, "c"))
	e.noTask(e.b1, big, at(12))
}

func testCancelIdempotent(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), js{action: "a", at: at(0)}, js{action: "b", at: at(1)})
	a := e.claim(e.b1, at(10), jid(jr, "a"))
	if _, err := s.Cancel(ctx, jr.ID, nil, at(20)); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if task := e.poll(e.b1, big, at(21)); task == nil || task.Kind != store.TaskCancel || task.Job.ID != a.ID {
		t.Fatalf("Poll after Cancel = %s, want a cancel task for a", describe(task))
	}
	for i, actions := range [][]string{nil, {"a"}, {"a", "b"}} {
		if _, err := s.Cancel(ctx, jr.ID, actions, at(30+i)); err != nil {
			t.Errorf("Cancel again (%v): %v", actions, err)
		}
	}
	stored := e.jobRequest(jr.ID)
	if !slices.Equal(sorted(stored.CancelledActions), []string{"a", "b"}) {
		t.Errorf("CancelledActions after cancelling again = %v, want [a b] once each", stored.CancelledActions)
	}
	b := e.job(jid(jr, "b"))
	wantState(t, b, haven.StateFailed, haven.StatusCancelledByUser)
	wantTime(t, "b.CompletedAt after cancelling again", b.CompletedAt, at(20))
	if j := e.job(a.ID); j.State != haven.StateRunning || j.LeaseID != a.LeaseID {
		t.Errorf("a after cancelling again: %s, lease %q; want running with lease %q", j.State, j.LeaseID, a.LeaseID)
	}
	e.noTask(e.b1, big, at(40)) // no second cancel task
}

func testCancelComplete(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	jr, _ := e.request(e.w1, e.b1, at(0), job("a"))
	e.run(e.b1, jid(jr, "a"), haven.StatusSucceeded, at(1))
	got, err := s.Cancel(ctx, jr.ID, nil, at(10))
	if err != nil || len(got) != 0 {
		t.Errorf("Cancel(complete request) = %v, %v; want no actions", got, err)
	}
	stored := e.wantStatus(jr, store.RequestSucceeded)
	if len(stored.CancelledActions) != 0 {
		t.Errorf("CancelledActions = %v, want none", stored.CancelledActions)
	}
	j := e.job(jid(jr, "a"))
	if j.Cancelled {
		t.Errorf("succeeded job marked cancelled")
	}
	wantState(t, j, haven.StateSucceeded, haven.StatusSucceeded)
	_, err = s.Cancel(ctx, jr.ID+1000, nil, at(10))
	wantCode(t, "Cancel(missing request)", err, haven.ENOTFOUND)
}

func testCancelTaskBeforeRun(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	r1, _ := e.request(e.w1, e.b1, at(0), job("a"))
	a := e.claim(e.b1, at(1), jid(r1, "a"))
	r2, _ := e.request(e.w1, e.b1, at(2), job("b"))
	if _, err := s.Cancel(ctx, r1.ID, nil, at(3)); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if task := e.poll(e.b1, big, at(4)); task == nil || task.Kind != store.TaskCancel || task.Job.ID != a.ID {
		t.Fatalf("Poll = %s, want the cancel task for a before any run task", describe(task))
	}
	e.claim(e.b1, at(5), jid(r2, "b"))
	e.noTask(e.b1, big, at(6))
}
