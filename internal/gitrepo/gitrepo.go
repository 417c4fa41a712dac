// Package gitrepo reads workspaces' git repositories with the git binary:
// branch heads, whether a commit is on a branch, files at a commit, and an
// export of a commit's tree into a folder.
//
// Every repository is read through a bare mirror kept under the client's
// cache folder (one per repository, named by the sha256 of the repository
// string) and fetched from the repository when a ref or commit is missing.
// A repository is a local path to a git repository (bare or not) or a URL
// (https://, http://, ssh://, git://, file://, or scp-like user@host:path).
//
// git always runs directly (never through a shell) with interactive
// prompts off and only the file, https, http, ssh and git transports
// allowed, so a repository string cannot run a command (ext::) or wait for
// a password. Branch names, commit shas and paths are validated before
// they reach git, and nothing a user typed is ever in an option position.
// Calls for one repository are serialised within this process; several
// processes must not share one cache folder.
package gitrepo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven"
)

// MaxFileSize is the largest file ReadFile returns.
const MaxFileSize = 16 << 20

// DefaultMaxExportBytes is the default limit on the bytes Export writes.
const DefaultMaxExportBytes = 2 << 30

// Client reads repositories through bare mirrors under a cache folder. It
// implements jobserver.Git. Its exported fields may be changed before first
// use only.
type Client struct {
	// GitPath is the git binary ("git": found on PATH).
	GitPath string
	// MaxExportBytes limits the bytes of file contents Export writes.
	MaxExportBytes int64

	cacheDir string

	mu    sync.Mutex
	locks map[string]*sync.Mutex // mirror path -> lock
}

// New returns a client keeping its mirrors under cacheDir, which is created
// when first needed.
func New(cacheDir string) *Client {
	return &Client{GitPath: "git", MaxExportBytes: DefaultMaxExportBytes, cacheDir: cacheDir, locks: map[string]*sync.Mutex{}}
}

var (
	shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
	// scpRE is git's scp-like ssh syntax: [user@]host:path with no slash
	// before the colon.
	scpRE = regexp.MustCompile(`^([A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:`)
)

// allowedSchemes are the URL schemes a repository may use.
var allowedSchemes = map[string]bool{"https": true, "http": true, "ssh": true, "git": true, "file": true}

// ValidCommit reports whether s is a full lower-case commit sha.
func ValidCommit(s string) bool { return shaRE.MatchString(s) }

// ValidBranch reports why name cannot be a branch name, or nil. The rules
// are git check-ref-format --branch's, plus no leading '-'.
func ValidBranch(name string) error {
	bad := func(why string) error {
		return haven.Errorf(haven.EINVALID, "%q is not a valid branch name: %s", name, why)
	}
	switch {
	case name == "":
		return haven.Errorf(haven.EINVALID, "a branch name is required")
	case len(name) > 255:
		return bad("it is longer than 255 characters")
	case strings.HasPrefix(name, "-"):
		return bad("it starts with '-'")
	case name == "HEAD" || name == "@":
		return bad("it is reserved")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return bad("it has an empty part between slashes")
	case strings.HasSuffix(name, "."):
		return bad("it ends with '.'")
	case strings.Contains(name, ".."):
		return bad("it contains '..'")
	case strings.Contains(name, "@{"):
		return bad("it contains '@{'")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return bad(fmt.Sprintf("it contains %q", r))
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return bad("a part starts with '.'")
		}
		if strings.HasSuffix(part, ".lock") {
			return bad("a part ends with '.lock'")
		}
	}
	return nil
}

// ValidPath reports why p cannot be a path inside a repository, or nil: it
// must be relative, clean, and free of '..'.
func ValidPath(p string) error {
	bad := func(why string) error {
		return haven.Errorf(haven.EINVALID, "%q is not a valid path in a repository: %s", p, why)
	}
	switch {
	case p == "" || p == ".":
		return bad("it is empty")
	case strings.ContainsRune(p, 0):
		return bad("it contains a NUL byte")
	case strings.HasPrefix(p, "/"):
		return bad("it is absolute")
	case path.Clean(p) != p:
		return bad("it is not clean (no './', '//' or trailing '/')")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return bad("it contains '..'")
		}
	}
	return nil
}

// ValidRepo reports why repo cannot be a workspace's repository, or nil:
// it must be an https://, http://, ssh://, git:// or file:// URL, an
// scp-like user@host:path, or a local path, and must not start with '-'
// or use a transport helper (<transport>::<address>).
func ValidRepo(repo string) error {
	_, err := checkRepo(repo)
	return err
}

// checkRepo validates a repository string and returns what git is given:
// the URL as written, or a local path made absolute.
func checkRepo(repo string) (string, error) {
	if repo == "" {
		return "", haven.Errorf(haven.EINVALID, "a repository is required")
	}
	if strings.HasPrefix(repo, "-") {
		return "", haven.Errorf(haven.EINVALID, "repository %q must not start with '-'", repo)
	}
	for _, r := range repo {
		if r < 0x20 || r == 0x7f {
			return "", haven.Errorf(haven.EINVALID, "repository %q contains a control character", display(repo))
		}
	}
	if i := strings.Index(repo, "://"); i >= 0 {
		u, err := url.Parse(repo)
		if err != nil || !allowedSchemes[strings.ToLower(u.Scheme)] {
			return "", haven.Errorf(haven.EINVALID, "repository %s: use an https://, http://, ssh://, git:// or file:// URL, or a local path", display(repo))
		}
		if u.Scheme != "file" && u.Host == "" {
			return "", haven.Errorf(haven.EINVALID, "repository %s has no host", display(repo))
		}
		return repo, nil
	}
	if strings.Contains(repo, "::") {
		// git's <transport>::<address> syntax (remote helpers such as ext::).
		return "", haven.Errorf(haven.EINVALID, "repository %s: transport helpers (<transport>::<address>) are not allowed", display(repo))
	}
	if filepath.IsAbs(repo) {
		return filepath.Clean(repo), nil
	}
	if scpRE.MatchString(repo) {
		return repo, nil
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return "", haven.Errorf(haven.EINVALID, "repository path %s: %v", repo, err)
	}
	return abs, nil
}

// display is a repository string safe to show: URL credentials removed.
func display(repo string) string {
	if u, err := url.Parse(repo); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return repo
}

func checkCommit(commit string) error {
	if !ValidCommit(commit) {
		return haven.Errorf(haven.EINVALID, "%q is not a commit: give the full 40-character lower-case sha", commit)
	}
	return nil
}

// mirror is one repository's bare mirror, held locked.
type mirror struct {
	c    *Client
	repo string // as the caller gave it (for messages)
	dir  string
	mu   *sync.Mutex
}

// open validates repo, locks its mirror and creates it if needed. The
// caller must call m.close.
func (c *Client) open(ctx context.Context, repo string) (*mirror, error) {
	target, err := checkRepo(repo)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(target))
	dir := filepath.Join(c.cacheDir, hex.EncodeToString(sum[:16])+".git")
	c.mu.Lock()
	if c.locks == nil {
		c.locks = map[string]*sync.Mutex{}
	}
	l := c.locks[dir]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[dir] = l
	}
	c.mu.Unlock()
	l.Lock()
	m := &mirror{c: c, repo: repo, dir: dir, mu: l}
	if err := m.init(ctx, target); err != nil {
		l.Unlock()
		return nil, err
	}
	return m, nil
}

func (m *mirror) close() { m.mu.Unlock() }

func (m *mirror) init(ctx context.Context, target string) error {
	if fi, err := os.Stat(filepath.Join(m.dir, "HEAD")); err == nil && fi.Mode().IsRegular() {
		return nil
	}
	if err := os.MkdirAll(m.c.cacheDir, 0o700); err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create the git cache folder " + m.c.cacheDir, Err: err}
	}
	tmp, err := os.MkdirTemp(m.c.cacheDir, "init-")
	if err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create a git mirror in " + m.c.cacheDir, Err: err}
	}
	defer os.RemoveAll(tmp)
	if _, err := m.c.git(ctx, "", "init", "--quiet", "--bare", "--", tmp); err != nil {
		return err
	}
	if _, err := m.c.git(ctx, tmp, "config", "remote.origin.url", target); err != nil {
		return err
	}
	if err := os.RemoveAll(m.dir); err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot replace git mirror " + m.dir, Err: err}
	}
	if err := os.Rename(tmp, m.dir); err != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "cannot create git mirror " + m.dir, Err: err}
	}
	return nil
}

// gitError is a failed git command: its arguments, exit status and stderr.
type gitError struct {
	args   []string
	exit   int
	stderr string
	err    error
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	return fmt.Sprintf("git %s: %v: %s", strings.Join(e.args, " "), e.err, msg)
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode returns a failed command's exit status, or -1.
func exitCode(err error) int {
	var ge *gitError
	if errors.As(err, &ge) {
		return ge.exit
	}
	return -1
}

// env is git's environment: the process's, minus anything that would
// redirect git to another repository, with prompts off and the allowed
// transports fixed.
func env() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
			"GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "GIT_TERMINAL_PROMPT", "GIT_ALLOW_PROTOCOL",
			"GIT_PROTOCOL_FROM_USER", "GIT_ASKPASS", "SSH_ASKPASS", "LC_ALL", "LANG", "GIT_CONFIG_PARAMETERS",
			"GIT_CONFIG_COUNT":
			continue
		}
		if strings.HasPrefix(k, "GIT_CONFIG_KEY_") || strings.HasPrefix(k, "GIT_CONFIG_VALUE_") {
			continue
		}
		out = append(out, kv)
	}
	out = append(out,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ALLOW_PROTOCOL=file:https:http:ssh:git",
		"GIT_PROTOCOL_FROM_USER=0",
		"GCM_INTERACTIVE=never",
		"LC_ALL=C",
	)
	if os.Getenv("GIT_SSH_COMMAND") == "" && os.Getenv("GIT_SSH") == "" {
		out = append(out, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return out
}

// git runs git in dir ("" for the current folder) and returns its stdout.
func (c *Client) git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := c.command(ctx, dir, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &limitedBuffer{buf: &stderr, max: 64 << 10}
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), c.runError(ctx, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func (c *Client) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	bin := c.GitPath
	if bin == "" {
		bin = "git"
	}
	full := append([]string{"-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Dir = dir
	cmd.Env = env()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (c *Client) runError(ctx context.Context, args []string, err error, stderr string) error {
	ge := &gitError{args: args, exit: -1, stderr: stderr, err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ge.exit = ee.ExitCode()
	}
	if ctx.Err() != nil {
		return &haven.Error{Code: haven.EINTERNAL, Message: "git " + args[0] + " was interrupted", Err: ctx.Err()}
	}
	return ge
}

// limitedBuffer keeps at most max bytes.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

// internal wraps a failed git command as EINTERNAL saying what failed;
// a *haven.Error is returned as it is.
func internal(what string, err error) error {
	var he *haven.Error
	if errors.As(err, &he) {
		return err
	}
	return &haven.Error{Code: haven.EINTERNAL, Message: what, Err: err}
}

// remoteHead asks the repository for refs/heads/<branch>; "" when there is
// no such branch.
func (m *mirror) remoteHead(ctx context.Context, branch string) (string, error) {
	ref := "refs/heads/" + branch
	out, err := m.c.git(ctx, m.dir, "ls-remote", "--exit-code", "--refs", "origin", ref)
	if exitCode(err) == 2 {
		return "", nil
	}
	if err != nil {
		return "", internal("cannot list the branches of "+display(m.repo), err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		sha, name, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if ok && name == ref && ValidCommit(sha) {
			return sha, nil
		}
	}
	return "", nil
}

func missingBranch(branch, repo string) error {
	return haven.Errorf(haven.ENOTFOUND, "Missing branch %s in %s", branch, display(repo))
}

// fetchBranch updates the mirror's refs/heads/<branch> from the repository.
func (m *mirror) fetchBranch(ctx context.Context, branch string) error {
	ref := "refs/heads/" + branch
	_, err := m.c.git(ctx, m.dir, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--update-head-ok", "origin", "+"+ref+":"+ref)
	if err == nil {
		return nil
	}
	// Tell a missing branch from a failed fetch.
	head, lerr := m.remoteHead(ctx, branch)
	if lerr == nil && head == "" {
		return missingBranch(branch, m.repo)
	}
	return internal("cannot fetch branch "+branch+" from "+display(m.repo), err)
}

// hasCommit reports whether the mirror holds commit.
func (m *mirror) hasCommit(ctx context.Context, commit string) (bool, error) {
	_, err := m.c.git(ctx, m.dir, "cat-file", "-e", commit+"^{commit}")
	if err == nil {
		return true, nil
	}
	if exitCode(err) >= 0 {
		return false, nil
	}
	return false, internal("cannot read the git mirror of "+display(m.repo), err)
}

// ensureCommit makes sure the mirror holds commit, fetching every branch
// and then the commit itself when it does not.
func (m *mirror) ensureCommit(ctx context.Context, commit string) error {
	if ok, err := m.hasCommit(ctx, commit); err != nil || ok {
		return err
	}
	if _, err := m.c.git(ctx, m.dir, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--update-head-ok", "origin", "+refs/heads/*:refs/heads/*"); err != nil {
		return internal("cannot fetch from "+display(m.repo), err)
	}
	if ok, err := m.hasCommit(ctx, commit); err != nil || ok {
		return err
	}
	// Servers that allow it hand out a commit no branch points at (yet).
	_, _ = m.c.git(ctx, m.dir, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "origin", commit)
	if ok, err := m.hasCommit(ctx, commit); err != nil || ok {
		return err
	}
	return haven.Errorf(haven.ENOTFOUND, "Commit %s not found in %s", commit, display(m.repo))
}

// BranchHead resolves refs/heads/<branch> in repo to a full commit sha,
// asking the repository itself (not the mirror). A missing branch is
// ENOTFOUND "Missing branch <branch> in <repo>".
func (c *Client) BranchHead(ctx context.Context, repo, branch string) (string, error) {
	if err := ValidBranch(branch); err != nil {
		return "", err
	}
	m, err := c.open(ctx, repo)
	if err != nil {
		return "", err
	}
	defer m.close()
	head, err := m.remoteHead(ctx, branch)
	if err != nil {
		return "", err
	}
	if head == "" {
		return "", missingBranch(branch, repo)
	}
	return head, nil
}

// OnBranch reports whether commit is reachable from refs/heads/<branch>
// as the repository has it now: the branch is fetched first. A missing
// branch is ENOTFOUND; a commit the repository does not have is not on the
// branch.
func (c *Client) OnBranch(ctx context.Context, repo, commit, branch string) (bool, error) {
	if err := ValidBranch(branch); err != nil {
		return false, err
	}
	if err := checkCommit(commit); err != nil {
		return false, err
	}
	m, err := c.open(ctx, repo)
	if err != nil {
		return false, err
	}
	defer m.close()
	if err := m.fetchBranch(ctx, branch); err != nil {
		return false, err
	}
	// Everything reachable from the branch was just fetched, so a commit
	// the mirror lacks is not on it.
	if ok, err := m.hasCommit(ctx, commit); err != nil || !ok {
		return false, err
	}
	_, err = c.git(ctx, m.dir, "merge-base", "--is-ancestor", commit, "refs/heads/"+branch)
	switch {
	case err == nil:
		return true, nil
	case exitCode(err) == 1:
		return false, nil
	}
	return false, internal("cannot check branch "+branch+" of "+display(repo), err)
}

// object resolves <commit>:<p> to its object id and type; "" when absent.
func (m *mirror) object(ctx context.Context, commit, p string) (id, typ string, err error) {
	if err := m.ensureCommit(ctx, commit); err != nil {
		return "", "", err
	}
	out, err := m.c.git(ctx, m.dir, "rev-parse", "--verify", "--quiet", "--end-of-options", commit+":"+p)
	if exitCode(err) == 1 {
		return "", "", nil
	}
	if err != nil {
		return "", "", internal("cannot read "+p+" at "+commit+" in "+display(m.repo), err)
	}
	id = strings.TrimSpace(string(out))
	out, err = m.c.git(ctx, m.dir, "cat-file", "-t", id)
	if err != nil {
		return "", "", internal("cannot read "+p+" at "+commit+" in "+display(m.repo), err)
	}
	return id, strings.TrimSpace(string(out)), nil
}

// ReadFile returns the bytes of the file at p in commit (at most
// MaxFileSize). A missing file, or a path that is a folder, is ENOTFOUND.
func (c *Client) ReadFile(ctx context.Context, repo, commit, p string) ([]byte, error) {
	if err := checkCommit(commit); err != nil {
		return nil, err
	}
	if err := ValidPath(p); err != nil {
		return nil, err
	}
	m, err := c.open(ctx, repo)
	if err != nil {
		return nil, err
	}
	defer m.close()
	id, typ, err := m.object(ctx, commit, p)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, haven.Errorf(haven.ENOTFOUND, "%s not found at commit %s in %s", p, commit[:7], display(repo))
	}
	if typ != "blob" {
		return nil, haven.Errorf(haven.ENOTFOUND, "%s is not a file at commit %s in %s", p, commit[:7], display(repo))
	}
	out, err := c.git(ctx, m.dir, "cat-file", "-s", id)
	if err != nil {
		return nil, internal("cannot read "+p+" in "+display(repo), err)
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil || n > MaxFileSize {
		return nil, haven.Errorf(haven.EINVALID, "%s at commit %s is larger than %d MiB", p, commit[:7], MaxFileSize>>20)
	}
	data, err := c.git(ctx, m.dir, "cat-file", "blob", id)
	if err != nil {
		return nil, internal("cannot read "+p+" in "+display(repo), err)
	}
	return data, nil
}

// Exists reports whether p (a file, folder or symlink) exists in commit.
func (c *Client) Exists(ctx context.Context, repo, commit, p string) (bool, error) {
	if err := checkCommit(commit); err != nil {
		return false, err
	}
	if err := ValidPath(p); err != nil {
		return false, err
	}
	m, err := c.open(ctx, repo)
	if err != nil {
		return false, err
	}
	defer m.close()
	id, _, err := m.object(ctx, commit, p)
	return id != "", err
}
