package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// reviewDoc is small metadata that passes every check; plant adds values
// to its DIAG frequency table.
func reviewDoc(plant ...string) *meta.Document {
	d := &meta.Document{
		Schema: meta.SchemaV1, Dataset: "apc_test", SDC: meta.DefaultSDC,
		Tables: []meta.Table{{
			Name: "apc", RowsN: 100, EntityKey: "PSEUDO_HESID",
			Fields: []meta.Field{
				{Name: "PSEUDO_HESID", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9]{8}", Scope: "entity"}},
				{Name: "SEX", Type: meta.TypeCategorical, NullN: 5, Values: []meta.Value{{V: "1", N: 50}, {V: "2", N: 45}}},
				{Name: "DIAG", Type: meta.TypeCategorical, Values: []meta.Value{{V: "A01", N: 20}, {V: "B02", N: 30}}},
				{Name: "ADMIDATE", Type: meta.TypeDate, Bins: []meta.DateBin{{Start: "2021-01-01", End: "2021-01-31", Grain: meta.GrainMonth, N: 100}}},
				{Name: "AGE", Type: meta.TypeInteger, NNonNull: 100, Continuous: &meta.Continuous{Step: 25, Cuts: []float64{30, 50, 70}}},
			},
			Relationships: []meta.Relationship{{Parent: "PSEUDO_HESID", Cardinalities: []meta.CardBin{{Min: 1, Max: 1, N: 40}, {Min: 2, N: 20}}}},
		}},
	}
	for _, v := range plant {
		d.Tables[0].Fields[2].Values = append(d.Tables[0].Fields[2].Values, meta.Value{V: v, N: 10})
	}
	return d
}

// writeReviewDoc writes d as apc.json in a new folder, and returns its path
// and its sha256.
func writeReviewDoc(t *testing.T, d *meta.Document) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "apc.json")
	b, err := meta.WriteFile(p, d)
	if err != nil {
		t.Fatal(err)
	}
	return p, meta.SHA256(b)
}

func wantLines(t *testing.T, what, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("%s lacks %q:\n%s", what, l, out)
		}
	}
}

func TestDataReviewClean(t *testing.T) {
	p, sha := writeReviewDoc(t, reviewDoc())
	r := run(t, "data", "review", p)
	r.wantCode(t, exitOK)
	wantLines(t, "stdout", r.stdout,
		"review of "+p+" (dataset apc_test)\nsha256 "+sha+"\n",
		"thresholds: min count 5, round base 5 (the scrape's: 5, 5)\n",
		"AM1   PASS    released counts are at least 5 and multiples of 5 (",
		"AM17  PASS    every field has a known type",
		"\nPASS: no findings; approve with --approve --reviewer NAME\n")
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
	noANSI(t, "stdout", r.stdout)
}

// TestDataReviewPlanted: NHS numbers, postcodes and e-mail addresses
// planted in a frequency table are caught, each on a clear line, and the
// review fails.
func TestDataReviewPlanted(t *testing.T) {
	p, _ := writeReviewDoc(t, reviewDoc("9434765919", "943 476 5919", "SW1A 1AA", "gir 0aa", "jane.doe@example.co.uk", "07700 900123", "9434765918", "Female"))
	r := run(t, "data", "review", p)
	r.wantCode(t, exitInvalid)
	wantLines(t, "stdout", r.stdout,
		"AM6   FAIL    no NHS numbers (10 digits with a valid modulus-11 check digit) (",
		"FAIL    AM6   apc.DIAG[9434765919]: an NHS number with a valid check digit in a value of the frequency table, held by 10 records. Fix: ",
		"FAIL    AM6   apc.DIAG[943 476 5919]: an NHS number",
		"FAIL    AM8   apc.DIAG[SW1A 1AA]: a UK postcode",
		"FAIL    AM8   apc.DIAG[gir 0aa]: a UK postcode",
		"FAIL    AM7   apc.DIAG[jane.doe@example.co.uk]: an e-mail address",
		"REVIEW  AM9   apc.DIAG[07700 900123]: a UK phone number",
		"REVIEW  AM9   apc.DIAG[9434765918]: a long identifier",
		"REVIEW  AM10  apc.DIAG[Female]: letters only",
		"\nFAIL: 5 FAIL, 0 ERROR and ",
		"(AM6, AM7, AM8); the metadata cannot be approved")
	if strings.Contains(r.stdout, "AM6   apc.DIAG[9434765918]") {
		t.Error("an invalid check digit was reported as an NHS number")
	}
	noStackTrace(t, r.stderr)
}

func TestDataReviewJSON(t *testing.T) {
	p, sha := writeReviewDoc(t, reviewDoc("jo@example.com"))
	r := run(t, "data", "review", "--json", p)
	r.wantCode(t, exitInvalid)
	var got struct {
		Schema         string `json:"schema"`
		Metadata       string `json:"metadata"`
		MetadataSHA256 string `json:"metadata_sha256"`
		Verdict        string `json:"verdict"`
		Checks         []struct {
			ID, Verdict string
			Fail        int
		} `json:"checks"`
		Findings []struct {
			Rule, Verdict, Location, Message, Hint string
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if got.Schema != "haven.artificial.review/v1" || got.Metadata != p || got.MetadataSHA256 != sha || got.Verdict != "FAIL" || len(got.Checks) != 16 {
		t.Errorf("JSON report %+v", got)
	}
	var am7 int
	for _, f := range got.Findings {
		if f.Rule == "AM7" && f.Verdict == "FAIL" && f.Location == "apc.DIAG[jo@example.com]" && f.Hint != "" {
			am7++
		}
	}
	if am7 != 1 {
		t.Errorf("%d AM7 FAIL findings at apc.DIAG[jo@example.com], want 1: %+v", am7, got.Findings)
	}
}

func TestDataReviewHTML(t *testing.T) {
	p, _ := writeReviewDoc(t, reviewDoc("<script>alert(1)</script>"))
	out := filepath.Join(filepath.Dir(p), "review.html")
	r := run(t, "data", "review", "--html", out, p)
	r.wantCode(t, exitOK) // AM5 REVIEW only
	wantLines(t, "stdout", r.stdout, "wrote the HTML report "+out+"\n", "REVIEW  AM5 ")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "<script") || !strings.Contains(string(b), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the HTML report does not escape a planted <script> value")
	}
	// The report cannot replace the metadata or its approval.
	for _, bad := range []string{p, strings.TrimSuffix(p, ".json") + ".approval.json"} {
		r = run(t, "data", "review", "--html", bad, p)
		r.wantCode(t, exitUsage)
		wantLines(t, "stderr", r.stderr, "would overwrite the metadata or its approval")
	}
	// A folder that does not exist: exit 1, naming the report.
	r = run(t, "data", "review", "--html", filepath.Join(filepath.Dir(p), "no", "r.html"), p)
	r.wantCode(t, exitInvalid)
	wantLines(t, "stderr", r.stderr, "cannot write the HTML report")
}

func TestDataReviewApprove(t *testing.T) {
	p, sha := writeReviewDoc(t, reviewDoc("Female"))
	sidecar := strings.TrimSuffix(p, ".json") + ".approval.json"

	// Usage mistakes: exit 2, nothing written.
	for _, args := range [][]string{
		{"--approve", p},
		{"--reviewer", "R", p},
		{"--confirm", sha[:12], p},
		{"--approve", "--reviewer", "  ", p},
		{"--min-count", "0", p},
		{"--rare-count", "-1", p},
		{p, p},
		{},
	} {
		r := run(t, append([]string{"data", "review"}, args...)...)
		r.wantCode(t, exitUsage)
		noStackTrace(t, r.stderr)
	}

	// The wrong --confirm: exit 1, saying what it should be.
	r := run(t, "data", "review", "--approve", "--reviewer", "A. Reviewer", "--confirm", "000000000000", p)
	r.wantCode(t, exitInvalid)
	wantLines(t, "stderr", r.stderr, "--confirm 000000000000 does not match "+p+", whose sha256 begins "+sha[:12])
	if _, err := os.Stat(sidecar); err == nil {
		t.Fatal("a refused approval wrote the approval file")
	}

	r = run(t, "data", "review", "--approve", "--reviewer", "A. Reviewer", "--confirm", sha[:12], p)
	r.wantCode(t, exitOK)
	wantLines(t, "stdout", r.stdout, "approved by A. Reviewer at ", ": "+p+", sha256 "+sha+", 2 REVIEW findings acknowledged; wrote "+sidecar+"\n")
	b, err := os.ReadFile(sidecar)
	if err != nil {
		t.Fatal(err)
	}
	var ap meta.Approval
	if err := json.Unmarshal(b, &ap); err != nil {
		t.Fatal(err)
	}
	if ap.Schema != meta.ApprovalSchemaV1 || ap.MetadataSHA256 != sha || ap.Reviewer != "A. Reviewer" || !strings.HasSuffix(ap.ApprovedAt, "Z") ||
		ap.HavenVersion == "" || strings.Join(ap.Acknowledged, "|") != "AM5 apc.DIAG[Female]|AM10 apc.DIAG[Female]" {
		t.Errorf("approval %+v", ap)
	}
	// The generator's gate accepts it.
	if rel, err := meta.OpenRelease(p, false); err != nil || !rel.Reviewed() {
		t.Fatalf("OpenRelease after approval: %v", err)
	}

	// Reviewing again says who approved it; after a change, that the
	// approval no longer counts.
	r = run(t, "data", "review", p)
	r.wantCode(t, exitOK)
	wantLines(t, "stdout", r.stdout, "approved by A. Reviewer on ")
	raw, _ := os.ReadFile(p)
	if err := os.WriteFile(p, append(raw, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, "data", "review", p)
	r.wantCode(t, exitOK)
	wantLines(t, "stdout", r.stdout, sidecar+" approves an earlier version of "+p+" (by A. Reviewer on ")
	if _, err := meta.OpenRelease(p, false); err == nil || !strings.Contains(err.Error(), "changed after it was approved by A. Reviewer") {
		t.Errorf("OpenRelease after a change: %v", err)
	}
}

func TestDataReviewApproveRefused(t *testing.T) {
	p, _ := writeReviewDoc(t, reviewDoc("9434765919"))
	r := run(t, "data", "review", "--approve", "--reviewer", "R", p)
	r.wantCode(t, exitInvalid)
	wantLines(t, "stdout", r.stdout, "FAIL    AM6   apc.DIAG[9434765919]")
	wantLines(t, "stderr", r.stderr, "haven: cannot approve "+p+": the review found 1 FAIL and 0 ERROR findings (FAIL AM6 apc.DIAG[9434765919])")
	if _, err := os.Stat(strings.TrimSuffix(p, ".json") + ".approval.json"); err == nil {
		t.Error("a refused approval wrote the approval file")
	}
}

func TestDataReviewThresholds(t *testing.T) {
	p, _ := writeReviewDoc(t, reviewDoc())
	// Laxer than the scrape: ERROR.
	r := run(t, "data", "review", "--min-count", "3", p)
	r.wantCode(t, exitInvalid)
	wantLines(t, "stdout", r.stdout, "ERROR   AM16  review_min_count: review_min_count 3 is below the scrape's 5")
	// Stricter: the counts of 45 and 5 fail a base of 10 and a k of 10.
	r = run(t, "data", "review", "--min-count", "10", "--round-base", "10", p)
	r.wantCode(t, exitInvalid)
	wantLines(t, "stdout", r.stdout, "FAIL    AM1   apc.SEX[2]: the count of value \"2\" 45 is not a multiple of the rounding base 10",
		"FAIL    AM1   apc.SEX[null_n]: null_n 5 is below the minimum count 10")
}

func TestDataReviewBadInput(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "data", "review", filepath.Join(dir, "missing.json"))
	r.wantCode(t, exitInvalid)
	wantLines(t, "stderr", r.stderr, "haven: cannot read the metadata file: ", "missing.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\n  \"schema\": 3\n}"), 0o644)
	r = run(t, "data", "review", bad)
	r.wantCode(t, exitInvalid)
	wantLines(t, "stderr", r.stderr, bad+": not a Haven metadata file: line 2")
	noStackTrace(t, r.stderr)
}

func TestDataReviewHelp(t *testing.T) {
	r := run(t, "data", "review", "--help")
	r.wantCode(t, exitOK)
	wantLines(t, "help", r.stdout, "Exit codes:", "0  no FAIL or ERROR", "--approve", "--confirm HEX12", "--html FILE",
		"haven data review --approve --reviewer", "docs/artificial-data-review.md")
}
