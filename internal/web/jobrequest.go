package web

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// loadRequest resolves /{project}/{workspace}/{jr}/: the request must
// belong to the workspace, and the workspace to the project.
func (h *Handler) loadRequest(ctx context.Context, p pathParams) (*store.Project, workspaceFacts, *store.JobRequest, error) {
	proj, ws, err := h.loadWorkspace(ctx, p)
	if err != nil {
		return nil, ws, nil, err
	}
	var jr *store.JobRequest
	if f, ok := h.cache.finishedRequest(p.JR); ok {
		jr = f.jr
	} else if jr, err = h.store.JobRequest(ctx, p.JR); err != nil {
		return nil, ws, nil, err
	}
	if jr.WorkspaceID != ws.ID {
		return nil, ws, nil, webkit.ErrNotFound
	}
	return proj, ws, jr, nil
}

// previous returns the previous request (nil when there is none).
func (h *Handler) previous(ctx context.Context, jr *store.JobRequest, succeeded bool) (*store.JobRequest, error) {
	p, err := h.store.PreviousJobRequest(ctx, jr, succeeded)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, nil
	}
	return p, err
}

// mayCancel reports whether u may cancel jr: its creator, or a holder of
// job_cancel on the project (spec §5.3).
func (h *Handler) mayCancel(ctx context.Context, u *store.User, jr *store.JobRequest, projectID int64) (bool, error) {
	if u == nil {
		return false, nil
	}
	if jr.CreatedBy == u.ID {
		return true, nil
	}
	return h.svc.Can(ctx, u, jobserver.PermJobCancel, projectID)
}

// jobRequestPage is the public job request page (spec §6.4).
func (h *Handler) jobRequestPage(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "project", "workspace", "jr")
	if !ok {
		h.notFound(w, r)
		return
	}
	ctx := r.Context()
	u, err := h.user(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	proj, ws, jr, err := h.loadRequest(ctx, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	in := jobRequestInput{
		Request:     jr,
		ProjectSlug: proj.Slug,
		Workspace:   ws,
		SignedIn:    u != nil,
		Now:         h.now().UTC(),
	}
	if f, ok := h.cache.finishedRequest(jr.ID); ok {
		in.Jobs = f.jobs
	} else if in.Jobs, err = h.store.RequestJobs(ctx, jr.ID); err == nil {
		h.cache.noteRequest(jr, in.Jobs)
	}
	if err == nil {
		in.OrgName, err = h.orgName(ctx, proj.OrgID)
	}
	if err == nil {
		in.Backend, err = h.cache.backend(ctx, jr.BackendID)
	}
	if err == nil {
		in.Requester, err = h.requesterName(ctx, jr.CreatedBy)
	}
	if err == nil {
		in.Previous, err = h.previous(ctx, jr, false)
	}
	if err == nil {
		in.PreviousSucceeded, err = h.previous(ctx, jr, true)
	}
	if err == nil {
		in.CanCancel, err = h.mayCancel(ctx, u, jr, proj.ID)
	}
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	v := buildJobRequestView(in)
	h.render(w, r, http.StatusOK, "jobrequest", "Job request: "+strconv.FormatInt(jr.ID, 10)+" - "+ws.Name, v)
}

// cancelJobRequest cancels every active action of a request (POST).
func (h *Handler) cancelJobRequest(w http.ResponseWriter, r *http.Request) {
	h.cancel(w, r, false)
}

// cancelJob cancels one job's action (POST).
func (h *Handler) cancelJob(w http.ResponseWriter, r *http.Request) {
	h.cancel(w, r, true)
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, oneJob bool) {
	names := []string{"project", "workspace", "jr"}
	if oneJob {
		names = append(names, "job")
	}
	p, ok := params(r, names...)
	if !ok {
		h.notFound(w, r)
		return
	}
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, webkit.ErrCSRF)
		return
	}
	u := state(r).user
	if u == nil {
		h.renderError(w, r, errSignInNeeded)
		return
	}
	ctx := r.Context()
	proj, ws, jr, err := h.loadRequest(ctx, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	back := jobRequestURL(proj.Slug, ws.Name, jr.ID)
	action := ""
	if oneJob {
		j, err := h.store.Job(ctx, p.Job)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		if j.JobRequestID != jr.ID {
			h.notFound(w, r)
			return
		}
		action = j.Action
		back += j.ID + "/"
	}
	cancelled, err := h.svc.Cancel(ctx, u, jr.ID, action)
	switch {
	case haven.ErrorCode(err) == haven.EINVALID:
		// Nothing to cancel yet, or any more: say so on the page.
		h.cookies.SetFlash(w, webkit.FlashWarning, userMessage(err))
	case err != nil:
		h.renderError(w, r, err)
		return
	case len(cancelled) > 0:
		h.cookies.SetFlash(w, webkit.FlashSuccess, "Cancelled: "+strings.Join(cancelled, ", ")+".")
	default:
		h.cookies.SetFlash(w, webkit.FlashWarning, "Nothing was cancelled: this job request is complete.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// jobPageView is the job page (spec §6.5).
type jobPageView struct {
	Identifier    string
	Action        string
	Status        string
	StatusCode    string
	StatusMessage string
	LogHint       bool // nonzero_exit: the log can be read in Airlock
	RunCommand    string
	RequestURL    string
	RequestNumber int64
	Requester     string
	Branch        string
	Backend       string
	Workspace     string
	WorkspaceURL  string
	Repo          repoView
	SHA7          string

	Created     timeView
	Started     timeView
	Finished    timeView
	LastUpdate  timeView
	TimeRunning string

	Metrics []metricRow

	ShowCancel     bool
	CancelDisabled bool
	CancelURL      string
}

// metricRow is one job metric.
type metricRow struct {
	Name  string
	Value string
}

// jobMetricNames are the metrics the job page shows, in order.
var jobMetricNames = []struct{ key, label string }{
	{"cpu_mean", "CPU mean (%)"},
	{"cpu_peak", "CPU peak (%)"},
	{"mem_mb_mean", "Memory mean (MB)"},
	{"mem_mb_peak", "Memory peak (MB)"},
}

// jobPage shows one job; a unique prefix of its identifier, or a job of
// another request, redirects to its canonical page.
func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "project", "workspace", "jr", "job")
	if !ok {
		h.notFound(w, r)
		return
	}
	ctx := r.Context()
	u, err := h.user(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	proj, ws, jr, err := h.loadRequest(ctx, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	j, err := h.findJob(ctx, p.Job)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if j.JobRequestID != jr.ID || j.ID != p.Job {
		h.redirectToJob(w, r, j)
		return
	}
	v := jobPageView{
		Identifier:    j.ID,
		Action:        j.Action,
		Status:        string(j.State),
		StatusCode:    string(j.StatusCode),
		StatusMessage: j.StatusMessage,
		LogHint:       j.StatusCode == haven.StatusNonzeroExit,
		RunCommand:    j.RunCommand,
		RequestURL:    jobRequestURL(proj.Slug, ws.Name, jr.ID),
		RequestNumber: jr.ID,
		Branch:        ws.Branch,
		Workspace:     ws.Name,
		WorkspaceURL:  "/" + proj.Slug + "/" + ws.Name + "/",
		Repo:          makeRepoView(ws.RepoURL, jr.SHA),
		SHA7:          shortSHA(jr.SHA),
		Created:       makeTime(j.CreatedAt),
		Started:       makeTime(j.StartedAt),
		Finished:      makeTime(j.CompletedAt),
		LastUpdate:    makeTime(j.UpdatedAt),
	}
	if j.StartedAt.IsZero() {
		v.TimeRunning = "-"
	} else if j.CompletedAt.IsZero() {
		v.TimeRunning = formatRuntime(h.now().Sub(j.StartedAt))
	} else {
		v.TimeRunning = formatRuntime(jobRuntime(j))
	}
	v.Metrics = metricRows(j.Metrics)
	b, err := h.cache.backend(ctx, jr.BackendID)
	if err == nil {
		v.Backend = strings.ToUpper(b.Slug)
		v.Requester, err = h.requesterName(ctx, jr.CreatedBy)
	}
	if err == nil {
		v.ShowCancel, err = h.mayCancel(ctx, u, jr, proj.ID)
	}
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	v.CancelURL = v.RequestURL + j.ID + "/cancel/"
	v.CancelDisabled = !hasActiveJob([]*store.Job{j})
	h.render(w, r, http.StatusOK, "job", "Job: "+j.Action+" - "+ws.Name, v)
}

// findJob finds a job by its identifier or a unique prefix of it.
func (h *Handler) findJob(ctx context.Context, id string) (*store.Job, error) {
	if len(id) == 16 {
		j, err := h.store.Job(ctx, id)
		if haven.ErrorCode(err) != haven.ENOTFOUND {
			return j, err
		}
	}
	jobs, err := h.store.JobsByPrefix(ctx, id, 2)
	if err != nil {
		return nil, err
	}
	if len(jobs) != 1 {
		return nil, webkit.ErrNotFound
	}
	return jobs[0], nil
}

// redirectToJob redirects to a job's canonical page.
func (h *Handler) redirectToJob(w http.ResponseWriter, r *http.Request, j *store.Job) {
	ctx := r.Context()
	jr, err := h.store.JobRequest(ctx, j.JobRequestID)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	ws, err := h.cache.workspace(ctx, jr.WorkspaceID)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	proj, err := h.cache.project(ctx, ws.ProjectID)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, jobRequestURL(proj.Slug, ws.Name, jr.ID)+j.ID+"/", http.StatusFound)
}

// jobRedirect serves /jobs/{identifier}/: a redirect to the job's page.
func (h *Handler) jobRedirect(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "job")
	if !ok {
		h.notFound(w, r)
		return
	}
	j, err := h.findJob(r.Context(), p.Job)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	h.redirectToJob(w, r, j)
}

// metricRows lists a job's metrics: the known ones first with their
// labels, then any others by name.
func metricRows(m map[string]float64) []metricRow {
	var rows []metricRow
	known := map[string]bool{}
	for _, k := range jobMetricNames {
		known[k.key] = true
		if x, ok := m[k.key]; ok {
			rows = append(rows, metricRow{Name: k.label, Value: strconv.FormatFloat(x, 'f', 1, 64)})
		}
	}
	var rest []string
	for k := range m {
		if !known[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		rows = append(rows, metricRow{Name: k, Value: strconv.FormatFloat(m[k], 'f', -1, 64)})
	}
	return rows
}
