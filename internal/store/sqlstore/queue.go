package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// RecoveryFailedMessage is the message of a job that failed because its
// backend stopped reporting on it and no agent recovered it before the
// recovery deadline.
const RecoveryFailedMessage = "Internal error: the backend stopped reporting on this job and it could not be recovered"

// newLeaseID is 128 random bits, URL-safe base64 without padding.
func newLeaseID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// jobs reads jobs in the transaction; rest follows FROM jobs j.
func (w *wtx) jobs(rest string, args ...any) ([]row, error) {
	return queryAll(w.ctx, w.conn, scanJob, `SELECT `+jobColumns+` FROM jobs j `+rest, args...)
}

// saveJob writes every mutable column of a job and marks its request
// dirty.
func (w *wtx) saveJob(r row) error {
	j := r.Job
	outputs, err := jsonText(j.Outputs)
	if err != nil {
		return err
	}
	metrics, err := jsonText(j.Metrics)
	if err != nil {
		return wrap(err, "job %s: metrics must be finite numbers", j.ID)
	}
	var exit any
	if j.ExitCode != nil {
		exit = *j.ExitCode
	}
	_, err = w.exec(w.ctx, `UPDATE jobs SET state = ?, status_code = ?, status_message = ?, cancelled = ?, outputs = ?, exit_code = ?, metrics = ?,
			started_at = ?, completed_at = ?, updated_at = ?, status_code_updated_at = ?,
			attempt = ?, lease_id = ?, lease_agent = ?, lease_expires_at = ?, needs_recovery = ?, recovery_since = ?, cancel_sent = ?, last_update_seq = ?
		WHERE id = ?`,
		string(j.State), string(j.StatusCode), j.StatusMessage, j.Cancelled, outputs, exit, metrics,
		nanos(j.StartedAt), nanos(j.CompletedAt), nanos(j.UpdatedAt), j.StatusCodeUpdatedAt,
		j.Attempt, j.LeaseID, j.LeaseAgent, nanos(j.LeaseExpiresAt), j.NeedsRecovery, nanos(j.RecoverySince), j.CancelSent, j.LastUpdateSeq,
		r.rowID)
	if err != nil {
		return wrap(err, "save job %s (%s)", j.ID, j.Action)
	}
	w.dirty[j.JobRequestID] = true
	return nil
}

// clearLease drops a job's lease.
func clearLease(j *store.Job) {
	j.LeaseID, j.LeaseAgent, j.LeaseExpiresAt = "", "", time.Time{}
}

// failedDependants selects a backend's pending jobs that wait on a failed
// job.
const failedDependants = `WHERE j.backend_id = ? AND j.state = 'pending' AND EXISTS (
	SELECT 1 FROM job_dependencies d JOIN jobs f ON f.identifier = d.waits_for
	WHERE d.job_id = j.id AND f.state = 'failed')`

// failDependants fails, transitively, the backend's pending jobs whose
// dependencies failed (dependency_failed).
func (w *wtx) failDependants(backendID int64, now time.Time) error {
	for {
		// Look without locking first: usually there is nothing to do.
		var n int
		if err := w.queryRow(w.ctx, `SELECT count(*) FROM jobs j `+failedDependants, backendID).Scan(&n); err != nil {
			return wrap(err, "find jobs whose dependencies failed")
		}
		if n == 0 {
			return nil
		}
		rows, err := w.jobs(failedDependants+` ORDER BY j.id`+w.d.ForUpdate, backendID)
		if err != nil {
			return wrap(err, "find jobs whose dependencies failed")
		}
		if len(rows) == 0 {
			return nil
		}
		for _, r := range rows {
			r.SetCode(haven.StatusDependencyFailed, "", now)
			clearLease(r.Job)
			if err := w.saveJob(r); err != nil {
				return err
			}
		}
	}
}

// Poll hands the backend's agent its next task (see store.Store.Poll).
//
// In order, in one write transaction: pending jobs whose dependencies
// failed become dependency_failed (transitively); a leased job cancelled
// since its claim gives a cancel task (once: cancel_sent); a job needing
// recovery gives a recover task with a new lease for the same attempt;
// then, unless the backend is paused (its pending jobs then show paused),
// the next claimable job that fits cap gives a run task: pending, not
// cancelled, every job it waits on succeeded, not requires_db while the
// backend is in DB maintenance; workspaces with fewer running jobs first,
// then requires_db jobs, then by created_at and id. A requires_db job
// needs cap.DBJobs > 0, any other cap.Jobs > 0. The claim increments the
// attempt, sets a new lease (expiring at now+ttl), code initiated and
// resets the update sequence.
func (s *Store) Poll(ctx context.Context, backendID int64, agentID string, cap store.Capacity, now time.Time, ttl time.Duration) (*store.Task, error) {
	now = now.UTC()
	var task *store.Task
	err := s.write(ctx, func(w *wtx) error {
		task = nil
		var paused, dbMaintenance bool
		err := w.queryRow(ctx, `SELECT is_paused, db_maintenance FROM backends WHERE id = ?`, backendID).Scan(&paused, &dbMaintenance)
		if err != nil {
			return notFound(err, "poll: no backend with id %d", backendID)
		}
		if err := w.failDependants(backendID, now); err != nil {
			return err
		}

		rows, err := w.jobs(`WHERE j.backend_id = ? AND j.cancelled AND j.state = 'running' AND j.lease_id <> '' AND NOT j.cancel_sent
			ORDER BY j.id LIMIT 1`+w.d.SkipLocked, backendID)
		if err != nil {
			return wrap(err, "poll: find cancelled jobs")
		}
		if len(rows) > 0 {
			r := rows[0]
			r.CancelSent = true
			task = &store.Task{Kind: store.TaskCancel, Job: r.Job}
			return w.saveJob(r)
		}

		rows, err = w.jobs(`WHERE j.backend_id = ? AND j.state = 'running' AND j.needs_recovery ORDER BY j.recovery_since, j.id LIMIT 1`+w.d.SkipLocked, backendID)
		if err != nil {
			return wrap(err, "poll: find jobs to recover")
		}
		if len(rows) > 0 {
			r := rows[0]
			r.LeaseID, r.LeaseAgent, r.LeaseExpiresAt = newLeaseID(), agentID, now.Add(ttl)
			r.NeedsRecovery = false
			task = &store.Task{Kind: store.TaskRecover, Job: r.Job}
			return w.saveJob(r)
		}

		if paused {
			return w.setPendingCodes(`j.status_code <> 'paused'`, backendID, haven.StatusPaused, now)
		}
		if err := w.setPendingCodes(`j.status_code = 'paused'`, backendID, haven.StatusCreated, now); err != nil {
			return err
		}
		allowDB, allowOther := cap.DBJobs > 0 && !dbMaintenance, cap.Jobs > 0
		var fits string
		switch {
		case allowDB && allowOther:
			fits = ``
		case allowDB:
			fits = ` AND j.requires_db`
		case allowOther:
			fits = ` AND NOT j.requires_db`
		default:
			return nil
		}
		rows, err = w.jobs(`WHERE j.backend_id = ? AND j.state = 'pending' AND NOT j.cancelled`+fits+`
			AND NOT EXISTS (SELECT 1 FROM job_dependencies d LEFT JOIN jobs dj ON dj.identifier = d.waits_for
				WHERE d.job_id = j.id AND (dj.state IS NULL OR dj.state <> 'succeeded'))
			ORDER BY (SELECT count(*) FROM jobs rj WHERE rj.workspace_id = j.workspace_id AND rj.backend_id = j.backend_id AND rj.state = 'running'),
				j.requires_db DESC, j.created_at, j.id
			LIMIT 1`+w.d.SkipLocked, backendID)
		if err != nil {
			return wrap(err, "poll: find the next job")
		}
		if len(rows) == 0 {
			return nil
		}
		r := rows[0]
		r.Attempt++
		r.LeaseID, r.LeaseAgent, r.LeaseExpiresAt = newLeaseID(), agentID, now.Add(ttl)
		r.NeedsRecovery, r.RecoverySince, r.CancelSent, r.LastUpdateSeq = false, time.Time{}, false, 0
		r.SetCode(haven.StatusInitiated, "", now)
		task = &store.Task{Kind: store.TaskRun, Job: r.Job}
		return w.saveJob(r)
	})
	if err != nil {
		return nil, err
	}
	return task, nil
}

// setPendingCodes moves the backend's pending, uncancelled jobs matching
// cond to code.
func (w *wtx) setPendingCodes(cond string, backendID int64, code haven.StatusCode, now time.Time) error {
	rows, err := w.jobs(`WHERE j.backend_id = ? AND j.state = 'pending' AND NOT j.cancelled AND `+cond+` ORDER BY j.id`+w.d.ForUpdate, backendID)
	if err != nil {
		return wrap(err, "poll: set %s", code)
	}
	for _, r := range rows {
		r.SetCode(code, "", now)
		if err := w.saveJob(r); err != nil {
			return err
		}
	}
	return nil
}

// leased returns the job holding a lease of the backend for agentID, or
// ErrLeaseLost.
func (w *wtx) leased(backendID int64, leaseID, agentID string) (row, error) {
	if leaseID == "" {
		return row{}, store.ErrLeaseLost
	}
	rows, err := w.jobs(`WHERE j.lease_id = ? AND j.lease_id <> '' AND j.backend_id = ?`+w.d.ForUpdate, leaseID, backendID)
	if err != nil {
		return row{}, wrap(err, "find lease")
	}
	if len(rows) == 0 || rows[0].LeaseAgent != agentID {
		return row{}, store.ErrLeaseLost
	}
	return rows[0], nil
}

// ExtendLease renews a lease for the agent holding it until now+ttl;
// cancel reports whether the user has cancelled the job. A lease that
// has lapsed but that Reap has not yet taken back can still be extended
// (the agent was late, not gone); one Reap took back, released or
// replaced by a new claim gives ErrLeaseLost.
func (s *Store) ExtendLease(ctx context.Context, backendID int64, leaseID, agentID string, now time.Time, ttl time.Duration) (time.Time, bool, error) {
	var (
		expires time.Time
		cancel  bool
	)
	err := s.write(ctx, func(w *wtx) error {
		r, err := w.leased(backendID, leaseID, agentID)
		if err != nil {
			return err
		}
		expires, cancel = now.Add(ttl).UTC(), r.Cancelled
		_, err = w.exec(ctx, `UPDATE jobs SET lease_expires_at = ? WHERE id = ?`, nanos(expires), r.rowID)
		return wrap(err, "extend lease of job %s", r.ID)
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return expires, cancel, nil
}

// ReleaseLease gives a claimed job back to the queue (pending,
// waiting_on_new_task, started_at cleared); its next claim is a new
// attempt. A job the user cancelled meanwhile becomes cancelled_by_user
// instead.
func (s *Store) ReleaseLease(ctx context.Context, backendID int64, leaseID, agentID string, now time.Time) error {
	now = now.UTC()
	return s.write(ctx, func(w *wtx) error {
		r, err := w.leased(backendID, leaseID, agentID)
		if err != nil {
			return err
		}
		clearLease(r.Job)
		if r.Cancelled {
			r.SetCode(haven.StatusCancelledByUser, "", now)
			if err := w.saveJob(r); err != nil {
				return err
			}
			return w.failDependants(backendID, now)
		}
		r.SetCode(haven.StatusWaitingOnNewTask, "", now)
		return w.saveJob(r)
	})
}

// ApplyUpdate applies an agent's status update to a job of its backend
// (spec §7.5):
//   - no such job on this backend: ENOTFOUND;
//   - an attempt older than the job's, or an update for a job that is
//     back in the queue (its attempt ended): ErrSuperseded;
//   - a code agents may not send: EINVALID;
//   - a job already final, or a seq not above the last applied: applied
//     false and nothing changes;
//   - otherwise the code is applied as haven.Job.SetCode does (started_at
//     and completed_at from the update when given), with the message (the
//     code's own when empty), metrics and exit code; seq is stored. A final
//     code ends the lease and recovery and fails the job's dependants when
//     it failed; waiting_on_new_task puts the job back in the queue (or
//     cancels it, when the user has cancelled it); any other code renews
//     the lease until now+ttl. A late update for a job waiting for recovery
//     (its lease lapsed) is accepted; only a final one ends the recovery,
//     since without a lease the job still needs a recover task.
//
// The request's status is re-derived.
func (s *Store) ApplyUpdate(ctx context.Context, backendID int64, identifier string, u store.Update, now time.Time, ttl time.Duration) (bool, error) {
	now = now.UTC()
	applied := false
	err := s.write(ctx, func(w *wtx) error {
		applied = false
		rows, err := w.jobs(`WHERE j.identifier = ? AND j.backend_id = ?`+w.d.ForUpdate, identifier, backendID)
		if err != nil {
			return wrap(err, "update job %s", identifier)
		}
		if len(rows) == 0 {
			return haven.Errorf(haven.ENOTFOUND, "update job %s: no such job on this backend", identifier)
		}
		r := rows[0]
		if u.Attempt < r.Attempt {
			return store.ErrSuperseded
		}
		if u.Attempt > r.Attempt {
			return haven.Errorf(haven.EINVALID, "update job %s: attempt %d was never handed out (the job is at attempt %d)", identifier, u.Attempt, r.Attempt)
		}
		if !store.AgentMayReport(u.StatusCode) {
			return haven.Errorf(haven.EINVALID, "update job %s: %q is not a status code an agent may report", identifier, u.StatusCode)
		}
		if r.StatusCode.IsFinal() {
			return nil
		}
		if r.State == haven.StatePending {
			return store.ErrSuperseded
		}
		if u.Seq <= r.LastUpdateSeq {
			return nil
		}
		code := u.StatusCode
		msg := u.StatusMessage
		if code == haven.StatusWaitingOnNewTask && r.Cancelled {
			code, msg = haven.StatusCancelledByUser, ""
		}
		r.SetCode(code, msg, now)
		if !u.StartedAt.IsZero() && (code.IsRunning() || code.IsFinal()) {
			r.StartedAt = u.StartedAt.UTC()
		}
		if !u.CompletedAt.IsZero() && code.IsFinal() {
			r.CompletedAt = u.CompletedAt.UTC()
		}
		if len(u.Metrics) > 0 {
			r.Metrics = u.Metrics
		}
		if u.ExitCode != nil {
			e := *u.ExitCode
			r.ExitCode = &e
		}
		r.LastUpdateSeq = u.Seq
		switch {
		case code.IsFinal():
			clearLease(r.Job)
			r.NeedsRecovery = false
		case code.IsReset():
			clearLease(r.Job)
			r.NeedsRecovery, r.RecoverySince = false, time.Time{}
		case r.LeaseID != "":
			r.LeaseExpiresAt = now.Add(ttl)
		}
		if err := w.saveJob(r); err != nil {
			return err
		}
		applied = true
		if r.State == haven.StateFailed {
			return w.failDependants(backendID, now)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return applied, nil
}

// Reap handles expired leases (spec §7.6): a job whose lease expired
// before now goes back to the queue (waiting_on_new_task) when its last
// code was initiated, preparing or prepared (or becomes cancelled_by_user
// when the user cancelled it), and otherwise needs recovery; a job that
// has needed recovery for longer than deadline fails with internal_error
// and RecoveryFailedMessage. It returns how many jobs it changed.
func (s *Store) Reap(ctx context.Context, now time.Time, deadline time.Duration) (int, error) {
	now = now.UTC()
	changed := 0
	err := s.write(ctx, func(w *wtx) error {
		changed = 0
		failedOn := map[int64]bool{}
		rows, err := w.jobs(`WHERE j.lease_id <> '' AND j.lease_expires_at < ? ORDER BY j.lease_expires_at, j.id`+w.d.SkipLocked, nanos(now))
		if err != nil {
			return wrap(err, "reap expired leases")
		}
		for _, r := range rows {
			clearLease(r.Job)
			switch r.StatusCode {
			case haven.StatusInitiated, haven.StatusPreparing, haven.StatusPrepared:
				if r.Cancelled {
					r.SetCode(haven.StatusCancelledByUser, "", now)
					failedOn[r.BackendID] = true
				} else {
					r.SetCode(haven.StatusWaitingOnNewTask, "", now)
				}
			default:
				r.NeedsRecovery = true
				if r.RecoverySince.IsZero() {
					r.RecoverySince = now
				}
			}
			if err := w.saveJob(r); err != nil {
				return err
			}
			changed++
		}
		rows, err = w.jobs(`WHERE j.needs_recovery AND j.recovery_since < ? ORDER BY j.recovery_since, j.id`+w.d.SkipLocked, nanos(now.Add(-deadline)))
		if err != nil {
			return wrap(err, "reap jobs past the recovery deadline")
		}
		for _, r := range rows {
			r.NeedsRecovery = false
			clearLease(r.Job)
			r.SetCode(haven.StatusInternalError, RecoveryFailedMessage, now)
			if err := w.saveJob(r); err != nil {
				return err
			}
			failedOn[r.BackendID] = true
			changed++
		}
		for b := range failedOn {
			if err := w.failDependants(b, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return changed, nil
}

// QueueCounts counts a backend's pending and running jobs.
func (s *Store) QueueCounts(ctx context.Context, backendID int64) (pending, running int, err error) {
	err = s.read().queryRow(ctx, `SELECT
			COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0)
		FROM jobs WHERE backend_id = ? AND state IN ('pending', 'running')`, backendID).Scan(&pending, &running)
	return pending, running, wrap(err, "count the queue of backend %d", backendID)
}

// The audit log.

// AppendAudit appends an event, setting ID and (when zero) CreatedAt.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if e.Type == "" {
		return haven.Errorf(haven.EINVALID, "append audit event: the type is empty")
	}
	extra, err := jsonText(e.Extra)
	if err != nil {
		return err
	}
	created := orNow(e.CreatedAt)
	var id int64
	err = s.write(ctx, func(w *wtx) error {
		return w.queryRow(ctx, `INSERT INTO audit_events (type, user_id, target, extra, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			e.Type, nullID(e.UserID), e.Target, extra, nanos(created)).Scan(&id)
	})
	if err != nil {
		return s.constraintError(err, "append audit event "+e.Type, nil)
	}
	e.ID, e.CreatedAt = id, created
	return nil
}

// AuditEvents returns events about target ("" for all), newest first
// (by created_at, then id); limit 0 or less means all.
func (s *Store) AuditEvents(ctx context.Context, target string, limit int) ([]*store.AuditEvent, error) {
	q := `SELECT ` + auditColumns + ` FROM audit_events`
	var args []any
	if target != "" {
		q += ` WHERE target = ?`
		args = append(args, target)
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	out, err := queryAll(ctx, s.read(), scanAudit, q, args...)
	return out, wrap(err, "read the audit log")
}
