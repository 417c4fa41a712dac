package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/plan"
	"github.com/haven-tre/haven/internal/server"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/postgres/pgtest"
)

// plannedJobs plans the seed project's ten jobs as seed does.
func plannedJobs(t *testing.T, created time.Time) []*haven.Job {
	t.Helper()
	p, problems := pipeline.Parse("project.yaml", []byte(projectYAML))
	if problems.HasErrors() {
		t.Fatalf("project.yaml: %v", problems.Errors())
	}
	jobs, err := plan.Plan(p, plan.Request{ID: "abcdefghijklmnop", Workspace: "ws", RequestedActions: []string{pipeline.RunAll}, ForceRunDependencies: true, CodelistsOK: true}, nil, created)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != actionsPerRequest {
		t.Fatalf("planned %d jobs, want %d", len(jobs), actionsPerRequest)
	}
	return jobs
}

func TestFinish(t *testing.T) {
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		out        outcome
		wantStatus string
		// wantCodes must each appear at least once.
		wantCodes []haven.StatusCode
	}{
		{outcomeSucceeded, store.RequestSucceeded, []haven.StatusCode{haven.StatusSucceeded}},
		{outcomeNonzeroExit, store.RequestFailed, []haven.StatusCode{haven.StatusNonzeroExit}},
		{outcomeInternalError, store.RequestFailed, []haven.StatusCode{haven.StatusInternalError}},
		{outcomeExtractionFail, store.RequestFailed, []haven.StatusCode{haven.StatusNonzeroExit, haven.StatusDependencyFailed}},
	}
	for _, tt := range tests {
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, 1))
			jobs := finish(plannedJobs(t, created), tt.out, created, 7, rng)
			checkFinished(t, jobs, created)
			if got, _ := store.DeriveStatus(store.RequestPending, jobs); got != tt.wantStatus {
				t.Errorf("outcome %d seed %d: status %s, want %s", tt.out, seed, got, tt.wantStatus)
			}
			for _, c := range tt.wantCodes {
				found := false
				for _, j := range jobs {
					found = found || j.StatusCode == c
				}
				if !found {
					t.Errorf("outcome %d seed %d: no job has code %s", tt.out, seed, c)
				}
			}
		}
	}
	// Cancelled requests: every job not finished by the cancel is
	// cancelled_by_user and marked cancelled.
	for seed := range uint64(20) {
		jobs := finish(plannedJobs(t, created), outcomeCancelled, created, 7, rand.New(rand.NewPCG(seed, 1)))
		checkFinished(t, jobs, created)
		for _, j := range jobs {
			if j.Cancelled != (j.StatusCode == haven.StatusCancelledByUser) {
				t.Errorf("seed %d: job %s has code %s and cancelled %v", seed, j.Action, j.StatusCode, j.Cancelled)
			}
		}
	}
}

// checkFinished checks what every seeded job must be: final, with UTC
// timestamps in order, started only after its dependencies completed.
func checkFinished(t *testing.T, jobs []*store.Job, created time.Time) {
	t.Helper()
	byID := map[string]*store.Job{}
	for _, j := range jobs {
		byID[j.ID] = j
	}
	for _, j := range jobs {
		if !j.StatusCode.IsFinal() || j.State != j.StatusCode.State() {
			t.Errorf("job %s: code %s, state %s: not a final, consistent status", j.Action, j.StatusCode, j.State)
		}
		if j.CompletedAt.Location() != time.UTC || j.CompletedAt.Before(created) {
			t.Errorf("job %s: completed %v, before the request (%v) or not UTC", j.Action, j.CompletedAt, created)
		}
		if j.UpdatedAt != j.CompletedAt || j.StatusCodeUpdatedAt != j.CompletedAt.UnixNano() {
			t.Errorf("job %s: updated %v / %d, want the completion time %v", j.Action, j.UpdatedAt, j.StatusCodeUpdatedAt, j.CompletedAt)
		}
		if !j.StartedAt.IsZero() {
			if j.StartedAt.After(j.CompletedAt) {
				t.Errorf("job %s: started %v after it completed %v", j.Action, j.StartedAt, j.CompletedAt)
			}
			for _, dep := range j.WaitForJobIDs {
				if d := byID[dep]; d.CompletedAt.After(j.StartedAt) {
					t.Errorf("job %s started %v before its dependency %s completed %v", j.Action, j.StartedAt, d.Action, d.CompletedAt)
				}
			}
		}
		if j.StatusCode == haven.StatusSucceeded && (j.ExitCode == nil || *j.ExitCode != 0 || len(j.Outputs) == 0) {
			t.Errorf("job %s succeeded without exit code 0 and outputs", j.Action)
		}
		if j.BackendID != 7 {
			t.Errorf("job %s: backend %d, want 7", j.Action, j.BackendID)
		}
	}
}

func TestPickOutcomeShares(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	counts := map[outcome]int{}
	const n = 100000
	for range n {
		counts[pickOutcome(rng)]++
	}
	for out, want := range map[outcome]float64{outcomeSucceeded: .82, outcomeNonzeroExit: .10, outcomeCancelled: .04, outcomeInternalError: .02, outcomeExtractionFail: .02} {
		if got := float64(counts[out]) / n; got < want-0.01 || got > want+0.01 {
			t.Errorf("outcome %d: share %.3f, want %.2f", out, got, want)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error or on stderr
	}{
		{nil, "usage: serverload"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"seed"}, "no database given: pass --data-dir DIR"},
		{[]string{"seed", "--data-dir", "x", "--database-url", "postgres://h/db"}, "pass one of them"},
		{[]string{"seed", "--data-dir", "x", "--jobs", "0"}, "--jobs must be at least 1"},
		{[]string{"seed", "--data-dir", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "--data-dir", "x", "--hold", "-1s"}, "--hold must not be negative"},
		{[]string{"serve"}, "no database given"},
		{[]string{"hello", "--listen", "not an address"}, "cannot listen on not an address"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := run(context.Background(), tt.args, io.Discard, &stderr)
		if err == nil {
			t.Errorf("run %q: no error", tt.args)
			continue
		}
		if msg := err.Error() + "\n" + stderr.String(); !strings.Contains(msg, tt.want) {
			t.Errorf("run %q: %q, want it to contain %q", tt.args, msg, tt.want)
		}
	}
}

func TestSeedSQLite(t *testing.T) {
	testSeed(t, storeFlags{dataDir: filepath.Join(t.TempDir(), "data")})
}

func TestSeedPostgres(t *testing.T) {
	testSeed(t, storeFlags{databaseURL: pgtest.URL(t)})
}

// testSeed seeds a small history, then checks the data and the two
// endpoints the benchmark loads, through the real server's handler.
func testSeed(t *testing.T, db storeFlags) {
	ctx := context.Background()
	dir := t.TempDir()
	o := seedOptions{storeFlags: db, jobs: 95, workspaces: 3, tokenFile: filepath.Join(dir, "token"), baseURL: "http://bench.example", seed: 3, days: 30}
	var stdout bytes.Buffer
	args := []string{"seed", "--jobs", "95", "--workspaces", "3", "--token-file", o.tokenFile, "--base-url", o.baseURL, "--seed", "3", "--days", "30"}
	if db.dataDir != "" {
		args = append(args, "--data-dir", db.dataDir)
	} else {
		args = append(args, "--database-url", db.databaseURL)
	}
	if err := run(ctx, args, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`job request page: http://bench\.example(/bench-study/bench-ws-\d{4}/(\d+)/)\n`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no job request page in the output:\n%s", stdout.String())
	}
	pagePath := m[1]
	number, _ := strconv.ParseInt(m[2], 10, 64)
	if !strings.Contains(stdout.String(), "10 job requests, 100 jobs, 3 workspaces") {
		t.Errorf("summary: %s", stdout.String())
	}
	tok, err := os.ReadFile(o.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(o.tokenFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}

	// A second seed of the same database is refused.
	if err := run(ctx, args, io.Discard, io.Discard); haven.ErrorCode(err) != haven.ECONFLICT || !strings.Contains(err.Error(), "already holds the benchmark's data") {
		t.Errorf("second seed: %v, want a conflict", err)
	}

	st, _, err := server.OpenStore(ctx, db.config())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reqs, total, err := st.JobRequests(ctx, store.JobRequestFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if total != 10 {
		t.Fatalf("%d job requests, want 10", total)
	}
	for _, jr := range reqs {
		jobs, err := st.RequestJobs(ctx, jr.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := store.DeriveStatus(store.RequestPending, jobs)
		if len(jobs) != actionsPerRequest || jr.Status != want || (want != store.RequestSucceeded && want != store.RequestFailed) {
			t.Errorf("request %d: %d jobs, status %s, want %d jobs and final status %s", jr.ID, len(jobs), jr.Status, actionsPerRequest, want)
		}
		if jr.ProjectDefinition != projectYAML || jr.CreatedAt.Location() != time.UTC {
			t.Errorf("request %d: project definition or creation time not as seeded", jr.ID)
		}
		if jr.ID == number && jr.Status != store.RequestSucceeded {
			t.Errorf("the printed request %d has status %s, want succeeded", jr.ID, jr.Status)
		}
	}

	srv, err := server.New(server.Config{DataDir: db.dataDir, DatabaseURL: db.databaseURL, Hold: minHold}, st)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler)
	defer hs.Close()
	resp, err := http.Get(hs.URL + pagePath)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Job request: "+m[2]) || !strings.Contains(string(page), "generate_study_population") {
		t.Errorf("job request page: %d\n%.2000s", resp.StatusCode, page)
	}

	// The poll wrk sends (bench/wrk/poll.lua) answers 204 at once.
	body := `{"agent_id":"bench-agent","agent_version":"bench","capacity":{"jobs":4,"db_jobs":2},"flags":{"db_maintenance":false,"db_maintenance_type":""},"leases":[]}`
	lua, err := os.ReadFile("../wrk/poll.lua")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.NewReplacer("'", "", " ..\n  ", "").Replace(string(lua)), body) {
		t.Errorf("bench/wrk/poll.lua does not send %s", body)
	}
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/agent/v1/poll", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("poll: %d, want 204", resp.StatusCode)
	}
}
