package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// study is a small pipeline in the shape researchers write: extract, then
// two analyses of it, then a report that needs both.
var study = map[string]string{
	"project.yaml": `version: '5.0'
actions:
  extract:
    run: python:v2 python analysis/extract.py
    outputs:
      highly_sensitive:
        cohort: output/cohort.csv
  counts:
    run: python:v2 analysis/counts.py
    needs: [extract]
    outputs:
      moderately_sensitive:
        table: output/counts.csv
  plot:
    run: python:v2 python analysis/plot.py
    needs: [extract]
    outputs:
      moderately_sensitive:
        figure: output/plot.svg
  report:
    run: python:v2 python analysis/report.py
    needs: [counts, plot]
    outputs:
      moderately_sensitive:
        report: output/report.md
`,
	"analysis/extract.py": `import os
os.makedirs("output", exist_ok=True)
with open("output/cohort.csv", "w") as f:
    f.write("patient_id,age\n")
    for i in range(100):
        f.write(f"{i},{20 + i % 50}\n")
print("extracted 100 patients")
`,
	"analysis/counts.py": `import csv
rows = list(csv.DictReader(open("output/cohort.csv")))
with open("output/counts.csv", "w") as f:
    f.write("band,n\n")
    f.write(f"under40,{sum(1 for r in rows if int(r['age']) < 40)}\n")
    f.write(f"over40,{sum(1 for r in rows if int(r['age']) >= 40)}\n")
`,
	"analysis/plot.py": `open("output/plot.svg", "w").write("<svg xmlns='http://www.w3.org/2000/svg'/>")
`,
	"analysis/report.py": `counts = open("output/counts.csv").read()
open("output/report.md", "w").write("# Report\n\n" + counts)
`,
}

func TestRunStudy(t *testing.T) {
	needPython(t)
	dir := project(t, study)

	r := runHaven(t, dir, "run", "run_all", "--executor", "local")
	r.want(t, 0)
	for _, want := range []string{
		"Using the local executor",
		"Running actions: extract, counts, plot, report",
		"extract: Preparing your code and workspace files",
		"extract: Completed successfully",
		"=> report\n   Completed successfully",
		"   log file: metadata/report.log",
		"     output/report.md  - moderately_sensitive",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := readFile(t, filepath.Join(dir, "output/report.md")); !strings.Contains(got, "under40,40") {
		t.Errorf("report.md = %q", got)
	}
	log := readFile(t, filepath.Join(dir, "metadata/extract.log"))
	if !strings.Contains(log, "extracted 100 patients") || !strings.Contains(log, "=============JOB SUMMARY=============") {
		t.Errorf("extract.log:\n%s", log)
	}
	// The highly sensitive cohort has a patient_id column; it is fine at
	// that level and nothing warns about it.
	if strings.Contains(r.stdout, "invalid moderately_sensitive") {
		t.Errorf("unexpected Level-4 exclusion:\n%s", r.stdout)
	}

	// Everything succeeded: nothing to do.
	r = runHaven(t, dir, "run", "run_all", "--executor", "local")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "=> All actions already completed successfully") {
		t.Errorf("second run_all:\n%s", r.stdout)
	}

	// Asking for report re-runs report only; -f re-runs its dependencies.
	r = runHaven(t, dir, "run", "report", "--executor", "local")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "Running actions: report\n") {
		t.Errorf("report alone:\n%s", r.stdout)
	}
	r = runHaven(t, dir, "run", "report", "-f", "--executor", "local")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "Running actions: extract, counts, plot, report") {
		t.Errorf("report -f:\n%s", r.stdout)
	}

	// Deleting an output makes its producer run again.
	if err := os.Remove(filepath.Join(dir, "output/plot.svg")); err != nil {
		t.Fatal(err)
	}
	r = runHaven(t, dir, "run", "report", "--executor", "local")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "Running actions: plot, report") {
		t.Errorf("after deleting plot.svg:\n%s", r.stdout)
	}

	st := runHaven(t, dir, "status")
	st.want(t, 0)
	if !strings.Contains(st.stdout, "report") || !strings.Contains(st.stdout, "succeeded") {
		t.Errorf("status:\n%s", st.stdout)
	}
	lg := runHaven(t, dir, "logs", "extract")
	lg.want(t, 0)
	if !strings.Contains(lg.stdout, "extracted 100 patients") {
		t.Errorf("logs extract:\n%s", lg.stdout)
	}
}

func TestRunMistakes(t *testing.T) {
	needPython(t)
	files := map[string]string{}
	for k, v := range study {
		files[k] = v
	}
	// A typo in an output pattern, and a script that fails.
	files["project.yaml"] = strings.Replace(study["project.yaml"], "output/plot.svg", "output/plots.svg", 1)
	files["analysis/counts.py"] = "import sys\nprint('counting...')\nraise SystemExit('no such column: sex')\n"
	dir := project(t, files)

	r := runHaven(t, dir, "run", "run_all", "--executor", "local", "--continue-on-error")
	r.want(t, 1)
	for _, want := range []string{
		"=> plot\n   No outputs found matching patterns:\n    - output/plots.svg\n\n   Did you mean to match one of these files instead?\n    - output/plot.svg\n   log file: metadata/plot.log",
		"=> counts\n   Job exited with an error",
		"no such column: sex",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	// report never started: its dependencies failed.
	if strings.Contains(r.stdout, "=> report") {
		t.Errorf("report listed although its dependencies failed:\n%s", r.stdout)
	}
	st := runHaven(t, dir, "status")
	if !strings.Contains(st.stdout, "dependency_failed") {
		t.Errorf("status:\n%s", st.stdout)
	}

	// Unknown action: the valid names, run_all first.
	r = runHaven(t, dir, "run", "reprot", "--executor", "local")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "Action 'reprot' not found in project.yaml") || !strings.Contains(r.stderr, "run_all (runs all actions in project)\n     extract") {
		t.Errorf("unknown action:\n%s", r.stderr)
	}
}

func TestCtrlC(t *testing.T) {
	needPython(t)
	dir := project(t, map[string]string{
		"project.yaml": `version: '5.0'
actions:
  slow:
    run: python:v2 -c "import time; time.sleep(300)"
    outputs: {highly_sensitive: {o: output/slow.csv}}
  quick:
    run: python:v2 -c "open('output/quick.csv','w').write('x')"
    outputs: {highly_sensitive: {o: output/quick.csv}}
`,
		"output/.keep": "",
	})
	cmd, out := start(t, dir, "run", "run_all", "--executor", "local")
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "slow: Executing job on the backend") {
		if time.Now().After(deadline) {
			t.Fatalf("slow never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("exit 0 after Ctrl-C:\n%s", out.String())
	}
	text := out.String()
	if !strings.Contains(text, "=> slow\n   Cancelled by user") {
		t.Errorf("summary after Ctrl-C:\n%s", text)
	}
	st := runHaven(t, dir, "status")
	if !strings.Contains(st.stdout, "cancelled_by_user") {
		t.Errorf("status:\n%s", st.stdout)
	}
}
