package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests change the current folder (t.Chdir), so none is parallel.

const (
	verifyAge = "age_band,patients\n18-39,125\n40-59,240\n"
	verifySex = "sex,patients\nfemale,125\nmale,130\n"
)

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// verifySetup writes two outputs in a new current folder, and a check
// report of them (check.json).
func verifySetup(t *testing.T) {
	t.Helper()
	bundleFiles(t, map[string]string{"output/by_age.csv": verifyAge, "output/by_sex.csv": verifySex})
	r := run(t, "outputs", "check", "--json", "output")
	r.wantCode(t, exitOK)
	if err := os.WriteFile("check.json", []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOutputsVerifyCheckReport(t *testing.T) {
	verifySetup(t)

	r := run(t, "outputs", "verify", "check.json")
	r.wantCode(t, exitOK)
	want := "unchanged  output/by_age.csv\nunchanged  output/by_sex.csv\n2 files verified against check.json: all unchanged\n"
	if r.stdout != want || r.stderr != "" {
		t.Errorf("stdout %q, want %q; stderr %q", r.stdout, want, r.stderr)
	}

	// One byte more in one file: changed, exit 1.
	if err := os.WriteFile("output/by_age.csv", []byte(verifyAge+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, "outputs", "verify", "check.json")
	r.wantCode(t, exitInvalid)
	for _, w := range []string{
		"changed    output/by_age.csv\n",
		"           expected sha256 " + sha256Hex(verifyAge) + " (38 bytes)\n",
		"           actual   sha256 " + sha256Hex(verifyAge+"\n") + " (39 bytes)\n",
		"unchanged  output/by_sex.csv\n",
		"2 files verified against check.json: 1 unchanged, 1 changed;",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
		}
	}

	// A file removed: missing, exit 1, in JSON too.
	if err := os.Remove("output/by_sex.csv"); err != nil {
		t.Fatal(err)
	}
	r = run(t, "outputs", "verify", "--json", "check.json")
	r.wantCode(t, exitInvalid)
	var got struct {
		Schema string `json:"schema"`
		Kind   string `json:"kind"`
		OK     bool   `json:"ok"`
		Counts struct {
			Files, Unchanged, Changed, Missing int
		} `json:"counts"`
		Files []struct {
			Path           string `json:"path"`
			Status         string `json:"status"`
			ExpectedSHA256 string `json:"expected_sha256"`
			SHA256         string `json:"sha256"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if got.Schema != "haven.outputs.verify/v1" || got.Kind != "check" || got.OK || got.Counts.Files != 2 || got.Counts.Changed != 1 || got.Counts.Missing != 1 {
		t.Errorf("JSON: %+v", got)
	}
	if len(got.Files) != 2 || got.Files[0].Status != "changed" || got.Files[0].SHA256 != sha256Hex(verifyAge+"\n") || got.Files[1].Path != "output/by_sex.csv" || got.Files[1].Status != "missing" {
		t.Errorf("JSON files: %+v", got.Files)
	}

	// Put them back: exit 0 again.
	if err := os.WriteFile("output/by_age.csv", []byte(verifyAge), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("output/by_sex.csv", []byte(verifySex), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "outputs", "verify", "--json", "check.json").wantCode(t, exitOK)
}

func TestOutputsVerifyBundle(t *testing.T) {
	verifySetup(t)
	runBundle(t, "--to", "release", "output").wantCode(t, exitOK)
	for _, report := range []string{"release", "release/request.json"} {
		r := run(t, "outputs", "verify", report)
		r.wantCode(t, exitOK)
		want := "unchanged  " + filepath.Join("release", "output", "by_age.csv") + "\n"
		if !strings.HasPrefix(r.stdout, want) || !strings.HasSuffix(r.stdout, "2 files verified against "+filepath.Join("release", "request.json")+": all unchanged\n") {
			t.Errorf("verify %s:\n%s", report, r.stdout)
		}
	}
	if err := os.WriteFile("release/output/by_sex.csv", []byte("sex,patients\nfemale,5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "outputs", "verify", "release")
	r.wantCode(t, exitInvalid)
	if !strings.Contains(r.stdout, "changed    "+filepath.Join("release", "output", "by_sex.csv")+"\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

// TestOutputsVerifyRefusesTraversal: a request.json edited to name a file
// outside the bundle, with that file's real hash, is refused (exit 2)
// rather than reported unchanged.
func TestOutputsVerifyRefusesTraversal(t *testing.T) {
	const secret = "patient_id,diagnosis\n1001,asthma\n"
	for _, tc := range []struct{ name, path, want string }{
		{"dot-dot", "../secret.csv", `which climbs out of the folder with ".."`},
		{"absolute", "", "which is absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verifySetup(t)
			if err := os.WriteFile("secret.csv", []byte(secret), 0o644); err != nil {
				t.Fatal(err)
			}
			runBundle(t, "--to", "release", "output").wantCode(t, exitOK)
			p := tc.path
			if p == "" {
				abs, err := filepath.Abs("secret.csv")
				if err != nil {
					t.Fatal(err)
				}
				p = filepath.ToSlash(abs)
			}
			data, err := os.ReadFile("release/request.json")
			if err != nil {
				t.Fatal(err)
			}
			var req map[string]any
			if err := json.Unmarshal(data, &req); err != nil {
				t.Fatal(err)
			}
			f := req["files"].([]any)[1].(map[string]any)
			f["path"], f["sha256"] = p, sha256Hex(secret)
			if data, err = json.Marshal(req); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile("release/request.json", data, 0o644); err != nil {
				t.Fatal(err)
			}

			for _, args := range [][]string{{"release"}, {"--json", "release"}} {
				r := run(t, append([]string{"outputs", "verify"}, args...)...)
				r.wantCode(t, exitUsage)
				if r.stdout != "" {
					t.Errorf("stdout is not empty: %q", r.stdout)
				}
				for _, w := range []string{"haven: " + filepath.Join("release", "request.json") + ": file 2 has the path " + `"` + p + `"`, tc.want, "never reads outside the bundle folder", "nothing was verified"} {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
					}
				}
				noStackTrace(t, r.stderr)
			}
		})
	}
}

func TestOutputsVerifyUsage(t *testing.T) {
	verifySetup(t)
	if err := os.WriteFile("table.csv", []byte(verifyAge), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("other.json", []byte(`{"schema": "something/else", "files": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no REPORT", nil, []string{"verify takes one REPORT", "got 0 arguments"}},
		{"two REPORTs", []string{"check.json", "check.json"}, []string{"got 2 arguments"}},
		{"missing REPORT", []string{"nope.json"}, []string{"nope.json does not exist"}},
		{"a CSV", []string{"table.csv"}, []string{"table.csv is not a haven outputs report or request.json", "not valid JSON"}},
		{"another schema", []string{"other.json"}, []string{"other.json is not a haven outputs report or request.json", `its schema is "something/else"`}},
		{"a folder that is no bundle", []string{"output"}, []string{"output is a folder without a request.json"}},
		{"unknown flag", []string{"--yaml", "check.json"}, []string{"unknown flag: --yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, append([]string{"outputs", "verify"}, tc.args...)...)
			r.wantCode(t, exitUsage)
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			noStackTrace(t, r.stderr)
		})
	}
}
