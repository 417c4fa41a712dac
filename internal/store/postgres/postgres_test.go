package postgres_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/postgres"
	"github.com/haven-tre/haven/internal/store/postgres/pgtest"
	"github.com/haven-tre/haven/internal/store/sqlstore/sqltest"
)

func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestAuditAppendOnly(t *testing.T) {
	db := open(t, pgtest.URL(t))
	defer db.Close()
	sqltest.AuditAppendOnly(t, db, db.Writer())
	if _, err := db.Writer().Exec(`TRUNCATE audit_events`); err == nil {
		t.Error("TRUNCATE audit_events succeeded, want the database to refuse it")
	}
}

func TestConstraints(t *testing.T) {
	db := open(t, pgtest.URL(t))
	defer db.Close()
	sqltest.Constraints(t, db, db.Writer())
}

func TestReopen(t *testing.T) {
	url := pgtest.URL(t)
	sqltest.Reopen(t, func() store.Store { return open(t, url) })
}

// Replicas starting together on an empty database apply each migration
// once (the advisory lock) and all start.
func TestConcurrentMigrations(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 4
	var wg sync.WaitGroup
	dbs := make([]*postgres.DB, replicas)
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = postgres.Open(context.Background(), url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		defer dbs[i].Close()
	}
	if t.Failed() {
		return
	}
	var n int
	if err := dbs[0].Writer().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if n != len(files) || n == 0 {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", n, len(files))
	}
}

// Two handles stand for two server replicas sharing the database: SKIP
// LOCKED keeps their claims apart.
func TestConcurrentClaimsTwoReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	defer a.Close()
	defer b.Close()
	sqltest.ConcurrentClaims(t, []store.Store{a, b}, 25, 200)
}

func TestOpenBadURL(t *testing.T) {
	if _, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("Open with an unreachable server succeeded, want an error")
	}
}
