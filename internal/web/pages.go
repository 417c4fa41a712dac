package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// pageSize is the number of job requests per page of a list.
const pageSize = 25

// defaultAlertTimeout is a backend's alert timeout when it has none.
const defaultAlertTimeout = 5 * time.Minute

// workspaceRow is one workspace in a list.
type workspaceRow struct {
	Name        string
	URL         string
	ProjectName string
	ProjectURL  string
	Archived    bool
	Mine        bool // the viewer has a role on its project
}

// homeView is the home page: every workspace (the pages are public),
// the signed-in user's own first.
type homeView struct {
	Mine []workspaceRow
	All  []workspaceRow
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	u, err := h.user(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	wss, err := h.store.Workspaces(ctx, 0)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	rows, err := h.workspaceRows(ctx, u, wss)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	var v homeView
	for _, row := range rows {
		if row.Mine {
			v.Mine = append(v.Mine, row)
		}
	}
	v.All = rows
	h.render(w, r, http.StatusOK, "home", "Workspaces", v)
}

// workspaceRows turns workspaces into list rows, marking those on the
// user's projects.
func (h *Handler) workspaceRows(ctx context.Context, u *store.User, wss []*store.Workspace) ([]workspaceRow, error) {
	mine := map[int64]bool{}
	rows := make([]workspaceRow, 0, len(wss))
	for _, ws := range wss {
		p, err := h.cache.project(ctx, ws.ProjectID)
		if err != nil {
			return nil, err
		}
		if u != nil {
			m, seen := mine[p.ID]
			if !seen {
				roles, err := h.store.ProjectRoles(ctx, p.ID, u.ID)
				if err != nil && haven.ErrorCode(err) != haven.ENOTFOUND {
					return nil, err
				}
				m = len(roles) > 0
				mine[p.ID] = m
			}
		}
		rows = append(rows, workspaceRow{
			Name:        ws.Name,
			URL:         "/" + p.Slug + "/" + ws.Name + "/",
			ProjectName: p.Name,
			ProjectURL:  "/" + p.Slug + "/",
			Archived:    ws.IsArchived,
			Mine:        mine[p.ID],
		})
	}
	return rows, nil
}

// projectView is the project page.
type projectView struct {
	Name       string
	Number     string
	OrgName    string
	Workspaces []workspaceRow
}

func (h *Handler) projectPage(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "project")
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
	proj, err := h.cache.projectBySlug(ctx, p.Project)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	wss, err := h.store.Workspaces(ctx, proj.ID)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	rows, err := h.workspaceRows(ctx, u, wss)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	v := projectView{Name: proj.Name, Number: proj.Number, Workspaces: rows}
	if v.OrgName, err = h.orgName(ctx, proj.OrgID); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "project", proj.Name, v)
}

func (h *Handler) orgName(ctx context.Context, id int64) (string, error) {
	if id == 0 {
		return "", nil
	}
	o, err := h.cache.org(ctx, id)
	if err != nil {
		return "", err
	}
	return o.Name, nil
}

// loadWorkspace resolves /{project}/{workspace}/: both must exist and the
// workspace must belong to the project.
func (h *Handler) loadWorkspace(ctx context.Context, p pathParams) (*store.Project, workspaceFacts, error) {
	proj, err := h.cache.projectBySlug(ctx, p.Project)
	if err != nil {
		return nil, workspaceFacts{}, err
	}
	ws, err := h.cache.workspaceByName(ctx, p.Workspace)
	if err != nil {
		return nil, workspaceFacts{}, err
	}
	if ws.ProjectID != proj.ID {
		return nil, workspaceFacts{}, webkit.ErrNotFound
	}
	return proj, ws, nil
}

// actionStatus is one action's latest job on one backend.
type actionStatus struct {
	Action  string
	Backend string
	Status  string
	URL     string // the job page
}

// workspaceView is the workspace page (spec §6.2).
type workspaceView struct {
	Name          string
	URL           string
	ProjectName   string
	ProjectURL    string
	OrgName       string
	Repo          repoView
	Branch        string
	Created       timeView
	Purpose       string
	Archived      bool
	CanRun        bool
	RunDisabled   string // why the Run jobs button is disabled
	RunJobsURL    string
	LogsURL       string
	Actions       []actionStatus
	SignedIn      bool
	LatestRequest string // the newest request's page, if any
}

func (h *Handler) workspacePage(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "project", "workspace")
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
	proj, facts, err := h.loadWorkspace(ctx, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	ws, err := h.store.Workspace(ctx, facts.ID) // archived may have changed
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	base := "/" + proj.Slug + "/" + ws.Name + "/"
	v := workspaceView{
		Name:        ws.Name,
		URL:         base,
		ProjectName: proj.Name,
		ProjectURL:  "/" + proj.Slug + "/",
		Repo:        makeRepoView(ws.RepoURL, ""),
		Branch:      ws.Branch,
		Created:     makeTime(ws.CreatedAt),
		Purpose:     ws.Purpose,
		Archived:    ws.IsArchived,
		RunJobsURL:  base + "run-jobs/",
		LogsURL:     base + "logs/",
		SignedIn:    u != nil,
	}
	if v.OrgName, err = h.orgName(ctx, proj.OrgID); err != nil {
		h.renderError(w, r, err)
		return
	}
	if v.RunDisabled, err = h.svc.RunJobsDisabledReason(ctx, u, ws); err != nil {
		h.renderError(w, r, err)
		return
	}
	v.CanRun = v.RunDisabled == ""

	backends, err := h.store.Backends(ctx)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	for _, b := range backends {
		latest, err := h.store.LatestJobs(ctx, ws.ID, b.ID)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		for action, j := range latest {
			a := actionStatus{Action: action, Backend: strings.ToUpper(b.Slug), Status: string(j.State)}
			if u != nil {
				a.URL = jobRequestURL(proj.Slug, ws.Name, j.JobRequestID) + j.ID + "/"
			}
			v.Actions = append(v.Actions, a)
		}
	}
	sort.Slice(v.Actions, func(i, j int) bool {
		if v.Actions[i].Action != v.Actions[j].Action {
			return v.Actions[i].Action < v.Actions[j].Action
		}
		return v.Actions[i].Backend < v.Actions[j].Backend
	})
	h.render(w, r, http.StatusOK, "workspace", ws.Name, v)
}

// requestRow is one job request in a list.
type requestRow struct {
	Number       int64
	URL          string
	Workspace    string
	WorkspaceURL string
	Backend      string
	Status       string
	Requester    string
	Created      timeView
	Actions      []string
}

// requestList is a page of job requests.
type requestList struct {
	Heading  string
	Rows     []requestRow
	Page     int
	Pages    int
	Total    int
	PrevURL  string
	NextURL  string
	Backends []backendOption // the backend filter (workspace logs)
	Filter   string          // the selected backend slug
	FormURL  string
	Back     string // the workspace page, on its logs
}

// backendOption is one choice of the backend filter.
type backendOption struct {
	Slug     string
	Upper    string
	Selected bool
}

// pageNumber reads ?page=N (1 when absent or malformed).
func pageNumber(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 || n > 1_000_000 {
		return 1
	}
	return n
}

// listRequests fetches one page of job requests and turns them into rows
// (names from the cache: a few queries whatever the page holds).
func (h *Handler) listRequests(ctx context.Context, f store.JobRequestFilter, page int, baseURL string, query url.Values) (requestList, error) {
	f.Limit = pageSize
	f.Offset = (page - 1) * pageSize
	jrs, total, err := h.store.JobRequests(ctx, f)
	if err != nil {
		return requestList{}, err
	}
	l := requestList{Page: page, Total: total, Pages: (total + pageSize - 1) / pageSize}
	if l.Pages == 0 {
		l.Pages = 1
	}
	pageURL := func(n int) string {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(n))
		return baseURL + "?" + q.Encode()
	}
	if page > 1 {
		l.PrevURL = pageURL(page - 1)
	}
	if page < l.Pages {
		l.NextURL = pageURL(page + 1)
	}
	for _, jr := range jrs {
		ws, err := h.cache.workspace(ctx, jr.WorkspaceID)
		if err != nil {
			return l, err
		}
		proj, err := h.cache.project(ctx, ws.ProjectID)
		if err != nil {
			return l, err
		}
		b, err := h.cache.backend(ctx, jr.BackendID)
		if err != nil {
			return l, err
		}
		requester, err := h.requesterName(ctx, jr.CreatedBy)
		if err != nil {
			return l, err
		}
		l.Rows = append(l.Rows, requestRow{
			Number:       jr.ID,
			URL:          jobRequestURL(proj.Slug, ws.Name, jr.ID),
			Workspace:    ws.Name,
			WorkspaceURL: "/" + proj.Slug + "/" + ws.Name + "/",
			Backend:      strings.ToUpper(b.Slug),
			Status:       jr.Status,
			Requester:    requester,
			Created:      makeTime(jr.CreatedAt),
			Actions:      jr.RequestedActions,
		})
	}
	return l, nil
}

func (h *Handler) requesterName(ctx context.Context, id int64) (string, error) {
	if id == 0 {
		return "", nil
	}
	u, err := h.cache.user(ctx, id)
	if err != nil {
		if haven.ErrorCode(err) == haven.ENOTFOUND {
			return "", nil
		}
		return "", err
	}
	return u.Fullname, nil
}

func (h *Handler) workspaceLogs(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "project", "workspace")
	if !ok {
		h.notFound(w, r)
		return
	}
	ctx := r.Context()
	if _, err := h.user(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	proj, ws, err := h.loadWorkspace(ctx, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	backends, err := h.store.Backends(ctx)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	f := store.JobRequestFilter{WorkspaceID: ws.ID}
	query := url.Values{}
	filter := r.URL.Query().Get("backend")
	if filter != "" && !backendSlug.MatchString(filter) {
		filter = ""
	}
	var options []backendOption
	for _, b := range backends {
		sel := b.Slug == filter
		if sel {
			f.BackendID = b.ID
			query.Set("backend", b.Slug)
		}
		options = append(options, backendOption{Slug: b.Slug, Upper: strings.ToUpper(b.Slug), Selected: sel})
	}
	if filter != "" && f.BackendID == 0 {
		filter = "" // an unknown backend filters nothing
	}
	base := "/" + proj.Slug + "/" + ws.Name + "/"
	l, err := h.listRequests(ctx, f, pageNumber(r), base+"logs/", query)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	l.Heading = "Logs: " + ws.Name
	l.Backends, l.Filter, l.FormURL, l.Back = options, filter, base+"logs/", base
	h.render(w, r, http.StatusOK, "logs", l.Heading, l)
}

func (h *Handler) eventLog(w http.ResponseWriter, r *http.Request) {
	if _, err := h.user(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	l, err := h.listRequests(r.Context(), store.JobRequestFilter{}, pageNumber(r), "/event-log/", nil)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	l.Heading = "Event log"
	h.render(w, r, http.StatusOK, "logs", l.Heading, l)
}

// backendRow is one backend on the status page.
type backendRow struct {
	Slug          string
	Upper         string
	Name          string
	LastSeen      timeView
	Healthy       bool
	Paused        bool
	DBMaintenance bool
	Pending       int
	Running       int
}

// alertTimeout is a backend's alert timeout (5 minutes by default).
func alertTimeout(b *store.Backend) time.Duration {
	if b.AlertTimeout > 0 {
		return b.AlertTimeout
	}
	return defaultAlertTimeout
}

// backendHealthy reports whether a backend's agent polled within its
// alert timeout.
func backendHealthy(b *store.Backend, now time.Time) bool {
	return !b.LastSeenAt.IsZero() && now.Sub(b.LastSeenAt) <= alertTimeout(b)
}

func (h *Handler) statusPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if _, err := h.user(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	backends, err := h.store.Backends(ctx)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	now := h.now().UTC()
	var rows []backendRow
	for _, b := range backends {
		pending, running, err := h.store.QueueCounts(ctx, b.ID)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		rows = append(rows, backendRow{
			Slug:          b.Slug,
			Upper:         strings.ToUpper(b.Slug),
			Name:          b.Name,
			LastSeen:      makeTime(b.LastSeenAt),
			Healthy:       backendHealthy(b, now),
			Paused:        b.IsPaused,
			DBMaintenance: b.DBMaintenance,
			Pending:       pending,
			Running:       running,
		})
	}
	h.render(w, r, http.StatusOK, "status", "Backend status", rows)
}

// backendStatus is for uptime probes: 200 when the backend's agent was
// seen within its alert timeout, else 503.
func (h *Handler) backendStatus(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "backend")
	if !ok {
		h.notFound(w, r)
		return
	}
	b, err := h.store.BackendBySlug(r.Context(), p.Backend)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !backendHealthy(b, h.now().UTC()) {
		w.WriteHeader(http.StatusServiceUnavailable)
		if b.LastSeenAt.IsZero() {
			fmt.Fprintf(w, "%s: never seen\n", b.Slug)
		} else {
			fmt.Fprintf(w, "%s: last seen %s, over %s ago\n", b.Slug, isoTime(b.LastSeenAt), alertTimeout(b))
		}
		return
	}
	fmt.Fprintf(w, "%s: ok, last seen %s\n", b.Slug, isoTime(b.LastSeenAt))
}

// backendDBAvailability says whether a backend's database is in
// maintenance.
func (h *Handler) backendDBAvailability(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "backend")
	if !ok {
		h.notFound(w, r)
		return
	}
	b, err := h.store.BackendBySlug(r.Context(), p.Backend)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	webkit.WriteJSON(w, http.StatusOK, map[string]any{"backend": b.Slug, "db_maintenance": b.DBMaintenance})
}
