package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
