// Package postgres stores the job server's data in PostgreSQL, for several
// users and several server replicas sharing one database. It is
// internal/store/sqlstore on the pgx driver (through its database/sql
// adapter) with PostgreSQL's own schema (migrations/*.sql).
//
// Concurrency: write transactions run at READ COMMITTED and lock the rows
// they change (SELECT … FOR UPDATE); a poll claims its job with
// SELECT … FOR UPDATE SKIP LOCKED, so concurrent polls, on one replica or
// several, never hand out the same job; a transaction that hits a deadlock
// or serialization failure is run again.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key held while migrating, so replicas
// starting together apply each migration once.
const migrationLock = 0x68617665_6e000001 // "haven" + 1

// maxConns bounds the connection pool.
const maxConns = 20

// Dialect is PostgreSQL's sqlstore dialect.
var Dialect = sqlstore.Dialect{
	Name:               "postgres",
	DollarPlaceholders: true,
	ForUpdate:          " FOR UPDATE",
	SkipLocked:         " FOR UPDATE SKIP LOCKED",
	Classify:           classify,
	Retryable:          retryable,
	OverrideIdentity:   " OVERRIDING SYSTEM VALUE",
	SyncIdentity: func(table string) string {
		return `SELECT setval(pg_get_serial_sequence('` + table + `', 'id'), (SELECT max(id) FROM ` + table + `))`
	},
}

// DB is the job server's database in PostgreSQL: a store.Store.
type DB struct {
	*sqlstore.Store
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url (postgres://user:pass@host/db?…)
// and brings its schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	if url == "" {
		return nil, haven.Errorf(haven.EINVALID, "open PostgreSQL database: no database URL given (postgres://user:password@host:5432/dbname)")
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL database: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		// Almost always the URL, the server or the role: the user's to fix.
		return nil, &haven.Error{Code: haven.EINVALID, Message: "cannot connect to PostgreSQL: check the database URL, that the server is running and that the user may log in", Err: err}
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return &DB{sqlstore.New(db, db, Dialect)}, nil
}

// migrate applies the embedded migrations not yet applied, each in its own
// transaction holding an advisory lock, recording them in
// schema_migrations.
func migrate(ctx context.Context, db *sql.DB) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := apply(ctx, db, name); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, name string) error {
	base := path.Base(name)
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = $1`, base).Scan(&n); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migrate: apply %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, base); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: apply %s: %w", base, err)
	}
	return nil
}

// classify maps PostgreSQL's SQLSTATEs to violations; the name is the
// constraint's (users_email_key).
func classify(err error) (sqlstore.Violation, string) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return sqlstore.NoViolation, ""
	}
	switch pe.Code {
	case "23505":
		return sqlstore.UniqueViolation, pe.ConstraintName
	case "23503":
		return sqlstore.ForeignKeyViolation, pe.ConstraintName
	case "23514":
		return sqlstore.CheckViolation, pe.ConstraintName
	case "23502":
		return sqlstore.NotNullViolation, pe.ColumnName
	case "P0001":
		if strings.Contains(pe.Message, "append-only") {
			return sqlstore.AppendOnlyViolation, pe.TableName
		}
	}
	return sqlstore.NoViolation, ""
}

// retryable: serialization failures and deadlocks.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
