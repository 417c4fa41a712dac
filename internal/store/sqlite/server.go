package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	Retryable: IsBusy,
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
	w, err := sql.Open("sqlite", DSN(path, "_txlock=immediate",
		"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(20000)", "foreign_keys(1)"))
	if err != nil {
		return nil, fmt.Errorf("open server database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := Migrate(ctx, w, serverMigrations, "servermigrations", "server database", path); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", DSN(path, "", "busy_timeout(20000)", "query_only(1)"))
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
