package postgres_test

import (
	"context"
	"testing"

	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/postgres"
	"github.com/haven-tre/haven/internal/store/postgres/pgtest"
	"github.com/haven-tre/haven/internal/store/storetest"
)

// TestConformance runs the store conformance suite against PostgreSQL, a
// fresh database per subtest. It skips unless HAVEN_TEST_POSTGRES_URL is
// set (and fails instead when HAVEN_REQUIRE_POSTGRES=1).
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		return s
	})
}
