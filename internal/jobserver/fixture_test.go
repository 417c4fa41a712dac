package jobserver

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

func TestMain(m *testing.M) {
	auth.HashParams = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}
	os.Exit(m.Run())
}

const validProject = `version: '4'
actions:
  generate_dataset:
    run: ehrql:v1 generate-dataset analysis/dataset_definition.py --output output/dataset.csv.gz
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv.gz
  analyse:
    run: python:v2 analysis/analyse.py
    needs: [generate_dataset]
    outputs:
      moderately_sensitive:
        table: output/table.csv
  report:
    run: python:v2 analysis/report.py
    needs: [generate_dataset, analyse]
    outputs:
      moderately_sensitive:
        report: output/report.html
`

const invalidProject = `version: '4'
actions:
  analyse:
    run: python:v2 analysis/analyse.py
    needs: [missing_action]
    outputs:
      moderately_sensitive:
        table: output/table.csv
`

// gitRepo is a study repository built with the git binary. main has:
// noYAML (no project.yaml), badYAML (an invalid one), head (valid).
// feature branches from head and adds offBranch.
type gitRepo struct {
	dir                              string
	noYAML, badYAML, head, offBranch string
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func commitFile(t *testing.T, dir, name, content, msg string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	runGit(t, dir, "add", "-A")
	runGit(t, dir, "commit", "-q", "-m", msg)
	return runGit(t, dir, "rev-parse", "HEAD")
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	r := &gitRepo{dir: filepath.Join(t.TempDir(), "study")}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	runGit(t, r.dir, "init", "-q", "-b", "main")
	r.noYAML = commitFile(t, r.dir, "README.md", "a study\n", "readme")
	r.badYAML = commitFile(t, r.dir, "project.yaml", invalidProject, "broken project")
	r.head = commitFile(t, r.dir, "project.yaml", validProject, "valid project")
	runGit(t, r.dir, "checkout", "-q", "-b", "feature")
	r.offBranch = commitFile(t, r.dir, "notes.txt", "feature work\n", "feature")
	runGit(t, r.dir, "checkout", "-q", "main")
	return r
}

// fixture is a server with one org, two projects, two backends and
// several users, on a real SQLite store and a real git repository.
type fixture struct {
	t    *testing.T
	ctx  context.Context
	st   store.Store
	svc  *Service
	repo *gitRepo
	now  time.Time

	tpp, emis *store.Backend
	projA     *store.Project
	projB     *store.Project
	ws        *store.Workspace // project A, on repo main
	wsB       *store.Workspace // project B

	dev      *store.User // ProjectDeveloper on A, member of tpp
	dev2     *store.User // ProjectDeveloper on A, member of tpp
	collab   *store.User // ProjectCollaborator on A, member of tpp
	outsider *store.User // ProjectDeveloper on B, member of tpp
	noBack   *store.User // ProjectDeveloper on A, no backend
	admin    *store.User // DeploymentAdministrator, member of tpp

	mu    sync.Mutex
	woken []int64
	logs  *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenServer(ctx, filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, st: st, repo: newGitRepo(t), logs: &bytes.Buffer{},
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.svc = &Service{
		Store:  st,
		Git:    gitrepo.New(t.TempDir()),
		Now:    func() time.Time { return f.clock() },
		Logger: slog.New(slog.NewTextHandler(&syncWriter{mu: &f.mu, w: f.logs}, nil)),
		Wake: func(id int64) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.woken = append(f.woken, id)
		},
	}

	if _, err := f.svc.CreateOrg(ctx, "Bennett Institute", "research"); err != nil {
		t.Fatal(err)
	}
	f.projA = f.must1(f.svc.CreateProject(ctx, "bennett-institute", "Valve study", "1234")).(*store.Project)
	f.projB = f.must1(f.svc.CreateProject(ctx, "", "Other study", "")).(*store.Project)
	var tok BackendTokens
	f.tpp, tok, err = f.svc.CreateBackend(ctx, "tpp", "")
	if err != nil || tok.Agent == "" {
		t.Fatal(err)
	}
	f.emis, _, err = f.svc.CreateBackend(ctx, "emis", "EMIS")
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, global []store.Role, projRoles []store.Role, project string, backend bool) *store.User {
		u, err := f.svc.CreateUser(ctx, name, name+"@example.org", "User "+name, "correct horse battery", global)
		if err != nil {
			t.Fatal(err)
		}
		if project != "" {
			if err := f.svc.AddProjectMember(ctx, project, name, projRoles); err != nil {
				t.Fatal(err)
			}
		}
		if backend {
			if err := f.svc.AddBackendMember(ctx, "tpp", name); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	dev := []store.Role{store.RoleProjectDeveloper}
	f.dev = mk("dev", nil, dev, f.projA.Slug, true)
	f.dev2 = mk("dev2", nil, dev, f.projA.Slug, true)
	f.collab = mk("collab", nil, []store.Role{store.RoleProjectCollaborator}, f.projA.Slug, true)
	f.outsider = mk("outsider", nil, dev, f.projB.Slug, true)
	f.noBack = mk("noback", nil, dev, f.projA.Slug, false)
	f.admin = mk("admin", []store.Role{store.RoleDeploymentAdministrator}, nil, "", true)

	f.ws, err = f.svc.CreateWorkspace(ctx, f.dev, NewWorkspace{Project: f.projA.Slug, Name: "valve-main", Repo: f.repo.dir, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	f.wsB, err = f.svc.CreateWorkspace(ctx, nil, NewWorkspace{Project: f.projB.Slug, Name: "other-main", Repo: f.repo.dir, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) must1(v any, err error) any {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Second)
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fixture) wakes() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.woken...)
}

func (f *fixture) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.String()
}

// requests counts the stored job requests.
func (f *fixture) requests() int {
	f.t.Helper()
	_, n, err := f.st.JobRequests(f.ctx, store.JobRequestFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// finish claims every claimable job of the backend and reports code for
// it, until the queue is empty.
func (f *fixture) finish(backendID int64, code haven.StatusCode) {
	f.t.Helper()
	for i := 0; i < 100; i++ {
		task, err := f.st.Poll(f.ctx, backendID, "agent-1", store.Capacity{Jobs: 10, DBJobs: 10}, f.clock(), time.Minute)
		if err != nil {
			f.t.Fatal(err)
		}
		if task == nil {
			return
		}
		u := store.Update{Attempt: task.Job.Attempt, Seq: 1, TimestampNS: f.clock().UnixNano(), StatusCode: code}
		if _, err := f.st.ApplyUpdate(f.ctx, backendID, task.Job.ID, u, f.clock(), time.Minute); err != nil {
			f.t.Fatal(err)
		}
	}
	f.t.Fatal("the queue never emptied")
}

// audits returns the types of the audit events about target.
func (f *fixture) audits(target string) []string {
	f.t.Helper()
	evs, err := f.st.AuditEvents(f.ctx, target, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func code(err error) string { return haven.ErrorCode(err) }
