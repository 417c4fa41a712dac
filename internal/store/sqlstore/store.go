// Package sqlstore implements store.Store once, on database/sql, for both
// of the job server's databases: internal/store/sqlite and
// internal/store/postgres open their database, apply their own migrations
// (the same tables in each database's types) and hand sqlstore a Dialect.
//
// Storage conventions, shared by both schemas: lists and maps are JSON
// text (an empty one reads back as nil), times are integer nanoseconds
// since the epoch in UTC with 0 for unset, booleans are booleans (0/1 in
// SQLite), and a user reference of 0 is stored as NULL ("no user").
//
// Every change runs in one write transaction (Store.write): the jobs it
// changes are locked first, then the job requests whose status it
// re-derives, in id order, so concurrent transactions on PostgreSQL lock
// rows in the same order. SQLite serialises all write transactions on its
// one writer connection.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// Store is a store.Store on a database/sql database.
type Store struct {
	w, r    *sql.DB // writes; reads (may be the same pool)
	d       Dialect
	closers []func() error
	log     *slog.Logger
	stmts   sync.Map // query → *sql.Stmt on r, when the dialect prepares reads
}

var _ store.Store = (*Store)(nil)

// New returns a Store writing through w and reading through r (r may be
// w). Close closes both, then runs closers.
func New(w, r *sql.DB, d Dialect, closers ...func() error) *Store {
	return &Store{w: w, r: r, d: d, closers: closers, log: slog.Default()}
}

// Close closes the database.
func (s *Store) Close() error {
	var errs []error
	s.stmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	errs = append(errs, s.w.Close())
	if s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Writer is the pool write transactions run on (for tests and tools).
func (s *Store) Writer() *sql.DB { return s.w }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs rebound queries on a querier.
type conn struct {
	q querier
	d *Dialect
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.d.rebind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.d.rebind(query), args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.d.rebind(query), args...)
}

// read is a conn on the read pool.
func (s *Store) read() conn {
	if s.d.PrepareReads {
		return conn{prepared{s}, &s.d}
	}
	return conn{s.r, &s.d}
}

// prepared runs queries on the read pool through prepared statements kept
// for the Store's lifetime (database/sql prepares each on every connection
// it is used on), so a page's queries are not compiled on every request.
type prepared struct{ s *Store }

func (p prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := p.s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := p.s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (p prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return p.s.r.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// wtx is one write transaction. Requests whose jobs it changed are marked
// dirty and have their status re-derived just before commit.
type wtx struct {
	conn
	s     *Store
	ctx   context.Context
	dirty map[int64]bool
}

// maxAttempts bounds how often a transaction is retried after a deadlock
// or serialization failure.
const maxAttempts = 5

// write runs fn in a write transaction and commits it, re-deriving the
// status of every request marked dirty first. A transaction that failed
// with a retryable error is run again from the start.
func (s *Store) write(ctx context.Context, fn func(w *wtx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.writeOnce(ctx, fn)
		if err == nil || s.d.Retryable == nil || !s.d.Retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		s.log.Debug("retrying a transaction after a conflict", "database", s.d.Name, "attempt", attempt, "err", err)
	}
}

func (s *Store) writeOnce(ctx context.Context, fn func(w *wtx) error) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin transaction: %w", s.d.Name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	w := &wtx{conn: conn{tx, &s.d}, s: s, ctx: ctx, dirty: map[int64]bool{}}
	if err := fn(w); err != nil {
		return err
	}
	if err := w.rederive(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, err)
	}
	return nil
}

// rederive re-derives and saves the status of every dirty request, in id
// order.
func (w *wtx) rederive() error {
	ids := make([]int64, 0, len(w.dirty))
	for id := range w.dirty {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var stored, msg string
		err := w.queryRow(w.ctx, `SELECT status, status_message FROM job_requests WHERE id = ?`+w.d.ForUpdate, id).Scan(&stored, &msg)
		if err != nil {
			return fmt.Errorf("job request %d: %w", id, err)
		}
		rows, err := w.query(w.ctx, `SELECT state FROM jobs WHERE job_request_id = ?`, id)
		if err != nil {
			return fmt.Errorf("job request %d: %w", id, err)
		}
		var jobs []*store.Job
		for rows.Next() {
			j := &store.Job{}
			if err := rows.Scan(&j.State); err != nil {
				rows.Close()
				return fmt.Errorf("job request %d: %w", id, err)
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("job request %d: %w", id, err)
		}
		status, message := store.DeriveStatus(stored, jobs)
		if message == "" {
			message = msg
		}
		if status == stored && message == msg {
			continue
		}
		if _, err := w.exec(w.ctx, `UPDATE job_requests SET status = ?, status_message = ? WHERE id = ?`, status, message, id); err != nil {
			return fmt.Errorf("job request %d: save status: %w", id, err)
		}
	}
	clear(w.dirty)
	return nil
}

// constraintError turns a constraint violation into a *haven.Error
// (ECONFLICT for a duplicate, EINVALID or ENOTFOUND otherwise) using
// describe, which is given the violation and the database's name for the
// constraint and returns the message; other errors are wrapped with what.
func (s *Store) constraintError(err error, what string, describe func(v Violation, name string) *haven.Error) error {
	if err == nil {
		return nil
	}
	var he *haven.Error
	if errors.As(err, &he) {
		return err
	}
	if s.d.Classify != nil {
		if v, name := s.d.Classify(err); v != NoViolation {
			if describe != nil {
				if e := describe(v, name); e != nil {
					return e
				}
			}
			switch v {
			case UniqueViolation:
				return &haven.Error{Code: haven.ECONFLICT, Message: what + ": it already exists", Err: err}
			case ForeignKeyViolation:
				return &haven.Error{Code: haven.ENOTFOUND, Message: what + ": a row it refers to does not exist", Err: err}
			case AppendOnlyViolation:
				return &haven.Error{Code: haven.EFORBIDDEN, Message: what + ": the audit log is append-only", Err: err}
			default:
				return &haven.Error{Code: haven.EINVALID, Message: what + ": a value is not allowed", Err: err}
			}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// wrap adds context to a database error.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var he *haven.Error
	if errors.As(err, &he) {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// notFound reports sql.ErrNoRows as ENOTFOUND with message.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return haven.Errorf(haven.ENOTFOUND, format, args...)
	}
	return wrap(err, format, args...)
}

// mustAffect reports ENOTFOUND when an UPDATE or DELETE changed no row.
func mustAffect(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return wrap(err, format, args...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, format, args...)
	}
	if n == 0 {
		return haven.Errorf(haven.ENOTFOUND, format, args...)
	}
	return nil
}

// nanos is a time in nanoseconds since the epoch, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the UTC time of nanoseconds since the epoch; 0 is the zero
// time.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// utcNow is the current time, UTC.
func utcNow() time.Time { return time.Now().UTC() }

// orNow is t in UTC, or now when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return utcNow()
	}
	return t.UTC()
}

// nullID stores a user reference: 0 is NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
