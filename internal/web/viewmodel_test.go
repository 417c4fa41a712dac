package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
)

func TestFormatRuntime(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "00:00:00"},
		{-5 * time.Second, "00:00:00"},
		{999 * time.Millisecond, "00:00:00"},
		{171 * time.Second, "00:02:51"},
		{23 * time.Second, "00:00:23"},
		{18*time.Hour + 21*time.Minute + 28*time.Second, "18:21:28"},
		{25 * time.Hour, "25:00:00"}, // hours do not wrap at 24
		{100*time.Hour + 59*time.Minute + 59*time.Second, "100:59:59"},
	} {
		if got := formatRuntime(tc.d); got != tc.want {
			t.Errorf("formatRuntime(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func job(state haven.State, started, completed time.Time) *store.Job {
	j := &store.Job{}
	j.State, j.StartedAt, j.CompletedAt = state, started, completed
	return j
}

func TestRuntimeSum(t *testing.T) {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		jobs []*store.Job
		want time.Duration
	}{
		{"none", nil, 0},
		{"two finished jobs sum, not span", []*store.Job{
			job(haven.StateSucceeded, base, base.Add(100*time.Second)),
			job(haven.StateSucceeded, base.Add(time.Hour), base.Add(time.Hour+71*time.Second)),
		}, 171 * time.Second},
		{"running and pending jobs count nothing", []*store.Job{
			job(haven.StateRunning, base, time.Time{}),
			job(haven.StatePending, time.Time{}, time.Time{}),
			job(haven.StateFailed, base, base.Add(time.Minute)),
		}, time.Minute},
		{"a job cancelled before it started", []*store.Job{job(haven.StateFailed, time.Time{}, base)}, 0},
		{"negative durations are clamped", []*store.Job{
			job(haven.StateSucceeded, base.Add(time.Hour), base),
			job(haven.StateSucceeded, base, base.Add(time.Second)),
		}, time.Second},
	} {
		if got := runtimeSum(tc.jobs); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestComputeStats(t *testing.T) {
	z := time.Time{}
	for _, tc := range []struct {
		name string
		jobs []*store.Job
		want jobStats
	}{
		{"none", nil, jobStats{}},
		{"mixed", []*store.Job{
			job(haven.StateSucceeded, z, z), job(haven.StateFailed, z, z), job(haven.StateRunning, z, z), job("", z, z),
		}, jobStats{Total: 4, Complete: 2, Pending: statCount{1, 25}, Running: statCount{1, 25}, Succeeded: statCount{1, 25}, Failed: statCount{1, 25}}},
		{"thirds round", []*store.Job{
			job(haven.StateSucceeded, z, z), job(haven.StateSucceeded, z, z), job(haven.StatePending, z, z),
		}, jobStats{Total: 3, Complete: 2, Pending: statCount{1, 33}, Succeeded: statCount{2, 67}}},
	} {
		if got := computeStats(tc.jobs); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestLabelsAndPills(t *testing.T) {
	for _, tc := range []struct{ status, label, pill string }{
		{"succeeded", "Succeeded", "pill pill-succeeded"},
		{"failed", "Failed", "pill pill-failed"},
		{"running", "Running", "pill pill-running"},
		{"pending", "Pending", "pill pill-pending"},
		{"", "Pending", "pill pill-pending"},
		{"nothing_to_do", "Nothing to do", "pill pill-nothing-to-do"},
		{"unknown_error_creating_jobs", "Unknown error creating jobs", "pill pill-unknown"},
		{"<script>", "Unknown", "pill pill-unknown"},
	} {
		if got := statusLabel(tc.status); got != tc.label {
			t.Errorf("statusLabel(%q) = %q, want %q", tc.status, got, tc.label)
		}
		if got := pillClass(tc.status); got != tc.pill {
			t.Errorf("pillClass(%q) = %q, want %q", tc.status, got, tc.pill)
		}
	}
}

func TestWebRepo(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://github.com/opensafely/flucats", "https://github.com/opensafely/flucats"},
		{"https://github.com/opensafely/flucats.git", "https://github.com/opensafely/flucats"},
		{"https://github.com/opensafely/flucats/", "https://github.com/opensafely/flucats"},
		{"/srv/repos/flucats", ""},
		{"file:///srv/repos/flucats", ""},
		{"git@github.com:opensafely/flucats.git", ""},
		{"ssh://git@github.com/opensafely/flucats", ""},
		{"https://user:pw@github.com/o/r", ""},
		{"javascript:alert(1)", ""},
		{"https://github.com", ""},
	} {
		if got := webRepo(tc.in); got != tc.want {
			t.Errorf("webRepo(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "/"},
		{"/event-log/", "/event-log/"},
		{"/p/w/run-jobs/?x=1", "/p/w/run-jobs/?x=1"},
		{"//evil.example/", "/"},
		{"/\\evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"evil", "/"},
		{"/a\r\nSet-Cookie: x", "/"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
		msg  string
	}{
		{haven.Errorf(haven.EINVALID, "bad input"), 400, "bad input"},
		{haven.Errorf(haven.ENOTFOUND, "workspace secret-ws not found"), 404, errNotFound.Message},
		{haven.Errorf(haven.ECONFLICT, "already exists"), 409, "already exists"},
		{haven.Errorf(haven.EFORBIDDEN, "not yours"), 403, "not yours"},
		{&haven.Error{Code: haven.EINVALID, Message: "shown", Err: errString("hidden cause")}, 400, "shown"},
		{haven.Errorf(haven.EINTERNAL, "disk on fire"), 500, "Something went wrong on our side."},
		{errString("plain"), 500, "Something went wrong on our side."},
		{&jobserver.FormError{Field: "backend", Message: "pick one"}, 400, "pick one"},
	} {
		if got := httpStatus(tc.err); got != tc.want {
			t.Errorf("httpStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
		if got := userMessage(tc.err); got != tc.msg {
			t.Errorf("userMessage(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestParams(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		ok            bool
	}{
		{"/{project}/{workspace}/{jr}/{job}/", "/proj-1/ws_a-B/4897/yqceq4e2krqcxs55/", true},
		{"/{project}/{workspace}/{jr}/", "/proj/ws/0/", false},
		{"/{project}/{workspace}/{jr}/", "/proj/ws/01/", false},
		{"/{project}/{workspace}/{jr}/", "/proj/ws/99999999999999999999/", false},
		{"/{project}/{workspace}/{jr}/{job}/", "/proj/ws/1/YQCEQ/", false},
		{"/{project}/{workspace}/{jr}/{job}/", "/proj/ws/1/yqceq4e2krqcxs55x/", false},
		{"/{project}/{workspace}/", "/proj/ws%20x/", false},
		{"/{project}/{workspace}/", "/-proj/ws/", false},
		{"/{project}/{workspace}/run-jobs/{ref}/", "/p/w/run-jobs/" + strings.Repeat("a", 40) + "/", true},
		{"/{project}/{workspace}/run-jobs/{ref}/", "/p/w/run-jobs/" + strings.Repeat("A", 40) + "/", false},
		{"/{project}/{workspace}/run-jobs/{ref}/", "/p/w/run-jobs/main/", false},
	} {
		mux := http.NewServeMux()
		var ok bool
		mux.HandleFunc(tc.pattern, func(_ http.ResponseWriter, r *http.Request) {
			var names []string
			for _, n := range []string{"project", "workspace", "jr", "job", "ref"} {
				if strings.Contains(tc.pattern, "{"+n+"}") {
					names = append(names, n)
				}
			}
			_, ok = params(r, names...)
		})
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.path, ok, tc.ok)
		}
	}
}

func TestBuildJobRequestView(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	base := jobRequestInput{
		ProjectSlug: "proj",
		Workspace:   workspaceFacts{Name: "ws", RepoURL: "/srv/repo", Branch: "main"},
		Backend:     backendFacts{Slug: "tpp"},
		Requester:   "Ann",
		Now:         now,
	}
	mk := func(status string, jobs []*store.Job, f func(*jobRequestInput)) jobRequestView {
		in := base
		in.Request = &store.JobRequest{ID: 7, Identifier: "abcdefghijklmnop", Status: status, SHA: strings.Repeat("c", 40),
			ProjectDefinition: "version: '3.0'\n", RequestedActions: []string{"a"}, CreatedAt: now.Add(-time.Hour)}
		in.Jobs = jobs
		if f != nil {
			f(&in)
		}
		return buildJobRequestView(in)
	}
	pendingJob := func(updated time.Time) *store.Job {
		j := job(haven.StatePending, time.Time{}, time.Time{})
		j.ID, j.Action, j.StatusCode, j.StatusMessage, j.UpdatedAt = "j1", "a", haven.StatusWaitingOnDependencies, "Waiting on dependencies", updated
		return j
	}

	t.Run("local repo shows text, not links", func(t *testing.T) {
		v := mk("succeeded", nil, nil)
		if v.Repo.TreeURL != "" || v.Repo.Text != "/srv/repo" || v.SHA7 != "ccccccc" {
			t.Errorf("%+v", v.Repo)
		}
	})
	t.Run("no jobs, complete", func(t *testing.T) {
		v := mk("nothing_to_do", nil, func(in *jobRequestInput) {
			in.Request.StatusMessage = "All actions have already completed successfully"
		})
		if !v.NoJobs || v.NoUpdatesYet || v.StatusLabel != "Nothing to do" || !v.CancelDisabled || v.Finished.Valid {
			t.Errorf("%+v", v)
		}
	})
	t.Run("no jobs, active", func(t *testing.T) {
		v := mk("pending", nil, func(in *jobRequestInput) { in.CanCancel = true })
		if !v.NoUpdatesYet || !v.CancelDisabled || !v.ShowCancel || v.MissingUpdates {
			t.Errorf("%+v", v)
		}
	})
	t.Run("pending job waits, stale after 30 minutes", func(t *testing.T) {
		v := mk("pending", []*store.Job{pendingJob(now.Add(-31 * time.Minute))}, nil)
		if v.Jobs[0].Waiting != "waiting_on_dependencies: Waiting on dependencies" || v.Jobs[0].Error != "" {
			t.Errorf("%+v", v.Jobs[0])
		}
		if !v.MissingUpdates || v.CancelDisabled {
			t.Errorf("missing updates %v, cancel disabled %v", v.MissingUpdates, v.CancelDisabled)
		}
		if v.Jobs[0].URL != "" {
			t.Error("signed-out view links to the job")
		}
		v = mk("pending", []*store.Job{pendingJob(now.Add(-29 * time.Minute))}, func(in *jobRequestInput) { in.SignedIn = true })
		if v.MissingUpdates || v.Jobs[0].URL != "/proj/ws/7/j1/" {
			t.Errorf("missing updates %v, url %q", v.MissingUpdates, v.Jobs[0].URL)
		}
	})
	t.Run("cancel requested banner only while active", func(t *testing.T) {
		j := pendingJob(now)
		j.Cancelled = true
		v := mk("running", []*store.Job{j}, func(in *jobRequestInput) { in.Request.CancelledActions = []string{"a"} })
		if !v.CancelRequested || !v.CancelDisabled {
			t.Errorf("requested %v disabled %v", v.CancelRequested, v.CancelDisabled)
		}
		v = mk("failed", nil, func(in *jobRequestInput) { in.Request.CancelledActions = []string{"a"} })
		if v.CancelRequested {
			t.Error("banner on a complete request")
		}
	})
	t.Run("legacy __error__ request", func(t *testing.T) {
		j := job(haven.StateFailed, time.Time{}, now)
		j.Action, j.StatusMessage = "__error__", "Branch not found"
		v := mk("failed", []*store.Job{j}, nil)
		if !v.Invalid || v.InvalidError != "Branch not found" {
			t.Errorf("%+v", v)
		}
	})
	t.Run("large project.yaml is not rendered", func(t *testing.T) {
		v := mk("succeeded", nil, func(in *jobRequestInput) { in.Request.ProjectDefinition = strings.Repeat("x", maxPipelineChars+1) })
		if !v.PipelineTooLarge || v.Pipeline != "" {
			t.Error("large file rendered")
		}
		v = mk("succeeded", nil, func(in *jobRequestInput) { in.Request.ProjectDefinition = strings.Repeat("x", maxPipelineChars) })
		if v.PipelineTooLarge {
			t.Error("a file of exactly the limit is not rendered")
		}
	})
	t.Run("jobs by start time, timeline", func(t *testing.T) {
		a := job(haven.StateSucceeded, now.Add(-10*time.Minute), now.Add(-9*time.Minute))
		a.Action = "late"
		b := job(haven.StateSucceeded, now.Add(-50*time.Minute), now.Add(-40*time.Minute))
		b.Action = "early"
		c := job(haven.StatePending, time.Time{}, time.Time{})
		c.Action = "waiting"
		v := mk("succeeded", []*store.Job{c, a, b}, nil)
		var order []string
		for _, j := range v.Jobs {
			order = append(order, j.Action)
		}
		if strings.Join(order, ",") != "early,late,waiting" {
			t.Errorf("order %v", order)
		}
		if v.Started.ISO != "2024-01-01T11:10:00Z" || v.Finished.ISO != "2024-01-01T11:51:00Z" || v.Runtime != "00:11:00" {
			t.Errorf("started %v finished %v runtime %v", v.Started, v.Finished, v.Runtime)
		}
		if v.Stats.Complete != 2 || v.Stats.Total != 3 {
			t.Errorf("stats %+v", v.Stats)
		}
	})
	t.Run("test backend wording", func(t *testing.T) {
		v := mk("succeeded", nil, func(in *jobRequestInput) { in.Backend.Slug = "test" })
		if !v.TestBackend || v.Backend != "TEST" {
			t.Errorf("%+v", v)
		}
	})
}

func TestCompareLinks(t *testing.T) {
	sha := func(c string) string { return strings.Repeat(c, 40) }
	jr := &store.JobRequest{ID: 3, SHA: sha("c")}
	prev := &store.JobRequest{ID: 2, SHA: sha("b")}
	prevOK := &store.JobRequest{ID: 1, SHA: sha("a")}

	links := compareLinks("https://github.com/o/r", "p", "w", jr, prev, prevOK)
	if len(links) != 2 ||
		links[0].URL != "https://github.com/o/r/compare/"+sha("b")+".."+sha("c") || links[0].Text != "Compare to the previous job request" ||
		links[1].URL != "https://github.com/o/r/compare/"+sha("a")+".."+sha("c") || links[1].Text != "Compare to the previous successful job request" {
		t.Errorf("web repo links %+v", links)
	}
	links = compareLinks("/srv/repo", "p", "w", jr, prev, nil)
	if len(links) != 1 || links[0].URL != "/p/w/2/" || links[0].Note != "job request 2, commits bbbbbbb..ccccccc" {
		t.Errorf("local repo links %+v", links)
	}
	if links := compareLinks("https://github.com/o/r", "p", "w", jr, nil, nil); len(links) != 0 {
		t.Errorf("no previous: %+v", links)
	}
}

func TestMetricRows(t *testing.T) {
	rows := metricRows(map[string]float64{"zeta": 2, "mem_mb_peak": 2048, "cpu_mean": 12.5, "alpha": 0.25})
	var got []string
	for _, r := range rows {
		got = append(got, r.Name+"="+r.Value)
	}
	want := "CPU mean (%)=12.5,Memory peak (MB)=2048.0,alpha=0.25,zeta=2"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}
