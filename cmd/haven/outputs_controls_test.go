package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runControl runs `haven outputs <args>` with the apply commands, through a
// root built as rootCommand builds its own, so exit codes are the real ones.
func runControl(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: os.Getenv}
	root := &cobra.Command{Use: "haven", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	outputs := &cobra.Command{Use: "outputs"}
	for _, c := range a.outputsControlCommands() {
		c.RunE = runE(c.RunE)
		outputs.AddCommand(c)
	}
	root.AddCommand(outputs)
	root.SetArgs(append([]string{"outputs"}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	code := a.exitCode(root.Execute())
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

const controlTable = "ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,3,41,44\n"

func ctlWriteInput(t *testing.T, dir string) string {
	t.Helper()
	in := filepath.Join(dir, "table.csv")
	if err := os.WriteFile(in, []byte(controlTable), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

func ctlReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOutputsRoundWritesOutAndAudit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := ctlWriteInput(t, dir)
	out := filepath.Join(dir, "rounded.csv")
	r := runControl(t, "round", in, out)
	r.wantCode(t, exitOK)
	audit := out + ".audit.csv"
	if want := "wrote " + out + ": 3 cells changed (audit: " + audit + ")\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr is not empty:\n%s", r.stderr)
	}
	if got, want := ctlReadFile(t, out), "ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,[REDACTED],40,40\n"; got != want {
		t.Errorf("OUT:\n got %q\nwant %q", got, want)
	}
	wantAudit := "row,column,before,after,reason\n" +
		"2,female,3,[REDACTED],redacted: 3 is at or below 7\n" +
		"2,male,41,40,rounded to the nearest 5\n" +
		"2,total,44,40,recomputed as the sum of the displayed cells\n"
	if got := ctlReadFile(t, audit); got != wantAudit {
		t.Errorf("audit:\n got %q\nwant %q", got, wantAudit)
	}
	if got := ctlReadFile(t, in); got != controlTable {
		t.Errorf("the input changed:\n%s", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the directory holds %v, want the input, OUT and the audit log only", names)
	}
}

func TestOutputsControlCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  func(in, out string) []string
		code  int
		want  []string // on stdout (exit 0) or stderr
		check func(t *testing.T, out string)
	}{
		{"redact", func(in, out string) []string { return []string{"redact", in, out} }, exitOK,
			[]string{"1 cell changed"}, func(t *testing.T, out string) {
				if !strings.Contains(ctlReadFile(t, out), "Mixed,[REDACTED],41,44") {
					t.Errorf("OUT:\n%s", ctlReadFile(t, out))
				}
			}},
		{"midpoint6", func(in, out string) []string { return []string{"midpoint6", in, out} }, exitOK,
			[]string{"4 cells changed"}, func(t *testing.T, out string) {
				if got := ctlReadFile(t, out); !strings.HasPrefix(got, "ethnicity,female_midpoint6,male_midpoint6,total_midpoint6_derived\n") {
					t.Errorf("OUT:\n%s", got)
				}
			}},
		{"protect complementary", func(in, out string) []string {
			return []string{"protect", "--profile", "acro", "--mode", "complementary", in, out}
		}, exitOK, []string{"2 cells changed"}, func(t *testing.T, out string) {
			if !strings.Contains(ctlReadFile(t, out), "Mixed,[REDACTED],[REDACTED],44") {
				t.Errorf("OUT:\n%s", ctlReadFile(t, out))
			}
		}},
		{"--audit and --columns", func(in, out string) []string {
			return []string{"round", "--columns", "male", "--audit", filepath.Join(filepath.Dir(out), "log.csv"), in, out}
		}, exitOK, []string{"log.csv"}, nil},
		{"unknown column", func(in, out string) []string { return []string{"round", "--columns", "females", in, out} }, exitInvalid,
			[]string{`column "females" is not in the table`, "ethnicity, female, male, total"}, nil},
		{"bogus mode", func(in, out string) []string { return []string{"protect", "--mode", "bogus", in, out} }, exitUsage,
			[]string{`unknown --mode "bogus"`, "recompute-totals or complementary"}, nil},
		{"OUT is IN", func(in, _ string) []string { return []string{"round", in, in} }, exitUsage,
			[]string{"is the input file", "table_round.csv"}, nil},
		{"missing IN", func(in, out string) []string { return []string{"round", in + ".missing", out} }, exitInvalid,
			[]string{"does not exist"}, nil},
		{"unknown profile", func(in, out string) []string { return []string{"round", "--profile", "bogus", in, out} }, exitInvalid,
			[]string{`unknown profile "bogus"`}, nil},
		{"one argument", func(in, _ string) []string { return []string{"round", in} }, exitUsage,
			[]string{"accepts 2 arg(s)"}, nil},
		{"--base on protect", func(in, out string) []string { return []string{"protect", "--base", "10", in, out} }, exitUsage,
			[]string{"unknown flag: --base"}, nil},
		{"negative threshold", func(in, out string) []string { return []string{"round", "--threshold", "-2", in, out} }, exitUsage,
			[]string{"--threshold -2 is negative"}, nil},
		{"protect cannot reach a safe table", func(in, out string) []string {
			return []string{"protect", "--columns", "female", in, out}
		}, exitInvalid, []string{"protect could not reach a safe table", "C3"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := ctlWriteInput(t, dir)
			out := filepath.Join(dir, "out.csv")
			r := runControl(t, tt.args(in, out)...)
			r.wantCode(t, tt.code)
			text := r.stdout
			if tt.code != exitOK {
				text = r.stderr
				if r.stdout != "" {
					t.Errorf("stdout is not empty:\n%s", r.stdout)
				}
				if !strings.HasPrefix(r.stderr, "haven: ") {
					t.Errorf("stderr does not start with \"haven: \":\n%s", r.stderr)
				}
				if _, err := os.Stat(out); err == nil {
					t.Errorf("OUT was written although the command failed")
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("output does not mention %q:\n%s", w, text)
				}
			}
			noStackTrace(t, r.stderr)
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}

func TestOutputsControlRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := ctlWriteInput(t, dir)
	out := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(out, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runControl(t, "round", in, out)
	r.wantCode(t, exitInvalid)
	for _, w := range []string{out + " already exists", "--force"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
	if got := ctlReadFile(t, out); got != "keep me\n" {
		t.Errorf("OUT was overwritten without --force:\n%s", got)
	}
	if _, err := os.Stat(out + ".audit.csv"); err == nil {
		t.Errorf("the audit log was written although the command failed")
	}

	r = runControl(t, "round", "--force", in, out)
	r.wantCode(t, exitOK)
	if got := ctlReadFile(t, out); !strings.Contains(got, "Mixed,[REDACTED],40,40") {
		t.Errorf("OUT was not overwritten with --force:\n%s", got)
	}
}

func TestOutputsControlHelp(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"redact", "round", "midpoint6", "protect"} {
		r := runControl(t, name, "--help")
		r.wantCode(t, exitOK)
		for _, w := range []string{"haven outputs " + name + " [flags] IN OUT", "Examples:", "--profile", "--columns", "--audit", "--force", "Exit codes:"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s --help does not mention %q:\n%s", name, w, r.stdout)
			}
		}
	}
}
