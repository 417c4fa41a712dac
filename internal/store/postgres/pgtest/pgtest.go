// Package pgtest gives tests a fresh PostgreSQL database.
//
// Tests that need PostgreSQL call URL. The server comes from the
// environment variable HAVEN_TEST_POSTGRES_URL, the URL of a role that may
// create databases, for example
//
//	postgres://haven:haven@127.0.0.1:5432/postgres?sslmode=disable
//
// When it is unset the test is skipped, unless HAVEN_REQUIRE_POSTGRES=1,
// when it fails instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
)

// EnvURL and EnvRequire are the environment variables pgtest reads.
const (
	EnvURL     = "HAVEN_TEST_POSTGRES_URL"
	EnvRequire = "HAVEN_REQUIRE_POSTGRES"
)

// URL creates a new, empty, randomly named database for the test and
// returns its URL; the database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s is not set: set it to the URL of a PostgreSQL role that may create databases", EnvRequire, EnvURL)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://user:pass@127.0.0.1:5432/postgres?sslmode=disable) to run them", EnvURL)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvURL, err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "haven_test_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("pgtest: open %s: %v", EnvURL, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: create database %s (is PostgreSQL running at %s, and may that role create databases?): %v", name, u.Redacted(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
