// Package astore is Airlock's own database: release requests (the review
// state-machine aggregate plus per-file metadata), the append-only audit
// log and sign-in sessions, in one SQLite file.
//
// The business layer changes a request in one write transaction (Tx):
// load the request, apply a review action, Put the new request and Append
// the events, commit. Writes run one at a time; reads outside a
// transaction use a pool of read-only connections that WAL lets run
// alongside the writer.
package astore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// readers is the size of the read-only connection pool.
const readers = 4

// beginAttempts bounds how often Tx tries to take the write lock when
// another process holds it for longer than the busy timeout.
const beginAttempts = 5

// Store is an open Airlock database. It is safe for concurrent use.
type Store struct {
	w    *sql.DB // one connection; transactions BEGIN IMMEDIATE
	r    *sql.DB // read-only pool
	path string
	now  func() time.Time
}

// Option changes how Open sets up a Store.
type Option func(*Store)

// WithClock sets the clock used for times the caller leaves zero (a
// request's CreatedAt, an event's At) and for updated_at columns.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens (creating if needed) the Airlock database at path and brings
// its schema up to date. The path must name a file in an existing folder:
// the writer and the readers share it.
//
// The file is in WAL mode with synchronous=FULL, so a committed change
// (a vote, a release) survives a power loss.
func Open(ctx context.Context, file string, opts ...Option) (*Store, error) {
	switch {
	case file == "":
		return nil, haven.Errorf(haven.EINVALID, "open Airlock database: no file name given; set the Airlock database path")
	case file == ":memory:" || strings.HasPrefix(file, "file:"):
		return nil, haven.Errorf(haven.EINVALID, "open Airlock database %q: give the path of a file (Airlock's readers and writer share it)", file)
	}
	dir := filepath.Dir(file)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, haven.Errorf(haven.EINVALID, "open Airlock database %s: the folder %s does not exist; create it first", file, dir)
	}
	w, err := sql.Open("sqlite", sqlite.DSN(file, "_txlock=immediate",
		"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(20000)", "foreign_keys(1)"))
	if err != nil {
		return nil, fmt.Errorf("open Airlock database %s: %w", file, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := sqlite.Migrate(ctx, w, migrations, "migrations", "Airlock database", file); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", sqlite.DSN(file, "", "busy_timeout(20000)", "query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open Airlock database %s: %w", file, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open Airlock database %s: %w", file, err)
	}
	s := &Store{w: w, r: r, path: file, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return errors.Join(s.r.Close(), s.w.Close()) }

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) clock() time.Time { return s.now().UTC() }

// uniqueViolation reports a UNIQUE or PRIMARY KEY constraint failure.
func uniqueViolation(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// querier is what reads need: a transaction or the reader pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// timeLayout is RFC 3339 with a fixed nine-digit fraction, so that the
// text order of stored UTC times is their time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func formatOptTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func parseOptTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
