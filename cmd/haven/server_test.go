package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/auth"
)

func init() {
	// Passwords are hashed cheaply in tests; the parameters are part of
	// each hash, so sign-in still checks them.
	auth.HashParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// `haven server admin` sets up a server's records from nothing; every
// mistake is a clear message and exit 1, and leaves what exists intact.
func TestServerAdmin(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("correct horse battery\n"), 0o600)
	admin := func(args ...string) result {
		t.Helper()
		return run(t, append(append([]string{"server", "admin"}, args...), "--data-dir", data)...)
	}
	ok := func(want string, args ...string) {
		t.Helper()
		r := admin(args...)
		r.wantCode(t, exitOK)
		if !strings.Contains(r.stdout, want) {
			t.Errorf("haven server admin %v printed %q; want %q", args, r.stdout, want)
		}
	}
	ok("Created user alice (Alice Smith)", "create-user", "alice", "--email", "alice@example.org", "--fullname", "Alice Smith", "--password-file", pw)
	ok("slug university-of-liverpool", "create-org", "University of Liverpool")
	ok("slug flu-cats", "create-project", "Flu CATs", "--org", "university-of-liverpool")
	ok("Created workspace flucats", "create-workspace", "flucats", "--project", "flu-cats", "--repo", dir, "--branch", "main")
	ok("artificial data", "create-backend", "tpp", "--artificial-data", "--token-dir", filepath.Join(dir, "tokens"))
	ok("alice is a member of flu-cats", "add-project-member", "alice", "--project", "flu-cats")
	ok("alice may run jobs on tpp", "add-backend-member", "alice", "--backend", "tpp")
	tok, err := os.ReadFile(filepath.Join(dir, "tokens", "tpp.agent-token"))
	if err != nil || len(strings.TrimSpace(string(tok))) < 32 {
		t.Fatalf("agent token file: %q, %v", tok, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tokens", "tpp.agent-token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("agent token file mode %v, %v; want 0600", fi.Mode(), err)
	}
	r := admin("create-api-token", "alice")
	r.wantCode(t, exitOK)
	if !strings.Contains(r.stderr, "valid until") || len(strings.TrimSpace(r.stdout)) < 32 {
		t.Errorf("create-api-token printed %q / %q", r.stdout, r.stderr)
	}

	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("short\n"), 0o600)
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"create-user", "bob", "--email", "bob@example.org", "--fullname", "Bob", "--password-file", short}, "too short"},
		{[]string{"create-user", "bob", "--email", "bob@example.org", "--fullname", "Bob", "--password-file", filepath.Join(dir, "missing")}, "cannot read the password"},
		{[]string{"create-user", "alice", "--email", "other@example.org", "--fullname", "Alice Again", "--password-file", pw}, "alice"},
		{[]string{"create-workspace", "ws", "--project", "nope", "--repo", dir}, `no project has the slug "nope"`},
		{[]string{"create-workspace", "bad name", "--project", "flu-cats", "--repo", dir}, "is not valid"},
		{[]string{"create-workspace", "flucats", "--project", "flu-cats", "--repo", dir}, "flucats"},
		{[]string{"create-backend", "BAD"}, "is not valid"},
		{[]string{"add-project-member", "alice", "--project", "flu-cats", "--roles", "Wizard"}, `unknown role "Wizard"`},
		{[]string{"add-backend-member", "nobody", "--backend", "tpp"}, "nobody"},
	}
	for _, b := range bad {
		r := admin(b.args...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, b.want) || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("haven server admin %v: exit %d, stderr %q; want exit 1 mentioning %q", b.args, r.code, r.stderr, b.want)
		}
	}

	// Usage mistakes are exit 2.
	for _, args := range [][]string{
		{"create-user", "carol"},          // required flags missing
		{"create-org"},                    // no name
		{"create-org", "a", "b"},          // too many
		{"create-backend", "x", "--nope"}, // unknown flag
	} {
		if r := admin(args...); r.code != exitUsage {
			t.Errorf("haven server admin %v: exit %d; want 2\n%s", args, r.code, r.stderr)
		}
	}
	if r := run(t, "server", "--database-url", "mysql://db/haven"); r.code != exitInvalid || !strings.Contains(r.stderr, "postgres://") {
		t.Errorf("server with a mysql URL: exit %d, %q", r.code, r.stderr)
	}
	if r := run(t, "agent", "--server", "http://127.0.0.1:1", "--backend", "tpp", "--token-file", filepath.Join(dir, "missing")); r.code != exitInvalid || !strings.Contains(r.stderr, "cannot read the agent token") {
		t.Errorf("agent without its token file: exit %d, %q", r.code, r.stderr)
	}
	if r := run(t, "agent", "--backend", "tpp"); r.code != exitUsage {
		t.Errorf("agent without --server: exit %d; want 2", r.code)
	}
}
