package jobserver

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/plan"
	"github.com/haven-tre/haven/internal/store"
)

func TestRunJobsForm(t *testing.T) {
	f := newFixture(t)
	form, err := f.svc.RunJobsForm(f.ctx, f.dev, "valve-main", "")
	if err != nil {
		t.Fatal(err)
	}
	if form.Ref != f.repo.head || form.ParseError != "" || form.Workspace.ID != f.ws.ID || form.Project.ID != f.projA.ID {
		t.Fatalf("form = ref %s, parse error %q, workspace %v, project %v", form.Ref, form.ParseError, form.Workspace, form.Project)
	}
	if len(form.Backends) != 1 || form.Backends[0].Slug != "tpp" {
		t.Fatalf("backends = %v; want only tpp", form.Backends)
	}
	want := []ActionChoice{
		{Name: "generate_dataset", Needs: nil, RequiresDB: true},
		{Name: "analyse", Needs: []string{"generate_dataset"}},
		{Name: "report", Needs: []string{"analyse", "generate_dataset"}},
		{Name: "run_all", Needs: []string{"analyse", "generate_dataset", "report"}},
	}
	if !reflect.DeepEqual(form.Actions, want) {
		t.Fatalf("actions = %+v\nwant %+v", form.Actions, want)
	}

	// Status pills follow the latest jobs.
	if _, err := f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"generate_dataset"}}); err != nil {
		t.Fatal(err)
	}
	form, err = f.svc.RunJobsForm(f.ctx, f.dev, "valve-main", f.repo.head)
	if err != nil {
		t.Fatal(err)
	}
	if form.Actions[0].Status != "pending" || form.Actions[1].Status != "" {
		t.Fatalf("statuses = %q, %q; want pending and never run", form.Actions[0].Status, form.Actions[1].Status)
	}
	f.finish(f.tpp.ID, haven.StatusSucceeded)
	form, _ = f.svc.RunJobsForm(f.ctx, f.dev, "valve-main", "")
	if form.Actions[0].Status != "succeeded" {
		t.Fatalf("status after success = %q", form.Actions[0].Status)
	}

	// A project that defines its own run_all gets no synthetic one.
	own := commitFile(t, f.repo.dir, "project.yaml", validProject+`  run_all:
    run: python:v2 analysis/all.py
    needs: [report]
    outputs:
      moderately_sensitive:
        all: output/all.csv
`, "own run_all")
	form, err = f.svc.RunJobsForm(f.ctx, f.dev, "valve-main", own)
	if err != nil || form.ParseError != "" {
		t.Fatalf("form with its own run_all: %v %q", err, form.ParseError)
	}
	var names []string
	for _, a := range form.Actions {
		names = append(names, a.Name)
	}
	if !reflect.DeepEqual(names, []string{"generate_dataset", "analyse", "report", "run_all"}) || !reflect.DeepEqual(form.Actions[3].Needs, []string{"report"}) {
		t.Fatalf("actions with the project's run_all = %v, run_all needs %v", names, form.Actions[3].Needs)
	}
}

func TestRunJobsFormRefusals(t *testing.T) {
	f := newFixture(t)
	missingBranch, err := f.svc.CreateWorkspace(f.ctx, nil, NewWorkspace{Project: f.projA.Slug, Name: "valve-nope", Repo: f.repo.dir, Branch: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	_ = missingBranch
	archived, err := f.svc.CreateWorkspace(f.ctx, nil, NewWorkspace{Project: f.projA.Slug, Name: "valve-old", Repo: f.repo.dir, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetWorkspaceArchived(f.ctx, archived.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		user      *store.User
		workspace string
		ref       string
		code      string
		msg       string
	}{
		{"anonymous", nil, "valve-main", "", haven.EFORBIDDEN, "Sign in"},
		{"missing workspace", f.dev, "nope", "", haven.ENOTFOUND, "Workspace nope not found"},
		{"other team's workspace", f.outsider, "valve-main", "", haven.ENOTFOUND, "not found"},
		{"collaborator without job_run", f.collab, "valve-main", "", haven.ENOTFOUND, "not found"},
		{"no backend membership", f.noBack, "valve-main", "", haven.ENOTFOUND, "not found"},
		{"archived", f.dev, "valve-old", "", haven.EINVALID, MsgArchived},
		{"missing branch", f.dev, "valve-nope", "", haven.ENOTFOUND, "Missing branch nope in "},
	} {
		_, err := f.svc.RunJobsForm(f.ctx, tc.user, tc.workspace, tc.ref)
		if code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v; want %s containing %q", tc.name, err, tc.code, tc.msg)
		}
	}
	var fe *FormError
	if _, err := f.svc.RunJobsForm(f.ctx, f.dev, "valve-main", "main"); !errors.As(err, &fe) || fe.Field != "ref" {
		t.Errorf("a branch name as ref: err = %v; want a FormError on ref", err)
	}

	// A deployment administrator may run jobs on any project.
	if _, err := f.svc.RunJobsForm(f.ctx, f.admin, "other-main", ""); err != nil {
		t.Errorf("admin on another project: %v", err)
	}

	// project.yaml missing or invalid: the form carries the problem.
	form, err := f.svc.RunJobsForm(f.ctx, f.dev, "valve-main", f.repo.noYAML)
	if err != nil || form.ParseError != MsgNoProjectYAML || len(form.Actions) != 0 {
		t.Errorf("no project.yaml: %v, %q, %d actions", err, form.ParseError, len(form.Actions))
	}
	form, err = f.svc.RunJobsForm(f.ctx, f.dev, "valve-main", strings.ToUpper(f.repo.badYAML))
	if err != nil || !strings.HasPrefix(form.ParseError, "project.yaml:5:") || !strings.Contains(form.ParseError, "missing_action") || len(form.Actions) != 0 {
		t.Errorf("invalid project.yaml: %v, %q, %d actions", err, form.ParseError, len(form.Actions))
	}
}

func TestSubmitSchedulesAndNothingToDo(t *testing.T) {
	f := newFixture(t)
	before := f.clock()
	res, err := f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"run_all"}, WillNotify: true})
	if err != nil {
		t.Fatal(err)
	}
	jr := res.Request
	if res.Message != MsgScheduled || jr.Status != store.RequestPending || len(res.Jobs) != 3 {
		t.Fatalf("result = %q, status %s, %d jobs", res.Message, jr.Status, len(res.Jobs))
	}
	if !auth.ValidIdentifier(jr.Identifier) || jr.SHA != f.repo.head || jr.ProjectDefinition != validProject ||
		!jr.CodelistsOK || !jr.WillNotify || jr.CreatedBy != f.dev.ID || jr.BackendID != f.tpp.ID || jr.CreatedAt.Before(before) {
		t.Fatalf("request = %+v", jr)
	}
	var actions []string
	for _, j := range res.Jobs {
		actions = append(actions, j.Action)
		if j.ID != pipeline.JobID(jr.Identifier, j.Action) || j.RequestID != jr.Identifier || j.JobRequestID != jr.ID ||
			j.BackendID != f.tpp.ID || j.Workspace != "valve-main" || j.State != haven.StatePending {
			t.Errorf("job %+v", j)
		}
	}
	if !reflect.DeepEqual(actions, []string{"generate_dataset", "analyse", "report"}) {
		t.Errorf("planned %v", actions)
	}
	if !reflect.DeepEqual(f.wakes(), []int64{f.tpp.ID}) {
		t.Errorf("woken %v; want the tpp backend once", f.wakes())
	}
	if got := f.audits(requestTarget(jr.ID)); !reflect.DeepEqual(got, []string{"job_request.create"}) {
		t.Errorf("audit = %v", got)
	}
	stored, err := f.st.JobRequest(f.ctx, jr.ID)
	if err != nil || stored.Status != store.RequestPending || stored.Identifier != jr.Identifier {
		t.Fatalf("stored request %+v, %v", stored, err)
	}

	// While they are pending: asking for one again is nothing to do.
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"analyse"}})
	if err != nil || res.Request.Status != store.RequestNothingToDo || res.Message != plan.MsgAllScheduled || len(res.Jobs) != 0 {
		t.Fatalf("analyse while pending: %v, %+v", err, res)
	}

	// Once they succeeded, run_all again is nothing to do: a success.
	f.finish(f.tpp.ID, haven.StatusSucceeded)
	if stored, _ := f.st.JobRequest(f.ctx, jr.ID); stored.Status != store.RequestSucceeded {
		t.Fatalf("request after its jobs succeeded: %s", stored.Status)
	}
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"run_all"}})
	if err != nil {
		t.Fatalf("nothing to do returned an error: %v", err)
	}
	if res.Request.Status != store.RequestNothingToDo || res.Message != plan.MsgAllCompleted || len(res.Jobs) != 0 {
		t.Fatalf("second run_all = %+v", res)
	}
	stored, _ = f.st.JobRequest(f.ctx, res.Request.ID)
	if stored.Status != store.RequestNothingToDo || stored.StatusMessage != plan.MsgAllCompleted {
		t.Fatalf("stored nothing-to-do request = %s %q", stored.Status, stored.StatusMessage)
	}
	if n := len(f.wakes()); n != 1 {
		t.Errorf("woken %d times; nothing-to-do must not wake the agent", n)
	}

	// A requested action always runs; its succeeded dependency is reused,
	// unless dependencies are forced.
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"analyse", "analyse"}})
	if err != nil || len(res.Jobs) != 1 || res.Jobs[0].Action != "analyse" || !reflect.DeepEqual(res.Request.RequestedActions, []string{"analyse"}) {
		t.Fatalf("analyse after success: %v, %+v", err, res)
	}
	f.finish(f.tpp.ID, haven.StatusSucceeded)
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"analyse"}, ForceRunDependencies: true})
	if err != nil || len(res.Jobs) != 2 || !res.Request.ForceRunDependencies {
		t.Fatalf("forced analyse: %v, %+v", err, res)
	}
	// The history is per backend: emis has none.
	if err := f.svc.AddBackendMember(f.ctx, "emis", "dev"); err != nil {
		t.Fatal(err)
	}
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "emis", Actions: []string{"run_all"}})
	if err != nil || len(res.Jobs) != 3 || res.Request.BackendID != f.emis.ID {
		t.Fatalf("run_all on emis: %v, %+v", err, res)
	}
	if w := f.wakes(); w[len(w)-1] != f.emis.ID {
		t.Errorf("emis not woken: %v", w)
	}
}

func TestSubmitRefusals(t *testing.T) {
	f := newFixture(t)
	archived, err := f.svc.CreateWorkspace(f.ctx, nil, NewWorkspace{Project: f.projA.Slug, Name: "valve-old", Repo: f.repo.dir, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetWorkspaceArchived(f.ctx, archived.ID, true); err != nil {
		t.Fatal(err)
	}
	in := func(mod func(*SubmitInput)) SubmitInput {
		s := SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"analyse"}}
		mod(&s)
		return s
	}
	for _, tc := range []struct {
		name  string
		in    SubmitInput
		code  string // for errors that are not FormErrors
		field string // for FormErrors
		msg   string
	}{
		{"anonymous", in(func(s *SubmitInput) { s.User = nil }), haven.EFORBIDDEN, "", "Sign in"},
		{"missing workspace", in(func(s *SubmitInput) { s.Workspace = "nope" }), haven.ENOTFOUND, "", "not found"},
		{"other team's workspace", in(func(s *SubmitInput) { s.User = f.outsider }), haven.ENOTFOUND, "", "not found"},
		{"no job_run", in(func(s *SubmitInput) { s.User = f.collab }), haven.ENOTFOUND, "", "not found"},
		{"archived", in(func(s *SubmitInput) { s.Workspace = "valve-old" }), haven.EINVALID, "", MsgArchived},
		{"backend not a member", in(func(s *SubmitInput) { s.Backend = "emis" }), "", "backend", `You cannot run jobs on backend "emis": choose one of tpp`},
		{"no backend", in(func(s *SubmitInput) { s.Backend = "" }), "", "backend", "Select a backend"},
		{"no action", in(func(s *SubmitInput) { s.Actions = nil }), "", "requested_actions", MsgNoActions},
		{"blank action", in(func(s *SubmitInput) { s.Actions = []string{" "} }), "", "requested_actions", MsgNoActions},
		{"unknown action", in(func(s *SubmitInput) { s.Actions = []string{"analyse", "nope"} }), "", "requested_actions", "Action 'nope' not found in project.yaml"},
		{"ref not a sha", in(func(s *SubmitInput) { s.Ref = "HEAD~1" }), "", "ref", "is not a commit"},
		{"commit not on the branch", in(func(s *SubmitInput) { s.Ref = f.repo.offBranch }), "", "", "Commit " + f.repo.offBranch[:7] + " is not on branch main"},
		{"unknown commit", in(func(s *SubmitInput) { s.Ref = strings.Repeat("ab", 20) }), "", "", "Commit abababa is not on branch main"},
		{"no project.yaml", in(func(s *SubmitInput) { s.Ref = f.repo.noYAML }), "", "", MsgNoProjectYAML},
		{"invalid project.yaml", in(func(s *SubmitInput) { s.Ref = f.repo.badYAML }), "", "", MsgParseProjectYAML + ":\nproject.yaml:5:"},
	} {
		res, err := f.svc.Submit(f.ctx, tc.in)
		if res != nil {
			t.Errorf("%s: a result was returned: %+v", tc.name, res)
		}
		var fe *FormError
		switch {
		case tc.code != "":
			if errors.As(err, &fe) || code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: err = %v; want %s containing %q", tc.name, err, tc.code, tc.msg)
			}
		case !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Message, tc.msg):
			t.Errorf("%s: err = %#v; want FormError{%q, ...%q...}", tc.name, err, tc.field, tc.msg)
		}
	}
	if n := f.requests(); n != 0 {
		t.Errorf("refused submissions stored %d job requests", n)
	}
	if len(f.wakes()) != 0 {
		t.Errorf("refused submissions woke agents: %v", f.wakes())
	}
}

func TestSubmitPlannerFailures(t *testing.T) {
	f := newFixture(t)
	defer func(orig func(*pipeline.Pipeline, plan.Request, map[string]*haven.Job, time.Time) ([]*haven.Job, error)) {
		planFn = orig
	}(planFn)

	// A validation error from the planner: stored failed, shown as a form error.
	planFn = func(*pipeline.Pipeline, plan.Request, map[string]*haven.Job, time.Time) ([]*haven.Job, error) {
		return nil, &plan.StaleCodelistError{Action: "generate_dataset"}
	}
	res, err := f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"run_all"}})
	want := "Codelists are out of date (required by action generate_dataset)"
	var fe *FormError
	if !errors.As(err, &fe) || fe.Message != want || res == nil {
		t.Fatalf("stale codelists: %v, %+v", err, res)
	}
	stored, _ := f.st.JobRequest(f.ctx, res.Request.ID)
	if stored.Status != store.RequestFailed || stored.StatusMessage != want {
		t.Fatalf("stored = %s %q", stored.Status, stored.StatusMessage)
	}

	// An unexpected error (here a planner panic): failed, generic message,
	// the real error only in the log.
	planFn = func(*pipeline.Pipeline, plan.Request, map[string]*haven.Job, time.Time) ([]*haven.Job, error) {
		panic("secret internal detail")
	}
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"run_all"}})
	if code(err) != haven.EINTERNAL || err.Error() != MsgUnknownError || res == nil || res.Message != MsgUnknownError {
		t.Fatalf("unexpected error: %v, %+v", err, res)
	}
	stored, _ = f.st.JobRequest(f.ctx, res.Request.ID)
	if stored.Status != store.RequestFailed || stored.StatusMessage != MsgUnknownError {
		t.Fatalf("stored = %s %q", stored.Status, stored.StatusMessage)
	}
	if !strings.Contains(f.log(), "secret internal detail") {
		t.Errorf("the real error was not logged: %s", f.log())
	}
	if len(f.wakes()) != 0 {
		t.Errorf("failed requests woke agents: %v", f.wakes())
	}
	if got := f.audits(requestTarget(res.Request.ID)); !slices.Equal(got, []string{"job_request.create"}) {
		t.Errorf("audit = %v", got)
	}
}

func TestPlanOutcome(t *testing.T) {
	for _, tc := range []struct {
		err          error
		status, want string
	}{
		{&plan.NothingToDoError{Message: plan.MsgAllCompleted}, store.RequestNothingToDo, plan.MsgAllCompleted},
		{&plan.NothingToDoError{Message: plan.MsgAllScheduled}, store.RequestNothingToDo, plan.MsgAllScheduled},
		{&plan.UnknownActionError{Action: "x"}, store.RequestFailed, "Action 'x' not found in project.yaml"},
		{&plan.StaleCodelistError{Action: "a"}, store.RequestFailed, "Codelists are out of date (required by action a)"},
		{errors.New("disk on fire"), store.RequestFailed, MsgUnknownError},
	} {
		status, msg := planOutcome(tc.err)
		if status != tc.status || msg != tc.want {
			t.Errorf("planOutcome(%v) = %s %q; want %s %q", tc.err, status, msg, tc.status, tc.want)
		}
	}
}

func TestRunJobsDisabledReason(t *testing.T) {
	f := newFixture(t)
	archived := *f.ws
	archived.IsArchived = true
	for _, tc := range []struct {
		user *store.User
		ws   *store.Workspace
		want string
	}{
		{f.dev, f.ws, ""},
		{f.admin, f.wsB, ""},
		{nil, f.ws, "Sign in to run jobs"},
		{f.dev, &archived, "This workspace is archived"},
		{f.collab, f.ws, "You do not have permission to run jobs in this project"},
		{f.outsider, f.ws, "You do not have permission to run jobs in this project"},
		{f.noBack, f.ws, "You are not a member of any backend, so you cannot run jobs"},
	} {
		got, err := f.svc.RunJobsDisabledReason(f.ctx, tc.user, tc.ws)
		if err != nil || got != tc.want {
			t.Errorf("reason(%v, %s) = %q, %v; want %q", tc.user, tc.ws.Name, got, err, tc.want)
		}
	}
}

// A backend without patient data plans cohort-extractor's generate_cohort
// on dummy data, as `haven run` does; a real backend runs the command as
// written.
func TestSubmitArtificialDataBackend(t *testing.T) {
	f := newFixture(t)
	sha := commitFile(t, f.repo.dir, "project.yaml", `version: '3.0'
expectations:
  population_size: 1000
actions:
  generate_cohort:
    run: cohortextractor:latest generate_cohort --study-definition study_definition
    outputs:
      highly_sensitive:
        cohort: output/input.csv
`, "a cohort")
	submit := func(backend string) *store.Job {
		t.Helper()
		res, err := f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Ref: sha, Backend: backend, Actions: []string{"generate_cohort"}})
		if err != nil || len(res.Jobs) != 1 {
			t.Fatalf("submit to %s: %v, %+v", backend, err, res)
		}
		return res.Jobs[0]
	}
	if j := submit("tpp"); strings.Contains(j.RunCommand, "--expectations-population") {
		t.Errorf("a real backend's job runs %q; want the command as written", j.RunCommand)
	}
	if err := f.svc.AddBackendMember(f.ctx, "emis", "dev"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetBackendArtificialData(f.ctx, "emis", true); err != nil {
		t.Fatal(err)
	}
	j := submit("emis")
	if !strings.Contains(j.RunCommand, "--expectations-population=1000") || !strings.Contains(j.RunCommand, "--output-dir=output") {
		t.Errorf("an artificial-data backend's job runs %q; want the dummy-data rewrite", j.RunCommand)
	}
	if err := f.svc.SetBackendArtificialData(f.ctx, "nope", true); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("SetBackendArtificialData(unknown backend) = %v; want not found", err)
	}
}

// A trusted caller (the demo, an import) may give the request's number and
// identifier; the job identifiers then are those published for it.
func TestSubmitGivenNumberAndIdentifier(t *testing.T) {
	f := newFixture(t)
	res, err := f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp",
		Actions: []string{"generate_dataset"}, Number: 9050, Identifier: "egdoqvhx25cbvasp"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Request.ID != 9050 || res.Request.Identifier != "egdoqvhx25cbvasp" {
		t.Fatalf("request %d %s; want 9050 egdoqvhx25cbvasp", res.Request.ID, res.Request.Identifier)
	}
	if res.Jobs[0].ID != pipeline.JobID("egdoqvhx25cbvasp", "generate_dataset") {
		t.Errorf("job identifier %s", res.Jobs[0].ID)
	}
	for _, in := range []SubmitInput{
		{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"analyse"}, Identifier: "NOT-VALID"},
		{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"analyse"}, Number: -1},
	} {
		if _, err := f.svc.Submit(f.ctx, in); haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("Submit(%q, %d) = %v; want invalid", in.Identifier, in.Number, err)
		}
	}
	_, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp",
		Actions: []string{"report"}, Number: 9050, Identifier: "azjnf6j7xp5hvqyt"})
	if haven.ErrorCode(err) != haven.ECONFLICT || !strings.Contains(err.Error(), "9050") {
		t.Errorf("a second request numbered 9050: %v; want a conflict naming the number", err)
	}
}
