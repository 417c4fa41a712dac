package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Output to anything but a terminal carries no colour codes, so it can be
// piped into files, grep and CI logs.
func TestNoANSIWhenNotATerminal(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"check", "--project-dir", threeMistakesDir},
		{"check", "--project-dir", valveDir},
		{"graph", "--project-dir", threeMistakesDir},
		{"graph", "--project-dir", valveDir},
	} {
		// A bytes.Buffer.
		r := run(t, args...)
		noANSI(t, strings.Join(args, " ")+" stdout", r.stdout)
		noANSI(t, strings.Join(args, " ")+" stderr", r.stderr)

		// A regular file.
		dir := t.TempDir()
		out, err := os.Create(filepath.Join(dir, "stdout"))
		if err != nil {
			t.Fatal(err)
		}
		errf, err := os.Create(filepath.Join(dir, "stderr"))
		if err != nil {
			t.Fatal(err)
		}
		Run(context.Background(), args, out, errf)
		out.Close()
		errf.Close()
		for _, name := range []string{"stdout", "stderr"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			noANSI(t, strings.Join(args, " ")+" "+name+" (file)", string(b))
		}
	}
}

// NO_COLOR turns colour off whatever the output is.
func TestNoColorEnvironment(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	var stdout, stderr bytes.Buffer
	Run(context.Background(), []string{"check", "--project-dir", threeMistakesDir}, &stdout, &stderr)
	noANSI(t, "check stdout", stdout.String())
	stdout.Reset()
	Run(context.Background(), []string{"graph", "--project-dir", threeMistakesDir}, &stdout, &stderr)
	noANSI(t, "graph stderr", stderr.String())
}

func TestColoursDecision(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "NO_COLOR" {
				return v
			}
			return ""
		}
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tt := range []struct {
		name string
		c    colours
	}{
		{"buffer", newColours(&bytes.Buffer{}, env(""))},
		{"regular file", newColours(f, env(""))},
		{"regular file with NO_COLOR", newColours(f, env("1"))},
	} {
		if tt.c.on {
			t.Errorf("%s: colour is on", tt.name)
		}
		if got := tt.c.wrap("31", "x"); got != "x" {
			t.Errorf("%s: wrap = %q", tt.name, got)
		}
	}
}
