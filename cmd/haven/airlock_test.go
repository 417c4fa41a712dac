package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
)

// `haven airlock` and `haven demo` refuse bad input with a clear message
// and the documented exit code, before they listen on anything.
func TestAirlockAndDemoBadInput(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok")
	os.WriteFile(tok, []byte("a-token\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	medium := filepath.Join(dir, "medium")
	os.Mkdir(medium, 0o700)
	full := filepath.Join(dir, "full")
	os.MkdirAll(filepath.Join(full, "old"), 0o700)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no flags", []string{"airlock"}, exitUsage, "--server, --backend and --token-file are required"},
		{"missing token file", []string{"airlock", "--server", "http://127.0.0.1:1", "--backend", "tpp", "--token-file", filepath.Join(dir, "nope")}, exitInvalid, "nope"},
		{"empty token", []string{"airlock", "--server", "http://127.0.0.1:1", "--backend", "tpp", "--token-file", empty}, exitInvalid, "is empty"},
		{"bad server URL", []string{"airlock", "--server", "ftp://x", "--backend", "tpp", "--token-file", tok, "--medium-privacy-dir", medium, "--data-dir", filepath.Join(dir, "d1")}, exitInvalid, "must start with https://"},
		{"no medium-privacy dir", []string{"airlock", "--server", "http://127.0.0.1:1", "--backend", "tpp", "--token-file", tok, "--medium-privacy-dir", filepath.Join(dir, "missing"), "--data-dir", filepath.Join(dir, "d2")}, exitInvalid, "medium-privacy directory"},
		{"bad listen address", []string{"airlock", "--server", "http://127.0.0.1:1", "--backend", "tpp", "--token-file", tok, "--medium-privacy-dir", medium, "--data-dir", filepath.Join(dir, "d3"), "--listen", "256.0.0.1:99999"}, exitInvalid, "cannot listen on"},
		{"demo into a folder in use", []string{"demo", "--once", "--dir", full}, exitInvalid, "is not empty"},
		{"demo with an argument", []string{"demo", "now"}, exitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			r.wantCode(t, tc.code)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("haven %v: stderr %q, want %q", tc.args, r.stderr, tc.want)
			}
			noStackTrace(t, r.stderr)
		})
	}
}

// `haven airlock audit` prints the log, filtered, as text or JSON.
func TestAirlockAudit(t *testing.T) {
	dir := t.TempDir()
	st, err := astore.Open(context.Background(), filepath.Join(dir, "airlock.db"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	err = st.Tx(context.Background(), func(tx *astore.Tx) error {
		return tx.Append(
			review.Event{Type: review.EventWorkspaceFileView, User: "alice", Workspace: "ws", Path: "output/a.csv", Extra: map[string]string{"review_turn": "0"}, At: at},
			review.Event{Type: review.EventRequestFileDownload, User: "bob", Workspace: "ws", Request: "R1", Path: "output/a.csv", Extra: map[string]string{"review_turn": "2"}, At: at},
		)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, "airlock", "audit", "--data-dir", dir, "--user", "bob")
	r.wantCode(t, exitOK)
	if !strings.Contains(r.stdout, "2026-01-02 03:04:05  REQUEST_FILE_DOWNLOAD  bob") || strings.Contains(r.stdout, "alice") {
		t.Errorf("text output:\n%s", r.stdout)
	}
	r = run(t, "airlock", "audit", "--data-dir", dir, "--json")
	r.wantCode(t, exitOK)
	var events []struct{ Type, User string }
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil || len(events) != 2 || events[0].User != "alice" {
		t.Errorf("JSON output %v, %v:\n%s", events, err, r.stdout)
	}
	r = run(t, "airlock", "audit", "--data-dir", filepath.Join(dir, "nope"))
	r.wantCode(t, exitInvalid)
	if !strings.Contains(r.stderr, "no Airlock database") {
		t.Errorf("missing database: %q", r.stderr)
	}
}
