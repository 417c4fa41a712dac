package agentapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/haven-tre/haven/internal/auth"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/agentapi/agentapitest"
	"github.com/haven-tre/haven/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

const agentID = "agent-1"

// post sends body (a value, or raw bytes) to path with a bearer token ("" for
// none) and returns the status and body.
func post(t *testing.T, s *agentapitest.Server, path, token string, body any) (int, []byte) {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case []byte:
		data = b
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, s.HTTP.URL+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func pollBody() agentapi.PollRequest {
	return agentapi.PollRequest{AgentID: agentID, AgentVersion: "test", Capacity: agentapi.Capacity{Jobs: 4, DBJobs: 4}}
}

// claim polls once and expects a task.
func claim(t *testing.T, s *agentapitest.Server) *agentapi.Task {
	t.Helper()
	task, err := s.Client().Poll(context.Background(), pollBody())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	if task == nil {
		t.Fatal("poll: no task")
	}
	return task
}

func update(attempt int, seq int64, code haven.StatusCode, msg string) agentapi.Update {
	return agentapi.Update{Attempt: attempt, Seq: seq, TimestampNS: time.Now().UnixNano(), StatusCode: string(code), StatusMessage: msg}
}

func TestPollEmptyQueueAnswers204(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Hold: 20 * time.Millisecond})
	code, body := post(t, s, agentapi.PathPoll, s.Token, pollBody())
	if code != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("poll on an empty queue: %d %s, want 204 and no body", code, body)
	}
	b, err := s.Store.Backend(s.Ctx, s.Backend.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.LastSeenAt.IsZero() {
		t.Error("the poll did not record the backend as seen")
	}
}

func TestPollRecordsDBMaintenance(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Hold: time.Millisecond})
	req := pollBody()
	req.Flags = agentapi.Flags{DBMaintenance: true, DBMaintenanceType: "scheduled"}
	if code, body := post(t, s, agentapi.PathPoll, s.Token, req); code != http.StatusNoContent {
		t.Fatalf("poll: %d %s", code, body)
	}
	b, _ := s.Store.Backend(s.Ctx, s.Backend.ID)
	if !b.DBMaintenance {
		t.Error("db_maintenance was not stored")
	}
}

func TestPollHandsOutRunTask(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{RepoURL: "https://github.com/example/vaccines"})
	jr, jobs := s.Queue(agentapitest.Spec{Action: "extract", RequiresDB: true, Args: []string{"generate-dataset", "analysis/dataset.py"}, Image: "ehrql:v1"},
		agentapitest.Spec{Action: "analyse", Needs: []string{"extract"}})
	task := claim(t, s)
	want := agentapi.Task{
		Kind: agentapi.TaskRun, Attempt: 1, JobIdentifier: jobs[0].ID, RequestIdentifier: jr.Identifier,
		Workspace: "ws-one", Action: "extract", RunCommand: "ehrql:v1 generate-dataset analysis/dataset.py",
		Image: "ehrql:v1", Args: []string{"generate-dataset", "analysis/dataset.py"},
		RepoURL: "https://github.com/example/vaccines", Commit: agentapitest.Commit, DatabaseName: "default", RequiresDB: true,
		User: "alice",
	}
	switch {
	case task.Kind != want.Kind || task.Attempt != want.Attempt || task.JobIdentifier != want.JobIdentifier ||
		task.RequestIdentifier != want.RequestIdentifier || task.Workspace != want.Workspace || task.Action != want.Action ||
		task.RunCommand != want.RunCommand || task.Image != want.Image || strings.Join(task.Args, " ") != strings.Join(want.Args, " ") ||
		task.RepoURL != want.RepoURL || task.Commit != want.Commit || task.DatabaseName != want.DatabaseName ||
		task.RequiresDB != want.RequiresDB || task.User != want.User:
		t.Errorf("task:\n got %+v\nwant %+v", *task, want)
	}
	if task.Lease.ID == "" || task.Lease.ExpiresAt.IsZero() {
		t.Errorf("task has no lease: %+v", task.Lease)
	}
	if task.OutputSpec["output/extract.csv"] != "highly_sensitive" {
		t.Errorf("output spec: %v", task.OutputSpec)
	}
	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusInitiated || got.LeaseID != task.Lease.ID {
		t.Errorf("claimed job is %s with lease %q", got.StatusCode, got.LeaseID)
	}
	// The dependant waits for extract: nothing more to hand out.
	if task2, err := s.Client().Poll(context.Background(), pollBody()); err != nil || task2 != nil {
		t.Errorf("second poll: %+v, %v; want nothing", task2, err)
	}
}

func TestPollWaitingIsWokenByQueuedWork(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Hold: time.Minute})
	type result struct {
		task *agentapi.Task
		err  error
	}
	done := make(chan result, 1)
	go func() {
		task, err := s.Client().Poll(context.Background(), pollBody())
		done <- result{task, err}
	}()
	// Queue once the poll waits on the notifier, so the wake is what
	// answers it (the hold is a minute).
	for !s.API.Notifier.Waiting(s.Backend.ID) {
		time.Sleep(time.Millisecond)
	}
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	select {
	case r := <-done:
		if r.err != nil || r.task == nil || r.task.JobIdentifier != jobs[0].ID {
			t.Fatalf("woken poll: %+v, %v; want the queued job", r.task, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting poll was not woken by the queued job")
	}
}

func TestPollWithNoRoomReturnsWhenWoken(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Hold: time.Minute})
	done := make(chan int, 1)
	go func() {
		req := pollBody()
		req.Capacity = agentapi.Capacity{}
		code, _ := post(t, s, agentapi.PathPoll, s.Token, req)
		done <- code
	}()
	for !s.API.Notifier.Waiting(s.Backend.ID) {
		time.Sleep(time.Millisecond)
	}
	s.API.Wake(s.Backend.ID)
	select {
	case code := <-done:
		if code != http.StatusNoContent {
			t.Fatalf("poll with no room, woken: %d, want 204", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a poll with no room was not answered when its backend was woken")
	}
}

func TestAuthentication(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Hold: time.Millisecond})
	_, otherJobs := s.QueueOn(s.Other, agentapitest.Spec{Action: "extract"})
	otherTask, err := (&agentapi.Client{BaseURL: s.HTTP.URL, Token: s.OtherToken}).Poll(context.Background(), pollBody())
	if err != nil || otherTask == nil {
		t.Fatalf("other backend's poll: %v", err)
	}
	unknown := auth.NewToken()
	tests := []struct {
		name   string
		path   string
		header string // Authorization; "-" for none
		claim  string // Haven-Backend; "" for none
		body   any
		want   int
		error  string
	}{
		{"missing", agentapi.PathPoll, "-", "", pollBody(), 401, "unauthorized"},
		{"not bearer", agentapi.PathPoll, "Basic " + s.Token, "", pollBody(), 401, "unauthorized"},
		{"unknown", agentapi.PathPoll, "Bearer " + unknown, "", pollBody(), 401, "unauthorized"},
		{"too short", agentapi.PathPoll, "Bearer abc", "", pollBody(), 401, "unauthorized"},
		{"too long", agentapi.PathPoll, "Bearer " + strings.Repeat("a", 300), "", pollBody(), 401, "unauthorized"},
		{"airlock token", agentapi.PathPoll, "Bearer " + s.AirlockToken, "", pollBody(), 403, "airlock token"},
		{"airlock token on extend", "/api/agent/v1/leases/x/extend", "Bearer " + s.AirlockToken, "", agentapi.ExtendRequest{AgentID: agentID}, 403, "airlock token"},
		{"other backend's job", "/api/agent/v1/jobs/" + otherJobs[0].ID + "/status", "Bearer " + s.Token, "",
			update(1, 1, haven.StatusPreparing, ""), 404, "no such job on this backend"},
		{"other backend's lease", "/api/agent/v1/leases/" + otherTask.Lease.ID + "/extend", "Bearer " + s.Token, "",
			agentapi.ExtendRequest{AgentID: agentID}, 409, "lease lost"},
		// An agent configured for tpp holding emis's token (a mixed-up
		// token file) is refused, whatever it asks.
		{"another backend's token", agentapi.PathPoll, "Bearer " + s.OtherToken, "tpp", pollBody(), 401, "unauthorized"},
		{"another backend's token on its job", "/api/agent/v1/jobs/" + otherJobs[0].ID + "/status", "Bearer " + s.OtherToken, "tpp",
			update(1, 1, haven.StatusPreparing, ""), 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := json.Marshal(tc.body)
			req, _ := http.NewRequest(http.MethodPost, s.HTTP.URL+tc.path, bytes.NewReader(data))
			if tc.header != "-" {
				req.Header.Set("Authorization", tc.header)
			}
			if tc.claim != "" {
				req.Header.Set(agentapi.HeaderBackend, tc.claim)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e agentapi.ErrorResponse
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("error body: %v", err)
			}
			if resp.StatusCode != tc.want || !strings.Contains(e.Error, tc.error) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, e.Error, tc.want, tc.error)
			}
		})
	}
	if got := s.Job(otherJobs[0].ID); got.StatusCode != haven.StatusInitiated {
		t.Errorf("another backend's token changed the job: %s", got.StatusCode)
	}
}

func TestInactiveBackendIsForbidden(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	// Deactivating is not in the store interface; a backend created
	// inactive stands in.
	tok := auth.NewToken()
	hash := auth.HashToken(tok)
	b := &store.Backend{Slug: "gone", Name: "Gone", AgentTokenHash: hash, IsActive: false}
	if err := s.Store.CreateBackend(s.Ctx, b); err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, s, agentapi.PathPoll, tok, pollBody()); code != http.StatusForbidden || !strings.Contains(string(body), "not active") {
		t.Errorf("inactive backend: %d %s", code, body)
	}
}

func TestBadRequests(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Hold: time.Millisecond})
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	task := claim(t, s)
	status := "/api/agent/v1/jobs/" + jobs[0].ID + "/status"
	tests := []struct {
		name  string
		path  string
		body  any
		want  int
		error string
	}{
		{"unknown field", agentapi.PathPoll, `{"agent_id":"a","capacity":{"jobs":1},"surprise":1}`, 400, `unknown field "surprise"`},
		{"empty body", agentapi.PathPoll, ``, 400, "empty"},
		{"two values", agentapi.PathPoll, `{"agent_id":"a"} {}`, 400, "more than one"},
		{"not json", agentapi.PathPoll, `agent_id=a`, 400, "not valid"},
		{"no agent id", agentapi.PathPoll, `{"capacity":{"jobs":1}}`, 400, "agent_id"},
		{"negative capacity", agentapi.PathPoll, `{"agent_id":"a","capacity":{"jobs":-1}}`, 400, "negative"},
		{"too large", agentapi.PathPoll, `{"agent_id":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "larger than"},
		{"bad reason", "/api/agent/v1/leases/" + task.Lease.ID + "/release", agentapi.ReleaseRequest{AgentID: agentID, Reason: "output/secret.csv"}, 400, "reason"},
		{"server code", status, update(1, 1, haven.StatusInitiated, ""), 400, "set by the server"},
		{"unknown code", status, update(1, 1, "exploded", ""), 400, "not a status code"},
		{"file name in message", status, update(1, 1, haven.StatusUnmatchedPatterns, "No outputs found matching patterns:\n - output/*.csv"), 400, "fixed messages"},
		{"log line in message", status, update(1, 1, haven.StatusNonzeroExit, "Job exited with an error: Traceback (most recent call last)"), 400, "fixed messages"},
		{"zero seq", status, update(1, 0, haven.StatusPreparing, ""), 400, "seq"},
		{"zero attempt", status, update(0, 1, haven.StatusPreparing, ""), 400, "attempt"},
		{"future attempt", status, update(2, 1, haven.StatusPreparing, ""), 400, "never handed out"},
		{"metric name", status, func() agentapi.Update {
			u := update(1, 1, haven.StatusPreparing, "")
			u.Metrics = map[string]float64{"output/x.csv": 1}
			return u
		}(), 400, "metric name"},
		{"image digest", status, func() agentapi.Update {
			u := update(1, 1, haven.StatusPreparing, "")
			u.ImageDigest = "python:v2"
			return u
		}(), 400, "image_digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, s, tc.path, s.Token, tc.body)
			if code != tc.want || !strings.Contains(errText(body), tc.error) {
				t.Errorf("got %d %s, want %d containing %q", code, body, tc.want, tc.error)
			}
		})
	}
	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusInitiated || got.LastUpdateSeq != 0 {
		t.Errorf("refused updates changed the job: %s seq %d", got.StatusCode, got.LastUpdateSeq)
	}
}

func TestUpdatesApplyInOrderAndReplaysAreIgnored(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	task := claim(t, s)
	c := s.Client()
	ctx := context.Background()
	exit := 3
	final := update(1, 3, haven.StatusNonzeroExit, agentapi.MsgExitCodePrefix+"3")
	final.ExitCode = &exit
	steps := []struct {
		u       agentapi.Update
		applied bool
		code    haven.StatusCode
	}{
		{update(1, 1, haven.StatusPreparing, ""), true, haven.StatusPreparing},
		{update(1, 2, haven.StatusExecuting, ""), true, haven.StatusExecuting},
		{update(1, 2, haven.StatusExecuting, ""), false, haven.StatusExecuting}, // replay
		{update(1, 1, haven.StatusPreparing, ""), false, haven.StatusExecuting}, // out of order
		{final, true, haven.StatusNonzeroExit},
		{update(1, 4, haven.StatusSucceeded, ""), false, haven.StatusNonzeroExit}, // final is sticky
	}
	for i, st := range steps {
		applied, err := c.Update(ctx, task.JobIdentifier, st.u)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := s.Job(jobs[0].ID)
		if applied != st.applied || got.StatusCode != st.code {
			t.Errorf("step %d (seq %d %s): applied %v, job %s; want applied %v, job %s", i, st.u.Seq, st.u.StatusCode, applied, got.StatusCode, st.applied, st.code)
		}
	}
	got := s.Job(jobs[0].ID)
	if got.StatusMessage != "Job exited with an error: exit code 3" || got.ExitCode == nil || *got.ExitCode != 3 {
		t.Errorf("final job: %q exit %v", got.StatusMessage, got.ExitCode)
	}
}

func TestLeaseLostGives409(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	task := claim(t, s)
	c := s.Client()
	ctx := context.Background()
	if _, err := c.Extend(ctx, task.Lease.ID, agentID); err != nil {
		t.Fatalf("extend a fresh lease: %v", err)
	}
	if _, err := c.Extend(ctx, task.Lease.ID, "another-agent"); !agentapi.IsConflict(err) {
		t.Errorf("extend by another agent: %v, want 409", err)
	}
	// The lease expires before the job started: the reaper requeues it.
	s.Clock.Advance(2 * agentapi.DefaultTTL)
	if n, err := s.API.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("reap: %d, %v", n, err)
	}
	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusWaitingOnNewTask {
		t.Fatalf("reaped job is %s", got.StatusCode)
	}
	if _, err := c.Extend(ctx, task.Lease.ID, agentID); !agentapi.IsConflict(err) {
		t.Errorf("extend after the lease was reaped: %v, want 409", err)
	}
	if _, err := c.Update(ctx, task.JobIdentifier, update(1, 1, haven.StatusPreparing, "")); !agentapi.IsConflict(err) {
		t.Errorf("update after the job went back to the queue: %v, want 409", err)
	}
	if err := c.Release(ctx, task.Lease.ID, agentID, "shutdown"); !agentapi.IsConflict(err) {
		t.Errorf("release of a lost lease: %v, want 409", err)
	}
	// The next claim is a new attempt; the old attempt's updates are
	// superseded.
	task2 := claim(t, s)
	if task2.Attempt != 2 || task2.Lease.ID == task.Lease.ID {
		t.Fatalf("reclaim: attempt %d lease %q", task2.Attempt, task2.Lease.ID)
	}
	if _, err := c.Update(ctx, task.JobIdentifier, update(1, 5, haven.StatusExecuting, "")); !agentapi.IsConflict(err) {
		t.Errorf("update for a superseded attempt: %v, want 409", err)
	}
	if applied, err := c.Update(ctx, task.JobIdentifier, update(2, 1, haven.StatusPreparing, "")); err != nil || !applied {
		t.Errorf("update for the current attempt: %v %v", applied, err)
	}
}

func TestReleaseRequeuesAndWakes(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	task := claim(t, s)
	if err := s.Client().Release(context.Background(), task.Lease.ID, agentID, "shutdown"); err != nil {
		t.Fatalf("release: %v", err)
	}
	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusWaitingOnNewTask || got.LeaseID != "" {
		t.Errorf("released job: %s lease %q", got.StatusCode, got.LeaseID)
	}
	if again := claim(t, s); again.JobIdentifier != jobs[0].ID || again.Attempt != 2 {
		t.Errorf("reclaim after release: %+v", again)
	}
}

func TestCancelReachesTheAgent(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	jr, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	task := claim(t, s)
	c := s.Client()
	ctx := context.Background()
	if resp, err := c.Extend(ctx, task.Lease.ID, agentID); err != nil || resp.Cancel {
		t.Fatalf("extend before the cancel: %+v %v", resp, err)
	}
	if _, err := s.Store.Cancel(ctx, jr.ID, nil, s.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	s.API.Wake(s.Backend.ID)
	// Through the extend answer…
	if resp, err := c.Extend(ctx, task.Lease.ID, agentID); err != nil || !resp.Cancel {
		t.Errorf("extend after the cancel: %+v %v, want cancel", resp, err)
	}
	// …and through a poll, once.
	ct, err := c.Poll(ctx, pollBody())
	if err != nil || ct == nil || ct.Kind != agentapi.TaskCancel || ct.JobIdentifier != jobs[0].ID || ct.Lease.ID != task.Lease.ID {
		t.Fatalf("poll after the cancel: %+v %v, want a cancel task for the job", ct, err)
	}
	if again, err := c.Poll(ctx, pollBody()); err != nil || again != nil {
		t.Errorf("second poll: %+v %v, want nothing", again, err)
	}
	if applied, err := c.Update(ctx, task.JobIdentifier, update(task.Attempt, 1, haven.StatusCancelledByUser, "")); err != nil || !applied {
		t.Fatalf("cancelled_by_user update: %v %v", applied, err)
	}
	if got := s.Job(jobs[0].ID); got.StatusCode != haven.StatusCancelledByUser {
		t.Errorf("job after the agent's report: %s", got.StatusCode)
	}
}

func TestRecoverTaskAfterStartedJobsLeaseExpires(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{})
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	task := claim(t, s)
	c := s.Client()
	ctx := context.Background()
	if _, err := c.Update(ctx, task.JobIdentifier, update(1, 1, haven.StatusExecuting, "")); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(2 * agentapi.DefaultTTL)
	if _, err := s.API.Reap(ctx); err != nil {
		t.Fatal(err)
	}
	rt := claim(t, s)
	if rt.Kind != agentapi.TaskRecover || rt.JobIdentifier != jobs[0].ID || rt.Attempt != 1 || rt.Commit != agentapitest.Commit {
		t.Fatalf("after expiry: %+v, want a recover task with the commit", rt)
	}
	if applied, err := c.Update(ctx, rt.JobIdentifier, update(1, 2, haven.StatusSucceeded, "")); err != nil || !applied {
		t.Fatalf("recovered job's report: %v %v", applied, err)
	}
	// Past the deadline instead: internal_error.
	_, jobs2 := s.Queue(agentapitest.Spec{Action: "other"})
	t2 := claim(t, s)
	if _, err := c.Update(ctx, t2.JobIdentifier, update(1, 1, haven.StatusExecuting, "")); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(2 * agentapi.DefaultTTL)
	s.API.Reap(ctx)
	s.Clock.Advance(agentapi.DefaultRecoveryDeadline + time.Minute)
	s.API.Reap(ctx)
	if got := s.Job(jobs2[0].ID); got.StatusCode != haven.StatusInternalError {
		t.Errorf("unrecovered job past the deadline: %s", got.StatusCode)
	}
}

func TestRunReaperStopsWithContext(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Configure: func(a *agentapi.API) { a.ReapEvery = time.Millisecond }})
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	claim(t, s)
	s.Clock.Advance(2 * agentapi.DefaultTTL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.API.RunReaper(ctx); close(done) }()
	s.WaitFor(jobs[0].ID, 30*time.Second, "the reaper to requeue it", func(j *store.Job) bool { return j.StatusCode == haven.StatusWaitingOnNewTask })
	cancel()
	<-done
}

func TestMetricsCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := agentapitest.New(t, agentapitest.Options{Hold: time.Millisecond, Configure: func(a *agentapi.API) { a.Registry = reg }})
	post(t, s, agentapi.PathPoll, s.Token, pollBody()) // empty
	post(t, s, agentapi.PathPoll, "", pollBody())      // unauthorized
	_, jobs := s.Queue(agentapitest.Spec{Action: "extract"})
	task := claim(t, s)
	s.Client().Update(context.Background(), jobs[0].ID, update(task.Attempt, 1, haven.StatusPreparing, ""))
	s.Client().Update(context.Background(), jobs[0].ID, update(task.Attempt, 1, haven.StatusPreparing, ""))
	want := map[string]float64{
		"haven_agent_polls_total/outcome=empty":        1,
		"haven_agent_polls_total/outcome=unauthorized": 1,
		"haven_agent_polls_total/outcome=task":         1,
		"haven_agent_tasks_total/kind=run":             1,
		"haven_agent_updates_total/outcome=applied":    1,
		"haven_agent_updates_total/outcome=ignored":    1,
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "/" + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// Many agents polling one backend: every job is handed out exactly once.
func TestConcurrentAgentsClaimEachJobOnce(t *testing.T) {
	s := agentapitest.New(t, agentapitest.Options{Hold: 5 * time.Millisecond})
	const agents, njobs = 50, 200
	specs := make([]agentapitest.Spec, njobs)
	for i := range specs {
		specs[i] = agentapitest.Spec{Action: fmt.Sprintf("action_%03d", i)}
	}
	_, jobs := s.Queue(specs...)
	var mu sync.Mutex
	claimed := map[string][]string{} // job -> agents
	var wg sync.WaitGroup
	errs := make(chan error, agents)
	for i := range agents {
		wg.Go(func() {
			c := s.Client()
			// Fifty agents share one SQLite writer; under the race
			// detector a request can wait a while for its turn.
			c.Timeout = 10 * time.Minute
			id := fmt.Sprintf("agent-%02d", i)
			req := pollBody()
			req.AgentID = id
			for {
				task, err := c.Poll(context.Background(), req)
				if err != nil {
					errs <- err
					return
				}
				if task == nil {
					return // the queue is empty
				}
				mu.Lock()
				claimed[task.JobIdentifier] = append(claimed[task.JobIdentifier], id)
				mu.Unlock()
				if _, err := c.Update(context.Background(), task.JobIdentifier, update(task.Attempt, 1, haven.StatusSucceeded, "")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, j := range jobs {
		if n := len(claimed[j.ID]); n != 1 {
			t.Errorf("job %s was claimed %d times (%v)", j.Action, n, claimed[j.ID])
		}
		if got := s.Job(j.ID); got.StatusCode != haven.StatusSucceeded {
			t.Errorf("job %s ended %s", j.Action, got.StatusCode)
		}
	}
	if len(claimed) != njobs {
		t.Errorf("%d jobs claimed, want %d", len(claimed), njobs)
	}
}

func TestClientErrorClassification(t *testing.T) {
	tests := []struct {
		err       error
		retryable bool
		conflict  bool
	}{
		{&agentapi.StatusError{Code: 500}, true, false},
		{&agentapi.StatusError{Code: 503}, true, false},
		{&agentapi.StatusError{Code: 429}, true, false},
		{&agentapi.StatusError{Code: 409}, false, true},
		{&agentapi.StatusError{Code: 400}, false, false},
		{&agentapi.StatusError{Code: 401}, false, false},
		{errors.New("connection refused"), true, false},
		{nil, false, false},
	}
	for _, tc := range tests {
		if got := agentapi.IsRetryable(tc.err); got != tc.retryable {
			t.Errorf("IsRetryable(%v) = %v", tc.err, got)
		}
		if got := agentapi.IsConflict(tc.err); got != tc.conflict {
			t.Errorf("IsConflict(%v) = %v", tc.err, got)
		}
	}
}

// errText is the "error" of a JSON error body, or the body itself.
func errText(body []byte) string {
	var e agentapi.ErrorResponse
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(body)
}
