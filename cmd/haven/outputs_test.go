package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// haven outputs check and strip-html as a user runs them, through the
// real root command.
func TestOutputsCheckAndStripHTML(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clean := write("clean.csv", "age_band,patients\n18-39,125\n40-59,240\n")
	small := write("small.csv", "age_band,patients\n18-39,125\n60-79,6\n")
	report := write("report.html", `<html><body onload="go()"><script>x()</script><table><tr><td>42</td></tr></table></body></html>`)

	r := run(t, "outputs", "check", clean)
	r.wantCode(t, exitOK)
	if !strings.Contains(r.stdout, "PASS") {
		t.Errorf("clean table: %s", r.stdout)
	}
	r = run(t, "outputs", "check", "--json", clean, small)
	r.wantCode(t, exitInvalid)
	var rep struct {
		RequestVerdict string `json:"request_verdict"`
		Files          []struct {
			Path     string `json:"path"`
			Verdict  string `json:"verdict"`
			Findings []struct {
				Rule, Verdict, Column string
				Row                   int
			} `json:"findings"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if rep.RequestVerdict != "FAIL" || len(rep.Files) != 2 || rep.Files[1].Verdict != "FAIL" {
		t.Fatalf("report: %+v", rep)
	}
	found := false
	for _, f := range rep.Files[1].Findings {
		found = found || f.Rule == "C1" && f.Verdict == "FAIL" && f.Row == 2 && f.Column == "patients"
	}
	if !found {
		t.Errorf("no C1 FAIL at row 2, patients: %+v", rep.Files[1].Findings)
	}
	r = run(t, "outputs", "check", "--json", "--markdown", clean)
	r.wantCode(t, exitUsage)
	r = run(t, "outputs", "check", "--profile", "nhs", clean)
	r.wantCode(t, exitInvalid)
	if !strings.Contains(r.stderr, "opensafely") {
		t.Errorf("unknown profile: %s", r.stderr)
	}
	r = run(t, "outputs", "check", filepath.Join(dir, "missing.csv"))
	r.wantCode(t, exitInvalid)
	noStackTrace(t, r.stderr)

	r = run(t, "outputs", "check", report)
	r.wantCode(t, exitInvalid)
	if !strings.Contains(r.stdout, "F7a") {
		t.Errorf("HTML with a script: %s", r.stdout)
	}
	out := filepath.Join(dir, "release", "report.html")
	if err := os.Mkdir(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	r = run(t, "outputs", "strip-html", report, out)
	r.wantCode(t, exitOK)
	r = run(t, "outputs", "check", out)
	if strings.Contains(r.stdout, "F7a") || strings.Contains(r.stdout, "F7b") || !strings.Contains(r.stdout, "F7d") {
		t.Errorf("stripped HTML still flagged, or not read at all: %s", r.stdout)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), "<td>42</td>") {
		t.Errorf("the table did not survive: %s", data)
	}
	r = run(t, "outputs", "strip-html", report, out)
	r.wantCode(t, exitInvalid) // exists without --force
	r = run(t, "outputs", "strip-html", report, report)
	r.wantCode(t, exitUsage)
}
