// Package storetest is the conformance suite every implementation of
// store.Store passes (internal/store/sqlite's server database and
// internal/store/postgres). Each subtest opens a fresh, empty store and
// drives it with fixed times it passes in, so no test sleeps or depends on
// the clock.
package storetest

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/store"
)

// Run runs the conformance suite. open must return a fresh, empty store
// for the test it is given; Run closes it when that test ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Users", testUsers},
		{"APITokens", testAPITokens},
		{"Sessions", testSessions},
		{"Orgs", testOrgs},
		{"Projects", testProjects},
		{"ProjectRoles", testProjectRoles},
		{"Workspaces", testWorkspaces},
		{"Backends", testBackends},
		{"BackendTokens", testBackendTokens},
		{"TouchBackend", testTouchBackend},
		{"BackendMembers", testBackendMembers},

		{"CreateJobRequest", testCreateJobRequest},
		{"CreateJobRequestNumbers", testJobRequestNumbers},
		{"CreateJobRequestGivenNumber", testJobRequestGivenNumber},
		{"CreateJobRequestDuplicateIdentifier", testJobRequestDuplicateIdentifier},
		{"CreateJobRequestHistory", testPlanHistory},
		{"CreateJobRequestPlanError", testPlanError},
		{"CreateJobRequestConcurrentPlans", testConcurrentPlans},
		{"JobRequestsPaging", testJobRequestsPaging},
		{"PreviousJobRequest", testPreviousJobRequest},
		{"Jobs", testJobs},
		{"JobsByPrefix", testJobsByPrefix},
		{"LatestJobs", testLatestJobs},
		{"QueueCounts", testQueueCounts},

		{"CancelPendingAndLeased", testCancel},
		{"CancelOneAction", testCancelOneAction},
		{"CancelIdempotent", testCancelIdempotent},
		{"CancelCompleteRequest", testCancelComplete},
		{"CancelTaskBeforeRun", testCancelTaskBeforeRun},

		{"PollClaim", testPollClaim},
		{"PollNothing", testPollNothing},
		{"PollOtherBackend", testPollOtherBackend},
		{"PollCreatedAtOrder", testPollCreatedAtOrder},
		{"PollDBJobsFirst", testPollDBFirst},
		{"PollFairness", testPollFairness},
		{"PollCapacity", testPollCapacity},
		{"PollPausedBackend", testPollPaused},
		{"PollDBMaintenance", testPollDBMaintenance},
		{"PollDependencies", testPollDependencies},
		{"PollDependencyOnEarlierRequest", testPollDependencyEarlierRequest},
		{"DependencyFailedOnUpdate", testDependencyFailedOnUpdate},
		{"DependencyFailedOnPoll", testDependencyFailedOnPoll},

		{"ExtendLease", testExtendLease},
		{"ReleaseLease", testReleaseLease},
		{"LeaseLostAfterReclaim", testLeaseLostAfterReclaim},

		{"UpdateAgentCodes", testUpdateAgentCodes},
		{"UpdateInvalidCode", testUpdateInvalidCode},
		{"UpdateSeq", testUpdateSeq},
		{"UpdateFinalSticky", testUpdateFinalSticky},
		{"UpdateSuperseded", testUpdateSuperseded},
		{"UpdateWrongBackend", testUpdateWrongBackend},
		{"UpdateMetrics", testUpdateMetrics},
		{"UpdateRetryNewAttempt", testUpdateRetry},
		{"UpdateLateFinalAfterReap", testUpdateLateFinal},
		{"RequestStatusAfterUpdates", testRequestStatus},

		{"Reap", testReap},
		{"ReapRecover", testReapRecover},
		{"ReapRecoveryDeadline", testReapDeadline},

		{"CancelledJobLeavesQueue", testCancelledJobLeavesQueue},
		{"TimesInUTC", testTimesInUTC},

		{"ConcurrentPolls", testConcurrentPolls},
		{"ConcurrentCancelAndPoll", testConcurrentCancelAndPoll},
		{"ConcurrentCancels", testConcurrentCancels},
		{"ConcurrentUpdates", testConcurrentUpdates},

		{"Audit", testAudit},

		{"ReleaseULID", testReleaseULID},
		{"CreateRelease", testCreateRelease},
		{"CreateReleaseIdempotent", testCreateReleaseIdempotent},
		{"CreateReleaseConcurrent", testCreateReleaseConcurrent},
		{"CreateReleaseInvalid", testCreateReleaseInvalid},
		{"MarkUploaded", testMarkUploaded},
		{"WorkspaceReleasedFiles", testWorkspaceReleasedFiles},

		{"AirlockTokenUse", testAirlockTokenUse},
		{"AirlockTokenReplace", testAirlockTokenReplace},
		{"AirlockTokenConcurrentUse", testAirlockTokenConcurrentUse},
		{"AirlockTokenRateLimit", testAirlockTokenRateLimit},
		{"AirlockTokenConcurrentCreate", testAirlockTokenConcurrentCreate},
		{"AirlockUserLookups", testAirlockUserLookups},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, newEnv(t, s))
		})
	}
}

// t0 is the suite's clock origin; every time is an offset from it.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// zero is the unset time.
var zero time.Time

// at is t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

const (
	agent = "agent-1"
	ttl   = 90 * time.Second
)

// big is a capacity every test queue fits in.
var big = store.Capacity{Jobs: 100, DBJobs: 100}

// env is one subtest's store with a user, an organisation, a project, two
// workspaces and two backends.
type env struct {
	t       *testing.T
	s       store.Store
	ctx     context.Context
	user    *store.User
	org     *store.Org
	project *store.Project
	w1, w2  *store.Workspace
	b1, b2  *store.Backend
	n       int // identifiers made so far
}

func newEnv(t *testing.T, s store.Store) *env {
	t.Helper()
	e := &env{t: t, s: s, ctx: context.Background()}
	e.user = &store.User{Username: "alice", Email: "alice@example.org", Fullname: "Alice Analyst"}
	if err := s.CreateUser(e.ctx, e.user); err != nil {
		t.Fatalf("fixture: CreateUser: %v", err)
	}
	e.org = &store.Org{Name: "Research Institute", Slug: "research-institute", CreatedAt: t0}
	if err := s.CreateOrg(e.ctx, e.org); err != nil {
		t.Fatalf("fixture: CreateOrg: %v", err)
	}
	e.project = &store.Project{Name: "Vaccine uptake", Slug: "vaccine-uptake", Number: "1234", OrgID: e.org.ID, CreatedAt: t0}
	if err := s.CreateProject(e.ctx, e.project); err != nil {
		t.Fatalf("fixture: CreateProject: %v", err)
	}
	e.w1 = e.workspace("ws-one")
	e.w2 = e.workspace("ws-two")
	e.b1 = e.backend("tpp")
	e.b2 = e.backend("emis")
	return e
}

func (e *env) workspace(name string) *store.Workspace {
	e.t.Helper()
	w := &store.Workspace{Name: name, ProjectID: e.project.ID, RepoURL: "https://github.com/example/study",
		Branch: "main", CreatedBy: e.user.ID, CreatedAt: t0}
	if err := e.s.CreateWorkspace(e.ctx, w); err != nil {
		e.t.Fatalf("fixture: CreateWorkspace %s: %v", name, err)
	}
	return w
}

func (e *env) backend(slug string) *store.Backend {
	e.t.Helper()
	b := &store.Backend{Slug: slug, Name: strings.ToUpper(slug), AgentTokenHash: hashOf(slug + "-agent"),
		AirlockTokenHash: hashOf(slug + "-airlock"), IsActive: true, CreatedAt: t0}
	if err := e.s.CreateBackend(e.ctx, b); err != nil {
		e.t.Fatalf("fixture: CreateBackend %s: %v", slug, err)
	}
	return b
}

// hashOf is the hex sha256 of s, as tokens are stored.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// rapID makes the next 16-character request identifier (a-z2-7).
func (e *env) rapID() string {
	e.n++
	sum := sha1.Sum(fmt.Appendf(nil, "%s/%d", e.t.Name(), e.n))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
}

// js describes one job a test request plans.
type js struct {
	action  string
	db      bool      // requires the backend database
	needs   []string  // actions of the same request it waits on
	waitIDs []string  // further job identifiers it waits on
	at      time.Time // created at; zero for the request's time
}

func job(action string) js { return js{action: action} }

// newRequest is an unsaved job request for w on b created at when.
func (e *env) newRequest(w *store.Workspace, b *store.Backend, when time.Time, specs []js) *store.JobRequest {
	actions := []string{}
	for _, sp := range specs {
		actions = append(actions, sp.action)
	}
	return &store.JobRequest{
		Identifier:        e.rapID(),
		WorkspaceID:       w.ID,
		BackendID:         b.ID,
		RequestedActions:  actions,
		WillNotify:        true,
		SHA:               "3f2a7c1d9e8b4a6f0c5d2e1b7a9c8d6e4f3a2b1c",
		ProjectDefinition: "version: '4.0'\nactions: {}\n",
		CodelistsOK:       true,
		CreatedBy:         e.user.ID,
		CreatedAt:         when,
	}
}

// plan builds the jobs specs describe for jr.
func plan(jr *store.JobRequest, w *store.Workspace, specs []js) []*store.Job {
	var jobs []*store.Job
	for _, sp := range specs {
		created := sp.at
		if created.IsZero() {
			created = jr.CreatedAt
		}
		j := &store.Job{}
		j.ID = pipeline.JobID(jr.Identifier, sp.action)
		j.RequestID = jr.Identifier
		j.Workspace = w.Name
		j.Action = sp.action
		j.Image = "ehrql:v1"
		j.Args = []string{"generate-dataset", "analysis/" + sp.action + ".py"}
		j.RunCommand = "ehrql:v1 generate-dataset analysis/" + sp.action + ".py"
		j.RequiresDB = sp.db
		j.OutputSpec = map[string]string{"output/" + sp.action + ".csv": "highly_sensitive"}
		for _, n := range sp.needs {
			j.WaitForJobIDs = append(j.WaitForJobIDs, pipeline.JobID(jr.Identifier, n))
			j.RequiresOutputsFrom = append(j.RequiresOutputsFrom, n)
		}
		j.WaitForJobIDs = append(j.WaitForJobIDs, sp.waitIDs...)
		j.SetCode(haven.StatusCreated, "", created)
		j.CreatedAt = created
		jobs = append(jobs, j)
	}
	return jobs
}

// request creates a job request for w on b at when whose plan returns the
// jobs specs describe.
func (e *env) request(w *store.Workspace, b *store.Backend, when time.Time, specs ...js) (*store.JobRequest, []*store.Job) {
	e.t.Helper()
	jr := e.newRequest(w, b, when, specs)
	jobs, err := e.s.CreateJobRequest(e.ctx, jr, func([]*store.Job) ([]*store.Job, error) {
		return plan(jr, w, specs), nil
	})
	if err != nil {
		e.t.Fatalf("CreateJobRequest: %v", err)
	}
	if len(jobs) != len(specs) {
		e.t.Fatalf("CreateJobRequest returned %d jobs, want %d", len(jobs), len(specs))
	}
	return jr, jobs
}

// jid is the identifier of jr's job for action.
func jid(jr *store.JobRequest, action string) string { return pipeline.JobID(jr.Identifier, action) }

func (e *env) poll(b *store.Backend, cap store.Capacity, now time.Time) *store.Task {
	e.t.Helper()
	task, err := e.s.Poll(e.ctx, b.ID, agent, cap, now, ttl)
	if err != nil {
		e.t.Fatalf("Poll(%s) at %s: %v", b.Slug, now.Format(time.TimeOnly), err)
	}
	return task
}

// claim polls b and requires a run task for the job with identifier id.
func (e *env) claim(b *store.Backend, now time.Time, id string) *store.Job {
	e.t.Helper()
	task := e.poll(b, big, now)
	if task == nil {
		e.t.Fatalf("Poll(%s) = nil, want a run task for %s", b.Slug, id)
	}
	if task.Kind != store.TaskRun || task.Job == nil || task.Job.ID != id {
		e.t.Fatalf("Poll(%s) = %s, want a run task for %s", b.Slug, describe(task), id)
	}
	return task.Job
}

// noTask polls b and requires no task.
func (e *env) noTask(b *store.Backend, cap store.Capacity, now time.Time) {
	e.t.Helper()
	if task := e.poll(b, cap, now); task != nil {
		e.t.Fatalf("Poll(%s, %+v) = %s, want nothing", b.Slug, cap, describe(task))
	}
}

func describe(task *store.Task) string {
	if task == nil {
		return "nil"
	}
	if task.Job == nil {
		return task.Kind + " task without a job"
	}
	return fmt.Sprintf("%s task for %s (%s, attempt %d)", task.Kind, task.Job.ID, task.Job.Action, task.Job.Attempt)
}

func (e *env) job(id string) *store.Job {
	e.t.Helper()
	j, err := e.s.Job(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Job(%s): %v", id, err)
	}
	return j
}

func (e *env) jobRequest(id int64) *store.JobRequest {
	e.t.Helper()
	jr, err := e.s.JobRequest(e.ctx, id)
	if err != nil {
		e.t.Fatalf("JobRequest(%d): %v", id, err)
	}
	return jr
}

// update sends an agent update with code for attempt and seq; it fails the
// test on an error.
func (e *env) update(b *store.Backend, id string, attempt int, seq int64, code haven.StatusCode, now time.Time) bool {
	e.t.Helper()
	applied, err := e.s.ApplyUpdate(e.ctx, b.ID, id, upd(attempt, seq, code, now), now, ttl)
	if err != nil {
		e.t.Fatalf("ApplyUpdate(%s, attempt %d, seq %d, %s): %v", id, attempt, seq, code, err)
	}
	return applied
}

func upd(attempt int, seq int64, code haven.StatusCode, now time.Time) store.Update {
	return store.Update{Attempt: attempt, Seq: seq, TimestampNS: now.UnixNano(), StatusCode: code, StatusMessage: code.Message()}
}

// run claims the job id on b and reports code as its final state.
func (e *env) run(b *store.Backend, id string, code haven.StatusCode, now time.Time) {
	e.t.Helper()
	j := e.claim(b, now, id)
	if !e.update(b, id, j.Attempt, 1, haven.StatusExecuting, now.Add(time.Second)) {
		e.t.Fatalf("ApplyUpdate(%s, executing) not applied", id)
	}
	if !e.update(b, id, j.Attempt, 2, code, now.Add(2*time.Second)) {
		e.t.Fatalf("ApplyUpdate(%s, %s) not applied", id, code)
	}
}

// wantCode requires err to carry the haven error code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := haven.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// wantErr requires errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// wantTime requires got to equal want (both zero counts as equal) and to
// be in UTC when set.
func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, fmtTime(got), fmtTime(want))
		return
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s = %v, not in UTC", what, got)
	}
}

func fmtTime(tm time.Time) string {
	if tm.IsZero() {
		return "zero"
	}
	return tm.UTC().Format(time.RFC3339Nano)
}

// wantState requires the job's state and code.
func wantState(t *testing.T, j *store.Job, state haven.State, code haven.StatusCode) {
	t.Helper()
	if j.State != state || j.StatusCode != code {
		t.Errorf("job %s (%s) is %s/%s, want %s/%s", j.ID, j.Action, j.State, j.StatusCode, state, code)
	}
}

// wantStatus requires the request's stored status.
func (e *env) wantStatus(jr *store.JobRequest, status string) *store.JobRequest {
	e.t.Helper()
	got := e.jobRequest(jr.ID)
	if got.Status != status {
		e.t.Errorf("job request %d status = %q (%q), want %q", jr.ID, got.Status, got.StatusMessage, status)
	}
	return got
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func ids(jobs []*store.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

func requestIDs(jrs []*store.JobRequest) []int64 {
	var out []int64
	for _, jr := range jrs {
		out = append(out, jr.ID)
	}
	return out
}
