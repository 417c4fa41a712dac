package disclosure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// verifyFiles writes files (path -> content) under a new temporary folder
// and changes into it for the test.
func verifyFiles(t *testing.T, files map[string]string) {
	t.Helper()
	t.Chdir(t.TempDir())
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// statuses maps each verified file's path to its status.
func statuses(r *VerifyResult) map[string]VerifyStatus {
	m := map[string]VerifyStatus{}
	for _, f := range r.Files {
		m[f.Path] = f.Status
	}
	return m
}

func writeCheckReport(t *testing.T, name string, paths ...string) {
	t.Helper()
	inputs, err := Expand(paths)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Check(inputs, Options{Profile: ctlProfile(t, "opensafely")}, "test").WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	verifyA = "age_band,patients\n18-39,125\n40-59,240\n"
	verifyB = "sex,patients\nfemale,125\nmale,6\n"
)

func TestVerifyCheckReport(t *testing.T) {
	verifyFiles(t, map[string]string{"output/a.csv": verifyA, "output/b.csv": verifyB, "output/c.csv": verifyA})
	writeCheckReport(t, "check.json", "output")

	r, err := Verify("check.json")
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Kind != VerifyKindCheck || r.ReportSchema != ReportSchema || r.Counts != (VerifyCounts{Files: 3, Unchanged: 3}) {
		t.Fatalf("fresh report: ok %v, kind %q, counts %+v", r.OK, r.Kind, r.Counts)
	}
	if f := r.Files[0]; f.Path != "output/a.csv" || f.File != filepath.FromSlash("output/a.csv") || f.SHA256 != sha(verifyA) || f.ExpectedSHA256 != sha(verifyA) || f.Bytes != int64(len(verifyA)) {
		t.Errorf("first file: %+v", f)
	}

	// Change one file, delete another: exactly those are reported.
	changed := verifyA + "80+,3\n"
	if err := os.WriteFile("output/a.csv", []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove("output/b.csv"); err != nil {
		t.Fatal(err)
	}
	r, err = Verify("check.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]VerifyStatus{"output/a.csv": VerifyChanged, "output/b.csv": VerifyMissing, "output/c.csv": VerifyUnchanged}
	if got := statuses(r); !equalStatuses(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if r.OK || r.Counts != (VerifyCounts{Files: 3, Unchanged: 1, Changed: 1, Missing: 1}) {
		t.Errorf("ok %v, counts %+v", r.OK, r.Counts)
	}
	a := r.Files[0]
	if a.ExpectedSHA256 != sha(verifyA) || a.SHA256 != sha(changed) || a.ExpectedBytes != int64(len(verifyA)) || a.Bytes != int64(len(changed)) {
		t.Errorf("changed file: %+v", a)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"changed    " + filepath.FromSlash("output/a.csv") + "\n",
		"expected sha256 " + sha(verifyA),
		"actual   sha256 " + sha(changed),
		"missing    " + filepath.FromSlash("output/b.csv") + "\n",
		"unchanged  " + filepath.FromSlash("output/c.csv") + "\n",
		"3 files verified against check.json: 1 unchanged, 1 changed, 1 missing;",
	} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, text.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back VerifyResult
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Schema != VerifySchema || back.Counts != r.Counts || len(back.Files) != 3 || back.Files[1].Status != VerifyMissing {
		t.Errorf("JSON round trip: %s", js.String())
	}
}

func equalStatuses(a, b map[string]VerifyStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestVerifyUnrecordedAndUnreadable(t *testing.T) {
	verifyFiles(t, map[string]string{"output/a.csv": verifyA})
	if err := os.Mkdir("output/dir.csv", 0o755); err != nil {
		t.Fatal(err)
	}
	report := `{"schema": "haven.sdc.report/v1", "files": [
  {"path": "output/a.csv", "sha256": ""},
  {"path": "output/dir.csv", "sha256": "` + sha("x") + `"}]}`
	if err := os.WriteFile("check.json", []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Verify("check.json")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]VerifyStatus{"output/a.csv": VerifyUnrecorded, "output/dir.csv": VerifyUnreadable}
	if got := statuses(r); !equalStatuses(got, want) || r.OK {
		t.Errorf("statuses %v (ok %v), want %v", got, r.OK, want)
	}
	if !strings.Contains(r.Files[1].Problem, "not a regular file") {
		t.Errorf("problem %q", r.Files[1].Problem)
	}
}

func makeTestBundle(t *testing.T) {
	t.Helper()
	if _, err := MakeBundle([]string{"output"}, BundleOptions{To: "release", Options: Options{Profile: ctlProfile(t, "opensafely")}}); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyBundle(t *testing.T) {
	verifyFiles(t, map[string]string{"output/a.csv": verifyA, "output/sub/b.csv": verifyB})
	makeTestBundle(t)
	for _, report := range []string{"release", filepath.Join("release", RequestJSONName)} {
		r, err := Verify(report)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK || r.Kind != VerifyKindBundle || r.Base != "release" || r.Report != filepath.Join("release", RequestJSONName) || r.Counts != (VerifyCounts{Files: 2, Unchanged: 2}) {
			t.Errorf("Verify(%s): ok %v, kind %q, base %q, report %q, counts %+v", report, r.OK, r.Kind, r.Base, r.Report, r.Counts)
		}
		if f := r.Files[1]; f.Path != "output/sub/b.csv" || f.File != filepath.Join("release", "output", "sub", "b.csv") {
			t.Errorf("file %+v", f)
		}
	}
	// The bundle's copies are what count: changing a source does not
	// change the bundle, changing a copy does.
	if err := os.WriteFile("output/a.csv", []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Verify("release"); err != nil || !r.OK {
		t.Fatalf("after changing a source: %v, %+v", err, r)
	}
	if err := os.WriteFile("release/output/sub/b.csv", []byte(verifyB+"other,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove("release/output/a.csv"); err != nil {
		t.Fatal(err)
	}
	r, err := Verify("release")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]VerifyStatus{"output/a.csv": VerifyMissing, "output/sub/b.csv": VerifyChanged}
	if got := statuses(r); !equalStatuses(got, want) || r.OK {
		t.Errorf("statuses %v (ok %v), want %v", got, r.OK, want)
	}
}

// editRequest rewrites the first file of release/request.json.
func editRequest(t *testing.T, path, sum string) {
	t.Helper()
	name := filepath.Join("release", RequestJSONName)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	f := req["files"].([]any)[0].(map[string]any)
	f["path"], f["sha256"] = path, sum
	data, err = json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyBundleRefusesPathsOutside is the attack: a request.json edited
// to point at a file outside the bundle, with that file's true hash, so
// that following it would report "unchanged".
func TestVerifyBundleRefusesPathsOutside(t *testing.T) {
	const secret = "name,nhs_number\nA,9434765919\n"
	cwd := func(t *testing.T) string {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		return wd
	}
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"parent", func(*testing.T) string { return "../secret.csv" }, `climbs out of the folder with ".."`},
		{"parent inside a path", func(*testing.T) string { return "output/../../secret.csv" }, `".."`},
		{"dot-dot that stays inside", func(*testing.T) string { return "output/../output/a.csv" }, `".."`},
		{"absolute", func(t *testing.T) string { return filepath.ToSlash(filepath.Join(cwd(t), "secret.csv")) }, "is absolute"},
		{"empty", func(*testing.T) string { return "" }, "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifyFiles(t, map[string]string{"output/a.csv": verifyA, "secret.csv": secret})
			makeTestBundle(t)
			p := tt.path(t)
			editRequest(t, p, sha(secret))
			r, err := Verify("release")
			if err == nil {
				t.Fatalf("Verify followed %q: %+v", p, r.Files)
			}
			for _, w := range []string{"release" + string(filepath.Separator) + RequestJSONName, "file 1", tt.want, "outside", "nothing was verified"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestVerifyBundleNeverFollowsLinks: a folder of the bundle replaced by a
// link to a folder outside holding a file of the recorded hash.
func TestVerifyBundleNeverFollowsLinks(t *testing.T) {
	verifyFiles(t, map[string]string{"output/a.csv": verifyA, "elsewhere/a.csv": verifyA})
	makeTestBundle(t)
	if err := os.RemoveAll("release/output"); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, "release/output"); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	r, err := Verify("release")
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Files[0]; f.Status != VerifyUnreadable || !strings.Contains(f.Problem, "symbolic link output") || r.OK {
		t.Errorf("file %+v, ok %v", f, r.OK)
	}
	// A link to a file in the same place.
	if err := os.Remove("release/output"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir("release/output", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(abs, "a.csv"), "release/output/a.csv"); err != nil {
		t.Fatal(err)
	}
	r, err = Verify("release")
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Files[0]; f.Status != VerifyUnreadable || !strings.Contains(f.Problem, "it is a symbolic link") {
		t.Errorf("file %+v", f)
	}
}

func TestVerifyBadReports(t *testing.T) {
	verifyFiles(t, map[string]string{
		"empty.json":     "",
		"broken.json":    "{\"schema\": \"haven.sdc.report/v1\",\n \"files\": [",
		"notjson.json":   "age,n\n1,2\n",
		"noschema.json":  `{"files": []}`,
		"other.json":     `{"schema": "haven.sdc.report/v2", "files": []}`,
		"nofiles.json":   `{"schema": "haven.sdc.report/v1"}`,
		"zerofiles.json": `{"schema": "haven.release.request/v1", "files": []}`,
		"badhash.json":   `{"schema": "haven.sdc.report/v1", "files": [{"path": "a.csv", "sha256": "abc"}]}`,
		"typed.json":     "{\"schema\": \"haven.sdc.report/v1\",\n \"files\": [{\"path\": 7}]}",
		"nopath.json":    `{"schema": "haven.sdc.report/v1", "files": [{"sha256": ""}]}`,
		"two.json":       `{"schema": "haven.sdc.report/v1", "files": []} {}`,
		"folder/x.csv":   "a\n",
	})
	tests := []struct {
		report string
		want   []string
	}{
		{"missing.json", []string{"missing.json does not exist", "haven outputs check --json"}},
		{"folder", []string{"folder is a folder without a request.json", "not a release bundle"}},
		{"empty.json", []string{"empty.json is not a haven outputs report or request.json", "the file is empty"}},
		{"broken.json", []string{"broken.json is not a haven outputs report", "not valid JSON", "ends early"}},
		{"notjson.json", []string{"not valid JSON", "line 1"}},
		{"noschema.json", []string{`no "schema" field`}},
		{"other.json", []string{`its schema is "haven.sdc.report/v2"`, ReportSchema, RequestSchema}},
		{"nofiles.json", []string{`no "files" list`}},
		{"zerofiles.json", []string{"lists no files"}},
		{"badhash.json", []string{`file 1 (a.csv) records the sha256 "abc"`, "64 hexadecimal digits"}},
		{"typed.json", []string{"line 2", `"files.path"`}},
		{"nopath.json", []string{"file 1 has no path"}},
		{"two.json", []string{"more than one JSON value"}},
	}
	for _, tt := range tests {
		t.Run(tt.report, func(t *testing.T) {
			r, err := Verify(tt.report)
			if err == nil {
				t.Fatalf("no error; result %+v", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
