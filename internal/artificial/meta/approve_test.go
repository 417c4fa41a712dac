package meta

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
)

var approvedAt = time.Date(2025, 2, 3, 14, 5, 6, 0, time.FixedZone("CET", 3600))

// writeMeta writes d as META.json in a new folder and returns its path.
func writeMeta(t *testing.T, d *Document) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "META.json")
	if _, err := WriteFile(p, d); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantInvalid(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	if haven.ErrorCode(err) != haven.EINVALID {
		t.Errorf("error code %q, want %q: %v", haven.ErrorCode(err), haven.EINVALID, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error lacks %q:\n%v", p, err)
		}
	}
}

func TestApprovalPath(t *testing.T) {
	for in, want := range map[string]string{
		"META.json":               "META.approval.json",
		"dir/apc.json":            "dir/apc.approval.json",
		"/a/b/apc.meta.json":      "/a/b/apc.meta.approval.json",
		"apc.JSON":                "apc.JSON.approval.json",
		"metadata":                "metadata.approval.json",
		"META.approval.json":      "META.approval.approval.json",
		"dir.json/metadata.jsonl": "dir.json/metadata.jsonl.approval.json",
	} {
		got := ApprovalPath(in)
		if got != want {
			t.Errorf("ApprovalPath(%q) = %q, want %q", in, got, want)
		}
		if got == in || filepath.Dir(got) != filepath.Dir(in) {
			t.Errorf("ApprovalPath(%q) = %q: must differ from the metadata and sit beside it", in, got)
		}
	}
}

func TestApproveThenOpenRelease(t *testing.T) {
	d := cleanDoc()
	field(d, "SEX").Values[0].V = "Female" // one REVIEW finding to acknowledge
	p := writeMeta(t, d)
	raw, _ := os.ReadFile(p)

	a, rep, err := Approve(p, ReviewOptions{}, ApproveOptions{Reviewer: "  Dr A. Reviewer ", HavenVersion: "v1.2.3", Now: approvedAt,
		Confirm: strings.ToUpper(SHA256(raw)[:12])})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != VerdictReview || rep.Approval != a {
		t.Errorf("report verdict %s, approval %v", rep.Verdict, rep.Approval)
	}
	// The sidecar holds exactly the approval.
	b, err := os.ReadFile(filepath.Join(filepath.Dir(p), "META.approval.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Approval
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Schema != ApprovalSchemaV1 || got.MetadataSHA256 != SHA256(raw) || got.Reviewer != "Dr A. Reviewer" ||
		got.ApprovedAt != "2025-02-03T13:05:06Z" || got.HavenVersion != "v1.2.3" ||
		strings.Join(got.Acknowledged, "|") != "AM10 apc.SEX[Female]" || got.Thresholds == nil || got.Thresholds.MinCount != 5 {
		t.Errorf("approval record:\n%s", b)
	}

	rel, err := OpenRelease(p, false)
	if err != nil {
		t.Fatal(err)
	}
	if !rel.Reviewed() || rel.SHA256() != SHA256(raw) || rel.Approval().Reviewer != "Dr A. Reviewer" || rel.Document().Dataset != "apc_test" {
		t.Errorf("release: reviewed %v sha %s approval %+v", rel.Reviewed(), rel.SHA256(), rel.Approval())
	}

	// One byte of the metadata changed: refused, and --unreviewed gives an
	// unreviewed release.
	changed := []byte(strings.Replace(string(raw), `"apc_test"`, `"apc_tesT"`, 1))
	if err := os.WriteFile(p, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = OpenRelease(p, false)
	wantInvalid(t, err, p+" changed after it was approved by Dr A. Reviewer on 2025-02-03 13:05 UTC: review and approve it again", SHA256(changed))
	rel, err = OpenRelease(p, true)
	if err != nil || rel.Reviewed() || rel.Approval() != nil || rel.SHA256() != SHA256(changed) {
		t.Errorf("--unreviewed: %v, %+v", err, rel)
	}
}

func TestOpenReleaseNotApproved(t *testing.T) {
	p := writeMeta(t, cleanDoc())
	_, err := OpenRelease(p, false)
	wantInvalid(t, err, p+" has not been approved: run 'haven data review "+p+"' and approve it with --approve --reviewer NAME, or pass --unreviewed to generate anyway (the output is then marked unreviewed)")
	rel, err := OpenRelease(p, true)
	if err != nil || rel.Reviewed() {
		t.Fatalf("unreviewed: %v, reviewed %v", err, rel != nil && rel.Reviewed())
	}
	// Missing and invalid metadata are errors even with allowUnreviewed.
	_, err = OpenRelease(filepath.Join(t.TempDir(), "nope.json"), true)
	wantInvalid(t, err, "cannot read the metadata file", "nope.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"schema": "haven.artificial.metadata/v1", "x": 1}`), 0o644)
	_, err = OpenRelease(bad, true)
	wantInvalid(t, err, "bad.json: not a Haven metadata file")
}

func TestApproveRefusesFail(t *testing.T) {
	d := cleanDoc()
	field(d, "DIAG").Values[0].V = "9434765919"
	field(d, "SEX").NullN = 3
	p := writeMeta(t, d)
	_, rep, err := Approve(p, ReviewOptions{}, ApproveOptions{Reviewer: "R"})
	wantInvalid(t, err, "cannot approve "+p+": the review found 2 FAIL and 0 ERROR findings",
		"FAIL AM1 apc.SEX[null_n]", "FAIL AM6 apc.DIAG[9434765919]", "fix the metadata and review it again")
	if rep == nil || rep.Verdict != VerdictFail {
		t.Errorf("the report must come back with the refusal")
	}
	if _, err := os.Stat(ApprovalPath(p)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused approval left %s: %v", ApprovalPath(p), err)
	}
	// A stricter review that ends in ERROR is refused too.
	p = writeMeta(t, cleanDoc())
	_, _, err = Approve(p, ReviewOptions{MinCount: 2}, ApproveOptions{Reviewer: "R"})
	wantInvalid(t, err, "0 FAIL and 1 ERROR findings", "ERROR AM16 review_min_count")
}

func TestApproveGuards(t *testing.T) {
	p := writeMeta(t, cleanDoc())
	raw, _ := os.ReadFile(p)
	prefix := SHA256(raw)[:12]
	for _, tc := range []struct {
		opts  ApproveOptions
		parts []string
	}{
		{ApproveOptions{Reviewer: ""}, []string{"reviewer's name is blank"}},
		{ApproveOptions{Reviewer: " \t "}, []string{"reviewer's name is blank"}},
		{ApproveOptions{Reviewer: "a\x1bb"}, []string{"control characters"}},
		{ApproveOptions{Reviewer: strings.Repeat("x", 201)}, []string{"201 characters"}},
		{ApproveOptions{Reviewer: "R", Confirm: "000000000000"}, []string{"--confirm 000000000000 does not match " + p + ", whose sha256 begins " + prefix, "pass --confirm " + prefix}},
		{ApproveOptions{Reviewer: "R", Confirm: prefix[:11]}, []string{"is not 12 hex digits", prefix}},
		{ApproveOptions{Reviewer: "R", Confirm: "zzzzzzzzzzzz"}, []string{"is not 12 hex digits"}},
	} {
		_, _, err := Approve(p, ReviewOptions{}, tc.opts)
		wantInvalid(t, err, tc.parts...)
	}
	if _, err := os.Stat(ApprovalPath(p)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused approval left %s", ApprovalPath(p))
	}
	if _, _, err := Approve(p, ReviewOptions{}, ApproveOptions{Reviewer: "R", Confirm: " " + prefix + " "}); err != nil {
		t.Errorf("the right prefix: %v", err)
	}
}

// writeApproval writes an approval record for p by hand.
func writeApproval(t *testing.T, p string, a Approval) {
	t.Helper()
	b, _ := json.Marshal(a)
	if err := os.WriteFile(ApprovalPath(p), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenReleaseRechecks(t *testing.T) {
	// An approval for the exact bytes of metadata that fails the checks
	// (written by hand, or by an older Haven) is refused.
	d := cleanDoc()
	field(d, "DIAG").Values[0].V = "jo@example.com"
	p := writeMeta(t, d)
	raw, _ := os.ReadFile(p)
	good := Approval{Schema: ApprovalSchemaV1, MetadataSHA256: SHA256(raw), Reviewer: "R", ApprovedAt: "2025-02-03T13:05:06Z"}
	writeApproval(t, p, good)
	_, err := OpenRelease(p, false)
	wantInvalid(t, err, "was approved by R on 2025-02-03 13:05 UTC but now fails the review checks: FAIL AM7 apc.DIAG[jo@example.com]")

	// REVIEW findings the approval does not acknowledge are refused.
	d = cleanDoc()
	field(d, "SEX").Values[0].V = "Female"
	p = writeMeta(t, d)
	raw, _ = os.ReadFile(p)
	good.MetadataSHA256 = SHA256(raw)
	writeApproval(t, p, good)
	_, err = OpenRelease(p, false)
	wantInvalid(t, err, "REVIEW findings the approval does not acknowledge: AM10 apc.SEX[Female]")
	good.Acknowledged = []string{"AM10 apc.SEX[Female]"}
	writeApproval(t, p, good)
	if _, err := OpenRelease(p, false); err != nil {
		t.Errorf("acknowledged: %v", err)
	}

	// Thresholds lowered by hand below the scrape's: AM16 refuses.
	good.Thresholds = &Thresholds{MinCount: 1, RoundBase: 1}
	writeApproval(t, p, good)
	_, err = OpenRelease(p, false)
	wantInvalid(t, err, "now fails the review checks: ERROR AM16 review_min_count")
}

func TestOpenReleaseBadApproval(t *testing.T) {
	p := writeMeta(t, cleanDoc())
	raw, _ := os.ReadFile(p)
	sha := SHA256(raw)
	for _, tc := range []struct {
		body string
		part string
	}{
		{`not json`, "META.approval.json: not a Haven approval record"},
		{`{"schema": "haven.artificial.approval/v1", "metadata_sha256": "` + sha + `", "reviewer": "R", "approved_at": "2025-02-03T13:05:06Z", "extra": 1}`, `unknown field "extra"`},
		{`{"schema": "haven.artificial.approval/v0", "metadata_sha256": "` + sha + `", "reviewer": "R", "approved_at": "2025-02-03T13:05:06Z"}`, `schema is "haven.artificial.approval/v0"`},
		{`{"schema": "haven.artificial.approval/v1", "metadata_sha256": "abc", "reviewer": "R", "approved_at": "2025-02-03T13:05:06Z"}`, `metadata_sha256 "abc" is not 64`},
		{`{"schema": "haven.artificial.approval/v1", "metadata_sha256": "` + sha + `", "reviewer": " ", "approved_at": "2025-02-03T13:05:06Z"}`, "names no reviewer"},
		{`{"schema": "haven.artificial.approval/v1", "metadata_sha256": "` + sha + `", "reviewer": "R", "approved_at": "yesterday"}`, `approved_at "yesterday"`},
		{`{"schema": "haven.artificial.approval/v1", "metadata_sha256": "` + sha + `", "reviewer": "R", "approved_at": "2025-02-03T13:05:06Z"} {}`, "extra content"},
	} {
		if err := os.WriteFile(ApprovalPath(p), []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenRelease(p, false)
		wantInvalid(t, err, tc.part)
		if rel, err := OpenRelease(p, true); err != nil || rel.Reviewed() {
			t.Errorf("%s with --unreviewed: %v", tc.part, err)
		}
	}
}

func TestWriteApprovalUnwritable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "META.json")
	if _, err := WriteFile(p, cleanDoc()); err != nil {
		t.Fatal(err)
	}
	// A folder where the approval should be makes the write fail.
	if err := os.Mkdir(ApprovalPath(p), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, err := Approve(p, ReviewOptions{}, ApproveOptions{Reviewer: "R"})
	if haven.ErrorCode(err) != haven.EINTERNAL || !strings.Contains(err.Error(), "cannot record the approval") {
		t.Errorf("error %v (code %s), want an internal error recording the approval", err, haven.ErrorCode(err))
	}
}

func FuzzParseApproval(f *testing.F) {
	f.Add([]byte(`{"schema":"haven.artificial.approval/v1","metadata_sha256":"` + strings.Repeat("a", 64) + `","reviewer":"R","approved_at":"2025-02-03T13:05:06Z"}`))
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := ParseApproval("x.approval.json", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "x.approval.json: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if a.Schema != ApprovalSchemaV1 || len(a.MetadataSHA256) != 64 || strings.TrimSpace(a.Reviewer) == "" {
			t.Fatalf("accepted %+v", a)
		}
	})
}
