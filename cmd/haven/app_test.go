package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/haven-tre/haven"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Usage:", "haven [command]", "check", "graph", "version", "completion", "--help", "Exit codes:"}},
		{[]string{"-h"}, []string{"Usage:", "check", "graph", "version"}},
		{[]string{"help"}, []string{"Usage:", "check", "graph", "version"}},
		{[]string{}, []string{"Usage:", "check", "graph", "version"}},
		{[]string{"check", "--help"}, []string{"haven check [flags]", "--project-dir", "--json", "-h, --help", "Examples:"}},
		{[]string{"help", "check"}, []string{"haven check [flags]", "--project-dir", "--json"}},
		{[]string{"graph", "--help"}, []string{"haven graph [flags]", "--project-dir", "--format", "text, dot or mermaid", "mermaid", "-h, --help"}},
		{[]string{"graph", "-h"}, []string{"--project-dir", "--format"}},
		{[]string{"version", "--help"}, []string{"haven version [flags]", "--json", "-h, --help"}},
		{[]string{"completion", "--help"}, []string{"bash", "zsh", "fish", "powershell"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"haven"}, tt.args...), " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, tt.args...)
			r.wantCode(t, exitOK)
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help does not mention %q:\n%s", w, r.stdout)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr is not empty:\n%s", r.stderr)
			}
			noANSI(t, "help", r.stdout)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string // on stderr
	}{
		{[]string{"bogus"}, []string{`unknown command "bogus" for "haven"`}},
		{[]string{"chek"}, []string{`unknown command "chek"`, "Did you mean this?", "check"}},
		{[]string{"--bogus"}, []string{"unknown flag: --bogus"}},
		{[]string{"-x"}, []string{"unknown shorthand flag: 'x'"}},
		{[]string{"check", "--bogus"}, []string{"unknown flag: --bogus"}},
		{[]string{"check", "--project-dir"}, []string{"flag needs an argument", "--project-dir"}},
		{[]string{"check", "--json=maybe"}, []string{"invalid argument", "maybe"}},
		{[]string{"check", "extra"}, []string{`"extra"`}},
		{[]string{"graph", "--frmat", "dot"}, []string{"unknown flag: --frmat"}},
		{[]string{"graph", "--format", "bogus"}, []string{`unknown --format "bogus"`, "text, dot, mermaid"}},
		{[]string{"graph", "--format="}, []string{`unknown --format ""`, "text, dot, mermaid"}},
		{[]string{"version", "--bogus"}, []string{"unknown flag: --bogus"}},
		{[]string{"version", "extra"}, []string{`"extra"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"haven"}, tt.args...), " "), func(t *testing.T) {
			t.Parallel()
			r := run(t, tt.args...)
			r.wantCode(t, exitUsage)
			if r.stdout != "" {
				t.Errorf("stdout is not empty:\n%s", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "haven: ") {
				t.Errorf("stderr does not start with \"haven: \":\n%s", r.stderr)
			}
			for _, w := range append(tt.want, "Run 'haven --help' for usage.") {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
			// A usage error is short: no usage dump, no stack trace.
			if strings.Contains(r.stderr, "Usage:") {
				t.Errorf("stderr dumps the usage text:\n%s", r.stderr)
			}
			noStackTrace(t, r.stderr)
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := run(t, "version")
	r.wantCode(t, exitOK)
	if !strings.HasPrefix(r.stdout, "haven ") || !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("version output is not one line starting with \"haven \": %q", r.stdout)
	}
	for _, w := range []string{buildVersion(), runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("version output %q lacks %q", r.stdout, w)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr is not empty: %q", r.stderr)
	}
}

func TestVersionJSON(t *testing.T) {
	t.Parallel()
	r := run(t, "version", "--json")
	r.wantCode(t, exitOK)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("version --json is not JSON: %v\n%s", err, r.stdout)
	}
	v, ok := got["version"].(string)
	if !ok || v == "" {
		t.Errorf("version --json has no non-empty string \"version\": %s", r.stdout)
	}
	if v != buildVersion() {
		t.Errorf("version %q, want %q", v, buildVersion())
	}
	if got["go"] != runtime.Version() {
		t.Errorf("go = %v, want %s", got["go"], runtime.Version())
	}
	if got["platform"] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("platform = %v", got["platform"])
	}
	if r.stderr != "" {
		t.Errorf("stderr is not empty: %q", r.stderr)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	r := run(t, "completion", "bash")
	r.wantCode(t, exitOK)
	for _, w := range []string{"# bash completion", "__start_haven", "complete -o default -F __start_haven haven"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("bash completion lacks %q", w)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr is not empty: %q", r.stderr)
	}
	for _, shell := range []string{"zsh", "fish", "powershell"} {
		r := run(t, "completion", shell)
		r.wantCode(t, exitOK)
		if !strings.Contains(r.stdout, "haven") {
			t.Errorf("%s completion does not mention haven", shell)
		}
	}
}

// The completion command tells the shell which flags and subcommands exist.
func TestCompletionCandidates(t *testing.T) {
	t.Parallel()
	r := run(t, "__complete", "graph", "--format", "")
	r.wantCode(t, exitOK)
	r = run(t, "__complete", "")
	r.wantCode(t, exitOK)
	for _, w := range []string{"check", "graph", "version"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("completion of subcommands lacks %q:\n%s", w, r.stdout)
		}
	}
	r = run(t, "__complete", "check", "--")
	r.wantCode(t, exitOK)
	for _, w := range []string{"--project-dir", "--json"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("completion of check flags lacks %q:\n%s", w, r.stdout)
		}
	}
}

// exitCode maps every kind of error to the documented exit codes.
func TestExitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err        error
		want       int
		wantStderr string
	}{
		{nil, exitOK, ""},
		{exitError{exitInvalid}, exitInvalid, ""},
		{haven.Errorf(haven.EINVALID, "bad input"), exitInvalid, "haven: bad input\n"},
		{haven.Errorf(haven.ENOTFOUND, "no such thing"), exitInvalid, "haven: no such thing\n"},
		{&haven.Error{Code: haven.EINTERNAL, Message: "disk on fire", Err: errors.New("EIO")}, exitInternal, "haven: disk on fire: EIO\n"},
		{usageError{errors.New("bad flag")}, exitUsage, "haven: bad flag\nRun 'haven --help' for usage.\n"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		a := &app{stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
		if got := a.exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
		if stderr.String() != tt.wantStderr {
			t.Errorf("exitCode(%v) printed %q, want %q", tt.err, stderr.String(), tt.wantStderr)
		}
	}
}

// failWriter fails every write, as a closed pipe or a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) {
	return 0, errors.New("write failed: no space left on device")
}

// A failure to write the output is not a usage error: the command line was
// fine. It should exit 3 (internal or environment failure).
func TestWriteFailureIsNotUsageError(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"graph", "--project-dir", valveDir},
		{"check", "--json", "--project-dir", valveDir},
		{"version", "--json"},
	} {
		var stderr bytes.Buffer
		code := Run(context.Background(), args, failWriter{}, &stderr)
		if code != exitInternal {
			t.Errorf("haven %s with a failing stdout: exit %d, want %d; stderr:\n%s", strings.Join(args, " "), code, exitInternal, stderr.String())
		}
		if strings.Contains(stderr.String(), "haven --help") {
			t.Errorf("haven %s with a failing stdout suggests --help:\n%s", strings.Join(args, " "), stderr.String())
		}
	}
}

// Asking for help on something that does not exist is a usage error.
func TestUnknownHelpTopicIsUsageError(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help", "bogus"}, {"completion", "bogus"}} {
		r := run(t, args...)
		if r.code != exitUsage {
			t.Errorf("haven %s: exit %d, want %d", strings.Join(args, " "), r.code, exitUsage)
		}
	}
}
