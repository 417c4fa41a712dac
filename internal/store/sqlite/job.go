package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/haven-tre/haven"
)

const jobColumns = `id, request_id, workspace, action, state, status_code, status_message, cancelled,
	image, args, run_command, requires_db, output_spec, requires_outputs_from, wait_for_job_ids,
	outputs, exit_code, created_at, started_at, completed_at, updated_at, status_code_updated_at`

// CreateJobs inserts new jobs in one transaction: all or none.
func (d *DB) CreateJobs(ctx context.Context, jobs []*haven.Job) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create jobs: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO jobs (`+jobColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("create jobs: %w", err)
	}
	defer stmt.Close()
	for _, j := range jobs {
		if _, err := stmt.ExecContext(ctx, jobValues(j)...); err != nil {
			return fmt.Errorf("create job %s (%s): %w", j.ID, j.Action, err)
		}
	}
	return tx.Commit()
}

// UpdateJob writes every mutable field of a job.
func (d *DB) UpdateJob(ctx context.Context, j *haven.Job) error {
	v := jobValues(j)
	res, err := d.db.ExecContext(ctx, `UPDATE jobs SET state=?, status_code=?, status_message=?, cancelled=?,
		outputs=?, exit_code=?, started_at=?, completed_at=?, updated_at=?, status_code_updated_at=? WHERE id=?`,
		v[4], v[5], v[6], v[7], v[15], v[16], v[18], v[19], v[20], v[21], j.ID)
	if err != nil {
		return fmt.Errorf("update job %s (%s): %w", j.ID, j.Action, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return haven.Errorf(haven.ENOTFOUND, "update job %s: no such job", j.ID)
	}
	return nil
}

// Job returns one job by id.
func (d *DB) Job(ctx context.Context, id string) (*haven.Job, error) {
	jobs, err := d.queryJobs(ctx, `WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, haven.Errorf(haven.ENOTFOUND, "no job %s", id)
	}
	return jobs[0], nil
}

// WorkspaceJobs returns every job of a workspace, oldest first.
func (d *DB) WorkspaceJobs(ctx context.Context, workspace string) ([]*haven.Job, error) {
	return d.queryJobs(ctx, `WHERE workspace = ? ORDER BY created_at, id`, workspace)
}

// ActiveJobs returns the pending and running jobs of a workspace, oldest
// first.
func (d *DB) ActiveJobs(ctx context.Context, workspace string) ([]*haven.Job, error) {
	return d.queryJobs(ctx, `WHERE workspace = ? AND state IN ('pending', 'running') ORDER BY created_at, id`, workspace)
}

// RequestJobs returns the jobs of one job request, oldest first.
func (d *DB) RequestJobs(ctx context.Context, requestID string) ([]*haven.Job, error) {
	return d.queryJobs(ctx, `WHERE request_id = ? ORDER BY created_at, id`, requestID)
}

func (d *DB) queryJobs(ctx context.Context, where string, args ...any) ([]*haven.Job, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("query jobs: %w", err)
	}
	defer rows.Close()
	var out []*haven.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func jobValues(j *haven.Job) []any {
	var exit any
	if j.ExitCode != nil {
		exit = *j.ExitCode
	}
	return []any{
		j.ID, j.RequestID, j.Workspace, j.Action, string(j.State), string(j.StatusCode), j.StatusMessage, boolInt(j.Cancelled),
		j.Image, mustJSON(j.Args), j.RunCommand, boolInt(j.RequiresDB), mustJSON(j.OutputSpec), mustJSON(j.RequiresOutputsFrom),
		mustJSON(j.WaitForJobIDs), mustJSON(j.Outputs), exit,
		nanos(j.CreatedAt), nanos(j.StartedAt), nanos(j.CompletedAt), nanos(j.UpdatedAt), j.StatusCodeUpdatedAt,
	}
}

func scanJob(rows *sql.Rows) (*haven.Job, error) {
	var (
		j                                              haven.Job
		state, code                                    string
		cancelled, requiresDB                          int
		args, spec, from, waitFor, outputs             string
		exit                                           sql.NullInt64
		created, started, completed, updated, codeTime int64
	)
	if err := rows.Scan(&j.ID, &j.RequestID, &j.Workspace, &j.Action, &state, &code, &j.StatusMessage, &cancelled,
		&j.Image, &args, &j.RunCommand, &requiresDB, &spec, &from, &waitFor, &outputs, &exit,
		&created, &started, &completed, &updated, &codeTime); err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	j.State, j.StatusCode = haven.State(state), haven.StatusCode(code)
	j.Cancelled, j.RequiresDB = cancelled != 0, requiresDB != 0
	for _, f := range []struct {
		src string
		dst any
	}{{args, &j.Args}, {spec, &j.OutputSpec}, {from, &j.RequiresOutputsFrom}, {waitFor, &j.WaitForJobIDs}, {outputs, &j.Outputs}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return nil, fmt.Errorf("read job %s: %w", j.ID, err)
		}
	}
	if exit.Valid {
		e := int(exit.Int64)
		j.ExitCode = &e
	}
	j.CreatedAt, j.StartedAt, j.CompletedAt, j.UpdatedAt = fromNanos(created), fromNanos(started), fromNanos(completed), fromNanos(updated)
	j.StatusCodeUpdatedAt = codeTime
	return &j, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only lists and maps of strings are stored; they always encode.
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
