package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestCheckExamples(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, ex := range examples {
		t.Run(ex, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(root, "examples", ex)
			r := run(t, "check", "--project-dir", dir)
			r.wantCode(t, exitOK)
			want := filepath.Join(dir, "project.yaml") + " is valid: version "
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
			if strings.Contains(r.stdout, "error[") {
				t.Errorf("a valid project reports errors:\n%s", r.stdout)
			}
			if r.stderr != "" {
				t.Errorf("stderr is not empty:\n%s", r.stderr)
			}

			r = run(t, "check", "--json", "--project-dir", dir)
			r.wantCode(t, exitOK)
			var out struct {
				Valid    bool
				Actions  []string
				Problems []struct{ Severity string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("check --json: %v\n%s", err, r.stdout)
			}
			if !out.Valid || len(out.Actions) == 0 {
				t.Errorf("check --json: valid=%v, %d actions", out.Valid, len(out.Actions))
			}
			for _, p := range out.Problems {
				if p.Severity != "warning" {
					t.Errorf("valid project has a problem of severity %q", p.Severity)
				}
			}
		})
	}
}

func TestCheckMissingDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "no-such-study")
	for _, args := range [][]string{
		{"check", "--project-dir", dir},
		{"check", "--json", "--project-dir", dir},
		{"graph", "--project-dir", dir},
	} {
		r := run(t, args...)
		r.wantCode(t, exitInvalid)
		want := "haven: project directory " + dir + " does not exist: pass the folder that holds project.yaml with --project-dir\n"
		if r.stderr != want {
			t.Errorf("haven %s: stderr\n  %q\nwant\n  %q", strings.Join(args, " "), r.stderr, want)
		}
		if r.stdout != "" {
			t.Errorf("haven %s: stdout is not empty:\n%s", strings.Join(args, " "), r.stdout)
		}
		noStackTrace(t, r.stderr)
	}
}

func TestCheckNoProjectYAML(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a project\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, "check", "--project-dir", dir)
	r.wantCode(t, exitInvalid)
	want := "haven: no project.yaml in " + dir + ": run haven in your study's folder, or pass it with --project-dir\n"
	if r.stderr != want {
		t.Errorf("stderr\n  %q\nwant\n  %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty:\n%s", r.stdout)
	}
	noStackTrace(t, r.stderr)
}

// Without --project-dir, check looks in the current directory: this
// package's directory, which has no project.yaml.
func TestCheckDefaultDirectory(t *testing.T) {
	t.Parallel()
	r := run(t, "check")
	r.wantCode(t, exitInvalid)
	if !strings.Contains(r.stderr, "no project.yaml in .:") {
		t.Errorf("stderr does not say project.yaml is missing from the current directory:\n%s", r.stderr)
	}
}

// Passing the file rather than its folder is a common slip.
func TestCheckProjectDirIsAFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(threeMistakesDir, "project.yaml")
	r := run(t, "check", "--project-dir", file)
	r.wantCode(t, exitInvalid)
	if !strings.HasPrefix(r.stderr, "haven: ") || !strings.Contains(r.stderr, file) {
		t.Errorf("stderr does not name the path:\n%s", r.stderr)
	}
	noStackTrace(t, r.stderr)
}

// problemLine is one problem as check prints it.
var problemLine = regexp.MustCompile(`^(\S+):(\d+):(\d+): (error|warning)\[([a-z0-9-]+)\]: (.+)$`)

type printedProblem struct {
	file         string
	line, column int
	severity     string
	rule         string
	message      string
}

func parseProblems(t *testing.T, out string) []printedProblem {
	t.Helper()
	var ps []printedProblem
	for _, l := range strings.Split(out, "\n") {
		m := problemLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		ps = append(ps, printedProblem{m[1], line, col, m[4], m[5], m[6]})
	}
	return ps
}

// wantThreeMistakes is where the three mistakes are in
// testdata/projects/three-mistakes/project.yaml.
var wantThreeMistakes = []struct {
	line, column int
	rule, inMsg  string
}{
	{17, 14, "pattern-l4-type", "output/model.rds is not an allowed file type for moderately_sensitive outputs"},
	{20, 54, "run-unbalanced-quote", "Action report has an unbalanced quote"},
	{21, 31, "needs-unknown", "unknown action in its `needs` list: summarise"},
}

func TestCheckThreeMistakes(t *testing.T) {
	t.Parallel()
	r := run(t, "check", "--project-dir", threeMistakesDir)
	r.wantCode(t, exitInvalid)
	if r.stderr != "" {
		t.Errorf("stderr is not empty:\n%s", r.stderr)
	}
	file := filepath.Join(threeMistakesDir, "project.yaml")
	got := parseProblems(t, r.stdout)
	if len(got) != len(wantThreeMistakes) {
		t.Fatalf("%d problems printed, want %d:\n%s", len(got), len(wantThreeMistakes), r.stdout)
	}
	for i, w := range wantThreeMistakes {
		g := got[i]
		if g.file != file || g.line != w.line || g.column != w.column || g.severity != "error" || g.rule != w.rule {
			t.Errorf("problem %d: %s:%d:%d: %s[%s], want %s:%d:%d: error[%s]", i+1,
				g.file, g.line, g.column, g.severity, g.rule, file, w.line, w.column, w.rule)
		}
		if !strings.Contains(g.message, w.inMsg) {
			t.Errorf("problem %d: message %q lacks %q", i+1, g.message, w.inMsg)
		}
	}
	// Each error comes with a hint.
	if n := strings.Count(r.stdout, "\n    hint: "); n != 3 {
		t.Errorf("%d hints, want 3:\n%s", n, r.stdout)
	}
	if !strings.HasSuffix(r.stdout, "\n"+file+" is invalid: 3 errors, 0 warnings\n") {
		t.Errorf("output does not end with the summary:\n%s", r.stdout)
	}
	noANSI(t, "check output", r.stdout)
	checkGolden(t, "check-three-mistakes.txt", r.stdout)
}

func TestCheckValveGolden(t *testing.T) {
	t.Parallel()
	r := run(t, "check", "--project-dir", valveDir)
	r.wantCode(t, exitOK)
	checkGolden(t, "check-mechanical-valve-anticoag.txt", r.stdout)

	r = run(t, "check", "--json", "--project-dir", valveDir)
	r.wantCode(t, exitOK)
	checkGolden(t, "check-mechanical-valve-anticoag.json", r.stdout)
}

func TestCheckThreeMistakesJSON(t *testing.T) {
	t.Parallel()
	r := run(t, "check", "--json", "--project-dir", threeMistakesDir)
	r.wantCode(t, exitInvalid)
	if r.stderr != "" {
		t.Errorf("stderr is not empty:\n%s", r.stderr)
	}
	checkGolden(t, "check-three-mistakes.json", r.stdout)

	var out struct {
		Valid    bool     `json:"valid"`
		Version  *float64 `json:"version"`
		Actions  []string `json:"actions"`
		Problems []struct {
			Severity, Rule, File, Message string
			Line, Column                  int
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Valid {
		t.Error("valid = true")
	}
	if out.Version == nil || *out.Version != 5 {
		t.Errorf("version = %v, want 5", out.Version)
	}
	if want := []string{"generate_dataset", "model", "report"}; !slices.Equal(out.Actions, want) {
		t.Errorf("actions = %v, want %v", out.Actions, want)
	}
	if len(out.Problems) != len(wantThreeMistakes) {
		t.Fatalf("%d problems, want %d", len(out.Problems), len(wantThreeMistakes))
	}
	for i, w := range wantThreeMistakes {
		p := out.Problems[i]
		if p.Severity != "error" || p.Rule != w.rule || p.File != filepath.Join(threeMistakesDir, "project.yaml") ||
			p.Line != w.line || p.Column != w.column || !strings.Contains(p.Message, w.inMsg) {
			t.Errorf("problem %d = %+v, want %d:%d %s", i+1, p, w.line, w.column, w.rule)
		}
	}
}

// The JSON output has exactly the documented keys, so scripts can rely on
// them.
func TestCheckJSONKeys(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "project.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	clean := t.TempDir()
	if err := os.WriteFile(filepath.Join(clean, "project.yaml"), []byte(`version: "5.0"
actions:
  a:
    run: python:v2 python a.py
    outputs:
      moderately_sensitive:
        table: output/a.csv
`), 0o644); err != nil {
		t.Fatal(err)
	}
	topKeys := []string{"actions", "problems", "valid", "version"}
	problemKeys := []string{"column", "file", "line", "message", "rule", "severity"}
	for _, tt := range []struct {
		name, dir string
		code      int
		problems  int
	}{
		{"three-mistakes", threeMistakesDir, exitInvalid, 3},
		{"valve", valveDir, exitOK, 3},
		{"empty", empty, exitInvalid, 1},
		{"clean", clean, exitOK, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "check", "--json", "--project-dir", tt.dir)
			r.wantCode(t, tt.code)
			var top map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.stdout), &top); err != nil {
				t.Fatalf("not a JSON object: %v\n%s", err, r.stdout)
			}
			if got := sortedKeys(top); !slices.Equal(got, topKeys) {
				t.Errorf("keys %v, want %v", got, topKeys)
			}
			// Lists are lists, never null, even when empty.
			for _, k := range []string{"actions", "problems"} {
				if s := strings.TrimSpace(string(top[k])); !strings.HasPrefix(s, "[") {
					t.Errorf("%s = %s, want a list", k, s)
				}
			}
			var valid bool
			if err := json.Unmarshal(top["valid"], &valid); err != nil {
				t.Errorf("valid: %v", err)
			} else if valid != (tt.code == exitOK) {
				t.Errorf("valid = %v with exit code %d", valid, tt.code)
			}
			if v := string(top["version"]); v != "null" {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					t.Errorf("version = %s, want a number or null", v)
				}
			}
			var probs []map[string]any
			if err := json.Unmarshal(top["problems"], &probs); err != nil {
				t.Fatal(err)
			}
			if len(probs) != tt.problems {
				t.Errorf("%d problems, want %d", len(probs), tt.problems)
			}
			for i, p := range probs {
				if got := sortedKeys(p); !slices.Equal(got, problemKeys) {
					t.Errorf("problem %d keys %v, want %v", i, got, problemKeys)
				}
				for _, k := range []string{"line", "column"} {
					if n, ok := p[k].(float64); !ok || n < 1 || n != float64(int(n)) {
						t.Errorf("problem %d: %s = %v, want a whole number >= 1", i, k, p[k])
					}
				}
				for _, k := range []string{"severity", "rule", "file", "message"} {
					if s, ok := p[k].(string); !ok || s == "" {
						t.Errorf("problem %d: %s = %v, want a non-empty string", i, k, p[k])
					}
				}
				if s := p["severity"]; s != "error" && s != "warning" {
					t.Errorf("problem %d: severity %v", i, s)
				}
			}
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
