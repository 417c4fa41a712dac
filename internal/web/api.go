package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// maxAPIBody bounds JSON request bodies.
const maxAPIBody = 64 << 10

var (
	errBadToken      = haven.Errorf(haven.EFORBIDDEN, "The API token is invalid or has expired; create a new personal access token.")
	errAPISignIn     = haven.Errorf(haven.EFORBIDDEN, "Authenticate with an Authorization: Bearer <personal access token> header.")
	errAPICSRF       = haven.Errorf(haven.EFORBIDDEN, "Requests authenticated with the session cookie must send the X-CSRF-Token header.")
	errAPIAuthHeader = haven.Errorf(haven.EINVALID, "The Authorization header must be \"Bearer <token>\".")
)

// apiUser authenticates an API request: a bearer token (a user's
// personal access token) when the Authorization header is present, else
// the session cookie. It returns nil for an anonymous request.
func (h *Handler) apiUser(r *http.Request) (*store.User, error) {
	st := state(r)
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return h.user(r)
	}
	scheme, tok, ok := strings.Cut(authz, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 256 {
		return nil, errAPIAuthHeader
	}
	u, err := h.store.UserByAPIToken(r.Context(), auth.HashToken(tok), h.now().UTC())
	if err != nil {
		if haven.ErrorCode(err) == haven.ENOTFOUND {
			return nil, errBadToken
		}
		return nil, err
	}
	st.loaded, st.user, st.api = true, u, true
	return u, nil
}

// apiWriter authenticates a state-changing API request: a bearer token,
// or the session cookie with the X-CSRF-Token header.
func (h *Handler) apiWriter(r *http.Request) (*store.User, error) {
	u, err := h.apiUser(r)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, errAPISignIn
	}
	st := state(r)
	if st.api {
		return u, nil // no cookie was used, so no cross-site forgery
	}
	if st.session == nil || !webkit.CSRFEqual(r.Header.Get(webkit.CSRFHeader), st.session.CSRFToken) {
		return nil, errAPICSRF
	}
	return u, nil
}

// apiError writes an API error; a bad or missing credential is a 401.
func (h *Handler) apiError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errBadToken) || errors.Is(err, errAPISignIn) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="haven"`)
		webkit.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": userMessage(err)})
		return
	}
	h.renderError(w, r, err)
}

// decodeJSON reads a JSON body into v, refusing unknown fields, more than
// one value and bodies over maxAPIBody. An empty body leaves v as is when
// emptyOK.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		return haven.Errorf(haven.EINVALID, "The request body is too large or could not be read (the limit is %d KiB).", maxAPIBody>>10)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return haven.Errorf(haven.EINVALID, "The request body is empty; send a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return haven.Errorf(haven.EINVALID, "The request body is not valid JSON for this endpoint: %s", jsonProblem(err))
	}
	if dec.More() {
		return haven.Errorf(haven.EINVALID, "The request body must hold one JSON object.")
	}
	return nil
}

// jsonProblem describes a JSON decoding error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error"
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + webkit.Truncate(strings.TrimPrefix(err.Error(), "json: unknown field "), 60)
	}
	return "malformed JSON"
}

// apiWorkspace is a workspace in the API.
type apiWorkspace struct {
	Name       string `json:"name"`
	Project    string `json:"project"`
	Repo       string `json:"repo"`
	Branch     string `json:"branch"`
	IsArchived bool   `json:"is_archived"`
	URL        string `json:"url"`
}

// apiJob is a job in the API.
type apiJob struct {
	Identifier    string     `json:"identifier"`
	Action        string     `json:"action"`
	Status        string     `json:"status"`
	StatusCode    string     `json:"status_code"`
	StatusMessage string     `json:"status_message"`
	CreatedAt     *time.Time `json:"created_at"`
	StartedAt     *time.Time `json:"started_at"`
	CompletedAt   *time.Time `json:"completed_at"`
	UpdatedAt     *time.Time `json:"updated_at"`
}

// apiJobRequest is a job request in the API.
type apiJobRequest struct {
	Number               int64    `json:"number"`
	Identifier           string   `json:"identifier"`
	Workspace            string   `json:"workspace"`
	Backend              string   `json:"backend"`
	Status               string   `json:"status"`
	StatusMessage        string   `json:"status_message"`
	RequestedActions     []string `json:"requested_actions"`
	CancelledActions     []string `json:"cancelled_actions"`
	ForceRunDependencies bool     `json:"force_run_dependencies"`
	WillNotify           bool     `json:"will_notify"`
	SHA                  string   `json:"sha"`
	CreatedAt            string   `json:"created_at"`
	CreatedBy            string   `json:"created_by"`
	URL                  string   `json:"url"`
	Jobs                 []apiJob `json:"jobs"`
	Message              string   `json:"message,omitempty"` // what the submitter is told
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// apiRequest renders a job request and its jobs.
func (h *Handler) apiRequest(ctx context.Context, jr *store.JobRequest, jobs []*store.Job) (*apiJobRequest, error) {
	ws, err := h.cache.workspace(ctx, jr.WorkspaceID)
	if err != nil {
		return nil, err
	}
	proj, err := h.cache.project(ctx, ws.ProjectID)
	if err != nil {
		return nil, err
	}
	b, err := h.cache.backend(ctx, jr.BackendID)
	if err != nil {
		return nil, err
	}
	out := &apiJobRequest{
		Number:               jr.ID,
		Identifier:           jr.Identifier,
		Workspace:            ws.Name,
		Backend:              b.Slug,
		Status:               jr.Status,
		StatusMessage:        jr.StatusMessage,
		RequestedActions:     nonNil(jr.RequestedActions),
		CancelledActions:     nonNil(jr.CancelledActions),
		ForceRunDependencies: jr.ForceRunDependencies,
		WillNotify:           jr.WillNotify,
		SHA:                  jr.SHA,
		CreatedAt:            isoTime(jr.CreatedAt),
		URL:                  jobRequestURL(proj.Slug, ws.Name, jr.ID),
		Jobs:                 []apiJob{},
	}
	if jr.CreatedBy != 0 {
		u, err := h.cache.user(ctx, jr.CreatedBy)
		if err != nil && haven.ErrorCode(err) != haven.ENOTFOUND {
			return nil, err
		}
		out.CreatedBy = u.Username
	}
	for _, j := range jobs {
		out.Jobs = append(out.Jobs, apiJob{
			Identifier:    j.ID,
			Action:        j.Action,
			Status:        string(j.State),
			StatusCode:    string(j.StatusCode),
			StatusMessage: j.StatusMessage,
			CreatedAt:     optTime(j.CreatedAt),
			StartedAt:     optTime(j.StartedAt),
			CompletedAt:   optTime(j.CompletedAt),
			UpdatedAt:     optTime(j.UpdatedAt),
		})
	}
	return out, nil
}

// apiWorkspaces lists every workspace (workspaces are public).
func (h *Handler) apiWorkspaces(w http.ResponseWriter, r *http.Request) {
	if _, err := h.apiUser(r); err != nil {
		h.apiError(w, r, err)
		return
	}
	ctx := r.Context()
	wss, err := h.store.Workspaces(ctx, 0)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	out := make([]apiWorkspace, 0, len(wss))
	for _, ws := range wss {
		p, err := h.cache.project(ctx, ws.ProjectID)
		if err != nil {
			h.apiError(w, r, err)
			return
		}
		out = append(out, apiWorkspace{
			Name: ws.Name, Project: p.Slug, Repo: ws.RepoURL, Branch: ws.Branch,
			IsArchived: ws.IsArchived, URL: "/" + p.Slug + "/" + ws.Name + "/",
		})
	}
	webkit.WriteJSON(w, http.StatusOK, map[string]any{"workspaces": out})
}

// apiStatuses is the latest status of each action of a workspace
// (?backend=<slug> for one backend).
func (h *Handler) apiStatuses(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "workspace")
	if !ok {
		h.apiError(w, r, webkit.ErrNotFound)
		return
	}
	if _, err := h.apiUser(r); err != nil {
		h.apiError(w, r, err)
		return
	}
	ctx := r.Context()
	ws, err := h.cache.workspaceByName(ctx, p.Workspace)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	var backendID int64
	if slug := r.URL.Query().Get("backend"); slug != "" {
		if !backendSlug.MatchString(slug) {
			h.apiError(w, r, webkit.ErrNotFound)
			return
		}
		b, err := h.store.BackendBySlug(ctx, slug)
		if err != nil {
			h.apiError(w, r, err)
			return
		}
		backendID = b.ID
	}
	latest, err := h.store.LatestJobs(ctx, ws.ID, backendID)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	out := make(map[string]string, len(latest))
	for action, j := range latest {
		out[action] = string(j.State)
	}
	webkit.WriteJSON(w, http.StatusOK, out)
}

// apiCreateRequest is the body of POST …/job-requests/.
type apiCreateRequest struct {
	Backend              string   `json:"backend"`
	Actions              []string `json:"actions"`
	ForceRunDependencies bool     `json:"force_run_dependencies"`
	WillNotify           *bool    `json:"will_notify"`
	Ref                  string   `json:"ref"`
}

// apiCreateJobRequest submits a job request: 201 with the request, or
// 400 {error, field}.
func (h *Handler) apiCreateJobRequest(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "workspace")
	if !ok {
		h.apiError(w, r, webkit.ErrNotFound)
		return
	}
	u, err := h.apiWriter(r)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	var body apiCreateRequest
	if err := decodeJSON(w, r, &body, false); err != nil {
		h.apiError(w, r, err)
		return
	}
	switch {
	case body.Ref != "" && !commitSHA.MatchString(body.Ref):
		h.apiError(w, r, &jobserver.FormError{Field: "ref", Message: "ref must be a full 40-character lower-case commit hash."})
		return
	case body.Backend != "" && !backendSlug.MatchString(body.Backend):
		h.apiError(w, r, &jobserver.FormError{Field: "backend", Message: "backend must be the slug of one of your backends."})
		return
	case len(body.Actions) > maxPostedActions:
		h.apiError(w, r, &jobserver.FormError{Field: "actions", Message: "Too many actions."})
		return
	}
	for _, a := range body.Actions {
		if len(a) > maxActionNameBytes {
			h.apiError(w, r, &jobserver.FormError{Field: "actions", Message: "An action name is too long."})
			return
		}
	}
	ctx := r.Context()
	ws, err := h.store.WorkspaceByName(ctx, p.Workspace)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	notify := ws.ShouldNotify
	if body.WillNotify != nil {
		notify = *body.WillNotify
	}
	res, err := h.svc.Submit(ctx, jobserver.SubmitInput{
		User:                 u,
		Workspace:            ws.Name,
		Ref:                  body.Ref,
		Backend:              body.Backend,
		Actions:              body.Actions,
		ForceRunDependencies: body.ForceRunDependencies,
		WillNotify:           notify,
	})
	if err != nil {
		var fe *jobserver.FormError
		if errors.As(err, &fe) && fe.Field == "requested_actions" {
			err = &jobserver.FormError{Field: "actions", Message: fe.Message}
		}
		h.apiError(w, r, err)
		return
	}
	out, err := h.apiRequest(ctx, res.Request, res.Jobs)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	out.Message = res.Message
	w.Header().Set("Location", "/api/v1/job-requests/"+strconv.FormatInt(res.Request.ID, 10)+"/")
	webkit.WriteJSON(w, http.StatusCreated, out)
}

// apiJobRequest returns a job request and its jobs.
func (h *Handler) apiJobRequest(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "jr")
	if !ok {
		h.apiError(w, r, webkit.ErrNotFound)
		return
	}
	if _, err := h.apiUser(r); err != nil {
		h.apiError(w, r, err)
		return
	}
	ctx := r.Context()
	jr, err := h.store.JobRequest(ctx, p.JR)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	jobs, err := h.store.RequestJobs(ctx, jr.ID)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	out, err := h.apiRequest(ctx, jr, jobs)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	webkit.WriteJSON(w, http.StatusOK, out)
}

// apiCancelBody is the optional body of POST …/cancel/.
type apiCancelBody struct {
	Action string `json:"action"`
}

// apiCancel cancels a job request's active actions, or one action.
func (h *Handler) apiCancel(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "jr")
	if !ok {
		h.apiError(w, r, webkit.ErrNotFound)
		return
	}
	u, err := h.apiWriter(r)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	var body apiCancelBody
	if err := decodeJSON(w, r, &body, true); err != nil {
		h.apiError(w, r, err)
		return
	}
	if len(body.Action) > maxActionNameBytes {
		h.apiError(w, r, &jobserver.FormError{Field: "action", Message: "The action name is too long."})
		return
	}
	ctx := r.Context()
	cancelled, err := h.svc.Cancel(ctx, u, p.JR, body.Action)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	jr, err := h.store.JobRequest(ctx, p.JR)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	jobs, err := h.store.RequestJobs(ctx, jr.ID)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	out, err := h.apiRequest(ctx, jr, jobs)
	if err != nil {
		h.apiError(w, r, err)
		return
	}
	webkit.WriteJSON(w, http.StatusOK, map[string]any{"cancelled": nonNil(cancelled), "job_request": out})
}
