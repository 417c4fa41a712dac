package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/store"
)

// published are the job requests of the published pages the demo
// reproduces, with what each page shows.
// publishedRequest is a job request as its published page shows it.
type publishedRequest struct {
	number                  int64
	identifier, workspace   string
	backend, user           string
	actions                 []string
	status                  string            // the request's status
	jobs                    map[string]string // action → job identifier on the page
	jobState, jobStatusCode string
	cancel                  bool // cancelled by its user before it started
}

var published = []publishedRequest{
	{4897, "azjnf6j7xp5hvqyt", "mechanical-valve-anticoag-updated", "emis", "louisfisher", []string{"generate_notebook"},
		store.RequestSucceeded, nil, "succeeded", "", false},
	{9050, "egdoqvhx25cbvasp", "primary-care-covid-codes-research", "tpp", "colmandrews", []string{"counts", "freq_plots"},
		store.RequestSucceeded, map[string]string{"counts": "yqceq4e2krqcxs55", "freq_plots": "2sd34hbf26lozxo7"}, "succeeded", "", false},
	{10898, "pzztw7wladpqkpqb", "flucats", "emis", "simondavy", []string{"test_action"},
		store.RequestFailed, map[string]string{"test_action": "6nhad5m5vkyxqf4z"}, "failed", "cancelled_by_user", true},
}

// runJobs submits the job requests and waits for each to finish. The
// published requests ran after earlier ones had produced their
// dependencies, so the demo first runs those (numbers 1 and 2). The
// cancelled request is submitted while the EMIS backend is paused, so it
// is cancelled before any agent can start it, as on its page.
func (d *Demo) runJobs(ctx context.Context, sum *Summary) error {
	emis, err := d.st.BackendBySlug(ctx, "emis")
	if err != nil {
		return err
	}
	if err := d.st.SetBackendPaused(ctx, emis.ID, true); err != nil {
		return err
	}
	d.say("Submitting job requests…")
	pre1, err := d.submit(ctx, "colmandrews", "primary-care-covid-codes-research", "tpp", []string{"generate_cohort"}, 0, "")
	if err != nil {
		return err
	}
	pre2, err := d.submit(ctx, "louisfisher", "mechanical-valve-anticoag-updated", "emis", []string{"generate_measures"}, 0, "")
	if err != nil {
		return err
	}
	byNumber := map[int64]int64{}
	for _, p := range published {
		if !p.cancel {
			continue
		}
		jr, err := d.submit(ctx, p.user, p.workspace, p.backend, p.actions, p.number, p.identifier)
		if err != nil {
			return err
		}
		if _, err := d.svc.Cancel(ctx, d.users[p.user], jr.ID, p.actions[0]); err != nil {
			return fmt.Errorf("cancel job request %d: %w", jr.ID, err)
		}
		byNumber[p.number] = jr.ID
	}
	if err := d.st.SetBackendPaused(ctx, emis.ID, false); err != nil {
		return err
	}
	d.srv.Agents.Wake(emis.ID)

	if err := d.wait(ctx, pre1.ID); err != nil {
		return err
	}
	if err := d.wait(ctx, pre2.ID); err != nil {
		return err
	}
	sum.Requests = append(sum.Requests, d.requestSummary(ctx, pre1.ID, nil), d.requestSummary(ctx, pre2.ID, nil))
	for _, p := range published {
		if p.cancel {
			continue
		}
		jr, err := d.submit(ctx, p.user, p.workspace, p.backend, p.actions, p.number, p.identifier)
		if err != nil {
			return err
		}
		byNumber[p.number] = jr.ID
	}
	for _, p := range published {
		if err := d.wait(ctx, byNumber[p.number]); err != nil {
			return err
		}
	}
	for i := range published {
		sum.Requests = append(sum.Requests, d.requestSummary(ctx, published[i].number, &published[i]))
	}
	return nil
}

func (d *Demo) submit(ctx context.Context, user, ws, backend string, actions []string, number int64, identifier string) (*store.JobRequest, error) {
	res, err := d.svc.Submit(ctx, jobserver.SubmitInput{
		User: d.users[user], Workspace: ws, Backend: backend, Actions: actions,
		Number: number, Identifier: identifier,
	})
	if err != nil {
		return nil, fmt.Errorf("submit %v in %s on %s: %w", actions, ws, backend, err)
	}
	d.say("  job request %d (%s) in %s on %s: %v", res.Request.ID, res.Request.Identifier, ws, backend, actions)
	return res.Request, nil
}

// wait waits until job request id is no longer active.
func (d *Demo) wait(ctx context.Context, id int64) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		jr, err := d.st.JobRequest(ctx, id)
		if err != nil {
			return err
		}
		jobs, err := d.st.RequestJobs(ctx, id)
		if err != nil {
			return err
		}
		if st, _ := store.DeriveStatus(jr.Status, jobs); !store.IsActive(st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job request %d did not finish in time: %w", id, ctx.Err())
		case err := <-d.errs:
			return err
		case <-t.C:
		}
	}
}

// requestSummary describes a finished request and, for a published one,
// compares it with its page.
func (d *Demo) requestSummary(ctx context.Context, id int64, want *publishedRequest) RequestSummary {
	rs := RequestSummary{Number: id}
	jr, err := d.st.JobRequest(ctx, id)
	if err != nil {
		rs.Problems = append(rs.Problems, err.Error())
		return rs
	}
	jobs, err := d.st.RequestJobs(ctx, id)
	if err != nil {
		rs.Problems = append(rs.Problems, err.Error())
		return rs
	}
	rs.Identifier = jr.Identifier
	rs.Status, _ = store.DeriveStatus(jr.Status, jobs)
	if ws, err := d.st.Workspace(ctx, jr.WorkspaceID); err == nil {
		rs.Workspace = ws.Name
	}
	if b, err := d.st.Backend(ctx, jr.BackendID); err == nil {
		rs.Backend = b.Slug
	}
	for _, j := range jobs {
		rs.Jobs = append(rs.Jobs, JobSummary{
			Action: j.Action, Identifier: j.ID, State: string(j.State),
			StatusCode: string(j.StatusCode), StatusMessage: j.StatusMessage,
		})
	}
	if want == nil {
		if rs.Status != store.RequestSucceeded {
			rs.Problems = append(rs.Problems, fmt.Sprintf("job request %d is %s, not succeeded", id, rs.Status))
		}
		return rs
	}
	rs.Published = true
	if jr.Identifier != want.identifier {
		rs.Problems = append(rs.Problems, fmt.Sprintf("job request %d has identifier %s, not %s", id, jr.Identifier, want.identifier))
	}
	if rs.Status != want.status {
		rs.Problems = append(rs.Problems, fmt.Sprintf("job request %d is %s, not %s", id, rs.Status, want.status))
	}
	var actions []string
	for _, j := range jobs {
		actions = append(actions, j.Action)
		if j.ID != pipeline.JobID(want.identifier, j.Action) {
			rs.Problems = append(rs.Problems, fmt.Sprintf("job %s of request %d is not the planner's identifier", j.ID, id))
		}
		if page, ok := want.jobs[j.Action]; ok && j.ID != page {
			rs.Problems = append(rs.Problems, fmt.Sprintf("job %s (%s) of request %d is not %s as on the published page", j.ID, j.Action, id, page))
		}
		if string(j.State) != want.jobState || string(j.StatusCode) != want.jobStatusCode && want.jobStatusCode != "" {
			rs.Problems = append(rs.Problems, fmt.Sprintf("job %s (%s) of request %d is %s %s, not %s %s", j.ID, j.Action, id, j.State, j.StatusCode, want.jobState, want.jobStatusCode))
		}
	}
	slices.Sort(actions)
	wantActions := slices.Clone(want.actions)
	slices.Sort(wantActions)
	if !slices.Equal(actions, wantActions) {
		rs.Problems = append(rs.Problems, fmt.Sprintf("job request %d has jobs for %v, not %v as on the published page", id, actions, wantActions))
	}
	return rs
}
