package local

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/haven-tre/haven/internal/executor"
)

func TestImageName(t *testing.T) {
	cases := []struct{ ref, name, tag string }{
		{"python:v2", "python", "v2"},
		{"r:latest", "r", "latest"},
		{"stata-mp:v1.2-pre", "stata-mp", "v1.2-pre"},
		{"ghcr.io/opensafely-core/ehrql:v1", "ehrql", "v1"},
		{"python", "python", ""},
	}
	for _, c := range cases {
		if name, tag := imageName(c.ref); name != c.name || tag != c.tag {
			t.Errorf("imageName(%q) = %q, %q; want %q, %q", c.ref, name, tag, c.name, c.tag)
		}
	}
}

func TestPlanArgs(t *testing.T) {
	dir := "/scratch/job1"
	cases := []struct {
		image string
		args  []string
		want  []string
	}{
		{"python", []string{"python", "analysis/x.py"}, []string{"analysis/x.py"}},
		{"python", []string{"python3", "analysis/x.py"}, []string{"analysis/x.py"}},
		{"python", []string{"analysis/x.py", "python"}, []string{"analysis/x.py", "python"}},
		{"python", []string{"-m", "pytest"}, []string{"-m", "pytest"}},
		{"r", []string{"Rscript", "analysis/x.R"}, []string{"analysis/x.R"}},
		{"r", []string{"R", "analysis/x.R"}, []string{"analysis/x.R"}},
		{"r", []string{"analysis/x.R"}, []string{"analysis/x.R"}},
		{"jupyter", []string{"jupyter", "nbconvert", "--execute", "/workspace/nb.ipynb"}, []string{"nbconvert", "--execute", dir + "/nb.ipynb"}},
		{"jupyter", []string{"nbconvert", "--output-dir=/workspace/output"}, []string{"nbconvert", "--output-dir=" + dir + "/output"}},
		{"stata-mp", []string{"stata-mp", "analysis/x.do"}, []string{"analysis/x.do"}},
		{"stata-mp", []string{"analysis/x.do", "arg"}, []string{"analysis/x.do", "arg"}},
		{"python", nil, []string{}},
	}
	for _, c := range cases {
		in, ok := interpreterFor(c.image)
		if !ok {
			t.Fatalf("no interpreter for %s", c.image)
		}
		p := plan{image: c.image, program: in.program, aliases: in.aliases}
		if got := p.args(c.args, dir); !slices.Equal(got, c.want) {
			t.Errorf("%s %q: args %q, want %q", c.image, c.args, got, c.want)
		}
	}
}

func TestMapWorkspace(t *testing.T) {
	dir := "/s/j"
	cases := map[string]string{
		"/workspace":                       dir,
		"/workspace/":                      dir + "/",
		"/workspace/output/a.csv":          dir + "/output/a.csv",
		"--output=/workspace/out.csv":      "--output=" + dir + "/out.csv",
		"--dir=/workspace":                 "--dir=" + dir,
		"-o=/workspace/x":                  "-o=" + dir + "/x",
		"key=/workspace/x":                 "key=/workspace/x", // not an option
		"/workspaces":                      "/workspaces",
		"/workspacex/a":                    "/workspacex/a",
		"workspace/a":                      "workspace/a",
		"/other/workspace/a":               "/other/workspace/a",
		"--config={\"p\": \"/workspace\"}": "--config={\"p\": \"/workspace\"}",
		"":                                 "",
	}
	for in, want := range cases {
		if got := mapWorkspace(in, dir); got != want {
			t.Errorf("mapWorkspace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(a, "tool"), []byte("#!/bin/sh\n"), 0o644); err != nil { // not executable
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(a, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	list := "" + string(filepath.ListSeparator) + "relative" + string(filepath.ListSeparator) + a + string(filepath.ListSeparator) + b
	if got, err := lookPath("tool", list); err != nil || got != filepath.Join(b, "tool") {
		t.Errorf("lookPath(tool) = %q, %v; want the executable one in %s", got, err, b)
	}
	if _, err := lookPath("dir", list); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lookPath(dir) = %v, want not found", err)
	}
}

func TestPlanForNativeWins(t *testing.T) {
	def := executor.JobDefinition{Action: "a", Image: "python:v2"}
	native := map[string]NativeAction{
		"python": func(context.Context, string, []string, io.Writer, io.Writer) (int, error) { return 0, nil },
	}
	p, err := planFor(def, t.TempDir(), native)
	if err != nil || p.native == nil {
		t.Errorf("planFor with a native python and no python3 on PATH: %+v, %v; want the native action", p, err)
	}
}
