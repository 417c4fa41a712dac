package disclosure

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeclaredControls(t *testing.T) {
	for _, tc := range []struct {
		profile, control, mode string
		o                      ControlOptions
		want                   string
	}{
		{"opensafely", "round", "", ControlOptions{}, "redact<=7,round5"},
		{"opensafely", "redact", "", ControlOptions{Threshold: 9}, "redact<=9"},
		{"opensafely", "round", "", ControlOptions{Base: 10, Token: "[REDACTED]"}, "redact<=7,round10,token=[REDACTED]"},
		{"opensafely", "midpoint6", "", ControlOptions{}, "midpoint6"},
		{"opensafely", "protect", "", ControlOptions{}, "protect:recompute-totals,redact<=7,round5"},
		{"acro", "protect", ProtectNextSmallest, ControlOptions{}, "protect:next-smallest,redact<=9"},
		{"ukllc", "round", "", ControlOptions{}, "redact<=9,redact0,round5"},
	} {
		p, err := LoadProfile(tc.profile)
		if err != nil {
			t.Fatal(err)
		}
		if got := DeclaredControls(tc.control, p, tc.o, tc.mode); got != tc.want {
			t.Errorf("%s %s %s: %q, want %q", tc.profile, tc.control, tc.mode, got, tc.want)
		}
	}
}

func TestUpdateManifestKeepsTheRest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "release.yaml")
	orig := "# reviewed by the study team\noutputs:\n  output/other.csv:\n    description: deaths by region # keep\n"
	if err := os.WriteFile(file, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second update changes the entry, never duplicates it
		if _, err := UpdateManifest(file, "output/by_age_midpoint6.csv", "midpoint6", []string{"cases_midpoint6"}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, err := LoadContext(file)
	if err != nil {
		t.Fatal(err)
	}
	got := ctx.For("output/by_age_midpoint6.csv")
	if got == nil || got.Controls != "midpoint6" || got.Columns["cases_midpoint6"] != ClassCount {
		t.Fatalf("entry after update: %+v", got)
	}
	if o := ctx.For("output/other.csv"); o == nil || o.Description != "deaths by region" {
		t.Errorf("the other entry was lost: %+v", o)
	}
	b, _ := os.ReadFile(file)
	for _, want := range []string{"# reviewed by the study team", "# keep"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("comment %q lost:\n%s", want, b)
		}
	}
	if n := strings.Count(string(b), "output/by_age_midpoint6.csv"); n != 1 {
		t.Errorf("entry written %d times:\n%s", n, b)
	}
}

func TestUpdateManifestRefusesWhatCheckCannotRead(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("outputs:\n  x.csv:\n    colour: red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(bad)
	if _, err := UpdateManifest(bad, "x.csv", "midpoint6", nil); err == nil {
		t.Fatal("a context file with an unknown field was rewritten")
	}
	if after, _ := os.ReadFile(bad); string(after) != string(before) {
		t.Error("the refused file was changed")
	}
	if err := CheckManifest(filepath.Join(dir, "no", "such", "folder.yaml")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a manifest in a missing folder: %v", err)
	}
}
