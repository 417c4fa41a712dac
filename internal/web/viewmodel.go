package web

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// The view models here are pure: they turn store rows into what the
// templates print, so the arithmetic and wording are tested without HTTP.

// missingUpdatesAfter is how long an active request may go without a job
// update before its page warns that data may be stale.
const missingUpdatesAfter = 30 * time.Minute

// maxPipelineChars is the largest project.yaml the job request page
// renders inline.
const maxPipelineChars = 10000

// formatRuntime formats d as HH:MM:SS; hours do not wrap at 24 and a
// negative duration shows as zero.
func formatRuntime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// jobRuntime is a finished job's duration: completed minus started,
// never negative; zero for a job that has not both started and finished.
func jobRuntime(j *store.Job) time.Duration {
	if j.StartedAt.IsZero() || j.CompletedAt.IsZero() {
		return 0
	}
	if d := j.CompletedAt.Sub(j.StartedAt); d > 0 {
		return d
	}
	return 0
}

// runtimeSum is a request's runtime: the sum of its finished jobs'
// durations (not the wall-clock span), spec §4.2.
func runtimeSum(jobs []*store.Job) time.Duration {
	var total time.Duration
	for _, j := range jobs {
		total += jobRuntime(j)
	}
	return total
}

// jobStats are the counts and percentages of the Job statistics card.
type jobStats struct {
	Total     int
	Complete  int // succeeded + failed
	Pending   statCount
	Running   statCount
	Succeeded statCount
	Failed    statCount
}

// statCount is one state's count and its whole percentage of the total.
type statCount struct {
	N       int
	Percent int
}

func computeStats(jobs []*store.Job) jobStats {
	var s jobStats
	s.Total = len(jobs)
	for _, j := range jobs {
		switch j.State {
		case haven.StateRunning:
			s.Running.N++
		case haven.StateSucceeded:
			s.Succeeded.N++
		case haven.StateFailed:
			s.Failed.N++
		default: // pending, and an empty state counts as pending
			s.Pending.N++
		}
	}
	s.Complete = s.Succeeded.N + s.Failed.N
	for _, c := range []*statCount{&s.Pending, &s.Running, &s.Succeeded, &s.Failed} {
		if s.Total > 0 {
			c.Percent = (c.N*100 + s.Total/2) / s.Total
		}
	}
	return s
}

// statusLabel is the display label of a job request or job status.
func statusLabel(status string) string {
	if status == "" {
		return store.StatusLabel(store.RequestPending)
	}
	return store.StatusLabel(status)
}

// pillClass is the CSS class of a status pill.
func pillClass(status string) string {
	switch status {
	case store.RequestSucceeded, store.RequestFailed, store.RequestRunning, store.RequestPending, store.RequestNothingToDo:
		return "pill pill-" + strings.ReplaceAll(status, "_", "-")
	case "":
		return "pill pill-pending"
	}
	return "pill pill-unknown"
}

// isoTime is t for a <time datetime> attribute: RFC 3339 in UTC.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// showTime is t as pages print it (UTC, which the pages say).
func showTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

// shortSHA is the first 7 characters of a commit.
func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// repoView says how to point at a workspace's repository: links for a
// repository on a web host, plain text for anything else (a local path,
// an ssh URL), so pages never show a broken link.
type repoView struct {
	Web     string // https://host/org/repo, or "" when not on the web
	Text    string // the repository as configured
	TreeURL string // the tree at the commit
	FileURL string // project.yaml at the commit
}

// webRepo returns the browsable base URL of an http(s) repository URL
// (without a trailing ".git" or slash), or "".
func webRepo(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	if p == "" || p == "/" {
		return ""
	}
	return u.Scheme + "://" + u.Host + p
}

func makeRepoView(repoURL, sha string) repoView {
	v := repoView{Text: repoURL, Web: webRepo(repoURL)}
	if v.Web != "" && commitSHA.MatchString(sha) {
		v.TreeURL = v.Web + "/tree/" + sha
		v.FileURL = v.Web + "/blob/" + sha + "/project.yaml"
	}
	return v
}

// timeView is an optional timestamp.
type timeView struct {
	Valid bool
	ISO   string
	Text  string
}

func makeTime(t time.Time) timeView {
	if t.IsZero() {
		return timeView{}
	}
	return timeView{Valid: true, ISO: isoTime(t), Text: showTime(t)}
}

// jobView is one item of the Jobs card.
type jobView struct {
	Action     string
	URL        string // the job page
	Identifier string
	Status     string // coarse state
	Label      string
	Pill       string
	Error      string // failed jobs: "code: message"
	Waiting    string // pending jobs: "code: message"
}

// compareLink is one link of the Code comparison card.
type compareLink struct {
	Text string
	URL  string
	Note string // the commits compared, when the link is not a diff
}

// jobRequestInput is everything the job request page is built from.
type jobRequestInput struct {
	Request           *store.JobRequest
	Jobs              []*store.Job // in creation order
	OrgName           string
	ProjectSlug       string
	Workspace         workspaceFacts
	Backend           backendFacts
	Requester         string // the creator's full name
	Previous          *store.JobRequest
	PreviousSucceeded *store.JobRequest
	SignedIn          bool // action names link to job pages
	CanCancel         bool // the viewer may cancel this request
	Now               time.Time
}

// jobRequestView is the job request page's view model (spec §6.4).
type jobRequestView struct {
	Number       int64
	Identifier   string
	URL          string
	OrgName      string
	Workspace    string
	WorkspaceURL string
	Repo         repoView
	SHA          string
	SHA7         string

	ShowCancel      bool
	CancelDisabled  bool
	CancelURL       string
	MissingUpdates  bool
	CancelRequested bool

	Requester   string
	TestBackend bool

	Jobs         []jobView
	Invalid      bool   // a legacy request whose only job is __error__
	InvalidError string // that job's message
	NoJobs       bool   // the request has no jobs
	NoUpdatesYet bool   // no jobs and still active

	Pipeline         string
	PipelineTooLarge bool

	Stats jobStats

	Created  timeView
	Started  timeView
	Finished timeView
	Runtime  string
	Backend  string // upper-cased slug

	Status           string
	StatusLabel      string
	StatusMessage    string
	Branch           string
	ForceRun         string // Yes / No
	RequestedActions []string

	Compare []compareLink
}

// isTestBackend reports whether a backend holds no real patient data, so
// its pages must not say they do: one marked as artificial-data, or named
// as a test or demo backend.
func isTestBackend(b backendFacts) bool {
	if b.ArtificialData {
		return true
	}
	s := strings.ToLower(b.Slug)
	return s == "test" || s == "demo" || strings.HasPrefix(s, "test-") || strings.HasPrefix(s, "demo-")
}

// sortByStart orders jobs by start time; jobs not yet started come last,
// in their original (creation) order.
func sortByStart(jobs []*store.Job) []*store.Job {
	out := append([]*store.Job(nil), jobs...)
	sort.SliceStable(out, func(a, b int) bool {
		ta, tb := out[a].StartedAt, out[b].StartedAt
		switch {
		case ta.IsZero():
			return false
		case tb.IsZero():
			return true
		}
		return ta.Before(tb)
	})
	return out
}

// jobRequestURL is a job request page's path.
func jobRequestURL(project, workspace string, number int64) string {
	return "/" + project + "/" + workspace + "/" + strconv.FormatInt(number, 10) + "/"
}

// codeMessage is "code: message", or the message alone without a code.
func codeMessage(code haven.StatusCode, msg string) string {
	if code == "" {
		return msg
	}
	if msg == "" {
		return string(code)
	}
	return string(code) + ": " + msg
}

// hasActiveJob reports whether any job is pending or running and not
// already cancelled: something a cancel would still stop.
func hasActiveJob(jobs []*store.Job) bool {
	for _, j := range jobs {
		if (j.State == haven.StatePending || j.State == haven.StateRunning || j.State == "") && !j.Cancelled {
			return true
		}
	}
	return false
}

// missingUpdates reports whether an active request's newest job update is
// older than 30 minutes.
func missingUpdates(status string, jobs []*store.Job, now time.Time) bool {
	if !store.IsActive(status) || len(jobs) == 0 {
		return false
	}
	var newest time.Time
	for _, j := range jobs {
		if j.UpdatedAt.After(newest) {
			newest = j.UpdatedAt
		}
	}
	return now.Sub(newest) > missingUpdatesAfter
}

// buildJobRequestView builds the job request page.
func buildJobRequestView(in jobRequestInput) jobRequestView {
	jr := in.Request
	base := jobRequestURL(in.ProjectSlug, in.Workspace.Name, jr.ID)
	active := store.IsActive(jr.Status)
	v := jobRequestView{
		Number:       jr.ID,
		Identifier:   jr.Identifier,
		URL:          base,
		OrgName:      in.OrgName,
		Workspace:    in.Workspace.Name,
		WorkspaceURL: "/" + in.ProjectSlug + "/" + in.Workspace.Name + "/",
		Repo:         makeRepoView(in.Workspace.RepoURL, jr.SHA),
		SHA:          jr.SHA,
		SHA7:         shortSHA(jr.SHA),

		ShowCancel:      in.CanCancel,
		CancelDisabled:  !active || !hasActiveJob(in.Jobs),
		CancelURL:       base + "cancel/",
		MissingUpdates:  missingUpdates(jr.Status, in.Jobs, in.Now),
		CancelRequested: len(jr.CancelledActions) > 0 && active,

		Requester:   in.Requester,
		TestBackend: isTestBackend(in.Backend),

		NoJobs:       len(in.Jobs) == 0,
		NoUpdatesYet: len(in.Jobs) == 0 && active,

		Pipeline:         jr.ProjectDefinition,
		PipelineTooLarge: len(jr.ProjectDefinition) > maxPipelineChars,

		Stats:   computeStats(in.Jobs),
		Created: makeTime(jr.CreatedAt),
		Runtime: formatRuntime(runtimeSum(in.Jobs)),
		Backend: strings.ToUpper(in.Backend.Slug),

		Status:           jr.Status,
		StatusLabel:      statusLabel(jr.Status),
		StatusMessage:    jr.StatusMessage,
		Branch:           in.Workspace.Branch,
		ForceRun:         yesNo(jr.ForceRunDependencies),
		RequestedActions: jr.RequestedActions,
	}
	if v.PipelineTooLarge {
		v.Pipeline = ""
	}
	if len(in.Jobs) == 1 && in.Jobs[0].Action == "__error__" {
		v.Invalid = true
		v.InvalidError = in.Jobs[0].StatusMessage
	}

	var started, finished time.Time
	for _, j := range sortByStart(in.Jobs) {
		if !j.StartedAt.IsZero() && (started.IsZero() || j.StartedAt.Before(started)) {
			started = j.StartedAt
		}
		if j.CompletedAt.After(finished) {
			finished = j.CompletedAt
		}
		status := string(j.State)
		if status == "" {
			status = string(haven.StatePending)
		}
		jv := jobView{
			Action:     j.Action,
			Identifier: j.ID,
			Status:     status,
			Label:      statusLabel(status),
			Pill:       pillClass(status),
		}
		if in.SignedIn {
			jv.URL = base + j.ID + "/"
		}
		switch j.State {
		case haven.StateFailed:
			jv.Error = codeMessage(j.StatusCode, j.StatusMessage)
		case haven.StatePending, "":
			jv.Waiting = codeMessage(j.StatusCode, j.StatusMessage)
		}
		v.Jobs = append(v.Jobs, jv)
	}
	v.Started = makeTime(started)
	if !active {
		v.Finished = makeTime(finished)
	}

	v.Compare = compareLinks(in.Workspace.RepoURL, in.ProjectSlug, in.Workspace.Name, jr, in.Previous, in.PreviousSucceeded)
	return v
}

// compareLinks builds the Code comparison card's links: a diff on the
// repository's web host from the previous request's commit to this one,
// or, for a repository not on the web, the previous request's page.
func compareLinks(repoURL, project, workspace string, jr, prev, prevOK *store.JobRequest) []compareLink {
	web := webRepo(repoURL)
	var links []compareLink
	add := func(text string, p *store.JobRequest) {
		if p == nil {
			return
		}
		l := compareLink{Text: text}
		if web != "" && commitSHA.MatchString(p.SHA) && commitSHA.MatchString(jr.SHA) {
			l.URL = web + "/compare/" + p.SHA + ".." + jr.SHA
		} else {
			l.URL = jobRequestURL(project, workspace, p.ID)
			l.Note = "job request " + strconv.FormatInt(p.ID, 10) + ", commits " + shortSHA(p.SHA) + ".." + shortSHA(jr.SHA)
		}
		links = append(links, l)
	}
	add("Compare to the previous job request", prev)
	add("Compare to the previous successful job request", prevOK)
	return links
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}
