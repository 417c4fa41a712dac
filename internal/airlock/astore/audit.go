package astore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/review"
)

// Append adds events to the audit log, in order. Every event needs a type
// and an integer review_turn in Extra (EINVALID otherwise, and nothing is
// logged); a zero At is set to now. The log is append-only: the database
// refuses every change to a logged event.
func (tx *Tx) Append(events ...review.Event) error {
	if err := tx.check(); err != nil {
		return err
	}
	for i, e := range events {
		if err := validEvent(e); err != nil {
			return haven.Errorf(haven.EINVALID, "audit event %d of %d (%s on request %q): %s", i+1, len(events), e.Type, e.Request, err)
		}
	}
	for _, e := range events {
		extra, err := json.Marshal(e.Extra)
		if err != nil {
			return fmt.Errorf("audit event %s: %w", e.Type, err)
		}
		at := e.At
		if at.IsZero() {
			at = tx.s.clock()
		}
		if _, err := tx.tx.ExecContext(tx.ctx, `INSERT INTO audit_log (type, user, workspace, request, path, extra, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			string(e.Type), e.User, e.Workspace, e.Request, e.Path, string(extra), formatTime(at)); err != nil {
			return fmt.Errorf("audit event %s on request %q: %w", e.Type, e.Request, err)
		}
	}
	return nil
}

func validEvent(e review.Event) error {
	switch {
	case e.Type == "":
		return fmt.Errorf("it has no type")
	case e.User == "":
		return fmt.Errorf("it has no user")
	}
	if _, ok := e.Extra["review_turn"]; !ok {
		return fmt.Errorf("its extra data has no review_turn; every Airlock audit event records the request's review turn")
	}
	if _, ok := e.ReviewTurn(); !ok {
		return fmt.Errorf("its review_turn %q is not an integer", e.Extra["review_turn"])
	}
	return nil
}

// AuditFilter selects audit events; empty fields match everything.
type AuditFilter struct {
	Request, Workspace, User string
	// Limit keeps only the latest Limit events (still returned oldest
	// first); 0 or less keeps all.
	Limit int
}

// Audit returns the audit events matching f, oldest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]review.Event, error) {
	var (
		where []string
		args  []any
	)
	for _, c := range []struct{ col, v string }{{"request", f.Request}, {"workspace", f.Workspace}, {"user", f.User}} {
		if c.v != "" {
			where = append(where, c.col+` = ?`)
			args = append(args, c.v)
		}
	}
	query := `SELECT id, type, user, workspace, request, path, extra, created_at FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY id DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read Airlock audit log: %w", err)
	}
	defer rows.Close()
	var out []review.Event
	for rows.Next() {
		var (
			id             int64
			typ, extra, at string
			e              review.Event
		)
		if err := rows.Scan(&id, &typ, &e.User, &e.Workspace, &e.Request, &e.Path, &extra, &at); err != nil {
			return nil, fmt.Errorf("read Airlock audit log: %w", err)
		}
		e.Type = review.EventType(typ)
		if err := json.Unmarshal([]byte(extra), &e.Extra); err != nil {
			return nil, fmt.Errorf("read Airlock audit log: event %d: %w", id, err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read Airlock audit log: event %d: %w", id, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read Airlock audit log: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
