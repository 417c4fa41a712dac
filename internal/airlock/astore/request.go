package astore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

// Record is one release request as stored: the state-machine aggregate
// plus what the business layer keeps per file.
type Record struct {
	// Request is the aggregate (ID, Workspace, Author, CoAuthors, Status,
	// groups, files, votes, comments…), stored as JSON.
	Request *review.Request
	// Files holds the metadata of every file ever on the request, by file
	// name (the workspace-relative path). Never nil on a loaded Record.
	Files map[string]*FileMeta
	// CreatedAt is when the request was first stored; Put fills it in
	// when it is zero.
	CreatedAt time.Time
	// Version grows by one on every Put; 0 means not stored yet.
	Version int64
}

// FileMeta is what Airlock keeps about one file of a request beyond the
// state machine's view of it.
type FileMeta struct {
	Name    string    `json:"name"`
	SHA256  string    `json:"sha256"`   // the frozen copy's hash (the manifest content_hash it matched)
	Size    int64     `json:"size"`     // bytes of the frozen copy
	ModTime time.Time `json:"mod_time"` // the workspace file's mtime when frozen
	// Report is the automated disclosure check's result on the frozen
	// bytes (nil for SUPPORTING files never checked). It is stored
	// compacted.
	Report         json.RawMessage `json:"report,omitempty"`
	CheckerVersion string          `json:"checker_version,omitempty"`
	// ReleasedAt and ReleasedBy are set when the request is released
	// (APPROVED).
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	ReleasedBy string     `json:"released_by,omitempty"`
	// UploadedAt is set when the server confirmed the upload.
	UploadedAt *time.Time `json:"uploaded_at,omitempty"`
}

// storedRecord is the JSON document in requests.data.
type storedRecord struct {
	Request *review.Request      `json:"request"`
	Files   map[string]*FileMeta `json:"files"`
}

// Tx is one write transaction. It is valid only inside the function given
// to Store.Tx and must not be used from other goroutines.
type Tx struct {
	s    *Store
	ctx  context.Context
	tx   *sql.Tx
	done bool
}

// Tx runs fn in one write transaction (BEGIN IMMEDIATE) and commits it
// when fn returns nil; an error from fn, or a panic, rolls it back and is
// returned as is. Write transactions run one at a time, so a request
// loaded in fn cannot change before fn's Put.
//
// fn runs at most once. When another process holds the write lock for
// longer than the busy timeout, taking the lock is retried a few times
// before fn runs. fn must not call the Store's own write methods (the
// sessions); they would wait for this transaction forever.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	var (
		sqlTx *sql.Tx
		err   error
	)
	for attempt := 1; ; attempt++ {
		sqlTx, err = s.w.BeginTx(ctx, nil)
		if err == nil || !sqlite.IsBusy(err) || attempt == beginAttempts || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("Airlock database %s: begin write transaction: %w", s.path, err)
	}
	tx := &Tx{s: s, ctx: ctx, tx: sqlTx}
	defer func() {
		tx.done = true
		sqlTx.Rollback() // a no-op after Commit
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("Airlock database %s: commit: %w", s.path, err)
	}
	return nil
}

func (tx *Tx) check() error {
	if tx.done {
		return haven.Errorf(haven.EINTERNAL, "Airlock database: a transaction was used after it ended; use tx only inside the function given to Store.Tx")
	}
	return nil
}

// Request returns the request with this id (ENOTFOUND when there is none).
func (tx *Tx) Request(id string) (*Record, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	return getRequest(tx.ctx, tx.tx, id)
}

// ActiveRequests returns the active requests of workspace (state not owned
// by SYSTEM) where user is the author or a co-author, newest first.
func (tx *Tx) ActiveRequests(workspace, user string) ([]*Record, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	return listRequests(tx.ctx, tx.tx, Filter{Workspace: workspace, User: user, activeOnly: true})
}

// Requests returns the requests matching f, newest first, as Store.Requests
// does but inside the transaction.
func (tx *Tx) Requests(f Filter) ([]*Record, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	return listRequests(tx.ctx, tx.tx, f)
}

// ReleasedHashes is Store.ReleasedHashes inside the transaction.
func (tx *Tx) ReleasedHashes(workspace string) (map[string]bool, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	return releasedHashes(tx.ctx, tx.tx, workspace)
}

// Put inserts rec (Version 0) or updates it (Version equal to the stored
// version; ECONFLICT otherwise, meaning someone changed it since it was
// loaded). On success rec.Version is the new stored version and a zero
// rec.CreatedAt is filled in. A second active request of the same author
// in the same workspace is refused with ECONFLICT.
//
// If the transaction later rolls back, rec keeps the new version: load the
// request again before retrying.
func (tx *Tx) Put(rec *Record) error {
	if err := tx.check(); err != nil {
		return err
	}
	if err := validRecord(rec); err != nil {
		return err
	}
	r := rec.Request
	ctx := tx.ctx
	var stored int64
	err := tx.tx.QueryRowContext(ctx, `SELECT version FROM requests WHERE id = ?`, r.ID).Scan(&stored)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("save release request %s: %w", r.ID, err)
	case !exists && rec.Version != 0:
		return haven.Errorf(haven.ECONFLICT, "save release request %s: it is not stored, but the record says version %d; load it again", r.ID, rec.Version)
	case exists && rec.Version == 0:
		return haven.Errorf(haven.ECONFLICT, "save release request %s: a release request with this id already exists; load it instead of creating it", r.ID)
	case exists && rec.Version != stored:
		return haven.Errorf(haven.ECONFLICT, "save release request %s: it was changed by someone else since it was loaded (version %d, now %d); reload the page and try again", r.ID, rec.Version, stored)
	}
	active := r.Status.Active()
	if active {
		var other string
		err := tx.tx.QueryRowContext(ctx, `SELECT id FROM requests WHERE workspace = ? AND author = ? AND active = 1 AND id <> ?`,
			r.Workspace, r.Author, r.ID).Scan(&other)
		switch {
		case err == nil:
			return activeConflict(r, other)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("save release request %s: %w", r.ID, err)
		}
	}
	data, err := json.Marshal(storedRecord{Request: r, Files: rec.Files})
	if err != nil {
		return haven.Errorf(haven.EINVALID, "save release request %s: it cannot be encoded (is every file's disclosure report valid JSON?): %v", r.ID, err)
	}
	now := tx.s.clock()
	created := rec.CreatedAt
	if created.IsZero() {
		created = now
	}
	if exists {
		res, err := tx.tx.ExecContext(ctx, `UPDATE requests SET workspace = ?, author = ?, status = ?, active = ?, version = version + 1, updated_at = ?, data = ?
			WHERE id = ? AND version = ?`,
			r.Workspace, r.Author, string(r.Status), active, formatTime(now), string(data), r.ID, rec.Version)
		if err != nil {
			return putError(r, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return haven.Errorf(haven.ECONFLICT, "save release request %s: it was changed by someone else since it was loaded; reload the page and try again", r.ID)
		}
	} else {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO requests (id, workspace, author, status, active, version, created_at, updated_at, data)
			VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			r.ID, r.Workspace, r.Author, string(r.Status), active, formatTime(created), formatTime(now), string(data)); err != nil {
			return putError(r, err)
		}
	}
	if err := tx.putIndexes(rec); err != nil {
		return err
	}
	if !exists {
		rec.CreatedAt = created.UTC()
	}
	rec.Version++
	return nil
}

// putIndexes rewrites the request_users and request_files rows of rec.
func (tx *Tx) putIndexes(rec *Record) error {
	r, ctx := rec.Request, tx.ctx
	for _, q := range []string{`DELETE FROM request_users WHERE request_id = ?`, `DELETE FROM request_files WHERE request_id = ?`} {
		if _, err := tx.tx.ExecContext(ctx, q, r.ID); err != nil {
			return fmt.Errorf("save release request %s: %w", r.ID, err)
		}
	}
	users := map[[2]string]bool{{r.Author, "author"}: true}
	for _, u := range r.CoAuthors {
		users[[2]string{u, "coauthor"}] = true
	}
	for _, u := range r.FormerCoAuthors {
		users[[2]string{u, "former_coauthor"}] = true
	}
	for u := range users {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO request_users (request_id, username, role) VALUES (?, ?, ?)`, r.ID, u[0], u[1]); err != nil {
			return fmt.Errorf("save release request %s: %w", r.ID, err)
		}
	}
	for _, f := range rec.Files {
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO request_files (request_id, name, sha256, size, released_at, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)`,
			r.ID, f.Name, f.SHA256, f.Size, formatOptTime(f.ReleasedAt), formatOptTime(f.UploadedAt)); err != nil {
			return fmt.Errorf("save release request %s: file %s: %w", r.ID, f.Name, err)
		}
	}
	return nil
}

func activeConflict(r *review.Request, other string) error {
	return haven.Errorf(haven.ECONFLICT, "%s already has an active release request in workspace %s (id %s): add files to it, or withdraw it first", r.Author, r.Workspace, other)
}

func putError(r *review.Request, err error) error {
	if uniqueViolation(err) && strings.Contains(err.Error(), "requests.workspace") {
		return activeConflict(r, "another request")
	}
	return fmt.Errorf("save release request %s: %w", r.ID, err)
}

func validRecord(rec *Record) error {
	if rec == nil || rec.Request == nil {
		return haven.Errorf(haven.EINVALID, "save release request: no request given")
	}
	r := rec.Request
	var problems []string
	if r.ID == "" {
		problems = append(problems, "it has no id")
	}
	if r.Workspace == "" {
		problems = append(problems, "it has no workspace")
	}
	if r.Author == "" {
		problems = append(problems, "it has no author")
	}
	if !r.Status.Valid() {
		problems = append(problems, fmt.Sprintf("its status %q is not one of %v", r.Status, review.Statuses()))
	}
	if rec.Version < 0 {
		problems = append(problems, fmt.Sprintf("its version %d is negative", rec.Version))
	}
	names := make([]string, 0, len(rec.Files))
	for name := range rec.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := rec.Files[name]
		switch {
		case f == nil:
			problems = append(problems, fmt.Sprintf("file %q has no metadata", name))
		case f.Name != name:
			problems = append(problems, fmt.Sprintf("file %q is stored under the name %q; the key must equal FileMeta.Name", f.Name, name))
		case len(f.Report) > 0 && !json.Valid(f.Report):
			problems = append(problems, fmt.Sprintf("file %q has a disclosure report that is not valid JSON", name))
		}
	}
	if len(problems) > 0 {
		return haven.Errorf(haven.EINVALID, "save release request %s: %s", r.ID, strings.Join(problems, "; "))
	}
	return nil
}

// Request returns the request with this id (ENOTFOUND when there is none).
func (s *Store) Request(ctx context.Context, id string) (*Record, error) {
	return getRequest(ctx, s.r, id)
}

// Filter selects requests; empty fields match everything.
type Filter struct {
	Workspace string
	// User matches requests where the user is the author or a co-author.
	User     string
	Statuses []review.Status
	// ReviewableBy matches requests where the user is not the author, a
	// co-author or a former co-author (the people who may never review).
	ReviewableBy string

	activeOnly bool
}

// Requests returns the requests matching f, newest first.
func (s *Store) Requests(ctx context.Context, f Filter) ([]*Record, error) {
	return listRequests(ctx, s.r, f)
}

// ReleasedHashes returns the sha256 of every file released (ReleasedAt
// set) from the requests of workspace.
func (s *Store) ReleasedHashes(ctx context.Context, workspace string) (map[string]bool, error) {
	return releasedHashes(ctx, s.r, workspace)
}

const recordColumns = `r.id, r.version, r.created_at, r.data`

func getRequest(ctx context.Context, q querier, id string) (*Record, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+recordColumns+` FROM requests r WHERE r.id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("load release request %s: %w", id, err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("load release request %s: %w", id, err)
	}
	if len(recs) == 0 {
		return nil, haven.Errorf(haven.ENOTFOUND, "release request %q not found; check the id in the address", id)
	}
	return recs[0], nil
}

func listRequests(ctx context.Context, q querier, f Filter) ([]*Record, error) {
	var (
		where []string
		args  []any
	)
	if f.Workspace != "" {
		where = append(where, `r.workspace = ?`)
		args = append(args, f.Workspace)
	}
	if f.User != "" {
		where = append(where, `EXISTS (SELECT 1 FROM request_users u WHERE u.request_id = r.id AND u.username = ? AND u.role IN ('author', 'coauthor'))`)
		args = append(args, f.User)
	}
	if f.ReviewableBy != "" {
		where = append(where, `NOT EXISTS (SELECT 1 FROM request_users u WHERE u.request_id = r.id AND u.username = ?)`)
		args = append(args, f.ReviewableBy)
	}
	if len(f.Statuses) > 0 {
		where = append(where, `r.status IN (?`+strings.Repeat(`, ?`, len(f.Statuses)-1)+`)`)
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	if f.activeOnly {
		where = append(where, `r.active = 1`)
	}
	query := `SELECT ` + recordColumns + ` FROM requests r`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY r.created_at DESC, r.id DESC`
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list release requests: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("list release requests: %w", err)
	}
	return recs, nil
}

func scanRecords(rows *sql.Rows) ([]*Record, error) {
	defer rows.Close()
	var out []*Record
	for rows.Next() {
		var (
			id, created, data string
			version           int64
		)
		if err := rows.Scan(&id, &version, &created, &data); err != nil {
			return nil, err
		}
		rec, err := decodeRecord(id, version, created, data)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func decodeRecord(id string, version int64, created, data string) (*Record, error) {
	var sr storedRecord
	if err := json.Unmarshal([]byte(data), &sr); err != nil {
		return nil, fmt.Errorf("request %s: stored data is damaged: %w", id, err)
	}
	if sr.Request == nil || sr.Request.ID != id {
		return nil, fmt.Errorf("request %s: stored data holds another request", id)
	}
	at, err := parseTime(created)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, err)
	}
	if sr.Files == nil {
		sr.Files = map[string]*FileMeta{}
	}
	rec := &Record{Request: sr.Request, Files: sr.Files, CreatedAt: at, Version: version}
	utcRecord(rec)
	return rec, nil
}

// utcRecord puts every time of rec in UTC (JSON keeps the zone offset a
// time was written with).
func utcRecord(rec *Record) {
	r := rec.Request
	r.LastSubmittedAt = r.LastSubmittedAt.UTC()
	for k, t := range r.SubmittedReviews {
		r.SubmittedReviews[k] = t.UTC()
	}
	for i := range r.Groups {
		for j := range r.Groups[i].Files {
			f := &r.Groups[i].Files[j]
			for k, v := range f.Votes {
				v.At = v.At.UTC()
				f.Votes[k] = v
			}
		}
	}
	for i := range r.Comments {
		r.Comments[i].At = r.Comments[i].At.UTC()
	}
	for _, f := range rec.Files {
		if f == nil {
			continue
		}
		f.ModTime = f.ModTime.UTC()
		if f.ReleasedAt != nil {
			t := f.ReleasedAt.UTC()
			f.ReleasedAt = &t
		}
		if f.UploadedAt != nil {
			t := f.UploadedAt.UTC()
			f.UploadedAt = &t
		}
	}
}

func releasedHashes(ctx context.Context, q querier, workspace string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT f.sha256 FROM request_files f JOIN requests r ON r.id = f.request_id
		WHERE r.workspace = ? AND f.released_at IS NOT NULL`, workspace)
	if err != nil {
		return nil, fmt.Errorf("released files of workspace %s: %w", workspace, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("released files of workspace %s: %w", workspace, err)
		}
		out[h] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("released files of workspace %s: %w", workspace, err)
	}
	return out, nil
}
