package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/disclosure"
)

// Tests of --manifest on the apply commands and of protect --mode
// next-smallest on the command line. They change the current folder
// (bundleFiles), so none is parallel.

const manifestBefore = `# Context for the May release request.
outputs:
  output/by_age.csv:
    description: Patients by age band   # from the protocol
    population: {description: registered adults, size: 250000}
`

func loadManifest(t *testing.T, file string) *disclosure.Context {
	t.Helper()
	c, err := disclosure.LoadContext(file)
	if err != nil {
		t.Fatalf("the manifest does not load: %v\n%s", err, ctlReadFile(t, file))
	}
	return c
}

func TestOutputsRoundManifestThenCheck(t *testing.T) {
	bundleFiles(t, map[string]string{"output/table.csv": controlTable, "release.yaml": manifestBefore})

	r := run(t, "outputs", "round", "--manifest", "release.yaml", "output/table.csv", "output/table_rounded.csv")
	r.wantCode(t, exitOK)
	if want := "declared output/table_rounded.csv in release.yaml: controls redact<=7,round5\n"; !strings.HasSuffix(r.stdout, want) {
		t.Errorf("stdout %q, want it to end %q", r.stdout, want)
	}
	c := loadManifest(t, "release.yaml")
	if oc := c.Outputs["output/table_rounded.csv"]; oc == nil || oc.Controls != "redact<=7,round5" {
		t.Fatalf("the new entry: %+v", oc)
	}
	// The unrelated entry is kept, with its comments.
	if oc := c.Outputs["output/by_age.csv"]; oc == nil || oc.Description != "Patients by age band" || oc.Population.Size != 250000 {
		t.Errorf("the unrelated entry changed: %+v", oc)
	}
	raw := ctlReadFile(t, "release.yaml")
	for _, w := range []string{"# Context for the May release request.", "# from the protocol"} {
		if !strings.Contains(raw, w) {
			t.Errorf("the manifest lost %q:\n%s", w, raw)
		}
	}

	// The checker, given the manifest, passes the output.
	check := run(t, "outputs", "check", "--context", "release.yaml", "output/table_rounded.csv")
	check.wantCode(t, exitOK)
	if !strings.HasPrefix(check.stdout, "PASS   output/table_rounded.csv\n") {
		t.Errorf("check:\n%s", check.stdout)
	}
	// The release request shows the declared controls.
	runBundle(t, "--to", "release", "--context", "release.yaml", "output/table_rounded.csv").wantCode(t, exitOK)
	var req struct {
		Files []struct {
			Path, Controls string
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(ctlReadFile(t, "release/request.json")), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Files) != 1 || req.Files[0].Controls != "redact<=7,round5" {
		t.Errorf("request.json files: %+v", req.Files)
	}
	if md := ctlReadFile(t, "release/request.md"); !strings.Contains(md, "**Disclosure controls:** redact<=7,round5") {
		t.Errorf("request.md lacks the controls:\n%s", md)
	}

	// Again, with another base: the entry is updated, not repeated.
	run(t, "outputs", "round", "--force", "--base", "10", "--manifest", "release.yaml", "output/table.csv", "output/table_rounded.csv").wantCode(t, exitOK)
	raw = ctlReadFile(t, "release.yaml")
	if n := strings.Count(raw, "output/table_rounded.csv:"); n != 1 {
		t.Errorf("the entry appears %d times:\n%s", n, raw)
	}
	if oc := loadManifest(t, "release.yaml").Outputs["output/table_rounded.csv"]; oc.Controls != "redact<=7,round10" {
		t.Errorf("controls %q after --base 10", oc.Controls)
	}
}

func TestOutputsMidpoint6Manifest(t *testing.T) {
	bundleFiles(t, map[string]string{"output/counts.csv": "group,cases,controls,total\na,4,21,25\nb,21,19,40\n"})
	run(t, "outputs", "midpoint6", "--manifest", "release.yaml", "output/counts.csv", "output/counts_mp6.csv").wantCode(t, exitOK)
	oc := loadManifest(t, "release.yaml").Outputs["output/counts_mp6.csv"]
	if oc == nil || oc.Controls != "midpoint6" {
		t.Fatalf("entry %+v", oc)
	}
	want := map[string]disclosure.Class{"cases_midpoint6": "count", "controls_midpoint6": "count", "total_midpoint6_derived": "count"}
	if len(oc.Columns) != len(want) {
		t.Errorf("columns %v, want %v", oc.Columns, want)
	}
	for k, v := range want {
		if oc.Columns[k] != v {
			t.Errorf("columns %v, want %v", oc.Columns, want)
		}
	}
	run(t, "outputs", "check", "--context", "release.yaml", "output/counts_mp6.csv").wantCode(t, exitOK)
}

func TestOutputsManifestControls(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"redact", []string{"redact"}, "redact<=7"},
		{"redact with threshold and token", []string{"redact", "--threshold", "5", "--token", "*"}, "redact<=5,token=*"},
		{"round under ukllc redacts zeros", []string{"round", "--profile", "ukllc"}, "redact<=9,redact0,round5"},
		{"protect, opensafely default", []string{"protect"}, "protect:recompute-totals,redact<=7,round5"},
		{"protect complementary rounds under opensafely", []string{"protect", "--mode", "complementary"}, "protect:complementary,redact<=7,round5"},
		{"protect next-smallest under acro", []string{"protect", "--profile", "acro", "--mode", "next-smallest"}, "protect:next-smallest,redact<=9"},
		{"protect default under acro", []string{"protect", "--profile", "acro"}, "protect:complementary,redact<=9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bundleFiles(t, map[string]string{"table.csv": "group,cases\na,3\nb,20\nc,45\nTotal,68\n"})
			args := append([]string{"outputs"}, tc.args...)
			r := run(t, append(args, "--manifest", "m.yaml", "table.csv", "out.csv")...)
			r.wantCode(t, exitOK)
			if oc := loadManifest(t, "m.yaml").Outputs["out.csv"]; oc == nil || oc.Controls != tc.want {
				t.Errorf("controls %+v, want %q", oc, tc.want)
			}
		})
	}
}

func TestOutputsManifestCopiesGlobEntry(t *testing.T) {
	bundleFiles(t, map[string]string{"output/table.csv": controlTable, "release.yaml": `outputs:
  output/*_rounded.csv:
    description: Ethnicity by sex
    exceptions:
      - rule: C1
        justification: the number of regions, which is public
`})
	r := run(t, "outputs", "round", "--manifest", "release.yaml", "output/table.csv", "output/table_rounded.csv")
	r.wantCode(t, exitOK)
	if !strings.Contains(r.stdout, "(its other fields copied from the entry output/*_rounded.csv, which matched it before)") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	c := loadManifest(t, "release.yaml")
	oc := c.For("output/table_rounded.csv")
	if oc == nil || oc.Controls != "redact<=7,round5" || oc.Description != "Ethnicity by sex" || len(oc.Exceptions) != 1 {
		t.Errorf("the file's context: %+v", oc)
	}
	if g := c.Outputs["output/*_rounded.csv"]; g == nil || g.Controls != "" {
		t.Errorf("the glob entry changed: %+v", g)
	}
}

func TestOutputsManifestErrors(t *testing.T) {
	t.Run("without --manifest nothing is written", func(t *testing.T) {
		bundleFiles(t, map[string]string{"table.csv": controlTable})
		run(t, "outputs", "round", "table.csv", "out.csv").wantCode(t, exitOK)
		entries, err := os.ReadDir(".")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != "out.csv out.csv.audit.csv table.csv" {
			t.Errorf("files: %v", names)
		}
	})
	t.Run("a manifest the checker would refuse", func(t *testing.T) {
		bad := "outputs:\n  x.csv: {description: a, colour: red}\n"
		bundleFiles(t, map[string]string{"table.csv": controlTable, "bad.yaml": bad})
		r := run(t, "outputs", "round", "--manifest", "bad.yaml", "table.csv", "out.csv")
		r.wantCode(t, exitInvalid)
		for _, w := range []string{"--manifest:", "bad.yaml", "field colour not found", "nothing was written"} {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
			}
		}
		if _, err := os.Stat("out.csv"); err == nil {
			t.Error("OUT was written")
		}
		if got := ctlReadFile(t, "bad.yaml"); got != bad {
			t.Errorf("the manifest changed:\n%s", got)
		}
	})
	t.Run("a manifest in a folder that does not exist", func(t *testing.T) {
		bundleFiles(t, map[string]string{"table.csv": controlTable})
		r := run(t, "outputs", "round", "--manifest", "nowhere/m.yaml", "table.csv", "out.csv")
		r.wantCode(t, exitInvalid)
		if !strings.Contains(r.stderr, "the folder nowhere does not exist") {
			t.Errorf("stderr:\n%s", r.stderr)
		}
		if _, err := os.Stat("out.csv"); err == nil {
			t.Error("OUT was written")
		}
	})
	t.Run("the manifest is the input", func(t *testing.T) {
		bundleFiles(t, map[string]string{"table.csv": controlTable})
		r := run(t, "outputs", "round", "--manifest", "table.csv", "table.csv", "out.csv")
		r.wantCode(t, exitUsage)
		if !strings.Contains(r.stderr, "--manifest table.csv is the input, the output or the audit log") {
			t.Errorf("stderr:\n%s", r.stderr)
		}
	})
	t.Run("not a mapping", func(t *testing.T) {
		bundleFiles(t, map[string]string{"table.csv": controlTable, "m.yaml": "outputs:\n  out.csv: [a, b]\n"})
		r := run(t, "outputs", "round", "--manifest", "m.yaml", "table.csv", "out.csv")
		r.wantCode(t, exitInvalid)
		if !strings.Contains(r.stderr, "m.yaml") || !strings.Contains(r.stderr, "nothing was written") {
			t.Errorf("stderr:\n%s", r.stderr)
		}
		noStackTrace(t, r.stderr)
	})
}

func TestOutputsProtectNextSmallest(t *testing.T) {
	bundleFiles(t, map[string]string{
		"table.csv": "group,patients\na,3\nb,20\nc,20\nd,45\nTotal,88\n",
		"two.csv":   "group,a,b,total\nx,3,21,24\ny,31,42,73\nTotal,34,63,97\n",
	})
	r := run(t, "outputs", "protect", "--profile", "acro", "--mode", "next-smallest", "table.csv", "out.csv")
	r.wantCode(t, exitOK)
	if got, want := ctlReadFile(t, "out.csv"), "group,patients\na,[REDACTED]\nb,[REDACTED]\nc,[REDACTED]\nd,45\nTotal,88\n"; got != want {
		t.Errorf("OUT %q, want %q", got, want)
	}
	run(t, "outputs", "check", "--profile", "acro", "out.csv").wantCode(t, exitOK)

	// Both row and column totals: next-smallest cannot protect it, and
	// says what can.
	r = run(t, "outputs", "protect", "--profile", "acro", "--mode", "next-smallest", "two.csv", "two_out.csv")
	r.wantCode(t, exitInvalid)
	for _, w := range []string{"protect could not reach a safe table", "T2", "--mode complementary"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if _, err := os.Stat("two_out.csv"); err == nil {
		t.Error("an unsafe OUT was written")
	}

	r = run(t, "outputs", "protect", "--mode", "smallest", "table.csv", "x.csv")
	r.wantCode(t, exitUsage)
	if !strings.Contains(r.stderr, "next-smallest") {
		t.Errorf("the usage error does not offer next-smallest:\n%s", r.stderr)
	}
}
