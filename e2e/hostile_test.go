package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileProjects feeds projects that try to reach outside their
// workspace. Each attempt is refused with a clear message, and nothing
// outside the project is read or written.
func TestHostileProjects(t *testing.T) {
	needPython(t)

	t.Run("pattern escaping the workspace", func(t *testing.T) {
		dir := project(t, map[string]string{"project.yaml": `version: '5.0'
actions:
  a:
    run: python:v2 -c "open('../escaped.csv','w').write('x')"
    outputs: {highly_sensitive: {o: ../escaped.csv}}
`})
		r := runHaven(t, dir, "run", "a", "--executor", "local")
		r.want(t, 1)
		if !strings.Contains(r.stderr, "error[pattern-parent-dir]") {
			t.Errorf("not refused as a '..' pattern:\n%s", r.stderr)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escaped.csv")); err == nil {
			t.Errorf("a file was written outside the project")
		}
	})

	t.Run("symlinks pointing outside", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "secret.txt")
		if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		outsideDir := t.TempDir()
		dir := project(t, map[string]string{"project.yaml": `version: '5.0'
actions:
  a:
    run: python:v2 analysis/peek.py
    outputs: {moderately_sensitive: {o: output/peek.txt}}
`, "analysis/peek.py": `import os
os.makedirs("output", exist_ok=True)
seen = []
for p in ["analysis/secret.txt", "linkdir/anything"]:
    try:
        seen.append(p + "=" + open(p).read())
    except OSError as e:
        seen.append(p + " unreadable")
open("output/peek.txt", "w").write("\n".join(seen))
`})
		if err := os.Symlink(outside, filepath.Join(dir, "analysis", "secret.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outsideDir, filepath.Join(dir, "linkdir")); err != nil {
			t.Fatal(err)
		}
		r := runHaven(t, dir, "run", "a", "--executor", "local")
		r.want(t, 0)
		got := readFile(t, filepath.Join(dir, "output", "peek.txt"))
		if strings.Contains(got, "=secret") {
			t.Errorf("the job read a file outside the project through a symlink: %q", got)
		}
	})

	t.Run("outputs that are not regular files", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "target.csv")
		if err := os.WriteFile(target, []byte("outside"), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := project(t, map[string]string{"project.yaml": `version: '5.0'
actions:
  fifo:
    run: python:v2 -c "import os; os.makedirs('output', exist_ok=True); os.mkfifo('output/pipe.csv')"
    outputs: {highly_sensitive: {o: output/pipe.csv}}
  dir:
    run: python:v2 -c "import os; os.makedirs('output/dir.csv', exist_ok=True)"
    outputs: {highly_sensitive: {o: output/dir.csv}}
  link:
    run: python:v2 -c "import os; os.makedirs('output', exist_ok=True); os.symlink('` + target + `', 'output/link.csv')"
    outputs: {highly_sensitive: {o: output/link.csv}}
`})
		r := runHaven(t, dir, "run", "run_all", "--executor", "local", "--continue-on-error")
		r.want(t, 1)
		for _, a := range []string{"fifo", "dir", "link"} {
			if !strings.Contains(r.stdout, "=> "+a+"\n   No outputs found matching patterns") {
				t.Errorf("%s: not refused as an output:\n%s", a, r.stdout)
			}
		}
		for _, p := range []string{"output/pipe.csv", "output/dir.csv", "output/link.csv"} {
			if fi, err := os.Lstat(filepath.Join(dir, p)); err == nil {
				t.Errorf("%s was put in the workspace (%v)", p, fi.Mode())
			}
		}
		if got := readFile(t, target); got != "outside" {
			t.Errorf("the file outside was changed: %q", got)
		}
	})

	t.Run("workspace output directory is a symlink", func(t *testing.T) {
		outsideDir := t.TempDir()
		dir := project(t, map[string]string{"project.yaml": `version: '5.0'
actions:
  a:
    run: python:v2 -c "import os; os.makedirs('output', exist_ok=True); open('output/a.csv','w').write('x')"
    outputs: {highly_sensitive: {o: output/a.csv}}
`})
		if err := os.Symlink(outsideDir, filepath.Join(dir, "output")); err != nil {
			t.Fatal(err)
		}
		r := runHaven(t, dir, "run", "a", "--executor", "local")
		if r.code == 0 {
			t.Errorf("wrote outputs through a symlinked output directory:\n%s", r.stdout)
		}
		if entries, _ := os.ReadDir(outsideDir); len(entries) > 0 {
			t.Errorf("files written outside the project: %v", entries)
		}
	})
}
