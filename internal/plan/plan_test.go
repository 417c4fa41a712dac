package plan

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
)

// testNow is the fixed clock of every test plan.
var testNow = time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("BST", 3600))

const testRequestID = "abcdefgh23456789"

// parse validates a test project and fails the test on any error.
func parse(t testing.TB, src string) *pipeline.Pipeline {
	t.Helper()
	p, probs := pipeline.Parse("project.yaml", []byte(src))
	if p == nil {
		t.Fatalf("test project does not validate:\n%v", probs)
	}
	return p
}

// pyAction writes one python action with one output and the given needs.
func pyAction(id string, needs ...string) string {
	s := fmt.Sprintf("  %s:\n    run: python:v2 python analysis/%s.py\n", id, id)
	if len(needs) > 0 {
		s += "    needs: [" + strings.Join(needs, ", ") + "]\n"
	}
	return s + fmt.Sprintf("    outputs:\n      moderately_sensitive:\n        out: output/%s.csv\n", id)
}

// project writes a version-5 project of the given actions.
func project(actions ...string) string {
	return "version: '5.0'\nactions:\n" + strings.Join(actions, "")
}

// dbAction writes an ehrQL dataset action, which reads the database.
func dbAction(id string) string {
	return fmt.Sprintf("  %s:\n    run: ehrql:v1 generate-dataset analysis/%s.py --output output/%s.csv.gz\n"+
		"    outputs:\n      highly_sensitive:\n        dataset: output/%s.csv.gz\n", id, id, id, id)
}

var (
	// pair: target needs dep; other is independent.
	pairProject = project(pyAction("dep"), pyAction("target", "dep"), pyAction("other"))
	// chain: a <- b <- c.
	chainProject = project(pyAction("a"), pyAction("b", "a"), pyAction("c", "b"))
	// diamond: top needs left and right, which both need base.
	diamondProject = project(pyAction("base"), pyAction("left", "base"), pyAction("right", "base"), pyAction("top", "left", "right"))
	// codelists: a database action and its consumer.
	codelistProject = project(dbAction("extract"), pyAction("prepare", "extract"))
)

// oldID is the id of a pre-existing test job.
func oldID(action string) string { return "old-" + action }

// history builds a latest-per-action map from action -> state.
func history(states map[string]haven.State) map[string]*haven.Job {
	latest := map[string]*haven.Job{}
	for action, st := range states {
		latest[action] = &haven.Job{ID: oldID(action), RequestID: "oldrequest", Action: action, State: st,
			CreatedAt: testNow.Add(-time.Hour)}
	}
	return latest
}

// resolveWait turns "new:x" or "old:x" into a job id.
func resolveWait(w string) string {
	kind, action, _ := strings.Cut(w, ":")
	if kind == "old" {
		return oldID(action)
	}
	return pipeline.JobID(testRequestID, action)
}

const (
	pending   = haven.StatePending
	running   = haven.StateRunning
	succeeded = haven.StateSucceeded
	failed    = haven.StateFailed
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name      string
		project   string
		requested []string
		force     bool
		states    map[string]haven.State
		// want are the actions of the new jobs in creation order, each with
		// the jobs it waits for ("new:x" or "old:x").
		want    []string
		waits   map[string][]string
		wantErr string
	}{
		// §13.3 re-run table, row by row.
		{name: "pending requested action is reused", project: pairProject, requested: []string{"target"},
			states: map[string]haven.State{"target": pending}, wantErr: MsgAllScheduled},
		{name: "running requested action is reused", project: pairProject, requested: []string{"target"},
			states: map[string]haven.State{"target": running}, wantErr: MsgAllScheduled},
		{name: "pending requested action is reused even with force", project: pairProject, requested: []string{"target"}, force: true,
			states: map[string]haven.State{"target": pending, "dep": failed}, wantErr: MsgAllScheduled},
		{name: "pending dependency is reused and waited for", project: pairProject, requested: []string{"target"},
			states: map[string]haven.State{"dep": pending},
			want:   []string{"target"}, waits: map[string][]string{"target": {"old:dep"}}},
		{name: "running dependency is reused and waited for, with force", project: pairProject, requested: []string{"target"}, force: true,
			states: map[string]haven.State{"dep": running},
			want:   []string{"target"}, waits: map[string][]string{"target": {"old:dep"}}},
		{name: "succeeded requested action is rerun", project: pairProject, requested: []string{"target"},
			states: map[string]haven.State{"target": succeeded, "dep": succeeded},
			want:   []string{"target"}},
		{name: "failed requested action is rerun", project: pairProject, requested: []string{"target"},
			states: map[string]haven.State{"target": failed, "dep": succeeded},
			want:   []string{"target"}},
		{name: "succeeded dependency with force is rerun", project: pairProject, requested: []string{"target"}, force: true,
			states: map[string]haven.State{"target": succeeded, "dep": succeeded},
			want:   []string{"dep", "target"}, waits: map[string][]string{"target": {"new:dep"}}},
		{name: "succeeded dependency without force is reused, not waited for", project: pairProject, requested: []string{"target"},
			states: map[string]haven.State{"dep": succeeded},
			want:   []string{"target"}},
		{name: "failed dependency is rerun", project: pairProject, requested: []string{"target"},
			states: map[string]haven.State{"dep": failed},
			want:   []string{"dep", "target"}, waits: map[string][]string{"target": {"new:dep"}}},
		{name: "failed dependency with force is rerun", project: pairProject, requested: []string{"target"}, force: true,
			states: map[string]haven.State{"dep": failed},
			want:   []string{"dep", "target"}, waits: map[string][]string{"target": {"new:dep"}}},
		{name: "no job is scheduled", project: pairProject, requested: []string{"target"},
			want: []string{"dep", "target"}, waits: map[string][]string{"target": {"new:dep"}}},
		{name: "explicitly requested dependency that succeeded is rerun", project: pairProject, requested: []string{"target", "dep"},
			states: map[string]haven.State{"dep": succeeded, "target": succeeded},
			want:   []string{"dep", "target"}, waits: map[string][]string{"target": {"new:dep"}}},
		{name: "unrelated actions are untouched", project: pairProject, requested: []string{"other"},
			states: map[string]haven.State{"dep": failed},
			want:   []string{"other"}},

		// Chains and diamonds.
		{name: "chain from nothing", project: chainProject, requested: []string{"c"},
			want: []string{"a", "b", "c"}, waits: map[string][]string{"b": {"new:a"}, "c": {"new:b"}}},
		{name: "chain with the first succeeded", project: chainProject, requested: []string{"c"},
			states: map[string]haven.State{"a": succeeded},
			want:   []string{"b", "c"}, waits: map[string][]string{"c": {"new:b"}}},
		{name: "chain with the middle running", project: chainProject, requested: []string{"c"},
			states: map[string]haven.State{"a": failed, "b": running},
			want:   []string{"c"}, waits: map[string][]string{"c": {"old:b"}}},
		{name: "chain requested twice", project: chainProject, requested: []string{"c", "c", "b"},
			want: []string{"a", "b", "c"}, waits: map[string][]string{"b": {"new:a"}, "c": {"new:b"}}},
		{name: "chain requested root first", project: chainProject, requested: []string{"a", "c"},
			states: map[string]haven.State{"a": succeeded, "b": succeeded},
			want:   []string{"a", "c"}, waits: map[string][]string{"c": {}}},
		{name: "diamond from nothing", project: diamondProject, requested: []string{"top"},
			want:  []string{"base", "left", "right", "top"},
			waits: map[string][]string{"left": {"new:base"}, "right": {"new:base"}, "top": {"new:left", "new:right"}}},
		{name: "diamond with base succeeded", project: diamondProject, requested: []string{"top"},
			states: map[string]haven.State{"base": succeeded, "right": pending},
			want:   []string{"left", "top"}, waits: map[string][]string{"top": {"new:left", "old:right"}}},
		{name: "diamond forced", project: diamondProject, requested: []string{"top", "left"}, force: true,
			states: map[string]haven.State{"base": succeeded, "left": succeeded, "right": succeeded, "top": succeeded},
			want:   []string{"base", "left", "right", "top"},
			waits:  map[string][]string{"left": {"new:base"}, "right": {"new:base"}, "top": {"new:left", "new:right"}}},

		// run_all (§11).
		{name: "run_all from nothing", project: diamondProject, requested: []string{"run_all"},
			want:  []string{"base", "left", "right", "top"},
			waits: map[string][]string{"left": {"new:base"}, "right": {"new:base"}, "top": {"new:left", "new:right"}}},
		{name: "run_all with everything succeeded", project: chainProject, requested: []string{"run_all"},
			states:  map[string]haven.State{"a": succeeded, "b": succeeded, "c": succeeded},
			wantErr: MsgAllCompleted},
		{name: "run_all with everything succeeded or under way", project: chainProject, requested: []string{"run_all"},
			states:  map[string]haven.State{"a": succeeded, "b": running, "c": pending},
			wantErr: MsgAllCompleted},
		{name: "run_all reruns only the failed action, not its dependents", project: chainProject, requested: []string{"run_all"},
			states: map[string]haven.State{"a": succeeded, "b": failed, "c": succeeded},
			want:   []string{"b"}},
		{name: "run_all schedules never-run actions and waits for reruns", project: chainProject, requested: []string{"run_all"},
			states: map[string]haven.State{"a": failed},
			want:   []string{"a", "b", "c"}, waits: map[string][]string{"b": {"new:a"}, "c": {"new:b"}}},
		{name: "run_all with force reruns everything", project: chainProject, requested: []string{"run_all"}, force: true,
			states: map[string]haven.State{"a": succeeded, "b": succeeded, "c": succeeded},
			want:   []string{"a", "b", "c"}, waits: map[string][]string{"b": {"new:a"}, "c": {"new:b"}}},
		{name: "run_all with force keeps pending jobs", project: chainProject, requested: []string{"run_all"}, force: true,
			states: map[string]haven.State{"a": succeeded, "b": pending, "c": succeeded},
			want:   []string{"a", "c"}, waits: map[string][]string{"c": {"old:b"}}},
		// Upstream's job_should_be_rerun tests the raw requested list, so a
		// name given beside run_all is still explicitly requested.
		{name: "run_all with another name reruns that name", project: chainProject, requested: []string{"b", "run_all"},
			states: map[string]haven.State{"a": succeeded, "b": succeeded, "c": succeeded},
			want:   []string{"b"}},
		{name: "run_all ignores unknown names beside it", project: chainProject, requested: []string{"run_all", "nope"},
			states: map[string]haven.State{"a": succeeded, "b": succeeded},
			want:   []string{"c"}},

		// Nothing to do (§13.4) and unknown actions.
		{name: "some requested scheduled, one never run", project: pairProject, requested: []string{"target", "other"},
			states: map[string]haven.State{"target": pending},
			want:   []string{"other"}},
		{name: "every requested action scheduled", project: pairProject, requested: []string{"target", "other"},
			states:  map[string]haven.State{"target": pending, "other": running},
			wantErr: MsgAllScheduled},
		{name: "unknown action", project: pairProject, requested: []string{"other", "nope", "nope2"},
			wantErr: "Action 'nope' not found in project.yaml"},
		{name: "unknown action beats nothing to do", project: pairProject, requested: []string{"target", "nope"},
			states:  map[string]haven.State{"target": pending},
			wantErr: "Action 'nope' not found in project.yaml"},
		{name: "no action", project: pairProject, requested: nil,
			wantErr: "At least one action must be supplied"},
		{name: "unknown state of a dependency", project: pairProject, requested: []string{"target"},
			states:  map[string]haven.State{"dep": "paused"},
			wantErr: `job old-dep for action dep in workspace ws has unknown state "paused"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parse(t, tt.project)
			latest := history(tt.states)
			req := Request{ID: testRequestID, Workspace: "ws", RequestedActions: tt.requested,
				ForceRunDependencies: tt.force, CodelistsOK: true}
			jobs, err := Plan(p, req, latest, testNow)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr && !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if jobs != nil {
					t.Errorf("jobs = %v alongside an error", actions(jobs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(jobs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("new jobs = %v, want %v", got, tt.want)
			}
			for _, j := range jobs {
				want := []string{}
				for _, w := range tt.waits[j.Action] {
					want = append(want, resolveWait(w))
				}
				if !reflect.DeepEqual(j.WaitForJobIDs, want) {
					t.Errorf("%s waits for %v, want %v", j.Action, j.WaitForJobIDs, want)
				}
			}
			// The workspace's jobs are read, never written.
			if !reflect.DeepEqual(latest, history(tt.states)) {
				t.Errorf("Plan modified the latest jobs")
			}
		})
	}
}

func actions(jobs []*haven.Job) []string {
	out := []string{}
	for _, j := range jobs {
		out = append(out, j.Action)
	}
	return out
}

func TestPlanErrorTypes(t *testing.T) {
	p := parse(t, chainProject)
	tests := []struct {
		name      string
		requested []string
		states    map[string]haven.State
		check     func(t *testing.T, err error)
	}{
		{"unknown action", []string{"nope"}, nil, func(t *testing.T, err error) {
			var e *UnknownActionError
			if !errors.As(err, &e) || e.Action != "nope" {
				t.Fatalf("error %v is not an UnknownActionError for nope", err)
			}
			want := []string{"run_all (runs all actions in project)", "a", "b", "c"}
			if got := e.ValidNames(); !reflect.DeepEqual(got, want) {
				t.Errorf("ValidNames = %q, want %q", got, want)
			}
		}},
		{"no action", nil, nil, func(t *testing.T, err error) {
			var e *UnknownActionError
			if !errors.As(err, &e) || e.Action != "" || len(e.ValidNames()) != 4 {
				t.Fatalf("error %#v is not an UnknownActionError with valid names", err)
			}
		}},
		{"all completed", []string{"run_all"}, map[string]haven.State{"a": succeeded, "b": succeeded, "c": succeeded}, func(t *testing.T, err error) {
			var e *NothingToDoError
			if !errors.As(err, &e) || e.Message != MsgAllCompleted {
				t.Fatalf("error %v is not NothingToDo(%q)", err, MsgAllCompleted)
			}
			if got := haven.ErrorCode(err); got != haven.ECONFLICT {
				t.Errorf("ErrorCode = %q, want %q", got, haven.ECONFLICT)
			}
		}},
		{"all scheduled", []string{"a"}, map[string]haven.State{"a": running}, func(t *testing.T, err error) {
			var e *NothingToDoError
			if !errors.As(err, &e) || e.Message != MsgAllScheduled {
				t.Fatalf("error %v is not NothingToDo(%q)", err, MsgAllScheduled)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Plan(p, Request{ID: testRequestID, RequestedActions: tt.requested, CodelistsOK: true}, history(tt.states), testNow)
			if err == nil {
				t.Fatal("no error")
			}
			// Callers wrap errors with context; the types must survive it.
			tt.check(t, fmt.Errorf("plan request %s: %w", testRequestID, err))
		})
	}
}

func TestErrorCodes(t *testing.T) {
	tests := []struct {
		err  error
		code string
		msg  string
	}{
		{&UnknownActionError{Action: "x"}, haven.EINVALID, "Action 'x' not found in project.yaml"},
		{&UnknownActionError{}, haven.EINVALID, "At least one action must be supplied"},
		{&NothingToDoError{Message: MsgAllCompleted}, haven.ECONFLICT, "All actions have already completed successfully"},
		{&NothingToDoError{Message: MsgAllScheduled}, haven.ECONFLICT, "All requested actions were already scheduled to run"},
		{&StaleCodelistError{Action: "extract"}, haven.EINVALID, "Codelists are out of date (required by action extract)"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.msg {
				t.Errorf("Error() = %q, want %q", got, tt.msg)
			}
			if got := haven.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestNothingToDoBugPath(t *testing.T) {
	// Unreachable through Plan; upstream reports it as a bug, not as
	// nothing to do.
	err := nothingToDo(Request{RequestedActions: []string{"b", "a"}},
		false, history(map[string]haven.State{"a": pending, "b": succeeded}))
	var ntd *NothingToDoError
	if errors.As(err, &ntd) {
		t.Fatalf("bug path returned NothingToDo: %v", err)
	}
	want := "Unexpected job states after scheduling: a(pending), b(succeeded)"
	if err == nil || err.Error() != want || haven.ErrorCode(err) != haven.EINTERNAL {
		t.Fatalf("error = %v (code %q), want %q (internal)", err, haven.ErrorCode(err), want)
	}
}

func TestPlanUnknownButScheduled(t *testing.T) {
	// Upstream looks at the existing job before the project: a job for an
	// action that has left project.yaml, still pending, is reused quietly.
	// LatestPerAction drops such jobs, so only a caller that keeps them
	// (as upstream's local run does) sees this.
	p := parse(t, pairProject)
	_, err := Plan(p, Request{ID: testRequestID, RequestedActions: []string{"gone"}, CodelistsOK: true},
		history(map[string]haven.State{"gone": pending}), testNow)
	var ntd *NothingToDoError
	if !errors.As(err, &ntd) || ntd.Message != MsgAllScheduled {
		t.Fatalf("error = %v, want NothingToDo(%q)", err, MsgAllScheduled)
	}
}

func TestStaleCodelists(t *testing.T) {
	twoDB := project(dbAction("a_db"), dbAction("z_db"), pyAction("use", "a_db", "z_db"))
	tests := []struct {
		name        string
		project     string
		requested   []string
		states      map[string]haven.State
		codelistsOK bool
		want        string // the action named, or "" for no error
		wantNothing bool
	}{
		{name: "new database job", project: codelistProject, requested: []string{"prepare"}, want: "extract"},
		{name: "codelists fine", project: codelistProject, requested: []string{"prepare"}, codelistsOK: true},
		{name: "database job reused", project: codelistProject, requested: []string{"prepare"},
			states: map[string]haven.State{"extract": succeeded}},
		{name: "database job already running", project: codelistProject, requested: []string{"prepare"},
			states: map[string]haven.State{"extract": running}},
		{name: "nothing to do comes first", project: codelistProject, requested: []string{"run_all"},
			states: map[string]haven.State{"extract": succeeded, "prepare": succeeded}, wantNothing: true},
		// Upstream names the first database job in its own order: re-runs
		// by action name, then actions that never ran.
		{name: "rerun named before never-run", project: twoDB, requested: []string{"run_all"},
			states: map[string]haven.State{"z_db": failed}, want: "z_db"},
		{name: "never-run in creation order", project: twoDB, requested: []string{"run_all"}, want: "a_db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parse(t, tt.project)
			req := Request{ID: testRequestID, RequestedActions: tt.requested, CodelistsOK: tt.codelistsOK}
			jobs, err := Plan(p, req, history(tt.states), testNow)
			var stale *StaleCodelistError
			var nothing *NothingToDoError
			switch {
			case tt.wantNothing:
				if !errors.As(err, &nothing) {
					t.Fatalf("error = %v, want NothingToDo", err)
				}
			case tt.want == "":
				if err != nil || len(jobs) == 0 {
					t.Fatalf("Plan = %v, %v; want jobs", actions(jobs), err)
				}
			case !errors.As(err, &stale) || stale.Action != tt.want:
				t.Fatalf("error = %v, want stale codelists naming %s", err, tt.want)
			}
		})
	}
}

func TestUpstreamOrder(t *testing.T) {
	p := parse(t, project(pyAction("x"), pyAction("c"), pyAction("b", "x"), pyAction("a")))
	latest := history(map[string]haven.State{"c": failed, "a": failed, "x": succeeded})
	jobs, err := Plan(p, Request{ID: testRequestID, RequestedActions: []string{"run_all"}, CodelistsOK: true}, latest, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(jobs), []string{"c", "b", "a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("creation order = %v, want %v", got, want)
	}
	if got, want := actions(UpstreamOrder(jobs, latest)), []string{"a", "c", "b"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("upstream order = %v, want %v", got, want)
	}
}

func TestJobFields(t *testing.T) {
	src := "version: '3.0'\nexpectations:\n  population_size: 500\nactions:\n" +
		dbAction("extract") +
		"  model:\n    run: r:latest   analysis/model.R  --weeks \"4\"\n    needs: [extract]\n" +
		"    config: {a: 1, b: \"it's\", c: [x, y], d: {e: null}, f: caf\u00e9}\n" +
		"    outputs:\n      highly_sensitive:\n        data: output/model/*.rds\n" +
		"      moderately_sensitive:\n        table: output/model/table.csv\n        fig: output/figures/fig.png\n" +
		"      minimally_sensitive:\n        log: logs/model.log\n"
	p := parse(t, src)
	jobs, err := Plan(p, Request{ID: testRequestID, Workspace: "my-workspace", RequestedActions: []string{"model"}, CodelistsOK: true}, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	now := testNow.UTC()
	wantExtract := &haven.Job{
		ID: pipeline.JobID(testRequestID, "extract"), RequestID: testRequestID, Workspace: "my-workspace", Action: "extract",
		State: haven.StatePending, StatusCode: haven.StatusCreated, StatusMessage: "Created",
		Image:      "ehrql:v1",
		Args:       []string{"generate-dataset", "analysis/extract.py", "--output", "output/extract.csv.gz"},
		RunCommand: "ehrql:v1 generate-dataset analysis/extract.py --output output/extract.csv.gz",
		RequiresDB: true,
		OutputSpec: map[string]string{"output/extract.csv.gz": "highly_sensitive"},
		// Upstream stores empty lists, not nulls.
		RequiresOutputsFrom: []string{}, WaitForJobIDs: []string{},
		CreatedAt: now, UpdatedAt: now, StatusCodeUpdatedAt: now.UnixNano(),
	}
	config := `{"a": 1, "b": "it\u0027s", "c": ["x", "y"], "d": {"e": null}, "f": "caf\u00e9"}`
	wantModel := &haven.Job{
		ID: pipeline.JobID(testRequestID, "model"), RequestID: testRequestID, Workspace: "my-workspace", Action: "model",
		State: haven.StatePending, StatusCode: haven.StatusCreated, StatusMessage: "Created",
		Image:      "r:latest",
		Args:       []string{"analysis/model.R", "--weeks", "4", "--config", config},
		RunCommand: "r:latest analysis/model.R --weeks 4 --config '" + config + "'",
		OutputSpec: map[string]string{
			"output/model/*.rds":     "highly_sensitive",
			"output/model/table.csv": "moderately_sensitive",
			"output/figures/fig.png": "moderately_sensitive",
			"logs/model.log":         "minimally_sensitive",
		},
		RequiresOutputsFrom: []string{"extract"},
		WaitForJobIDs:       []string{pipeline.JobID(testRequestID, "extract")},
		CreatedAt:           now, UpdatedAt: now, StatusCodeUpdatedAt: now.UnixNano(),
	}
	if len(jobs) != 2 {
		t.Fatalf("jobs = %v, want extract and model", actions(jobs))
	}
	for i, want := range []*haven.Job{wantExtract, wantModel} {
		if !reflect.DeepEqual(jobs[i], want) {
			t.Errorf("job %d:\n got %+v\nwant %+v", i, jobs[i], want)
		}
		// The stored command and the words run agree.
		words, err := pipeline.SplitWords(jobs[i].RunCommand)
		if err != nil || !reflect.DeepEqual(words, append([]string{jobs[i].Image}, jobs[i].Args...)) {
			t.Errorf("%s: SplitWords(RunCommand) = %q, %v; want image and args", jobs[i].Action, words, err)
		}
	}
	// Jobs own their slices: changing one leaves the pipeline alone.
	jobs[1].Args[0] = "changed"
	jobs[1].RequiresOutputsFrom[0] = "changed"
	if a := p.Action("model"); a.Run.Parts[1] != "analysis/model.R" || a.Needs[0] != "extract" {
		t.Errorf("changing a job changed the pipeline: %q, %q", a.Run.Parts, a.Needs)
	}
}

func TestRunCommand(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		dummyData bool
		want      string
	}{
		{name: "as written",
			src:  project(pyAction("a")),
			want: "python:v2 python analysis/a.py"},
		// Upstream re-joins the words with shlex.join even without config.
		{name: "quoting normalised",
			src:  project("  a:\n    run: python:v2  python \"analysis/my file.py\"  --x=\"y\"\n    outputs:\n      moderately_sensitive:\n        o: output/a.csv\n"),
			want: "python:v2 python 'analysis/my file.py' --x=y"},
		{name: "empty config is not passed",
			src:  project("  a:\n    run: python:v2 python a.py\n    config: {}\n    outputs:\n      moderately_sensitive:\n        o: output/a.csv\n"),
			want: "python:v2 python a.py"},
		{name: "config",
			src:  project("  a:\n    run: python:v2 python a.py\n    config:\n      n: 1.5\n      s: \"x y\"\n    outputs:\n      moderately_sensitive:\n        o: output/a.csv\n"),
			want: `python:v2 python a.py --config '{"n": 1.5, "s": "x y"}'`},
		{name: "cohortextractor on a backend",
			src:  cohortProject(""),
			want: "cohortextractor:latest generate_cohort --study-definition study_definition"},
		{name: "cohortextractor with dummy data",
			src: cohortProject(""), dummyData: true,
			want: "cohortextractor:latest generate_cohort --study-definition study_definition --expectations-population=500 --output-dir=output"},
		{name: "cohortextractor with a dummy data file",
			src: cohortProject("    dummy_data_file: 'test\\data\\dummy.csv'\n"), dummyData: true,
			want: "cohortextractor:latest generate_cohort --study-definition study_definition --dummy-data-file=test/data/dummy.csv --output-dir=output"},
		{name: "cohortextractor output at the top",
			src: "version: '3.0'\nexpectations:\n  population_size: 10\nactions:\n  a:\n    run: cohortextractor:v1.2 generate_cohort\n" +
				"    outputs:\n      highly_sensitive:\n        c: input.csv\n", dummyData: true,
			want: "cohortextractor:v1.2 generate_cohort --expectations-population=10 --output-dir=."},
		{name: "config before the dummy data flags",
			src: "version: '3.0'\nexpectations:\n  population_size: 10\nactions:\n  a:\n    run: cohortextractor:v1.2 generate_cohort\n" +
				"    config: {k: v}\n    outputs:\n      highly_sensitive:\n        c: out/input_*.csv\n", dummyData: true,
			want: `cohortextractor:v1.2 generate_cohort --config '{"k": "v"}' --expectations-population=10 --output-dir=out`},
		{name: "other cohortextractor commands untouched",
			src: "version: '3.0'\nexpectations:\n  population_size: 10\nactions:\n  a:\n    run: cohortextractor:v1.2 generate_measures\n" +
				"    outputs:\n      moderately_sensitive:\n        c: out/m.csv\n", dummyData: true,
			want: "cohortextractor:v1.2 generate_measures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parse(t, tt.src)
			jobs, err := Plan(p, Request{ID: testRequestID, RequestedActions: []string{p.Actions[0].ID}, CodelistsOK: true, DummyData: tt.dummyData}, nil, testNow)
			if err != nil {
				t.Fatal(err)
			}
			j := jobs[0]
			if j.RunCommand != tt.want {
				t.Errorf("RunCommand =\n %s\nwant\n %s", j.RunCommand, tt.want)
			}
			words, err := pipeline.SplitWords(tt.want)
			if err != nil || !reflect.DeepEqual(append([]string{j.Image}, j.Args...), words) {
				t.Errorf("image and args = %q %q, want %q (%v)", j.Image, j.Args, words, err)
			}
		})
	}
}

// cohortProject is a version-3 project whose one action runs
// cohortextractor generate_cohort; extra is added to the action.
func cohortProject(extra string) string {
	return "version: '3.0'\nexpectations:\n  population_size: 500\nactions:\n  generate_cohort:\n" +
		"    run: cohortextractor:latest generate_cohort --study-definition study_definition\n" + extra +
		"    outputs:\n      highly_sensitive:\n        cohort: output/input.csv\n"
}

func TestOutputSpecPatternAtTwoLevels(t *testing.T) {
	// Version 1 allows a pattern at two levels; upstream's flattening
	// leaves it at the later level.
	src := "version: '1.0'\nactions:\n  a:\n    run: python:v2 python a.py\n    outputs:\n" +
		"      highly_sensitive:\n        x: output/x.csv\n      moderately_sensitive:\n        x: output/x.csv\n        y: output/y.csv\n"
	p := parse(t, src)
	jobs, err := Plan(p, Request{ID: testRequestID, RequestedActions: []string{"a"}, CodelistsOK: true}, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"output/x.csv": "moderately_sensitive", "output/y.csv": "moderately_sensitive"}
	if !reflect.DeepEqual(jobs[0].OutputSpec, want) {
		t.Errorf("OutputSpec = %v, want %v", jobs[0].OutputSpec, want)
	}
}

func TestJobIDs(t *testing.T) {
	// The spec §14 vectors, through the planner.
	tests := []struct{ request, action, want string }{
		{"abcdefgh23456789", "generate_dataset", "rfzajqkfrp766yxc"},
		{"a1b2c3d4e5f6g7h8", "run_model", "coijsru5xyqscdff"},
		{"0123456789", "analyse_data", "oiyyafm4ofethzof"},
	}
	p := parse(t, project(pyAction("generate_dataset"), pyAction("run_model"), pyAction("analyse_data")))
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			for range 2 { // the same request and action always give the same id
				jobs, err := Plan(p, Request{ID: tt.request, RequestedActions: []string{tt.action}, CodelistsOK: true}, nil, testNow)
				if err != nil {
					t.Fatal(err)
				}
				if jobs[0].ID != tt.want {
					t.Errorf("id = %s, want %s", jobs[0].ID, tt.want)
				}
			}
		})
	}
}

func TestPlanRejectsCycles(t *testing.T) {
	// Validation rejects cycles, so only a pipeline built some other way
	// could have one; the planner must still stop.
	p := parse(t, pairProject)
	p.Action("dep").Needs = []string{"target"}
	_, err := Plan(p, Request{ID: testRequestID, RequestedActions: []string{"target"}, CodelistsOK: true}, nil, testNow)
	if err == nil || !strings.Contains(err.Error(), "depend on each other") {
		t.Fatalf("error = %v, want a cycle error", err)
	}
}

func TestPlanDeepChain(t *testing.T) {
	// 20,000 actions deep: the explicit stack needs no goroutine stack and
	// settles each action once.
	const n = 20000
	var b strings.Builder
	b.WriteString("version: '5.0'\nactions:\n")
	for i := range n {
		needs := ""
		if i > 0 {
			needs = fmt.Sprintf("    needs: [s%d]\n", i-1)
		}
		fmt.Fprintf(&b, "  s%d:\n    run: python:v2 python s%d.py\n%s    outputs:\n      moderately_sensitive:\n        o: output/s%d.csv\n", i, i, needs, i)
	}
	p := parse(t, b.String())
	jobs, err := Plan(p, Request{ID: testRequestID, RequestedActions: []string{fmt.Sprintf("s%d", n-1)}, CodelistsOK: true}, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != n || jobs[0].Action != "s0" || jobs[n-1].Action != fmt.Sprintf("s%d", n-1) {
		t.Fatalf("got %d jobs from %s to %s, want %d from s0", len(jobs), jobs[0].Action, jobs[len(jobs)-1].Action, n)
	}
}
