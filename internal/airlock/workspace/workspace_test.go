package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/policy"
)

// file is one file of a test workspace: its content on disk (absent
// when nil) and its manifest entry (none when level is "").
type file struct {
	content   []byte
	level     string
	excluded  bool
	outOfDate bool
	hash      string // overrides the manifest hash
	commit    string
	timestamp float64
}

const (
	mod  = "moderately_sensitive"
	high = "highly_sensitive"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// makeWorkspace writes a workspace folder under dir with a real manifest.
func makeWorkspace(t testing.TB, dir, name string, files map[string]file) {
	t.Helper()
	root := filepath.Join(dir, name)
	entries := map[string]outputs.ManifestEntry{}
	for p, f := range files {
		if f.content != nil {
			full := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, f.content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if f.level == "" {
			continue
		}
		e := outputs.ManifestEntry{
			Level: f.level, JobID: "job-" + filepath.Base(p), Action: "act", Size: int64(len(f.content)),
			ContentHash: sha(f.content), Excluded: f.excluded, OutOfDateOutput: f.outOfDate, Timestamp: f.timestamp,
		}
		if f.hash != "" {
			e.ContentHash = f.hash
		}
		if f.excluded {
			msg := "File has patient_id column"
			e.Message = &msg
		}
		if f.commit != "" {
			c, r := f.commit, "https://example.invalid/repo"
			e.Commit, e.Repo = &c, &r
		}
		entries[p] = e
	}
	m := map[string]any{"workspace": name, "repo": nil, "outputs": entries}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "metadata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "metadata", "manifest.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// standard is a workspace with one file of every kind.
func standard() map[string]file {
	return map[string]file{
		"output/table.csv":            {content: []byte("a,b\n1,2\n"), level: mod, commit: "c1", timestamp: 10},
		"output/newer.csv":            {content: []byte("x\n5\n"), level: mod, commit: "c2", timestamp: 20},
		"output/secret.csv":           {content: []byte("patient_id\n1\n"), level: high, timestamp: 30},
		"output/excluded.csv":         {level: mod, excluded: true},
		"output/excluded.csv.txt":     {content: []byte("excluded: File has patient_id column\n")},
		"output/old.csv":              {content: []byte("old\n1\n"), level: mod, outOfDate: true},
		"output/missing.csv":          {level: mod},
		"output/unlisted.csv":         {content: []byte("no manifest entry\n")},
		"output/secret.csv.txt":       {content: []byte("a note for a secret file\n")},
		"output/hs/deep/data.json":    {content: []byte("{}"), level: high},
		"output/fig/plot.png":         {content: []byte("\x89PNG"), level: mod},
		"metadata/act.log":            {content: []byte("log\n")},
		"metadata/manifest.json.lock": {content: []byte("")},
		"metadata/.haven-1234.tmp":    {content: []byte("temp")},
		"metadata/hs.csv":             {content: []byte("x"), level: high},
		"other.txt":                   {content: []byte("not in the manifest")},
	}
}

func openStandard(t testing.TB) *Workspace {
	t.Helper()
	dir := t.TempDir()
	makeWorkspace(t, dir, "ws", standard())
	w, err := Dir{Root: dir}.Open("ws")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// treePaths flattens a tree into "path kind" strings, in tree order.
func treePaths(n *Node) []string {
	var out []string
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Entry != nil {
			out = append(out, n.Entry.Path+" "+string(n.Entry.Kind))
		} else if n.Path != "" {
			out = append(out, n.Path+"/")
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

func TestTree(t *testing.T) {
	w := openStandard(t)
	tests := []struct {
		name      string
		outOfDate bool
		want      []string
	}{
		{"current outputs only", false, []string{
			"metadata/",
			"metadata/act.log metadata",
			"metadata/manifest.json metadata",
			"output/",
			"output/fig/",
			"output/fig/plot.png output",
			"output/excluded.csv.txt excluded",
			"output/newer.csv output",
			"output/table.csv output",
		}},
		{"with out-of-date outputs", true, []string{
			"metadata/",
			"metadata/act.log metadata",
			"metadata/manifest.json metadata",
			"output/",
			"output/fig/",
			"output/fig/plot.png output",
			"output/excluded.csv.txt excluded",
			"output/newer.csv output",
			"output/old.csv output",
			"output/table.csv output",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := treePaths(w.Tree(tt.outOfDate))
			if !slices.Equal(got, tt.want) {
				t.Errorf("tree:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTreeEntryDetails(t *testing.T) {
	w := openStandard(t)
	if w.Commit != "c2" || w.Repo != "https://example.invalid/repo" {
		t.Errorf("commit %q repo %q, want the newest output's c2 and its repo", w.Commit, w.Repo)
	}
	e, err := w.Lookup("output/table.csv")
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindOutput || e.ContentHash != sha([]byte("a,b\n1,2\n")) || e.Size != 8 || e.Level != mod || e.Action != "act" || e.JobID != "job-table.csv" || e.ModTime.IsZero() {
		t.Errorf("entry %+v", e)
	}
	n, err := w.Lookup("output/excluded.csv.txt")
	if err != nil {
		t.Fatal(err)
	}
	if n.Kind != KindExcluded || n.ContentHash != "" || n.Message != "File has patient_id column" {
		t.Errorf("note entry %+v", n)
	}
	o, err := w.Lookup("output/old.csv")
	if err != nil || !o.OutOfDate {
		t.Errorf("out-of-date output: %+v, %v", o, err)
	}
	if len(w.Outputs) != 9 {
		t.Errorf("Outputs has %d entries, want all 9 manifest entries", len(w.Outputs))
	}
	if got := len(w.Entries(false)); got != 6 {
		t.Errorf("Entries(false) has %d files, want 6", got)
	}
}

func TestLookupRefusals(t *testing.T) {
	w := openStandard(t)
	tests := []struct {
		path string
		code string
	}{
		{"", haven.EINVALID},
		{"../x", haven.EINVALID},
		{"/etc/passwd", haven.EINVALID},
		{"a/../../x", haven.EINVALID},
		{"output/../output/table.csv", haven.EINVALID},
		{"./output/table.csv", haven.EINVALID},
		{"output//table.csv", haven.EINVALID},
		{"output/table.csv/", haven.EINVALID},
		{".hidden/x", haven.EINVALID},
		{"metadata/.haven-1234.tmp", haven.EINVALID},
		{`output\table.csv`, haven.EINVALID},
		{"output/table.csv\x00", haven.EINVALID},
		{"output/\xff.csv", haven.EINVALID},
		{"output/%2e%2e/x", haven.ENOTFOUND},
		{"output/%2e%2e/%2e%2e/etc/passwd", haven.ENOTFOUND},
		{"output/secret.csv", haven.ENOTFOUND},
		{"output/secret.csv.txt", haven.ENOTFOUND},
		{"output/hs/deep/data.json", haven.ENOTFOUND},
		{"metadata/hs.csv", haven.ENOTFOUND},
		{"output/excluded.csv", haven.ENOTFOUND},
		{"output/missing.csv", haven.ENOTFOUND},
		{"output/unlisted.csv", haven.ENOTFOUND},
		{"other.txt", haven.ENOTFOUND},
		{"metadata/manifest.json.lock", haven.ENOTFOUND},
		{"metadata", haven.ENOTFOUND},
		{"output", haven.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e, err := w.Lookup(tt.path)
			if err == nil {
				t.Fatalf("Lookup(%q) = %+v, want %s", tt.path, e, tt.code)
			}
			if code := haven.ErrorCode(err); code != tt.code {
				t.Errorf("Lookup(%q): code %s (%v), want %s", tt.path, code, err, tt.code)
			}
		})
	}
	// A highly sensitive file and a missing one get the same message but
	// for the path itself.
	_, e1 := w.Lookup("output/secret.csv")
	_, e2 := w.Lookup("output/nothing.csv")
	if strings.Replace(e1.Error(), "secret", "nothing", 1) != e2.Error() {
		t.Errorf("messages differ:\n%v\n%v", e1, e2)
	}
}

func TestReadFile(t *testing.T) {
	w := openStandard(t)
	data, e, err := w.ReadFile("output/table.csv")
	if err != nil || string(data) != "a,b\n1,2\n" || e.Path != "output/table.csv" {
		t.Fatalf("ReadFile = %q, %+v, %v", data, e, err)
	}
	if _, _, err := w.ReadFile("output/secret.csv"); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("highly sensitive file: %v, want ENOTFOUND", err)
	}
}

func TestReadFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, policy.MaxFileSize+1)
	makeWorkspace(t, dir, "ws", map[string]file{"output/big.csv": {content: big, level: mod}})
	w, err := Dir{Root: dir}.Open("ws")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.ReadFile("output/big.csv"); haven.ErrorCode(err) != haven.EINVALID || !strings.Contains(err.Error(), "16 MiB") {
		t.Errorf("ReadFile of a 16 MiB + 1 file: %v, want EINVALID naming the limit", err)
	}
	if _, err := w.Freeze("output/big.csv", filepath.Join(dir, "req")); haven.ErrorCode(err) != haven.EINVALID {
		t.Errorf("Freeze of a 16 MiB + 1 file: %v, want EINVALID", err)
	}
}

func TestSymlinksRefused(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := []byte("secret,data\n1,2\n")
	if err := os.WriteFile(filepath.Join(outside, "secret.csv"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "inside.csv"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	mediumDir := filepath.Join(dir, "medium")
	makeWorkspace(t, mediumDir, "ws", map[string]file{
		// Manifest entries whose hashes match the files the links lead to.
		"output/link.csv":       {level: mod, hash: sha(secret)},
		"output/sub/inside.csv": {level: mod, hash: sha(secret)},
		"output/inner.csv":      {level: mod, hash: sha(secret)},
		"output/real.csv":       {content: secret, level: mod},
		"metadata/link.log":     {},
	})
	root := filepath.Join(mediumDir, "ws")
	for _, l := range []struct{ target, link string }{
		{filepath.Join(outside, "secret.csv"), "output/link.csv"}, // a file link out of the root
		{outside, "output/sub"},                                   // a folder link in the middle
		{"real.csv", "output/inner.csv"},                          // a link that stays inside
		{filepath.Join(outside, "secret.csv"), "metadata/link.log"},
	} {
		if err := os.Symlink(l.target, filepath.Join(root, filepath.FromSlash(l.link))); err != nil {
			t.Fatal(err)
		}
	}
	w, err := Dir{Root: mediumDir}.Open("ws")
	if err != nil {
		t.Fatal(err)
	}
	if got := treePaths(w.Tree(true)); !slices.Equal(got, []string{"metadata/", "metadata/manifest.json metadata", "output/", "output/real.csv output"}) {
		t.Errorf("tree lists links: %q", got)
	}
	for _, p := range []string{"output/link.csv", "output/sub/inside.csv", "output/inner.csv", "metadata/link.log"} {
		if _, _, err := w.ReadFile(p); haven.ErrorCode(err) != haven.ENOTFOUND {
			t.Errorf("ReadFile(%s) through a symlink: %v, want ENOTFOUND", p, err)
		}
		req := filepath.Join(dir, "req")
		if _, err := w.Freeze(p, req); haven.ErrorCode(err) != haven.ENOTFOUND {
			t.Errorf("Freeze(%s) through a symlink: %v, want ENOTFOUND", p, err)
		}
		if ents, _ := os.ReadDir(req); len(ents) != 0 {
			t.Errorf("Freeze(%s) left %d files in the request directory", p, len(ents))
		}
	}
}

func TestSymlinkedMetadataRefused(t *testing.T) {
	dir := t.TempDir()
	makeWorkspace(t, dir, "real", map[string]file{"output/a.csv": {content: []byte("a\n1\n"), level: mod}})
	// A workspace whose metadata folder is a link to another's.
	if err := os.MkdirAll(filepath.Join(dir, "linked"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real", "metadata"), filepath.Join(dir, "linked", "metadata")); err != nil {
		t.Fatal(err)
	}
	// A workspace folder that is itself a link.
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	d := Dir{Root: dir}
	names, err := d.Names()
	if err != nil || !slices.Equal(names, []string{"real"}) {
		t.Errorf("Names = %q, %v; want only the real workspace", names, err)
	}
	for _, n := range []string{"linked", "alias"} {
		if _, err := d.Open(n); haven.ErrorCode(err) != haven.ENOTFOUND {
			t.Errorf("Open(%s): %v, want ENOTFOUND", n, err)
		}
	}
}

func TestNamesAndOpen(t *testing.T) {
	dir := t.TempDir()
	makeWorkspace(t, dir, "b-ws", nil)
	makeWorkspace(t, dir, "a_ws", nil)
	for _, d := range []string{"no-manifest/metadata", "empty", "bad name/metadata"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bad name", "metadata", "manifest.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := Dir{Root: dir}
	names, err := d.Names()
	if err != nil || !slices.Equal(names, []string{"a_ws", "b-ws"}) {
		t.Errorf("Names = %q, %v", names, err)
	}
	tests := []struct {
		name string
		code string
	}{
		{"a_ws", ""},
		{"no-manifest", haven.ENOTFOUND},
		{"empty", haven.ENOTFOUND},
		{"missing", haven.ENOTFOUND},
		{"file", haven.ENOTFOUND},
		{"bad name", haven.EINVALID},
		{"../a_ws", haven.EINVALID},
		{"", haven.EINVALID},
		{".", haven.EINVALID},
	}
	for _, tt := range tests {
		w, err := d.Open(tt.name)
		if haven.ErrorCode(err) != tt.code {
			t.Errorf("Open(%q) = %v, want code %q", tt.name, err, tt.code)
		}
		if err == nil && (w.Name != tt.name || !filepath.IsAbs(w.Root)) {
			t.Errorf("Open(%q) = %+v", tt.name, w)
		}
	}
	if _, err := (Dir{Root: filepath.Join(dir, "nope")}).Names(); err == nil {
		t.Error("Names of a missing directory succeeded")
	}
}

func TestOpenBadManifest(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ws", "metadata"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ws", "metadata", "manifest.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Dir{Root: dir}.Open("ws")
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("Open with a broken manifest: %v", err)
	}
}

func TestAllowedType(t *testing.T) {
	tests := map[string]bool{
		"a.csv": true, "out/a.jpg": true, "a.jpeg": true, "a.png": true, "a.svg": true, "a.svgz": true,
		"a.html": true, "a.txt": true, "a.log": true, "a.json": true, "a.md": true, "x/y.tar.csv": true,
		"a.CSV": false, "a.exe": false, "a": false, ".csv": false, "out/.a.csv": false, "a.csv.": false,
		"a.htm": false, "a.gif": false, "": false, "csv": false,
	}
	for name, want := range tests {
		if got := policy.AllowedType(name); got != want {
			t.Errorf("policy.AllowedType(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFreeze(t *testing.T) {
	dir := t.TempDir()
	content := []byte("a,b\n1,2\n")
	makeWorkspace(t, dir, "ws", map[string]file{
		"output/good.csv":    {content: content, level: mod},
		"output/changed.csv": {content: []byte("new,content\n"), level: mod, hash: sha([]byte("old"))},
		"output/nohash.csv":  {content: []byte("x\n"), level: mod, hash: "-"},
		"output/prog.py":     {content: []byte("print(1)"), level: mod},
		"output/ex.csv":      {level: mod, excluded: true},
		"output/ex.csv.txt":  {content: []byte("note")},
		"metadata/act.log":   {content: []byte("log")},
	})
	w, err := Dir{Root: dir}.Open("ws")
	if err != nil {
		t.Fatal(err)
	}
	req := filepath.Join(dir, "requests", "01REQ")

	f, err := w.Freeze("output/good.csv", req)
	if err != nil {
		t.Fatal(err)
	}
	want := sha(content)
	if f.SHA256 != want || f.Size != int64(len(content)) || f.Path != filepath.Join(req, want) || f.ModTime.IsZero() {
		t.Errorf("Freeze = %+v", f)
	}
	if fi, err := os.Stat(req); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("request directory: %v, %v; want mode 0700", fi, err)
	}
	if got, err := os.ReadFile(f.Path); err != nil || string(got) != string(content) {
		t.Errorf("frozen copy %q, %v", got, err)
	}
	st1, _ := os.Stat(f.Path)

	// Freezing again keeps the first copy and leaves nothing else.
	f2, err := w.Freeze("output/good.csv", req)
	if err != nil || f2 != f {
		t.Errorf("second Freeze = %+v, %v; want %+v", f2, err, f)
	}
	st2, _ := os.Stat(f.Path)
	if !os.SameFile(st1, st2) {
		t.Error("second Freeze replaced the frozen copy")
	}
	assertDir(t, req, []string{want})

	// The workspace file changes after its job wrote it.
	_, err = w.Freeze("output/changed.csv", req)
	if haven.ErrorCode(err) != haven.ECONFLICT || !strings.Contains(err.Error(), "output/changed.csv changed on disk") || !strings.Contains(err.Error(), sha([]byte("old"))) {
		t.Errorf("Freeze of a changed file: %v", err)
	}
	assertDir(t, req, []string{want})
	if _, err := w.Freeze("output/nohash.csv", req); haven.ErrorCode(err) != haven.ECONFLICT {
		t.Errorf("Freeze with a wrong manifest hash: %v", err)
	}
	assertDir(t, req, []string{want})

	for _, p := range []string{"output/prog.py", "output/ex.csv.txt", "metadata/act.log"} {
		if _, err := w.Freeze(p, req); haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("Freeze(%s) = %v, want EINVALID", p, err)
		}
	}
	assertDir(t, req, []string{want})

	// A frozen copy someone replaced with other bytes is replaced.
	if err := os.WriteFile(f.Path, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Freeze("output/good.csv", req); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f.Path); string(got) != string(content) {
		t.Errorf("tampered copy not replaced: %q", got)
	}
}

func assertDir(t *testing.T, dir string, want []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
}

func TestReadFrozen(t *testing.T) {
	dir := t.TempDir()
	content := []byte("a,b\n1,2\n")
	makeWorkspace(t, dir, "ws", map[string]file{"output/good.csv": {content: content, level: mod}})
	w, err := Dir{Root: dir}.Open("ws")
	if err != nil {
		t.Fatal(err)
	}
	req := filepath.Join(dir, "req")
	f, err := w.Freeze("output/good.csv", req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadFrozen(req, f.SHA256)
	if err != nil || string(got) != string(content) {
		t.Fatalf("ReadFrozen = %q, %v", got, err)
	}
	for _, s := range []string{"", "abc", strings.ToUpper(f.SHA256), "../" + f.SHA256[3:], f.SHA256 + "0", strings.Repeat("g", 64)} {
		if _, err := ReadFrozen(req, s); haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("ReadFrozen(%q) = %v, want EINVALID", s, err)
		}
	}
	if _, err := ReadFrozen(req, strings.Repeat("0", 64)); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("ReadFrozen of a missing copy = %v, want ENOTFOUND", err)
	}
	if err := os.WriteFile(f.Path, []byte("a,b\n1,3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFrozen(req, f.SHA256); haven.ErrorCode(err) != haven.ECONFLICT || !strings.Contains(err.Error(), sha([]byte("a,b\n1,3\n"))) {
		t.Errorf("ReadFrozen of a tampered copy = %v, want ECONFLICT naming the new hash", err)
	}
	// A frozen copy replaced by a link is not followed.
	link := filepath.Join(req, sha(content))
	os.Remove(link)
	other := filepath.Join(dir, "other")
	os.WriteFile(other, content, 0o600)
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFrozen(req, f.SHA256); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("ReadFrozen through a link = %v, want ENOTFOUND", err)
	}
}

func TestCheckPath(t *testing.T) {
	ok := []string{"a", "output/a.csv", "metadata/act.log", "a b/c d.txt", "output/%2e%2e/x", "ünï/cøde.csv", "a..b/c"}
	for _, p := range ok {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v", p, err)
		}
	}
	bad := []string{"", "/a", "a/", "a//b", "./a", "a/.", "..", "../a", "a/..", ".a", "a/.b", `a\b`, "a\nb", "a\x7f", "\xc3", strings.Repeat("a", 1025)}
	for _, p := range bad {
		if err := CheckPath(p); haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("CheckPath(%q) = %v, want EINVALID", p, err)
		}
	}
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"output/table.csv", "../x", "/etc/passwd", "a/../../x", ".hidden/x", "output/%2e%2e/x",
		"output/secret.csv", "metadata/act.log", "output/excluded.csv.txt", "output/old.csv", "metadata/manifest.json.lock", "other.txt"} {
		f.Add(s)
	}
	dir := f.TempDir()
	makeWorkspace(f, dir, "ws", standard())
	w, err := Dir{Root: dir}.Open("ws")
	if err != nil {
		f.Fatal(err)
	}
	tree := map[string]bool{}
	for _, e := range w.Entries(true) {
		tree[e.Path] = true
	}
	f.Fuzz(func(t *testing.T, p string) {
		e, err := w.Lookup(p)
		if err != nil {
			if c := haven.ErrorCode(err); c != haven.EINVALID && c != haven.ENOTFOUND {
				t.Fatalf("Lookup(%q): code %s: %v", p, c, err)
			}
			return
		}
		if e.Path != p || !tree[p] || !filepath.IsLocal(p) {
			t.Fatalf("Lookup(%q) = %+v: not in the tree", p, e)
		}
		full := filepath.Join(w.Root, filepath.FromSlash(p))
		if rel, err := filepath.Rel(w.Root, full); err != nil || !filepath.IsLocal(rel) {
			t.Fatalf("Lookup(%q) escapes the root", p)
		}
		if m, ok := w.Outputs[p]; ok && m.Level != mod {
			t.Fatalf("Lookup(%q) returned a %s file", p, m.Level)
		}
	})
}
