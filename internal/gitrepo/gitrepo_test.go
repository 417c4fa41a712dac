package gitrepo

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/haven-tre/haven"
)

// testRepo is a git repository built with the git binary.
type testRepo struct {
	t   *testing.T
	dir string
}

func gitEnv(t *testing.T) []string {
	home := t.TempDir()
	return append(os.Environ(),
		"HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"GIT_AUTHOR_DATE=2025-01-01T00:00:00Z", "GIT_COMMITTER_DATE=2025-01-01T00:00:00Z",
	)
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	r := &testRepo{t: t, dir: filepath.Join(t.TempDir(), "study")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = gitEnv(r.t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *testRepo) write(name, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) symlink(name, target string) {
	r.t.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
}

// commit commits everything and returns the sha.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func code(err error) string { return haven.ErrorCode(err) }

// history: main has c1, c2; feature branches from c1 and adds c3.
type history struct {
	repo       *testRepo
	c1, c2, c3 string
}

func newHistory(t *testing.T) *history {
	r := newTestRepo(t)
	r.write("project.yaml", "version: '4'\n")
	r.write("analysis/model.R", "print(1)\n")
	h := &history{repo: r}
	h.c1 = r.commit("first")
	r.write("README.md", "hello\n")
	h.c2 = r.commit("second")
	r.git("checkout", "-q", "-b", "feature", h.c1)
	r.write("analysis/feature.R", "print(2)\n")
	h.c3 = r.commit("feature only")
	r.git("checkout", "-q", "main")
	return h
}

func TestBranchesAndCommits(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	bare := filepath.Join(t.TempDir(), "bare.git")
	h.repo.git("clone", "-q", "--bare", h.repo.dir, bare)

	for name, repo := range map[string]string{
		"work tree": h.repo.dir,
		"bare":      bare,
		"file URL":  "file://" + bare,
	} {
		t.Run(name, func(t *testing.T) {
			c := New(t.TempDir())
			head, err := c.BranchHead(ctx, repo, "main")
			if err != nil || head != h.c2 {
				t.Fatalf("BranchHead(main) = %q, %v; want %s", head, err, h.c2)
			}
			head, err = c.BranchHead(ctx, repo, "feature")
			if err != nil || head != h.c3 {
				t.Fatalf("BranchHead(feature) = %q, %v; want %s", head, err, h.c3)
			}
			_, err = c.BranchHead(ctx, repo, "nope")
			if code(err) != haven.ENOTFOUND || !strings.Contains(err.Error(), "Missing branch nope in ") {
				t.Fatalf("BranchHead(nope) = %v; want ENOTFOUND Missing branch", err)
			}

			for _, tc := range []struct {
				commit, branch string
				want           bool
			}{
				{h.c1, "main", true},
				{h.c2, "main", true},
				{h.c3, "main", false},
				{h.c3, "feature", true},
				{h.c1, "feature", true},
				{h.c2, "feature", false},
				{strings.Repeat("ab", 20), "main", false},
			} {
				got, err := c.OnBranch(ctx, repo, tc.commit, tc.branch)
				if err != nil || got != tc.want {
					t.Errorf("OnBranch(%s, %s) = %v, %v; want %v", tc.commit[:7], tc.branch, got, err, tc.want)
				}
			}
			if _, err := c.OnBranch(ctx, repo, h.c1, "nope"); code(err) != haven.ENOTFOUND || !strings.Contains(err.Error(), "Missing branch nope") {
				t.Errorf("OnBranch on a missing branch = %v; want ENOTFOUND", err)
			}

			// Files at a commit, read through the mirror.
			data, err := c.ReadFile(ctx, repo, h.c1, "project.yaml")
			if err != nil || string(data) != "version: '4'\n" {
				t.Errorf("ReadFile(project.yaml) = %q, %v", data, err)
			}
			data, err = c.ReadFile(ctx, repo, h.c3, "analysis/feature.R")
			if err != nil || string(data) != "print(2)\n" {
				t.Errorf("ReadFile(analysis/feature.R at c3) = %q, %v", data, err)
			}
			if _, err := c.ReadFile(ctx, repo, h.c1, "README.md"); code(err) != haven.ENOTFOUND {
				t.Errorf("ReadFile of a file added later = %v; want ENOTFOUND", err)
			}
			if _, err := c.ReadFile(ctx, repo, h.c1, "analysis"); code(err) != haven.ENOTFOUND {
				t.Errorf("ReadFile of a folder = %v; want ENOTFOUND", err)
			}
			if _, err := c.ReadFile(ctx, repo, strings.Repeat("cd", 20), "project.yaml"); code(err) != haven.ENOTFOUND || !strings.Contains(err.Error(), "not found") {
				t.Errorf("ReadFile at an unknown commit = %v; want ENOTFOUND", err)
			}
			for _, tc := range []struct {
				commit, path string
				want         bool
			}{
				{h.c1, "project.yaml", true},
				{h.c1, "analysis", true},
				{h.c1, "analysis/model.R", true},
				{h.c1, "README.md", false},
				{h.c2, "README.md", true},
				{h.c2, "analysis/feature.R", false},
			} {
				got, err := c.Exists(ctx, repo, tc.commit, tc.path)
				if err != nil || got != tc.want {
					t.Errorf("Exists(%s, %s) = %v, %v; want %v", tc.commit[:7], tc.path, got, err, tc.want)
				}
			}
		})
	}
}

func TestBranchMovesAreSeen(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	c := New(t.TempDir())
	if ok, err := c.OnBranch(ctx, h.repo.dir, h.c2, "main"); err != nil || !ok {
		t.Fatalf("OnBranch = %v, %v", ok, err)
	}
	h.repo.write("new.txt", "new\n")
	c4 := h.repo.commit("fourth")
	head, err := c.BranchHead(ctx, h.repo.dir, "main")
	if err != nil || head != c4 {
		t.Fatalf("BranchHead after a new commit = %q, %v; want %s", head, err, c4)
	}
	if ok, err := c.OnBranch(ctx, h.repo.dir, c4, "main"); err != nil || !ok {
		t.Fatalf("OnBranch(new commit) = %v, %v; want true", ok, err)
	}
	if data, err := c.ReadFile(ctx, h.repo.dir, c4, "new.txt"); err != nil || string(data) != "new\n" {
		t.Fatalf("ReadFile(new commit) = %q, %v", data, err)
	}
	// A force-push that drops a commit from the branch is seen too.
	h.repo.git("reset", "-q", "--hard", h.c2)
	if ok, err := c.OnBranch(ctx, h.repo.dir, c4, "main"); err != nil || ok {
		t.Fatalf("OnBranch(dropped commit) = %v, %v; want false", ok, err)
	}
}

func TestConcurrentReads(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	c := New(t.TempDir())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ReadFile(ctx, h.repo.dir, h.c2, "README.md"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestValidBranch(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"main", true},
		{"master", true},
		{"feature/new-model", true},
		{"release-1.0", true},
		{"user@work", true},
		{"", false},
		{"-x", false},
		{"--upload-pack=touch /tmp/pwned", false},
		{"a..b", false},
		{"a b", false},
		{"HEAD", false},
		{"@", false},
		{".hidden", false},
		{"a/.hidden", false},
		{"a.lock", false},
		{"a/b.lock/c", false},
		{"a/", false},
		{"/a", false},
		{"a//b", false},
		{"a.", false},
		{"a:b", false},
		{"a~1", false},
		{"a^", false},
		{"a?", false},
		{"a*", false},
		{"a[b", false},
		{`a\b`, false},
		{"a@{1}", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{strings.Repeat("a", 256), false},
	} {
		err := ValidBranch(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidBranch(%q) = %v; want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && code(err) != haven.EINVALID {
			t.Errorf("ValidBranch(%q) code = %s; want EINVALID", tc.name, code(err))
		}
	}
}

func TestValidPathAndCommit(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"project.yaml", true},
		{"analysis/model.R", true},
		{"a:b", true},
		{"-rf", true}, // never in an option position
		{"", false},
		{".", false},
		{"../x", false},
		{"a/../b", false},
		{"a/..", false},
		{"/etc/passwd", false},
		{"./a", false},
		{"a//b", false},
		{"a/", false},
		{"a\x00b", false},
	} {
		if err := ValidPath(tc.path); (err == nil) != tc.ok {
			t.Errorf("ValidPath(%q) = %v; want ok=%v", tc.path, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		sha string
		ok  bool
	}{
		{strings.Repeat("a1", 20), true},
		{strings.Repeat("A1", 20), false},
		{"a1b2c3d", false},
		{"HEAD", false},
		{"-" + strings.Repeat("a", 39), false},
		{strings.Repeat("a", 41), false},
		{strings.Repeat("a", 64), false},
	} {
		if got := ValidCommit(tc.sha); got != tc.ok {
			t.Errorf("ValidCommit(%q) = %v; want %v", tc.sha, got, tc.ok)
		}
	}
}

func TestCheckRepo(t *testing.T) {
	cwd, _ := os.Getwd()
	for _, tc := range []struct {
		repo, want string // want "" for refused
	}{
		{"https://github.com/org/study", "https://github.com/org/study"},
		{"http://git.internal/org/study.git", "http://git.internal/org/study.git"},
		{"ssh://git@github.com/org/study.git", "ssh://git@github.com/org/study.git"},
		{"git://host/study", "git://host/study"},
		{"file:///srv/git/study.git", "file:///srv/git/study.git"},
		{"git@github.com:org/study.git", "git@github.com:org/study.git"},
		{"/srv/git/study", "/srv/git/study"},
		{"/srv/git/../git/study/", "/srv/git/study"},
		{"studies/one", filepath.Join(cwd, "studies/one")},
		{"", ""},
		{"-uhello", ""},
		{"--upload-pack=touch /tmp/pwned", ""},
		{"ext::sh -c touch% /tmp/pwned", ""},
		{"fd::3", ""},
		{"ftp://host/study", ""},
		{"https:///no-host", ""},
		{"https://host/a\nb", ""},
	} {
		got, err := checkRepo(tc.repo)
		if tc.want == "" {
			if err == nil || code(err) != haven.EINVALID {
				t.Errorf("checkRepo(%q) = %q, %v; want EINVALID", tc.repo, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("checkRepo(%q) = %q, %v; want %q", tc.repo, got, err, tc.want)
		}
	}
	if got := display("https://user:secret@github.com/org/study"); strings.Contains(got, "secret") || got != "https://github.com/org/study" {
		t.Errorf("display kept credentials: %q", got)
	}
}

// TestInjectionRefused checks that hostile arguments are refused before
// git runs: no mirror is created and no command is executed.
func TestInjectionRefused(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	cache := t.TempDir()
	c := New(cache)
	marker := filepath.Join(t.TempDir(), "pwned")
	sha := h.c1
	calls := []struct {
		name string
		call func() error
	}{
		{"ext transport", func() error {
			_, err := c.BranchHead(ctx, "ext::sh -c touch% "+marker, "main")
			return err
		}},
		{"option as repo", func() error {
			_, err := c.BranchHead(ctx, "--upload-pack=touch "+marker, "main")
			return err
		}},
		{"option as branch", func() error {
			_, err := c.BranchHead(ctx, h.repo.dir, "--upload-pack=touch "+marker)
			return err
		}},
		{"option as branch in OnBranch", func() error {
			_, err := c.OnBranch(ctx, h.repo.dir, sha, "-b")
			return err
		}},
		{"option as commit", func() error {
			_, err := c.ReadFile(ctx, h.repo.dir, "--output="+marker, "project.yaml")
			return err
		}},
		{"ref as commit", func() error {
			_, err := c.OnBranch(ctx, h.repo.dir, "HEAD~1", "main")
			return err
		}},
		{"path traversal", func() error {
			_, err := c.ReadFile(ctx, h.repo.dir, sha, "../../../etc/passwd")
			return err
		}},
		{"absolute path", func() error {
			_, err := c.Exists(ctx, h.repo.dir, sha, "/etc/passwd")
			return err
		}},
		{"dot path", func() error {
			_, err := c.ReadFile(ctx, h.repo.dir, sha, "./project.yaml")
			return err
		}},
		{"export with a bad commit", func() error {
			return c.Export(ctx, h.repo.dir, "main", filepath.Join(t.TempDir(), "out"))
		}},
	}
	for _, tc := range calls {
		if err := tc.call(); code(err) != haven.EINVALID {
			t.Errorf("%s: err = %v; want EINVALID", tc.name, err)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a hostile argument ran a command")
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 0 {
		t.Errorf("refused calls created mirrors: %v", entries)
	}
}

// tree lists a folder: path -> "file:<content>:<mode>", "dir" or
// "link:<target>".
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[filepath.ToSlash(rel)] = "link:" + target
		case fi.IsDir():
			out[filepath.ToSlash(rel)] = "dir"
		default:
			data, _ := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = "file:" + string(data) + ":" + fi.Mode().Perm().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	r := newTestRepo(t)
	r.write("project.yaml", "version: '4'\n")
	r.write("analysis/model.R", "print(1)\n")
	r.write("analysis/deep/er/x.txt", "x\n")
	r.write("run.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(r.dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.symlink("model", "analysis/model.R")
	r.symlink("analysis/deep/up", "../model.R")
	sha := r.commit("study")
	c := New(t.TempDir())
	out := filepath.Join(t.TempDir(), "export")
	if err := c.Export(ctx, r.dir, sha, out); err != nil {
		t.Fatal(err)
	}
	got := tree(t, out)
	want := map[string]string{
		"project.yaml":           "file:version: '4'\n:-rw-r--r--",
		"analysis":               "dir",
		"analysis/model.R":       "file:print(1)\n:-rw-r--r--",
		"analysis/deep":          "dir",
		"analysis/deep/er":       "dir",
		"analysis/deep/er/x.txt": "file:x\n:-rw-r--r--",
		"analysis/deep/up":       "link:../model.R",
		"run.sh":                 "file:#!/bin/sh\n:-rwxr-xr-x",
		"model":                  "link:analysis/model.R",
	}
	if len(got) != len(want) {
		t.Errorf("export has %d entries, want %d: %v", len(got), len(want), keys(got))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
	// A second export into the same, now full, folder is refused.
	if err := c.Export(ctx, r.dir, sha, out); code(err) != haven.EINVALID || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a full folder = %v; want EINVALID not empty", err)
	}
	// An unknown commit.
	if err := c.Export(ctx, r.dir, strings.Repeat("ef", 20), filepath.Join(t.TempDir(), "x")); code(err) != haven.ENOTFOUND {
		t.Errorf("export of an unknown commit = %v; want ENOTFOUND", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestExportRefusesEscapingSymlinks builds repositories whose symlinks
// leave the export and checks each export fails and leaves nothing behind.
func TestExportRefusesEscapingSymlinks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		links [][2]string // name, target
	}{
		{"parent", [][2]string{{"escape", "../../etc/passwd"}}},
		{"absolute", [][2]string{{"escape", "/etc/passwd"}}},
		{"nested parent", [][2]string{{"a/b/escape", "../../../x"}}},
		{"chain through a symlink to itself", [][2]string{{"l", "."}, {"s", "l/.."}}},
		{"chain through a deeper symlink", [][2]string{{"sub/here", "."}, {"sub/up", "here/../.."}}},
		{"loop", [][2]string{{"a", "b"}, {"b", "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRepo(t)
			r.write("project.yaml", "version: '4'\n")
			for _, l := range tc.links {
				r.symlink(l[0], l[1])
			}
			sha := r.commit("links")
			out := filepath.Join(t.TempDir(), "export")
			err := New(t.TempDir()).Export(ctx, r.dir, sha, out)
			if code(err) != haven.EINVALID {
				t.Fatalf("Export = %v; want EINVALID", err)
			}
			t.Log(err)
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("a refused export left %d entries", len(entries))
			}
		})
	}
}

type tarEntry struct {
	name, link string
	typ        byte
	body       string
}

func makeTar(t *testing.T, entries []tarEntry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeXGlobalHeader {
			hdr = &tar.Header{Typeflag: e.typ, PAXRecords: map[string]string{"comment": "0123"}}
		} else if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestExtractTarRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tarEntry
		max     int64
	}{
		{"parent path", []tarEntry{{name: "../evil", typ: tar.TypeReg, body: "x"}}, 0},
		{"nested parent path", []tarEntry{{name: "a/../../evil", typ: tar.TypeReg, body: "x"}}, 0},
		{"absolute path", []tarEntry{{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}}, 0},
		{"unclean path", []tarEntry{{name: "a//b", typ: tar.TypeReg, body: "x"}}, 0},
		{".git folder", []tarEntry{{name: ".git/config", typ: tar.TypeReg, body: "x"}}, 0},
		{".GIT folder", []tarEntry{{name: "sub/.GIT/hooks/post-checkout", typ: tar.TypeReg, body: "x"}}, 0},
		{"hard link", []tarEntry{{name: "h", link: "/etc/passwd", typ: tar.TypeLink}}, 0},
		{"device", []tarEntry{{name: "dev", typ: tar.TypeChar}}, 0},
		{"fifo", []tarEntry{{name: "fifo", typ: tar.TypeFifo}}, 0},
		{"write through a symlink", []tarEntry{
			{name: "sub", typ: tar.TypeDir},
			{name: "d", link: "sub", typ: tar.TypeSymlink},
			{name: "d/x", typ: tar.TypeReg, body: "x"},
		}, 0},
		{"duplicate file", []tarEntry{
			{name: "a", typ: tar.TypeReg, body: "x"},
			{name: "a", typ: tar.TypeReg, body: "y"},
		}, 0},
		{"symlink then file", []tarEntry{
			{name: "a", link: "b", typ: tar.TypeSymlink},
			{name: "a", typ: tar.TypeReg, body: "y"},
		}, 0},
		{"escaping symlink", []tarEntry{{name: "l", link: "../x", typ: tar.TypeSymlink}}, 0},
		{"too large", []tarEntry{
			{name: "a", typ: tar.TypeReg, body: "12345"},
			{name: "b", typ: tar.TypeReg, body: "67890"},
		}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			err := extractTar(makeTar(t, tc.entries), root, max)
			if code(err) != haven.EINVALID {
				t.Fatalf("extractTar = %v; want EINVALID", err)
			}
			t.Log(err)
			if _, err := os.Lstat(filepath.Join(filepath.Dir(root), "evil")); err == nil {
				t.Fatal("a file was written outside the export")
			}
			if _, err := os.Lstat(filepath.Join(root, "sub", "x")); err == nil {
				t.Fatal("a file was written through a symlink")
			}
		})
	}
}

func TestExtractTarAccepts(t *testing.T) {
	root := t.TempDir()
	err := extractTar(makeTar(t, []tarEntry{
		{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
		{name: "a/", typ: tar.TypeDir},
		{name: "a/b.txt", typ: tar.TypeReg, body: "b"},
		{name: "a/c/d.txt", typ: tar.TypeReg, body: "d"},
		{name: "a/up", link: "../a/b.txt", typ: tar.TypeSymlink},
		{name: "a/c/top", link: "..", typ: tar.TypeSymlink},
		{name: "dangling", link: "missing/file", typ: tar.TypeSymlink},
	}), root, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got := tree(t, root)
	for k, v := range map[string]string{
		"a/b.txt":   "file:b:-rw-r--r--",
		"a/c/d.txt": "file:d:-rw-r--r--",
		"a/up":      "link:../a/b.txt",
		"a/c/top":   "link:..",
		"dangling":  "link:missing/file",
	} {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
}
