package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestGraphValveGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		golden string
	}{
		{nil, "graph-mechanical-valve-anticoag.txt"},
		{[]string{"--format", "text"}, "graph-mechanical-valve-anticoag.txt"},
		{[]string{"--format", "dot"}, "graph-mechanical-valve-anticoag.dot"},
		{[]string{"--format=mermaid"}, "graph-mechanical-valve-anticoag.mmd"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"graph"}, tt.args...), " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, append([]string{"graph", "--project-dir", valveDir}, tt.args...)...)
			r.wantCode(t, exitOK)
			if r.stderr != "" {
				t.Errorf("stderr is not empty:\n%s", r.stderr)
			}
			noANSI(t, "graph", r.stdout)
			checkGolden(t, tt.golden, r.stdout)
		})
	}
}

// Spot checks that do not depend on the golden files.
func TestGraphValveShape(t *testing.T) {
	t.Parallel()
	dot := run(t, "graph", "--format", "dot", "--project-dir", valveDir)
	dot.wantCode(t, exitOK)
	if !strings.HasPrefix(dot.stdout, "digraph pipeline {\n") || !strings.HasSuffix(dot.stdout, "}\n") {
		t.Errorf("dot output is not one digraph:\n%s", dot.stdout)
	}
	for _, edge := range []string{
		`"generate_study_population" -> "join_ethnicity";`,
		`"generate_study_population_ethnicity" -> "join_ethnicity";`,
		`"join_ethnicity" -> "generate_notebook";`,
		`"generate_measures" -> "generate_notebook";`,
		`"combine" -> "generate_report_notebook";`,
	} {
		if !strings.Contains(dot.stdout, edge) {
			t.Errorf("dot output lacks %s", edge)
		}
	}
	if n := strings.Count(dot.stdout, " -> "); n != 8 {
		t.Errorf("dot output has %d edges, want 8", n)
	}

	mm := run(t, "graph", "--format", "mermaid", "--project-dir", valveDir)
	mm.wantCode(t, exitOK)
	if !strings.HasPrefix(mm.stdout, "flowchart LR\n") {
		t.Errorf("mermaid output does not start with a flowchart:\n%s", mm.stdout)
	}
	if n := strings.Count(mm.stdout, " --> "); n != 8 {
		t.Errorf("mermaid output has %d edges, want 8", n)
	}

	text := run(t, "graph", "--project-dir", valveDir)
	text.wantCode(t, exitOK)
	// Every action comes after the actions it needs.
	lines := strings.Split(text.stdout, "\n")
	pos := map[string]int{}
	for i, l := range lines {
		if l != "" && !strings.HasPrefix(l, " ") {
			pos[strings.Fields(l)[0]] = i
		}
	}
	if len(pos) != 9 {
		t.Errorf("text output lists %d actions, want 9:\n%s", len(pos), text.stdout)
	}
	if !(pos["join_ethnicity"] > pos["generate_study_population"] && pos["generate_notebook"] > pos["generate_measures"] &&
		pos["recent_data"] > pos["generate_notebook"] && pos["generate_report_notebook"] > pos["combine"]) {
		t.Errorf("text output is not in dependency order:\n%s", text.stdout)
	}
}

func TestGraphAllExamples(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, ex := range examples {
		for _, format := range []string{"text", "dot", "mermaid"} {
			r := run(t, "graph", "--format", format, "--project-dir", filepath.Join(root, "examples", ex))
			r.wantCode(t, exitOK)
			if r.stdout == "" || r.stderr != "" {
				t.Errorf("%s --format %s: stdout %d bytes, stderr:\n%s", ex, format, len(r.stdout), r.stderr)
			}
		}
	}
}

func TestGraphBadFormat(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{valveDir, threeMistakesDir, filepath.Join(t.TempDir(), "missing")} {
		r := run(t, "graph", "--format", "bogus", "--project-dir", dir)
		r.wantCode(t, exitUsage)
		if r.stdout != "" {
			t.Errorf("stdout is not empty:\n%s", r.stdout)
		}
		want := "haven: unknown --format \"bogus\": use one of text, dot, mermaid\nRun 'haven --help' for usage.\n"
		if r.stderr != want {
			t.Errorf("stderr\n  %q\nwant\n  %q", r.stderr, want)
		}
	}
}

func TestGraphInvalidProject(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "dot", "mermaid"} {
		r := run(t, "graph", "--format", format, "--project-dir", threeMistakesDir)
		r.wantCode(t, exitInvalid)
		if r.stdout != "" {
			t.Errorf("--format %s: an invalid project printed a graph:\n%s", format, r.stdout)
		}
		got := parseProblems(t, r.stderr)
		if len(got) != len(wantThreeMistakes) {
			t.Fatalf("--format %s: %d problems on stderr, want %d:\n%s", format, len(got), len(wantThreeMistakes), r.stderr)
		}
		for i, w := range wantThreeMistakes {
			if g := got[i]; g.line != w.line || g.column != w.column || g.rule != w.rule || g.severity != "error" {
				t.Errorf("problem %d: %+v, want %d:%d error[%s]", i+1, g, w.line, w.column, w.rule)
			}
		}
		if !strings.Contains(r.stderr, "is invalid: fix the errors above, then run haven graph again") {
			t.Errorf("stderr lacks the summary:\n%s", r.stderr)
		}
		noANSI(t, "graph stderr", r.stderr)
		noStackTrace(t, r.stderr)
		if format == "text" {
			checkGolden(t, "graph-three-mistakes.stderr", r.stderr)
		}
	}
}

// graph shows only errors; warnings of a valid project do not appear.
func TestGraphValidProjectHidesWarnings(t *testing.T) {
	t.Parallel()
	r := run(t, "graph", "--project-dir", valveDir)
	r.wantCode(t, exitOK)
	if strings.Contains(r.stdout+r.stderr, "warning[") {
		t.Errorf("graph printed warnings:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}
