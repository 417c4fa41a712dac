package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// Job requests.

// CreateJobRequest assigns jr.ID (the next number), stores jr, plans its
// jobs with plan from the workspace's history on jr's backend and stores
// them, in one transaction. The workspace's row is locked first, so two
// requests for one workspace plan one after the other. plan must not use
// the Store: it runs inside the write transaction.
//
// When plan fails the request is stored with the Status and
// StatusMessage plan left on jr (failed when it left none) and the error
// is returned. With jobs the request is pending. jr.Identifier is
// generated when empty; jr.CreatedAt is set when zero. Each job gets the
// request's number and backend, the request's identifier and the
// workspace's name when they are empty, and a CreatedAt when zero.
func (s *Store) CreateJobRequest(ctx context.Context, jr *store.JobRequest, plan store.PlanFunc) ([]*store.Job, error) {
	if jr.Identifier == "" {
		jr.Identifier = newIdentifier()
	}
	jr.CreatedAt = orNow(jr.CreatedAt)
	requested, err := jsonText(jr.RequestedActions)
	if err != nil {
		return nil, err
	}
	cancelled, err := jsonText(jr.CancelledActions)
	if err != nil {
		return nil, err
	}
	orig := *jr
	var (
		jobs    []*store.Job
		planErr error
	)
	err = s.write(ctx, func(w *wtx) error {
		*jr = orig // a retried transaction starts again
		jobs, planErr = nil, nil
		var wsName string
		err := w.queryRow(ctx, `SELECT name FROM workspaces WHERE id = ?`+w.d.ForUpdate, jr.WorkspaceID).Scan(&wsName)
		if err != nil {
			return notFound(err, "create job request: no workspace with id %d", jr.WorkspaceID)
		}
		status := jr.Status
		if status == "" {
			status = store.RequestPending
		}
		cols := `identifier, workspace_id, backend_id, requested_actions, cancelled_actions,
				force_run_dependencies, will_notify, sha, project_definition, codelists_ok, status, status_message, created_by, created_at`
		args := []any{jr.Identifier, jr.WorkspaceID, jr.BackendID, requested, cancelled, jr.ForceRunDependencies, jr.WillNotify,
			jr.SHA, jr.ProjectDefinition, jr.CodelistsOK, status, jr.StatusMessage, nullID(jr.CreatedBy), nanos(jr.CreatedAt)}
		if orig.ID != 0 {
			// A given number (an imported request, or the demo's copies
			// of published ones); later numbers continue above it.
			err = w.queryRow(ctx, `INSERT INTO job_requests (id, `+cols+`)`+w.d.OverrideIdentity+`
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, append([]any{orig.ID}, args...)...).Scan(&jr.ID)
			if err == nil && w.d.SyncIdentity != nil {
				_, err = w.exec(ctx, w.d.SyncIdentity("job_requests"))
			}
		} else {
			err = w.queryRow(ctx, `INSERT INTO job_requests (`+cols+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, args...).Scan(&jr.ID)
		}
		if err != nil {
			return s.constraintError(err, "create job request", func(v Violation, name string) *haven.Error {
				switch v {
				case UniqueViolation:
					if orig.ID != 0 {
						return haven.Errorf(haven.ECONFLICT, "a job request with number %d or identifier %s already exists", orig.ID, jr.Identifier)
					}
					return haven.Errorf(haven.ECONFLICT, "a job request with identifier %s already exists", jr.Identifier)
				case ForeignKeyViolation:
					return haven.Errorf(haven.ENOTFOUND, "create job request: no backend with id %d or no user with id %d", jr.BackendID, jr.CreatedBy)
				case CheckViolation:
					return haven.Errorf(haven.EINVALID, "create job request: %q is not a job request status", status)
				}
				return nil
			})
		}
		history, err := w.jobs(`WHERE j.workspace_id = ? AND j.backend_id = ? ORDER BY j.created_at, j.id`, jr.WorkspaceID, jr.BackendID)
		if err != nil {
			return wrap(err, "create job request: read the workspace's history")
		}
		planned, err := plan(jobsOf(history))
		if err != nil {
			planErr = err
			if jr.Status == "" || jr.Status == store.RequestPending {
				jr.Status = store.RequestFailed
			}
			_, err := w.exec(ctx, `UPDATE job_requests SET status = ?, status_message = ? WHERE id = ?`, jr.Status, jr.StatusMessage, jr.ID)
			return s.constraintError(err, "create job request: save the planning error", func(v Violation, _ string) *haven.Error {
				if v == CheckViolation {
					return haven.Errorf(haven.EINVALID, "create job request: %q is not a job request status", jr.Status)
				}
				return nil
			})
		}
		for _, j := range planned {
			j.JobRequestID, j.BackendID = jr.ID, jr.BackendID
			if j.RequestID == "" {
				j.RequestID = jr.Identifier
			}
			if j.Workspace == "" {
				j.Workspace = wsName
			}
			if j.CreatedAt.IsZero() {
				j.CreatedAt = jr.CreatedAt
			}
			if err := w.insertJob(j, jr.WorkspaceID); err != nil {
				return err
			}
		}
		if len(planned) > 0 {
			jr.Status = store.RequestPending
			if _, err := w.exec(ctx, `UPDATE job_requests SET status = ? WHERE id = ?`, jr.Status, jr.ID); err != nil {
				return wrap(err, "create job request %d", jr.ID)
			}
		} else {
			jr.Status = status
		}
		jobs = planned
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, planErr
}

// newIdentifier is a job request identifier: 16 characters of lower-case
// base32 of 10 random bytes (spec §3).
func newIdentifier() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// insertJob stores a new job and its dependencies.
func (w *wtx) insertJob(j *store.Job, workspaceID int64) error {
	what := "create job " + j.ID + " (" + j.Action + ")"
	if j.ID == "" {
		return haven.Errorf(haven.EINVALID, "create job for action %s: the job has no identifier", j.Action)
	}
	if j.State == "" || j.StatusCode == "" {
		return haven.Errorf(haven.EINVALID, "%s: the job has no state or status code", what)
	}
	var texts [6]string
	for i, v := range []any{j.Args, j.OutputSpec, j.RequiresOutputsFrom, j.WaitForJobIDs, j.Outputs, j.Metrics} {
		var err error
		switch v := v.(type) {
		case []string:
			texts[i], err = jsonText(v)
		case map[string]string:
			texts[i], err = jsonText(v)
		case map[string]float64:
			texts[i], err = jsonText(v)
		}
		if err != nil {
			return wrap(err, "%s", what)
		}
	}
	var exit any
	if j.ExitCode != nil {
		exit = *j.ExitCode
	}
	var id int64
	err := w.queryRow(w.ctx, `INSERT INTO jobs (identifier, job_request_id, backend_id, workspace_id, request_identifier, workspace, action,
			state, status_code, status_message, cancelled, image, args, run_command, requires_db,
			output_spec, requires_outputs_from, wait_for_job_ids, outputs, exit_code, metrics,
			created_at, started_at, completed_at, updated_at, status_code_updated_at,
			attempt, lease_id, lease_agent, lease_expires_at, needs_recovery, recovery_since, cancel_sent, last_update_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		j.ID, j.JobRequestID, j.BackendID, workspaceID, j.RequestID, j.Workspace, j.Action,
		string(j.State), string(j.StatusCode), j.StatusMessage, j.Cancelled, j.Image, texts[0], j.RunCommand, j.RequiresDB,
		texts[1], texts[2], texts[3], texts[4], exit, texts[5],
		nanos(j.CreatedAt), nanos(j.StartedAt), nanos(j.CompletedAt), nanos(j.UpdatedAt), j.StatusCodeUpdatedAt,
		j.Attempt, j.LeaseID, j.LeaseAgent, nanos(j.LeaseExpiresAt), j.NeedsRecovery, nanos(j.RecoverySince), j.CancelSent, j.LastUpdateSeq).Scan(&id)
	if err != nil {
		return w.s.constraintError(err, what, func(v Violation, name string) *haven.Error {
			switch v {
			case UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "%s: a job with identifier %s already exists", what, j.ID)
			case CheckViolation:
				return haven.Errorf(haven.EINVALID, "%s: state %q, attempt %d or its lease is not valid", what, j.State, j.Attempt)
			}
			return nil
		})
	}
	seen := map[string]bool{}
	for _, dep := range j.WaitForJobIDs {
		if seen[dep] {
			continue
		}
		seen[dep] = true
		if _, err := w.exec(w.ctx, `INSERT INTO job_dependencies (job_id, waits_for) VALUES (?, ?)`, id, dep); err != nil {
			return wrap(err, "%s: store its dependency on %s", what, dep)
		}
	}
	return nil
}

// JobRequest returns a job request by number.
func (s *Store) JobRequest(ctx context.Context, id int64) (*store.JobRequest, error) {
	jr, err := scanJobRequest(s.read().queryRow(ctx, `SELECT `+jobRequestColumns+` FROM job_requests WHERE id = ?`, id))
	return jr, notFound(err, "no job request %d", id)
}

// JobRequestByIdentifier returns a job request by identifier.
func (s *Store) JobRequestByIdentifier(ctx context.Context, identifier string) (*store.JobRequest, error) {
	jr, err := scanJobRequest(s.read().queryRow(ctx, `SELECT `+jobRequestColumns+` FROM job_requests WHERE identifier = ?`, identifier))
	return jr, notFound(err, "no job request with identifier %s", identifier)
}

// JobRequests returns a page of job requests, newest first, and how many
// match in all.
func (s *Store) JobRequests(ctx context.Context, f store.JobRequestFilter) ([]*store.JobRequest, int, error) {
	if f.Limit <= 0 {
		f.Limit = 25
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	var (
		conds []string
		args  []any
	)
	if f.WorkspaceID != 0 {
		conds, args = append(conds, "workspace_id = ?"), append(args, f.WorkspaceID)
	}
	if f.BackendID != 0 {
		conds, args = append(conds, "backend_id = ?"), append(args, f.BackendID)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	var total int
	if err := s.read().queryRow(ctx, `SELECT count(*) FROM job_requests`+where, args...).Scan(&total); err != nil {
		return nil, 0, wrap(err, "count job requests")
	}
	out, err := queryAll(ctx, s.read(), scanJobRequest, `SELECT `+jobRequestColumns+` FROM job_requests`+where+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, wrap(err, "list job requests")
	}
	return out, total, nil
}

// PreviousJobRequest is the latest earlier request for the same workspace
// and backend (with succeeded, the latest whose status is succeeded).
func (s *Store) PreviousJobRequest(ctx context.Context, jr *store.JobRequest, succeeded bool) (*store.JobRequest, error) {
	q := `SELECT ` + jobRequestColumns + ` FROM job_requests WHERE workspace_id = ? AND backend_id = ? AND id < ? ORDER BY id DESC LIMIT 1`
	args := []any{jr.WorkspaceID, jr.BackendID, jr.ID}
	if succeeded {
		q = `SELECT ` + jobRequestColumns + ` FROM job_requests WHERE workspace_id = ? AND backend_id = ? AND id < ? AND status = ? ORDER BY id DESC LIMIT 1`
		args = append(args, store.RequestSucceeded)
	}
	prev, err := scanJobRequest(s.read().queryRow(ctx, q, args...))
	return prev, notFound(err, "no job request before %d", jr.ID)
}

// Jobs.

// Job returns a job by identifier.
func (s *Store) Job(ctx context.Context, identifier string) (*store.Job, error) {
	r, err := scanJob(s.read().queryRow(ctx, `SELECT `+jobColumns+` FROM jobs j WHERE j.identifier = ?`, identifier))
	if err != nil {
		return nil, notFound(err, "no job %s", identifier)
	}
	return r.Job, nil
}

// JobsByPrefix returns up to limit jobs (10 when limit is not positive)
// whose identifier starts with prefix, by identifier.
func (s *Store) JobsByPrefix(ctx context.Context, prefix string, limit int) ([]*store.Job, error) {
	if limit <= 0 {
		limit = 10
	}
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix)
	rows, err := queryAll(ctx, s.read(), scanJob, `SELECT `+jobColumns+` FROM jobs j WHERE j.identifier LIKE ? ESCAPE '\' ORDER BY j.identifier LIMIT ?`, esc+"%", limit)
	if err != nil {
		return nil, wrap(err, "find jobs starting %s", prefix)
	}
	return jobsOf(rows), nil
}

// RequestJobs returns a request's jobs by created_at, then id.
func (s *Store) RequestJobs(ctx context.Context, jobRequestID int64) ([]*store.Job, error) {
	rows, err := queryAll(ctx, s.read(), scanJob, `SELECT `+jobColumns+` FROM jobs j WHERE j.job_request_id = ? ORDER BY j.created_at, j.id`, jobRequestID)
	if err != nil {
		return nil, wrap(err, "jobs of job request %d", jobRequestID)
	}
	return jobsOf(rows), nil
}

// LatestJobs returns the latest job (by created_at, then id) of each
// action of a workspace on a backend (any backend for 0).
func (s *Store) LatestJobs(ctx context.Context, workspaceID, backendID int64) (map[string]*store.Job, error) {
	q := `SELECT ` + jobColumns + ` FROM jobs j WHERE j.workspace_id = ? ORDER BY j.created_at, j.id`
	args := []any{workspaceID}
	if backendID != 0 {
		q = `SELECT ` + jobColumns + ` FROM jobs j WHERE j.workspace_id = ? AND j.backend_id = ? ORDER BY j.created_at, j.id`
		args = append(args, backendID)
	}
	rows, err := queryAll(ctx, s.read(), scanJob, q, args...)
	if err != nil {
		return nil, wrap(err, "latest jobs of workspace %d", workspaceID)
	}
	out := make(map[string]*store.Job)
	for _, r := range rows {
		out[r.Action] = r.Job
	}
	return out, nil
}

// jobsOf drops the row ids.
func jobsOf(rows []row) []*store.Job {
	if len(rows) == 0 {
		return nil
	}
	out := make([]*store.Job, len(rows))
	for i, r := range rows {
		out[i] = r.Job
	}
	return out
}

// Cancel cancels actions of a request (nil: every active action). An
// action is active while it has a pending or running job not yet
// cancelled. Jobs not leased become final cancelled_by_user at once (and
// their dependants dependency_failed); leased ones are marked cancelled
// and keep running until their agent, told by its next poll or lease
// extension, reports cancelled_by_user. It returns the actions it
// cancelled, in the order of the request's jobs.
func (s *Store) Cancel(ctx context.Context, jobRequestID int64, actions []string, now time.Time) ([]string, error) {
	now = now.UTC()
	var done []string
	err := s.write(ctx, func(w *wtx) error {
		done = nil
		var backendID int64
		err := w.queryRow(ctx, `SELECT backend_id FROM job_requests WHERE id = ?`, jobRequestID).Scan(&backendID)
		if err != nil {
			return notFound(err, "cancel: no job request %d", jobRequestID)
		}
		want := map[string]bool{}
		for _, a := range actions {
			want[a] = true
		}
		rows, err := w.jobs(`WHERE j.job_request_id = ? ORDER BY j.created_at, j.id`+w.d.ForUpdate, jobRequestID)
		if err != nil {
			return wrap(err, "cancel job request %d", jobRequestID)
		}
		seen := map[string]bool{}
		failed := false
		for _, r := range rows {
			if r.Cancelled || (r.State != haven.StatePending && r.State != haven.StateRunning) || (actions != nil && !want[r.Action]) {
				continue
			}
			r.Cancelled = true
			if r.LeaseID == "" && r.State == haven.StatePending {
				r.SetCode(haven.StatusCancelledByUser, "", now)
				failed = true
			} else {
				r.UpdatedAt = now
			}
			if err := w.saveJob(r); err != nil {
				return err
			}
			if !seen[r.Action] {
				seen[r.Action] = true
				done = append(done, r.Action)
			}
		}
		if len(done) == 0 {
			return nil
		}
		// Jobs first, then the request: the order every transaction
		// locks them in.
		var cancelledText string
		if err := w.queryRow(ctx, `SELECT cancelled_actions FROM job_requests WHERE id = ?`+w.d.ForUpdate, jobRequestID).Scan(&cancelledText); err != nil {
			return wrap(err, "cancel job request %d", jobRequestID)
		}
		var cancelled []string
		if err := decodeList(cancelledText, &cancelled); err != nil {
			return wrap(err, "cancel job request %d: read cancelled actions", jobRequestID)
		}
		for _, a := range done {
			if !slices.Contains(cancelled, a) {
				cancelled = append(cancelled, a)
			}
		}
		text, err := jsonText(cancelled)
		if err != nil {
			return err
		}
		if _, err := w.exec(ctx, `UPDATE job_requests SET cancelled_actions = ? WHERE id = ?`, text, jobRequestID); err != nil {
			return wrap(err, "cancel job request %d", jobRequestID)
		}
		w.dirty[jobRequestID] = true
		if failed {
			return w.failDependants(backendID, now)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return done, nil
}
