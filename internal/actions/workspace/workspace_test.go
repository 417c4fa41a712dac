package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "output"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "output", "a.csv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "output", "a.csv"), filepath.Join(dir, "output", "link.csv")); err != nil {
		t.Fatal(err)
	}
	good := map[string]string{
		"output/a.csv":                        filepath.Join(dir, "output", "a.csv"),
		"/workspace/output/b.csv":             filepath.Join(dir, "output", "b.csv"),
		"./output/../output/c.csv":            filepath.Join(dir, "output", "c.csv"),
		"new/dir/d.csv":                       filepath.Join(dir, "new", "dir", "d.csv"),
		"/workspace":                          dir,
		filepath.Join(dir, "output", "e.csv"): filepath.Join(dir, "output", "e.csv"),
	}
	for in, want := range good {
		got, err := Resolve(dir, in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                            "empty",
		"/etc/passwd":                 "absolute path",
		"../x":                        "leaves the workspace",
		"output/../../x":              "leaves the workspace",
		"escape/secret.csv":           "symbolic link",
		"escape":                      "symbolic link",
		"output/link.csv":             "symbolic link",
		"output/a.csv/x":              "not a directory",
		"/workspace/../etc/x":         "leaves the workspace",
		filepath.Join(dir, "..", "x"): "absolute path",
	}
	for in, want := range bad {
		_, err := Resolve(dir, in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%q) error = %v, want %q", in, err, want)
		}
	}
	if _, err := MkdirAll(dir, "escape/made"); err == nil {
		t.Error("MkdirAll through a link succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "made")); err == nil {
		t.Error("MkdirAll created a directory outside the workspace")
	}
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, f := range []string{"output/input_2020-01-01.csv", "output/input_2020-02-01.csv", "output/input_end.csv"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "input_2099-01-01.csv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "input_2099-01-01.csv"), filepath.Join(dir, "output", "input_2099-01-01.csv")); err != nil {
		t.Fatal(err)
	}
	got, err := Glob(dir, "output/input_20*.csv")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "output/input_2020-01-01.csv,output/input_2020-02-01.csv" {
		t.Errorf("Glob = %v (links must be skipped)", got)
	}
	if _, err := Glob(dir, "../*"); err == nil {
		t.Error("Glob outside the workspace succeeded")
	}
	if _, err := Glob(dir, "output/[x"); err == nil {
		t.Error("a bad pattern gave no error")
	}
}
