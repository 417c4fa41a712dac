package disclosure

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/haven-tre/haven"
)

// cleanCSV is a table that passes under the opensafely profile.
const cleanCSV = "age_band,patients\n18-39,125\n40-59,240\n60-79,95\n"

// bundleWorkspace makes a workspace in a temporary folder, changes into
// it for the test, and writes the files (path -> content).
func bundleWorkspace(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func bundleOpts(t *testing.T, to string) BundleOptions {
	t.Helper()
	return BundleOptions{To: to, Options: Options{Profile: mustProfile(t, "opensafely")}, Version: "test"}
}

func bundleSHA(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func readRequest(t *testing.T, dir string) Request {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, RequestJSONName))
	if err != nil {
		t.Fatal(err)
	}
	var q Request
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatalf("request.json: %v\n%s", err, data)
	}
	return q
}

// wantInvalid fails unless err is an EINVALID *haven.Error whose message
// holds every string in want.
func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	var he *haven.Error
	if !errors.As(err, &he) || he.Code != haven.EINVALID {
		t.Errorf("error %v (%T) is not an EINVALID *haven.Error", err, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestMakeBundle(t *testing.T) {
	files := map[string]string{
		"output/clean.csv":       cleanCSV,
		"output/small.csv":       "sex,patients\nfemale,125\nmale,6\n",
		"output/sub/clean2.csv":  "sex,admissions\nfemale,300\nmale,250\n",
		"tables/rates_north.csv": "ethnicity,deaths\nAsian,40\nBlack,35\nWhite,410\n",
		"tables/rates_south.csv": "vaccine,vaccinated\nA,120\nB,3\n",
		"tables/other.txt":       "not matched\n",
		"tables/.hidden.csv":     cleanCSV, // a * does not match a leading dot
	}
	bundleWorkspace(t, files)
	b, err := MakeBundle([]string{"output", "tables/rates_*.csv"}, bundleOpts(t, "release"))
	if err != nil {
		t.Fatal(err)
	}
	wantPatterns := []PatternCount{{"output", 3}, {"tables/rates_*.csv", 2}}
	if !reflect.DeepEqual(b.Patterns, wantPatterns) {
		t.Errorf("patterns %v, want %v", b.Patterns, wantPatterns)
	}
	if got := b.Patterns[1].String(); got != "tables/rates_*.csv matched 2 files" {
		t.Errorf("pattern string %q", got)
	}
	wantVerdicts := map[string]Verdict{
		"output/clean.csv":       Pass,
		"output/small.csv":       Fail,
		"output/sub/clean2.csv":  Pass,
		"tables/rates_north.csv": Pass,
		"tables/rates_south.csv": Fail,
	}
	if len(b.Files) != len(wantVerdicts) {
		t.Fatalf("%d files in the bundle, want %d: %+v", len(b.Files), len(wantVerdicts), b.Files)
	}
	for _, f := range b.Files {
		src, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := os.ReadFile(filepath.Join("release", f.Path))
		if err != nil {
			t.Fatalf("no copy of %s: %v", f.Path, err)
		}
		if !bytes.Equal(src, cp) {
			t.Errorf("copy of %s differs from the source", f.Path)
		}
		if f.Bytes != int64(len(src)) {
			t.Errorf("%s: %d bytes, want %d", f.Path, f.Bytes, len(src))
		}
	}
	for _, name := range []string{"tables/other.txt", "tables/.hidden.csv"} {
		if _, err := os.Stat(filepath.Join("release", name)); err == nil {
			t.Errorf("%s was copied but no argument names it", name)
		}
	}

	q := readRequest(t, "release")
	if q.Schema != RequestSchema || q.RequestVerdict != Fail || q.Profile.Name != "opensafely" || q.Profile.SHA256 == "" || q.Checker.Version != "test" {
		t.Errorf("request header: %+v", q)
	}
	if !reflect.DeepEqual(q.Patterns, wantPatterns) {
		t.Errorf("request patterns %v, want %v", q.Patterns, wantPatterns)
	}
	if len(q.Files) != len(wantVerdicts) {
		t.Fatalf("%d files in request.json, want %d", len(q.Files), len(wantVerdicts))
	}
	for _, f := range q.Files {
		if got := bundleSHA(t, filepath.Join("release", f.Path)); f.SHA256 != got {
			t.Errorf("%s: sha256 %s in request.json, the copy's is %s", f.Path, f.SHA256, got)
		}
		if f.Verdict != wantVerdicts[f.Path] {
			t.Errorf("%s: verdict %s, want %s: %+v", f.Path, f.Verdict, wantVerdicts[f.Path], f.Findings)
		}
		if len(f.Variables) != 2 {
			t.Errorf("%s: variables %v do not list the two columns to describe", f.Path, f.Variables)
		}
		if f.Description != "" || f.Population.Size != nil || f.Model.DoF != nil {
			t.Errorf("%s: context filled in without a context file: %+v", f.Path, f)
		}
	}
	small := q.Files[1]
	if small.Path != "output/small.csv" || len(small.Findings) == 0 {
		t.Fatalf("findings of %s: %+v", small.Path, small.Findings)
	}
	var c1 *RequestFinding
	for i, x := range small.Findings {
		if x.Rule == "C1" {
			c1 = &small.Findings[i]
		}
	}
	if c1 == nil || c1.Verdict != Fail || c1.Location != "row 2, column patients" || c1.Message == "" || c1.Hint == "" {
		t.Errorf("C1 finding: %+v", c1)
	}

	// check.json is the checker's report of the copies.
	data, err := os.ReadFile(filepath.Join("release", CheckJSONName))
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != ReportSchema || len(r.Files) != 5 || r.Files[0].SHA256 != q.Files[0].SHA256 {
		t.Errorf("check.json: %s", data)
	}

	md, err := os.ReadFile(filepath.Join("release", RequestMDName))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"# Release request: FAIL",
		"| `tables/rates_*.csv` | 2 |",
		"## output/small.csv",
		"| path | sha256 | bytes | verdict |",
		"| `output/small.csv` | `" + q.Files[1].SHA256 + "` |",
		"- **C1** FAIL at row 2, column patients:",
		"**Description:** _(to fill in)_",
		"- `patients`: _(to fill in)_",
		"**Population size:** _(to fill in)_",
		"**Disclosure controls:** _(to fill in)_",
	} {
		if !strings.Contains(string(md), w) {
			t.Errorf("request.md does not contain %q:\n%s", w, md)
		}
	}

	// The same inputs give the same request, byte for byte.
	if _, err := MakeBundle([]string{"output", "tables/rates_*.csv"}, bundleOpts(t, "release2")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{RequestJSONName, RequestMDName, CheckJSONName} {
		one, _ := os.ReadFile(filepath.Join("release", name))
		two, _ := os.ReadFile(filepath.Join("release2", name))
		if !bytes.Equal(one, two) {
			t.Errorf("%s differs between two bundles of the same files", name)
		}
	}
}

func TestMakeBundleContext(t *testing.T) {
	bundleWorkspace(t, map[string]string{
		"output/by_age.csv":  cleanCSV,
		"output/model_a.csv": "term,coef,se\nage,0.5,0.1\n",
		"output/notes.csv":   cleanCSV,
	})
	ctx := &Context{Outputs: map[string]*OutputContext{}}
	age := &OutputContext{Description: "Patients with a first diagnosis in 2024, by age band",
		Variables: map[string]string{"age_band": "age at diagnosis"}, Controls: "redact<=7, round5",
		Related: []string{"output/notes.csv"}}
	age.Population.Description = "registered adults"
	age.Population.Size = 250000
	ctx.Outputs["output/by_age.csv"] = age
	model := &OutputContext{Description: "a model"}
	model.Model = &struct {
		N          int `yaml:"n"`
		Parameters int `yaml:"parameters"`
		DoF        int `yaml:"dof"`
	}{N: 2400, Parameters: 3}
	ctx.Outputs["output/model_*.csv"] = model
	o := bundleOpts(t, "release")
	o.Options.Context = ctx
	if _, err := MakeBundle([]string{"output"}, o); err != nil {
		t.Fatal(err)
	}
	q := readRequest(t, "release")
	files := map[string]RequestFile{}
	for _, f := range q.Files {
		files[f.Path] = f
	}
	a := files["output/by_age.csv"]
	if a.Description != age.Description || a.Population.Description != "registered adults" || a.Population.Size == nil || *a.Population.Size != 250000 ||
		a.Controls != "redact<=7, round5" || !reflect.DeepEqual(a.Related, []string{"output/notes.csv"}) {
		t.Errorf("by_age context: %+v", a)
	}
	if want := map[string]string{"age_band": "age at diagnosis", "patients": ""}; !reflect.DeepEqual(a.Variables, want) {
		t.Errorf("by_age variables %v, want %v", a.Variables, want)
	}
	m := files["output/model_a.csv"]
	if m.Description != "a model" || m.Model.N == nil || *m.Model.N != 2400 || m.Model.DoF == nil || *m.Model.DoF != 2397 {
		t.Errorf("model context: %+v", m)
	}
	n := files["output/notes.csv"]
	if n.Description != "" || n.Population.Size != nil || n.Model.N != nil || len(n.Related) != 0 {
		t.Errorf("notes has context it was not given: %+v", n)
	}
	md, _ := os.ReadFile(filepath.Join("release", RequestMDName))
	for _, w := range []string{
		"**Description:** Patients with a first diagnosis in 2024, by age band",
		"**Population:** registered adults",
		"**Population size:** 250000",
		"- `age_band`: age at diagnosis",
		"**Model (regressions only):** n 2400, parameters 3, degrees of freedom 2397",
		"**Disclosure controls:** redact<=7, round5",
		"**Related outputs:** output/notes.csv",
	} {
		if !strings.Contains(string(md), w) {
			t.Errorf("request.md does not contain %q:\n%s", w, md)
		}
	}
}

func TestMakeBundleRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T)
		paths []string
		to    string
		want  []string
	}{
		{"glob matching nothing", nil, []string{"output", "output/*.json"}, "release",
			[]string{`"output/*.json" matches no files`}},
		{"missing file", nil, []string{"output/nope.csv"}, "release",
			[]string{"output/nope.csv does not exist"}},
		{"empty folder", func(t *testing.T) { bundleMkdir(t, "empty") }, []string{"empty"}, "release",
			[]string{"empty holds no files"}},
		{"destination not empty", func(t *testing.T) { bundleWrite(t, "release/old.txt", "x") }, []string{"output"}, "release",
			[]string{"the destination release is not empty", "--force"}},
		{"destination is a file", func(t *testing.T) { bundleWrite(t, "release", "x") }, []string{"output"}, "release",
			[]string{"release exists and is not a folder"}},
		{"symlink input", func(t *testing.T) { bundleSymlink(t, "output/a.csv", "link.csv") }, []string{"link.csv"}, "release",
			[]string{"link.csv is a symbolic link"}},
		{"symlink in a folder", func(t *testing.T) { bundleSymlink(t, "a.csv", "output/link.csv") }, []string{"output"}, "release",
			[]string{"output/link.csv is a symbolic link"}},
		{"symlink matched by a glob", func(t *testing.T) { bundleSymlink(t, "a.csv", "output/link.csv") }, []string{"output/*.csv"}, "release",
			[]string{"output/link.csv is a symbolic link"}},
		{"dot-dot path", func(t *testing.T) { bundleMkdir(t, "sub"); t.Chdir("sub") }, []string{"../output/a.csv"}, "release",
			[]string{"../output/a.csv leads outside the current folder"}},
		{"absolute path outside", func(t *testing.T) { bundleMkdir(t, "sub"); t.Chdir("sub") }, []string{"ABS:output/a.csv"}, "release",
			[]string{"is outside the current folder"}},
		{"destination inside an input", nil, []string{"output"}, "output/release",
			[]string{"the destination output/release is inside the input"}},
		{"destination is an input", nil, []string{"output"}, "output",
			[]string{"the destination output is inside the input"}},
		{"destination inside the current folder given as input", nil, []string{"."}, "release",
			[]string{"the destination release is inside the input"}},
		{"input inside the destination", nil, []string{"output/a.csv"}, ".",
			[]string{"is inside the destination ."}},
		{"reserved name", func(t *testing.T) { bundleWrite(t, "request.json", "{}") }, []string{"request.json"}, "release",
			[]string{"would replace the bundle's own request.json"}},
		{"bad pattern", nil, []string{"output/[.csv"}, "release",
			[]string{"is not a valid pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := bundleWorkspace(t, map[string]string{"output/a.csv": cleanCSV})
			if tt.setup != nil {
				tt.setup(t)
			}
			paths := append([]string(nil), tt.paths...)
			for i, p := range paths {
				if rest, ok := strings.CutPrefix(p, "ABS:"); ok {
					paths[i] = filepath.Join(root, rest)
				}
			}
			before := bundleTree(t, root)
			_, err := MakeBundle(paths, bundleOpts(t, tt.to))
			wantInvalid(t, err, tt.want...)
			if after := bundleTree(t, root); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused bundle changed the workspace:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestMakeBundleForce(t *testing.T) {
	bundleWorkspace(t, map[string]string{"output/a.csv": cleanCSV, "release/output/a.csv": "old", "release/keep.txt": "kept"})
	o := bundleOpts(t, "release")
	o.Force = true
	b, err := MakeBundle([]string{"output/a.csv"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile("release/output/a.csv"); string(got) != cleanCSV {
		t.Errorf("--force did not replace the old copy: %q", got)
	}
	if got, _ := os.ReadFile("release/keep.txt"); string(got) != "kept" {
		t.Errorf("--force touched another file: %q", got)
	}
	if b.Report.RequestVerdict != Pass || len(b.Files) != 1 {
		t.Errorf("bundle %+v", b)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir("release/output")
	if len(entries) != 1 {
		t.Errorf("release/output holds %v", entries)
	}
}

func TestMakeBundleAbsoluteInside(t *testing.T) {
	root := bundleWorkspace(t, map[string]string{"output/a.csv": cleanCSV})
	b, err := MakeBundle([]string{filepath.Join(root, "output", "a.csv"), "./output//a.csv"}, bundleOpts(t, filepath.Join(root, "release")))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Files) != 1 || b.Files[0].Path != "output/a.csv" {
		t.Errorf("files %+v, want output/a.csv once", b.Files)
	}
	if _, err := os.Stat(filepath.Join(root, "release", "output", "a.csv")); err != nil {
		t.Error(err)
	}
}

func TestMakeBundleNoProfile(t *testing.T) {
	if _, err := MakeBundle([]string{"x"}, BundleOptions{To: "y"}); err == nil {
		t.Error("no error without a profile")
	}
}

func bundleMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func bundleWrite(t *testing.T, p, data string) {
	t.Helper()
	bundleMkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func bundleSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot make a symbolic link here: %v", err)
	}
}

// bundleTree lists the paths under root, for checking that nothing was
// written.
func bundleTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
