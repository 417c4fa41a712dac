package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// jsonText encodes a list or map as JSON text; nil lists are "[]" and nil
// maps "{}".
func jsonText[T any](v T) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", haven.Errorf(haven.EINVALID, "cannot store %T: %v", v, err)
	}
	s := string(b)
	if s == "null" {
		var zero T
		switch any(zero).(type) {
		case map[string]string, map[string]float64:
			return "{}", nil
		}
		return "[]", nil
	}
	return s, nil
}

// decodeList decodes a JSON list; an empty list is nil.
func decodeList[T any](s string, dst *[]T) error {
	if s == "" {
		*dst = nil
		return nil
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return err
	}
	if len(*dst) == 0 {
		*dst = nil
	}
	return nil
}

// decodeMap decodes a JSON object; an empty object is nil.
func decodeMap[V any](s string, dst *map[string]V) error {
	if s == "" {
		*dst = nil
		return nil
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return err
	}
	if len(*dst) == 0 {
		*dst = nil
	}
	return nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// Users.

const userColumns = `id, username, email, fullname, password_hash, roles, api_token_hash, api_token_expires, created_at`

func scanUser(sc scanner) (*store.User, error) {
	var (
		u                store.User
		roles            string
		expires, created int64
	)
	if err := sc.Scan(&u.ID, &u.Username, &u.Email, &u.Fullname, &u.PasswordHash, &roles, &u.APITokenHash, &expires, &created); err != nil {
		return nil, err
	}
	if err := decodeList(roles, &u.Roles); err != nil {
		return nil, fmt.Errorf("user %d: roles: %w", u.ID, err)
	}
	u.APITokenExpires, u.CreatedAt = fromNanos(expires), fromNanos(created)
	return &u, nil
}

const orgColumns = `id, name, slug, description, created_at`

func scanOrg(sc scanner) (*store.Org, error) {
	var (
		o       store.Org
		created int64
	)
	if err := sc.Scan(&o.ID, &o.Name, &o.Slug, &o.Description, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = fromNanos(created)
	return &o, nil
}

const projectColumns = `id, name, slug, number, org_id, created_at`

func scanProject(sc scanner) (*store.Project, error) {
	var (
		p       store.Project
		org     sql.NullInt64
		created int64
	)
	if err := sc.Scan(&p.ID, &p.Name, &p.Slug, &p.Number, &org, &created); err != nil {
		return nil, err
	}
	p.OrgID, p.CreatedAt = org.Int64, fromNanos(created)
	return &p, nil
}

const workspaceColumns = `id, name, project_id, repo_url, branch, is_archived, should_notify, purpose, created_by, created_at`

func scanWorkspace(sc scanner) (*store.Workspace, error) {
	var (
		w       store.Workspace
		by      sql.NullInt64
		created int64
	)
	if err := sc.Scan(&w.ID, &w.Name, &w.ProjectID, &w.RepoURL, &w.Branch, &w.IsArchived, &w.ShouldNotify, &w.Purpose, &by, &created); err != nil {
		return nil, err
	}
	w.CreatedBy, w.CreatedAt = by.Int64, fromNanos(created)
	return &w, nil
}

const backendColumns = `id, slug, name, agent_token_hash, airlock_token_hash, is_active, artificial_data, is_paused, db_maintenance, alert_timeout, last_seen_at, created_at`

func scanBackend(sc scanner) (*store.Backend, error) {
	var (
		b                      store.Backend
		timeout, seen, created int64
	)
	if err := sc.Scan(&b.ID, &b.Slug, &b.Name, &b.AgentTokenHash, &b.AirlockTokenHash, &b.IsActive, &b.ArtificialData, &b.IsPaused, &b.DBMaintenance, &timeout, &seen, &created); err != nil {
		return nil, err
	}
	b.AlertTimeout, b.LastSeenAt, b.CreatedAt = time.Duration(timeout), fromNanos(seen), fromNanos(created)
	return &b, nil
}

const jobRequestColumns = `id, identifier, workspace_id, backend_id, requested_actions, cancelled_actions, force_run_dependencies,
	will_notify, sha, project_definition, codelists_ok, status, status_message, created_by, created_at`

func scanJobRequest(sc scanner) (*store.JobRequest, error) {
	var (
		jr                   store.JobRequest
		requested, cancelled string
		by                   sql.NullInt64
		created              int64
	)
	if err := sc.Scan(&jr.ID, &jr.Identifier, &jr.WorkspaceID, &jr.BackendID, &requested, &cancelled, &jr.ForceRunDependencies,
		&jr.WillNotify, &jr.SHA, &jr.ProjectDefinition, &jr.CodelistsOK, &jr.Status, &jr.StatusMessage, &by, &created); err != nil {
		return nil, err
	}
	if err := decodeList(requested, &jr.RequestedActions); err != nil {
		return nil, fmt.Errorf("job request %d: requested actions: %w", jr.ID, err)
	}
	if err := decodeList(cancelled, &jr.CancelledActions); err != nil {
		return nil, fmt.Errorf("job request %d: cancelled actions: %w", jr.ID, err)
	}
	jr.CreatedBy, jr.CreatedAt = by.Int64, fromNanos(created)
	return &jr, nil
}

// jobColumns are a job's columns, prefixed with j. so they can be selected
// from queries that join.
const jobColumns = `j.id, j.identifier, j.job_request_id, j.backend_id, j.request_identifier, j.workspace, j.action,
	j.state, j.status_code, j.status_message, j.cancelled, j.image, j.args, j.run_command, j.requires_db,
	j.output_spec, j.requires_outputs_from, j.wait_for_job_ids, j.outputs, j.exit_code, j.metrics,
	j.created_at, j.started_at, j.completed_at, j.updated_at, j.status_code_updated_at,
	j.attempt, j.lease_id, j.lease_agent, j.lease_expires_at, j.needs_recovery, j.recovery_since, j.cancel_sent, j.last_update_seq`

// row is a job as read, with its row id.
type row struct {
	*store.Job
	rowID int64
}

func scanJob(sc scanner) (row, error) {
	var (
		j                                           store.Job
		id                                          int64
		state, code                                 string
		args, spec, from, waitFor, outputs, metrics string
		exit                                        sql.NullInt64
		created, started, completed, updated        int64
		expires, recovery                           int64
	)
	if err := sc.Scan(&id, &j.ID, &j.JobRequestID, &j.BackendID, &j.RequestID, &j.Workspace, &j.Action,
		&state, &code, &j.StatusMessage, &j.Cancelled, &j.Image, &args, &j.RunCommand, &j.RequiresDB,
		&spec, &from, &waitFor, &outputs, &exit, &metrics,
		&created, &started, &completed, &updated, &j.StatusCodeUpdatedAt,
		&j.Attempt, &j.LeaseID, &j.LeaseAgent, &expires, &j.NeedsRecovery, &recovery, &j.CancelSent, &j.LastUpdateSeq); err != nil {
		return row{}, err
	}
	j.State, j.StatusCode = haven.State(state), haven.StatusCode(code)
	for _, f := range []struct {
		name string
		err  error
	}{
		{"args", decodeList(args, &j.Args)},
		{"output spec", decodeMap(spec, &j.OutputSpec)},
		{"requires outputs from", decodeList(from, &j.RequiresOutputsFrom)},
		{"wait for job ids", decodeList(waitFor, &j.WaitForJobIDs)},
		{"outputs", decodeMap(outputs, &j.Outputs)},
		{"metrics", decodeMap(metrics, &j.Metrics)},
	} {
		if f.err != nil {
			return row{}, fmt.Errorf("job %s: %s: %w", j.ID, f.name, f.err)
		}
	}
	if exit.Valid {
		e := int(exit.Int64)
		j.ExitCode = &e
	}
	j.CreatedAt, j.StartedAt, j.CompletedAt, j.UpdatedAt = fromNanos(created), fromNanos(started), fromNanos(completed), fromNanos(updated)
	j.LeaseExpiresAt, j.RecoverySince = fromNanos(expires), fromNanos(recovery)
	return row{&j, id}, nil
}

const auditColumns = `id, type, user_id, target, extra, created_at`

func scanAudit(sc scanner) (*store.AuditEvent, error) {
	var (
		e       store.AuditEvent
		user    sql.NullInt64
		extra   string
		created int64
	)
	if err := sc.Scan(&e.ID, &e.Type, &user, &e.Target, &extra, &created); err != nil {
		return nil, err
	}
	if err := decodeMap(extra, &e.Extra); err != nil {
		return nil, fmt.Errorf("audit event %d: %w", e.ID, err)
	}
	e.UserID, e.CreatedAt = user.Int64, fromNanos(created)
	return &e, nil
}

// queryAll runs a query and reads every row with scan.
func queryAll[T any](ctx context.Context, c conn, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
