package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlite"
	"github.com/haven-tre/haven/internal/store/storetest"
)

// TestServerConformance runs the store conformance suite against the
// server database, a fresh file per subtest.
func TestServerConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.OpenServer(context.Background(), filepath.Join(t.TempDir(), "server.db"))
		if err != nil {
			t.Fatalf("OpenServer: %v", err)
		}
		return db
	})
}
