package jobserver

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

func TestCancel(t *testing.T) {
	f := newFixture(t)
	res, err := f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"run_all"}})
	if err != nil {
		t.Fatal(err)
	}
	jr := res.Request
	// The agent claims the first job (generate_dataset); the others wait.
	task, err := f.st.Poll(f.ctx, f.tpp.ID, "agent-1", store.Capacity{Jobs: 4, DBJobs: 4}, f.clock(), time.Minute)
	if err != nil || task == nil || task.Job.Action != "generate_dataset" {
		t.Fatalf("poll = %+v, %v", task, err)
	}
	wakes := len(f.wakes())

	// Who may cancel.
	for _, tc := range []struct {
		name string
		user *store.User
		code string
	}{
		{"anonymous", nil, haven.EFORBIDDEN},
		{"other team", f.outsider, haven.EFORBIDDEN},
		{"collaborator", f.collab, haven.EFORBIDDEN},
	} {
		if _, err := f.svc.Cancel(f.ctx, tc.user, jr.ID, ""); code(err) != tc.code {
			t.Errorf("%s: err = %v; want %s", tc.name, err, tc.code)
		}
	}
	if _, err := f.svc.Cancel(f.ctx, f.dev, 9999, ""); code(err) != haven.ENOTFOUND {
		t.Errorf("missing request: err = %v; want ENOTFOUND", err)
	}
	if _, err := f.svc.Cancel(f.ctx, f.dev, jr.ID, "nope"); code(err) != haven.ENOTFOUND || !strings.Contains(err.Error(), "no job for action nope") {
		t.Errorf("unknown action: err = %v; want ENOTFOUND", err)
	}

	// The creator cancels one pending job: it is final at once.
	got, err := f.svc.Cancel(f.ctx, f.dev, jr.ID, "report")
	if err != nil || !reflect.DeepEqual(got, []string{"report"}) {
		t.Fatalf("cancel report = %v, %v", got, err)
	}
	jobs, _ := f.st.RequestJobs(f.ctx, jr.ID)
	for _, j := range jobs {
		if j.Action == "report" && (j.StatusCode != haven.StatusCancelledByUser || !j.Cancelled) {
			t.Errorf("report after cancel: %s cancelled=%v", j.StatusCode, j.Cancelled)
		}
	}
	if _, err := f.svc.Cancel(f.ctx, f.dev, jr.ID, "report"); code(err) != haven.EINVALID || err.Error() != MsgCancelNotActive {
		t.Errorf("cancel report twice: err = %v; want EINVALID %q", err, MsgCancelNotActive)
	}
	if !strings.Contains(f.log(), "cancel found no active action") {
		t.Error("the failed cancel was not logged")
	}

	// Another developer on the project (job_cancel) cancels the rest of
	// the request, which stays active while the claimed job stops.
	got, err = f.svc.Cancel(f.ctx, f.dev2, jr.ID, "")
	if err != nil || !reflect.DeepEqual(got, []string{"generate_dataset", "analyse"}) {
		t.Fatalf("cancel the request = %v, %v", got, err)
	}
	if len(f.wakes()) != wakes+2 || f.wakes()[len(f.wakes())-1] != f.tpp.ID {
		t.Errorf("cancels woke %v", f.wakes())
	}
	stored, _ := f.st.JobRequest(f.ctx, jr.ID)
	if !store.IsActive(stored.Status) || !reflect.DeepEqual(stored.CancelledActions, []string{"report", "generate_dataset", "analyse"}) {
		t.Fatalf("request after cancel: %s, cancelled %v", stored.Status, stored.CancelledActions)
	}
	if _, err := f.svc.Cancel(f.ctx, f.admin, jr.ID, ""); code(err) != haven.EINVALID {
		t.Errorf("cancel with nothing active: err = %v; want EINVALID", err)
	}
	if got := f.audits(requestTarget(jr.ID)); !reflect.DeepEqual(got, []string{"job_request.cancel", "job_request.cancel", "job_request.create"}) {
		t.Errorf("audit = %v", got)
	}

	// The agent stops the claimed job; the request is complete, and a
	// cancel of a complete request does nothing.
	u := store.Update{Attempt: task.Job.Attempt, Seq: 1, StatusCode: haven.StatusCancelledByUser}
	if _, err := f.st.ApplyUpdate(f.ctx, f.tpp.ID, task.Job.ID, u, f.clock(), time.Minute); err != nil {
		t.Fatal(err)
	}
	stored, _ = f.st.JobRequest(f.ctx, jr.ID)
	if store.IsActive(stored.Status) {
		t.Fatalf("request still %s", stored.Status)
	}
	got, err = f.svc.Cancel(f.ctx, f.dev, jr.ID, "")
	if err != nil || got != nil {
		t.Fatalf("cancel a complete request = %v, %v; want nothing", got, err)
	}
}

func TestCancelByAdminAndEdgeCases(t *testing.T) {
	f := newFixture(t)
	res, err := f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"analyse"}})
	if err != nil {
		t.Fatal(err)
	}
	// A deployment administrator holds job_cancel everywhere.
	got, err := f.svc.Cancel(f.ctx, f.admin, res.Request.ID, "analyse")
	if err != nil || !reflect.DeepEqual(got, []string{"analyse"}) {
		t.Fatalf("admin cancel = %v, %v", got, err)
	}

	// A nothing-to-do request is complete: cancelling does nothing.
	f.finish(f.tpp.ID, haven.StatusSucceeded) // generate_dataset
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"run_all"}})
	if err != nil || len(res.Jobs) != 2 {
		t.Fatalf("run_all after a cancel = %v, %+v; want analyse and report", err, res)
	}
	f.finish(f.tpp.ID, haven.StatusSucceeded)
	res, err = f.svc.Submit(f.ctx, SubmitInput{User: f.dev, Workspace: "valve-main", Backend: "tpp", Actions: []string{"run_all"}})
	if err != nil || res.Request.Status != store.RequestNothingToDo {
		t.Fatalf("run_all = %v, %+v; want nothing to do", err, res)
	}
	if got, err := f.svc.Cancel(f.ctx, f.dev, res.Request.ID, ""); err != nil || got != nil {
		t.Errorf("cancel nothing-to-do = %v, %v", got, err)
	}

	// A request still pending with no jobs yet (jobs not known).
	jr := &store.JobRequest{Identifier: "aaaaaaaaaaaaaaaa", WorkspaceID: f.ws.ID, BackendID: f.tpp.ID, RequestedActions: []string{"analyse"},
		SHA: f.repo.head, CodelistsOK: true, Status: store.RequestPending, CreatedBy: f.dev.ID, CreatedAt: f.clock()}
	if _, err := f.st.CreateJobRequest(f.ctx, jr, func([]*store.Job) ([]*store.Job, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Cancel(f.ctx, f.dev, jr.ID, ""); code(err) != haven.EINVALID || err.Error() != MsgCancelNoJobs {
		t.Errorf("cancel without jobs: err = %v; want %q", err, MsgCancelNoJobs)
	}
}
