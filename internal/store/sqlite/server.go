package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlstore"
)

//go:embed servermigrations/*.sql
var serverMigrations embed.FS

// readers is the size of the server database's read pool.
const readers = 8

// ServerDB is the job server's database in a SQLite file: a store.Store.
type ServerDB struct {
	*sqlstore.Store
	path string
}

var _ store.Store = (*ServerDB)(nil)

// Dialect is SQLite's sqlstore dialect: ? placeholders, no row locks (a
// write transaction holds the database), and constraint errors read from
// SQLite's extended result codes.
var Dialect = sqlstore.Dialect{
	Name:      "sqlite",
	Classify:  classify,
	Retryable: busy,
	// modernc.org/sqlite compiles a statement on every query: keep the
	// read queries compiled.
	PrepareReads: true,
}

// OpenServer opens (creating if needed) the job server's database at path
// and brings its schema up to date.
//
// The file is in WAL mode with foreign keys on. Writes go through one
// connection whose transactions begin IMMEDIATE, so write transactions
// run one at a time and never fail to upgrade a read lock; reads use a
// separate pool of read-only connections, which WAL lets run alongside
// the writer. synchronous=FULL: a commit the server acknowledged (a
// claim, a status update) survives a power loss too.
func OpenServer(ctx context.Context, path string) (*ServerDB, error) {
	switch {
	case path == "":
		return nil, haven.Errorf(haven.EINVALID, "open server database: no file name given")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, haven.Errorf(haven.EINVALID, "open server database %s: give the path of a file (the server's readers and writer share it)", path)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return nil, haven.Errorf(haven.EINVALID, "open server database %s: the folder %s does not exist; create it first", path, filepath.Dir(path))
	}
	w, err := sql.Open("sqlite", serverDSN(path, "_txlock=immediate",
		"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(20000)", "foreign_keys(1)"))
	if err != nil {
		return nil, fmt.Errorf("open server database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrateServer(ctx, w, path); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", serverDSN(path, "", "busy_timeout(20000)", "query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open server database %s: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open server database %s: %w", path, err)
	}
	return &ServerDB{Store: sqlstore.New(w, r, Dialect), path: path}, nil
}

// Path is the database file's path.
func (d *ServerDB) Path() string { return d.path }

func serverDSN(path, extra string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	if extra != "" {
		dsn += "&" + extra
	}
	return dsn
}

// migrateServer applies the embedded server migrations not yet applied,
// each in its own (immediate) transaction that first checks it has not
// been applied meanwhile, recording them in schema_migrations.
func migrateServer(ctx context.Context, db *sql.DB, file string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate %s: %w", file, err)
	}
	names, err := fs.Glob(serverMigrations, "servermigrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := applyServerMigration(ctx, db, file, name); err != nil {
			return err
		}
	}
	return nil
}

func applyServerMigration(ctx context.Context, db *sql.DB, file, name string) error {
	base := path.Base(name)
	body, err := serverMigrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", file, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil {
		return fmt.Errorf("migrate %s: %w", file, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migrate %s: apply %s: %w", file, base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name) VALUES (?)`, base); err != nil {
		return fmt.Errorf("migrate %s: %w", file, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: %w", file, err)
	}
	return nil
}

// busy reports SQLITE_BUSY: another process held the write lock for
// longer than the busy timeout. Only a second process writing the same
// file causes it; the transaction is run again.
func busy(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// classify maps SQLite's extended constraint codes to violations; the
// name is SQLite's message, which names the table and column
// ("UNIQUE constraint failed: users.email").
func classify(err error) (sqlstore.Violation, string) {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return sqlstore.NoViolation, ""
	}
	msg := se.Error()
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.UniqueViolation, msg
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ForeignKeyViolation, msg
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return sqlstore.CheckViolation, msg
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return sqlstore.NotNullViolation, msg
	case sqlite3.SQLITE_CONSTRAINT_TRIGGER:
		if strings.Contains(msg, "append-only") {
			return sqlstore.AppendOnlyViolation, msg
		}
		return sqlstore.CheckViolation, msg
	}
	return sqlstore.NoViolation, ""
}
