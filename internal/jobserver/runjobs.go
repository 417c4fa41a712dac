package jobserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/plan"
	"github.com/haven-tre/haven/internal/store"
)

// Messages shown after a submission.
const (
	MsgScheduled          = "Requested actions have been scheduled to run."
	MsgNoActions          = "Please select at least one of the Actions listed above."
	MsgUnknownError       = "Unknown error creating jobs"
	MsgArchived           = "This workspace is archived; unarchive it to run jobs"
	MsgNoProjectYAML      = "Could not find project.yaml"
	MsgParseProjectYAML   = "An error occurred while trying to parse your project.yaml"
	databaseName          = "default"
	disabledSignIn        = "Sign in to run jobs"
	disabledNoPermission  = "You do not have permission to run jobs in this project"
	disabledNoBackend     = "You are not a member of any backend, so you cannot run jobs"
	disabledArchived      = "This workspace is archived"
	notFoundRunJobsFormat = "Workspace %s not found, or you may not run its jobs"
)

// RunJobsDisabledReason says why u cannot run jobs in ws ("" when they
// can): not signed in, workspace archived, no job_run on the project, or
// no backend membership. The workspace page shows it on the disabled Run
// jobs button.
func (s *Service) RunJobsDisabledReason(ctx context.Context, u *store.User, ws *store.Workspace) (string, error) {
	if u == nil {
		return disabledSignIn, nil
	}
	if ws.IsArchived {
		return disabledArchived, nil
	}
	ok, err := s.Can(ctx, u, PermJobRun, ws.ProjectID)
	if err != nil {
		return "", err
	}
	if !ok {
		return disabledNoPermission, nil
	}
	backends, err := s.Store.UserBackends(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if len(backends) == 0 {
		return disabledNoBackend, nil
	}
	return "", nil
}

// runContext is what the form and a submission both load: the workspace,
// its project and the user's backends, after the permission checks.
type runContext struct {
	ws       *store.Workspace
	project  *store.Project
	backends []*store.Backend
}

// loadRun applies the run-jobs load checks 1-4 (spec §6.3): the workspace
// exists, u has job_run on its project (else ENOTFOUND, so nothing
// private leaks), it is not archived, and u is a member of a backend.
func (s *Service) loadRun(ctx context.Context, u *store.User, workspace string) (*runContext, error) {
	if u == nil {
		return nil, haven.Errorf(haven.EFORBIDDEN, disabledSignIn)
	}
	ws, err := s.Store.WorkspaceByName(ctx, workspace)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, haven.Errorf(haven.ENOTFOUND, "Workspace %s not found", workspace)
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.Can(ctx, u, PermJobRun, ws.ProjectID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, haven.Errorf(haven.ENOTFOUND, notFoundRunJobsFormat, workspace)
	}
	if ws.IsArchived {
		return nil, haven.Errorf(haven.EINVALID, MsgArchived)
	}
	backends, err := s.Store.UserBackends(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(backends) == 0 {
		return nil, haven.Errorf(haven.ENOTFOUND, notFoundRunJobsFormat, workspace)
	}
	project, err := s.Store.Project(ctx, ws.ProjectID)
	if err != nil {
		return nil, err
	}
	return &runContext{ws: ws, project: project, backends: backends}, nil
}

// resolveRef returns the commit a form or submission is for: ref (a full
// sha, lower-cased) or the branch head when ref is "".
func (s *Service) resolveRef(ctx context.Context, ws *store.Workspace, ref string) (string, error) {
	if ref == "" {
		return s.Git.BranchHead(ctx, ws.RepoURL, ws.Branch)
	}
	ref = strings.ToLower(strings.TrimSpace(ref))
	if !gitrepo.ValidCommit(ref) {
		return "", &FormError{Field: "ref", Message: fmt.Sprintf("%q is not a commit: give the full 40-character commit sha", ref)}
	}
	return ref, nil
}

// loadPipeline reads and validates project.yaml at sha. A missing or
// invalid file is returned as a problem text, not an error.
func (s *Service) loadPipeline(ctx context.Context, ws *store.Workspace, sha string) (p *pipeline.Pipeline, src []byte, problem string, err error) {
	src, err = s.Git.ReadFile(ctx, ws.RepoURL, sha, pipeline.FileName)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, nil, MsgNoProjectYAML, nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	p, probs := pipeline.Parse(pipeline.FileName, src)
	if p == nil || probs.HasErrors() {
		var lines []string
		for _, pr := range probs.Errors() {
			msg := strings.ReplaceAll(pr.Message, "\n", " ")
			if pr.Line > 0 {
				lines = append(lines, fmt.Sprintf("%s:%d:%d: %s", pr.File, pr.Line, pr.Column, msg))
			} else {
				lines = append(lines, pr.File+": "+msg)
			}
		}
		if len(lines) == 0 {
			lines = []string{MsgParseProjectYAML}
		}
		return nil, src, strings.Join(lines, "\n"), nil
	}
	return p, src, "", nil
}

// RunJobsForm loads the run-jobs form for workspace at ref ("" for the
// branch head), following the load steps of spec §6.3:
//
//   - nil user: EFORBIDDEN;
//   - workspace missing, no job_run on its project, or no member backend:
//     ENOTFOUND;
//   - archived workspace: EINVALID MsgArchived;
//   - missing branch: ENOTFOUND "Missing branch <b> in <repo>";
//   - ref not a full sha: *FormError{Field: "ref"};
//   - project.yaml missing or invalid: a form with ParseError set and no
//     actions.
//
// Haven deny-lists no command (cohortextractor is supported), and its
// codelist check always reports ok.
func (s *Service) RunJobsForm(ctx context.Context, u *store.User, workspace, ref string) (*RunJobsForm, error) {
	rc, err := s.loadRun(ctx, u, workspace)
	if err != nil {
		return nil, err
	}
	sha, err := s.resolveRef(ctx, rc.ws, ref)
	if err != nil {
		return nil, err
	}
	form := &RunJobsForm{Workspace: rc.ws, Project: rc.project, Backends: rc.backends, Ref: sha}
	p, _, problem, err := s.loadPipeline(ctx, rc.ws, sha)
	if err != nil {
		return nil, err
	}
	if problem != "" {
		form.ParseError = problem
		return form, nil
	}
	var backendID int64 // any backend when the user has several
	if len(rc.backends) == 1 {
		backendID = rc.backends[0].ID
	}
	latest, err := s.Store.LatestJobs(ctx, rc.ws.ID, backendID)
	if err != nil {
		return nil, err
	}
	status := func(action string) string {
		if j := latest[action]; j != nil {
			return string(j.State)
		}
		return ""
	}
	hasRunAll := false
	for _, a := range p.Actions {
		if a.ID == pipeline.RunAll {
			hasRunAll = true
		}
		needs := slices.Clone(a.Needs)
		sort.Strings(needs)
		form.Actions = append(form.Actions, ActionChoice{Name: a.ID, Needs: needs, RequiresDB: a.IsDatabaseAction(), Status: status(a.ID)})
	}
	if !hasRunAll {
		all := make([]string, 0, len(p.Actions))
		for _, a := range p.Actions {
			all = append(all, a.ID)
		}
		sort.Strings(all)
		form.Actions = append(form.Actions, ActionChoice{Name: pipeline.RunAll, Needs: all})
	}
	return form, nil
}

// Submit validates a run-jobs submission, stores the job request and plans
// its jobs in one store transaction (spec §6.3).
//
// Refused before anything is stored (error only): a nil user
// (EFORBIDDEN); a missing workspace, no job_run or no member backend
// (ENOTFOUND); an archived workspace (EINVALID); and, as *FormError, a
// backend the user is not a member of (Field "backend"), no action or an
// unknown action (Field "requested_actions"), a ref that is not a full sha
// (Field "ref"), a commit not on the workspace's branch, and a missing or
// invalid project.yaml. A missing branch is ENOTFOUND.
//
// Once stored, the outcome follows the planner:
//
//   - new jobs: the request is pending, Message is MsgScheduled, the
//     backend is woken; nil error;
//   - nothing to do: the request is nothing_to_do with the planner's
//     message ("All actions have already completed successfully"), which
//     is also Message; nil error;
//   - a planner validation error: the request is failed with its message;
//     the result and a *FormError carrying the message are returned;
//   - anything else: the request is failed with MsgUnknownError, the error
//     is logged, and the result and an EINTERNAL error with only
//     MsgUnknownError are returned.
func (s *Service) Submit(ctx context.Context, in SubmitInput) (*SubmitResult, error) {
	rc, err := s.loadRun(ctx, in.User, in.Workspace)
	if err != nil {
		return nil, err
	}
	ws := rc.ws
	var backend *store.Backend
	for _, b := range rc.backends {
		if b.Slug == in.Backend {
			backend = b
		}
	}
	if backend == nil {
		slugs := make([]string, len(rc.backends))
		for i, b := range rc.backends {
			slugs[i] = b.Slug
		}
		msg := "Select a backend to run the jobs on"
		if in.Backend != "" {
			msg = fmt.Sprintf("You cannot run jobs on backend %q", in.Backend)
		}
		return nil, &FormError{Field: "backend", Message: fmt.Sprintf("%s: choose one of %s", msg, strings.Join(slugs, ", "))}
	}
	var actions []string
	for _, a := range in.Actions {
		if a = strings.TrimSpace(a); a != "" && !slices.Contains(actions, a) {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return nil, &FormError{Field: "requested_actions", Message: MsgNoActions}
	}

	sha, err := s.resolveRef(ctx, ws, in.Ref)
	if err != nil {
		return nil, err
	}
	onBranch, err := s.Git.OnBranch(ctx, ws.RepoURL, sha, ws.Branch)
	if err != nil {
		return nil, err
	}
	if !onBranch {
		return nil, &FormError{Message: fmt.Sprintf("Commit %s is not on branch %s", sha[:7], ws.Branch)}
	}
	p, src, problem, err := s.loadPipeline(ctx, ws, sha)
	if err != nil {
		return nil, err
	}
	if problem != "" {
		msg := problem
		if problem != MsgNoProjectYAML {
			msg = MsgParseProjectYAML + ":\n" + problem
		}
		return nil, &FormError{Message: msg}
	}
	for _, a := range actions {
		if a != pipeline.RunAll && p.Action(a) == nil {
			return nil, &FormError{Field: "requested_actions", Message: (&plan.UnknownActionError{Action: a}).Error()}
		}
	}

	identifier := auth.NewIdentifier()
	if in.Identifier != "" {
		if !auth.ValidIdentifier(in.Identifier) {
			return nil, haven.Errorf(haven.EINVALID, "job request identifier %q is not valid: use 16 lower-case letters and digits", in.Identifier)
		}
		identifier = in.Identifier
	}
	if in.Number < 0 {
		return nil, haven.Errorf(haven.EINVALID, "job request number %d is not valid: use a positive number", in.Number)
	}
	now := s.now()
	jr := &store.JobRequest{
		ID:                   in.Number,
		Identifier:           identifier,
		WorkspaceID:          ws.ID,
		BackendID:            backend.ID,
		RequestedActions:     actions,
		ForceRunDependencies: in.ForceRunDependencies,
		WillNotify:           in.WillNotify,
		SHA:                  sha,
		ProjectDefinition:    string(src),
		CodelistsOK:          true,
		Status:               store.RequestPending,
		CreatedBy:            in.User.ID,
		CreatedAt:            now,
	}
	req := plan.Request{
		ID: jr.Identifier, Workspace: ws.Name, RequestedActions: actions,
		ForceRunDependencies: in.ForceRunDependencies, CodelistsOK: jr.CodelistsOK,
		Backend: backend.Slug, Database: databaseName, CreatedBy: in.User.Username,
		// A backend without patient data runs cohort-extractor on dummy
		// data from the study's expectations, exactly as a local run.
		DummyData: backend.ArtificialData,
	}
	var planErr error
	planFunc := func(history []*store.Job) (jobs []*store.Job, err error) {
		planErr = nil // the store may run a transaction, and so this, again
		defer func() {
			if r := recover(); r != nil {
				jobs, err = nil, fmt.Errorf("planner panic: %v", r)
			}
			if err != nil {
				planErr = err
				jr.Status, jr.StatusMessage = planOutcome(err)
			}
		}()
		return planJobs(p, req, jr, history, now)
	}
	jobs, err := s.Store.CreateJobRequest(ctx, jr, planFunc)
	if err != nil && (planErr == nil || !errors.Is(err, planErr)) {
		return nil, err
	}
	res := &SubmitResult{Request: jr, Jobs: jobs}
	extra := map[string]string{
		"workspace": ws.Name, "backend": backend.Slug, "sha": sha, "identifier": jr.Identifier,
		"actions": strings.Join(actions, " "), "status": jr.Status,
	}
	s.audit(ctx, "job_request.create", in.User.ID, requestTarget(jr.ID), extra)
	if planErr == nil {
		res.Message = MsgScheduled
		if len(jobs) > 0 {
			s.wake(backend.ID)
		}
		return res, nil
	}
	res.Message = jr.StatusMessage
	var nothing *plan.NothingToDoError
	switch {
	case errors.As(planErr, &nothing):
		return res, nil
	case jr.StatusMessage != MsgUnknownError:
		return res, &FormError{Message: jr.StatusMessage}
	}
	s.logger().Error("planning a job request failed", "job_request", jr.ID, "identifier", jr.Identifier, "workspace", ws.Name, "err", planErr)
	return res, &haven.Error{Code: haven.EINTERNAL, Message: MsgUnknownError}
}

// planOutcome is the stored status and message of a request whose
// planning failed.
func planOutcome(err error) (status, message string) {
	var nothing *plan.NothingToDoError
	var unknown *plan.UnknownActionError
	var stale *plan.StaleCodelistError
	switch {
	case errors.As(err, &nothing):
		return store.RequestNothingToDo, nothing.Message
	case errors.As(err, &unknown), errors.As(err, &stale):
		return store.RequestFailed, err.Error()
	}
	return store.RequestFailed, MsgUnknownError
}

// planFn is the planner; tests replace it to reach outcomes a validated
// submission cannot.
var planFn = plan.Plan

// planJobs plans a request exactly as `haven run` does (minus its local
// dummy-data rewrite and output check), against the workspace's history
// on the request's backend.
func planJobs(p *pipeline.Pipeline, req plan.Request, jr *store.JobRequest, history []*store.Job, now time.Time) ([]*store.Job, error) {
	hist := make([]*haven.Job, len(history))
	for i, h := range history {
		hist[i] = &h.Job
	}
	latest := plan.LatestPerAction(hist, p, nil)
	planned, err := planFn(p, req, latest, now)
	if err != nil {
		return nil, err
	}
	jobs := make([]*store.Job, len(planned))
	for i, j := range planned {
		jobs[i] = &store.Job{Job: *j, JobRequestID: jr.ID, BackendID: jr.BackendID}
	}
	return jobs, nil
}
