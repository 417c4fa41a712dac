package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DSN is the data source name of file for the "sqlite" driver with the
// given pragmas (e.g. "busy_timeout(20000)") and extra query parameters
// (e.g. "_txlock=immediate", "" for none). Every SQLite database Haven
// opens goes through it.
func DSN(file, extra string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	dsn := "file:" + file + "?" + q.Encode()
	if extra != "" {
		dsn += "&" + extra
	}
	return dsn
}

// Migrate applies the migrations dir/*.sql of fsys not yet applied to db,
// in name order, each in its own transaction that first checks it has not
// been applied meanwhile, recording them in schema_migrations. what names
// the database in errors ("server database", "Airlock database").
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, dir, what, file string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate %s %s: %w", what, file, err)
	}
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := applyMigration(ctx, db, fsys, name, what, file); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, fsys fs.FS, name, what, file string) error {
	base := path.Base(name)
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s %s: %w", what, file, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil {
		return fmt.Errorf("migrate %s %s: %w", what, file, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migrate %s %s: apply %s: %w", what, file, base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name) VALUES (?)`, base); err != nil {
		return fmt.Errorf("migrate %s %s: %w", what, file, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s %s: %w", what, file, err)
	}
	return nil
}

// IsBusy reports SQLITE_BUSY: another process held the write lock for
// longer than the busy timeout.
func IsBusy(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
