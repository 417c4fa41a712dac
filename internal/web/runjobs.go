package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// Limits on what a run-jobs form may post.
const (
	maxPostedActions   = 1000
	maxActionNameBytes = 200
)

// runJobsView is the run-jobs form (spec §6.3).
type runJobsView struct {
	Workspace    string
	WorkspaceURL string
	ProjectName  string
	Branch       string
	Ref          string // the commit the form is for ("" for the branch head)
	RefShort     string
	PostURL      string
	ParseHeading string // set when the form cannot list actions
	ParseError   string // the problems, one per line
	Backends     []backendChoice
	Actions      []actionChoice
	ForceRun     bool
	WillNotify   bool
	FormError    string            // a problem with the whole form
	FieldErrors  map[string]string // by field name
}

// backendChoice is one backend radio button.
type backendChoice struct {
	Slug    string
	Upper   string
	ID      string // the input's id
	Checked bool
}

// actionChoice is one action checkbox.
type actionChoice struct {
	Name       string
	ID         string // the input's id
	Needs      []string
	RequiresDB bool
	Status     string
	Checked    bool
}

// runJobsInput is what was posted (or the defaults on first load).
type runJobsInput struct {
	Backend    string
	Actions    map[string]bool
	ForceRun   bool
	WillNotify bool
}

func buildRunJobsView(f *jobserver.RunJobsForm, projectSlug string, in runJobsInput) runJobsView {
	base := "/" + projectSlug + "/" + f.Workspace.Name + "/"
	v := runJobsView{
		Workspace:    f.Workspace.Name,
		WorkspaceURL: base,
		ProjectName:  f.Project.Name,
		Branch:       f.Workspace.Branch,
		Ref:          f.Ref,
		RefShort:     shortSHA(f.Ref),
		PostURL:      base + "run-jobs/",
		ParseError:   f.ParseError,
		ForceRun:     in.ForceRun,
		WillNotify:   in.WillNotify,
		FieldErrors:  map[string]string{},
	}
	switch f.ParseError {
	case "":
	case jobserver.MsgNoProjectYAML, jobserver.MsgParseProjectYAML:
		v.ParseHeading, v.ParseError = f.ParseError, ""
	default:
		v.ParseHeading = jobserver.MsgParseProjectYAML
	}
	for i, b := range f.Backends {
		v.Backends = append(v.Backends, backendChoice{
			Slug:    b.Slug,
			Upper:   strings.ToUpper(b.Slug),
			ID:      "backend-" + strconv.Itoa(i),
			Checked: b.Slug == in.Backend || len(f.Backends) == 1,
		})
	}
	for i, a := range f.Actions {
		v.Actions = append(v.Actions, actionChoice{
			Name:       a.Name,
			ID:         "action-" + strconv.Itoa(i),
			Needs:      a.Needs,
			RequiresDB: a.RequiresDB,
			Status:     a.Status,
			Checked:    in.Actions[a.Name],
		})
	}
	return v
}

// runJobsPage shows the run-jobs form for the branch head or a commit.
func (h *Handler) runJobsPage(w http.ResponseWriter, r *http.Request) {
	names := []string{"project", "workspace"}
	if r.PathValue("ref") != "" {
		names = append(names, "ref")
	}
	p, ok := params(r, names...)
	if !ok {
		h.notFound(w, r)
		return
	}
	u, err := h.user(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if u == nil {
		http.Redirect(w, r, loginURL(r), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	proj, ws, err := h.loadWorkspace(ctx, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	f, err := h.svc.RunJobsForm(ctx, u, ws.Name, p.Ref)
	if err != nil {
		if haven.ErrorCode(err) == haven.EINVALID { // archived: say so on the workspace page
			h.cookies.SetFlash(w, webkit.FlashWarning, userMessage(err))
			http.Redirect(w, r, "/"+proj.Slug+"/"+ws.Name+"/", http.StatusSeeOther)
			return
		}
		h.renderError(w, r, err)
		return
	}
	full, err := h.store.Workspace(ctx, ws.ID)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	v := buildRunJobsView(f, proj.Slug, runJobsInput{WillNotify: full.ShouldNotify})
	h.render(w, r, http.StatusOK, "runjobs", "Run jobs - "+ws.Name, v)
}

// runJobsSubmit handles the posted run-jobs form.
func (h *Handler) runJobsSubmit(w http.ResponseWriter, r *http.Request) {
	p, ok := params(r, "project", "workspace")
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
	proj, ws, err := h.loadWorkspace(ctx, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	form := r.PostForm
	ref := form.Get("ref")
	if ref != "" && !commitSHA.MatchString(ref) {
		h.renderError(w, r, haven.Errorf(haven.EINVALID, "The commit %q is not a full 40-character commit hash.", webkit.Truncate(ref, 60)))
		return
	}
	in := runJobsInput{
		Backend:    form.Get("backend"),
		Actions:    map[string]bool{},
		ForceRun:   form.Get("force_run_dependencies") != "",
		WillNotify: form.Get("will_notify") == "yes",
	}
	actions := form["requested_actions"]
	var submitErr error
	switch {
	case in.Backend != "" && !backendSlug.MatchString(in.Backend):
		submitErr = &jobserver.FormError{Field: "backend", Message: "Choose one of the backends listed."}
	case !oneOf(form.Get("will_notify"), "", "yes", "no"):
		submitErr = &jobserver.FormError{Field: "will_notify", Message: "Choose Yes or No."}
	case !oneOf(form.Get("force_run_dependencies"), "", "yes", "on"):
		submitErr = &jobserver.FormError{Field: "force_run_dependencies", Message: "Tick the box or leave it empty."}
	case len(actions) > maxPostedActions:
		submitErr = &jobserver.FormError{Field: "requested_actions", Message: "Too many actions were selected."}
	}
	for _, a := range actions {
		if len(a) > maxActionNameBytes {
			submitErr = &jobserver.FormError{Field: "requested_actions", Message: "An action name was too long; choose actions from the list."}
			break
		}
		in.Actions[a] = true
	}
	var res *jobserver.SubmitResult
	if submitErr == nil {
		res, submitErr = h.svc.Submit(ctx, jobserver.SubmitInput{
			User:                 u,
			Workspace:            ws.Name,
			Ref:                  ref,
			Backend:              in.Backend,
			Actions:              actions,
			ForceRunDependencies: in.ForceRun,
			WillNotify:           in.WillNotify,
		})
	}
	logsURL := "/" + proj.Slug + "/" + ws.Name + "/logs/"
	if submitErr != nil && res != nil && res.Request != nil {
		// The request was stored, as failed: show it in the logs with
		// its message, as for a successful submission.
		msg := jobserver.MsgUnknownError
		var fe *jobserver.FormError
		if errors.As(submitErr, &fe) || haven.ErrorCode(submitErr) != haven.EINTERNAL {
			msg = userMessage(submitErr)
		}
		h.cookies.SetFlash(w, webkit.FlashError, msg)
		http.Redirect(w, r, logsURL, http.StatusSeeOther)
		return
	}
	var fe *jobserver.FormError
	if errors.As(submitErr, &fe) {
		f, err := h.svc.RunJobsForm(ctx, u, ws.Name, ref)
		if err != nil {
			h.renderError(w, r, err)
			return
		}
		v := buildRunJobsView(f, proj.Slug, in)
		if fe.Field == "" {
			v.FormError = fe.Message
		} else {
			v.FieldErrors[fe.Field] = fe.Message
		}
		h.render(w, r, http.StatusBadRequest, "runjobs", "Run jobs - "+ws.Name, v)
		return
	}
	if submitErr != nil {
		h.renderError(w, r, submitErr)
		return
	}
	kind := webkit.FlashSuccess
	if res.Request != nil && res.Request.Status == store.RequestNothingToDo {
		kind = webkit.FlashWarning
	}
	h.cookies.SetFlash(w, kind, res.Message)
	http.Redirect(w, r, logsURL, http.StatusSeeOther)
}

func oneOf(s string, choices ...string) bool {
	for _, c := range choices {
		if s == c {
			return true
		}
	}
	return false
}
