package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlite"
	"github.com/haven-tre/haven/internal/store/sqlstore/sqltest"
)

func openServer(t *testing.T, path string) *sqlite.ServerDB {
	t.Helper()
	db, err := sqlite.OpenServer(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenServer(%s): %v", path, err)
	}
	return db
}

func TestServerAuditAppendOnly(t *testing.T) {
	db := openServer(t, filepath.Join(t.TempDir(), "server.db"))
	defer db.Close()
	sqltest.AuditAppendOnly(t, db, db.Writer())
}

func TestServerConstraints(t *testing.T) {
	db := openServer(t, filepath.Join(t.TempDir(), "server.db"))
	defer db.Close()
	sqltest.Constraints(t, db, db.Writer())
}

func TestServerReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.db")
	sqltest.Reopen(t, func() store.Store { return openServer(t, path) })

	db := openServer(t, path)
	defer db.Close()
	var n int
	if err := db.Writer().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("servermigrations/*.sql")
	if n != len(files) || n == 0 {
		t.Errorf("schema_migrations has %d rows after three opens, want %d (one per migration)", n, len(files))
	}
}

// Two handles on one file stand for two server processes: SQLite's
// immediate transactions keep their claims apart.
func TestServerConcurrentClaimsTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.db")
	a, b := openServer(t, path), openServer(t, path)
	defer a.Close()
	defer b.Close()
	sqltest.ConcurrentClaims(t, []store.Store{a, b}, 4, 60)
}

func TestServerBadPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", filepath.Join(t.TempDir(), "missing", "server.db")} {
		db, err := sqlite.OpenServer(context.Background(), path)
		if err == nil {
			db.Close()
			t.Errorf("OpenServer(%q) succeeded, want an error", path)
			continue
		}
		if got := haven.ErrorCode(err); got != haven.EINVALID {
			t.Errorf("OpenServer(%q) = %v (code %s), want code %s", path, err, got, haven.EINVALID)
		}
	}
}
