// Package demo runs `haven demo`: a job server, one agent per backend and
// an Airlock in one process, on SQLite files under one directory, talking
// to each other over loopback HTTP exactly as they do in production. It
// creates the organisations, projects, workspaces, backends and users of
// the published job request pages Haven's docs cite, submits their job
// requests with the same numbers and identifiers (so the job identifiers
// are the published ones), runs them on artificial data with the local
// executor, and opens a release request in Airlock.
//
// With Once it then plays the researcher and both output checkers through
// to a released CSV and SVG, checks every expected state, and stops.
package demo

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/examples"
	"github.com/haven-tre/haven/internal/actions"
	"github.com/haven-tre/haven/internal/agent"
	airlockapp "github.com/haven-tre/haven/internal/airlock/app"
	"github.com/haven-tre/haven/internal/executor/local"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/server"
	"github.com/haven-tre/haven/internal/store"
)

// Password is every demo user's password.
const Password = "haven-demo-password"

// Config is how the demo runs.
type Config struct {
	// Dir holds everything the demo makes; "" for a new temporary
	// directory (kept afterwards, and printed).
	Dir string
	// Once runs the whole script headless, checks the expected states and
	// returns; otherwise the demo serves until ctx ends.
	Once bool
	// ServerAddr and AirlockAddr are where the web pages listen; ""
	// chooses 127.0.0.1:8000 and 127.0.0.1:8001 (any free port with Once,
	// or when those are taken).
	ServerAddr, AirlockAddr string
	// Out receives the progress lines and the summary.
	Out io.Writer
	// Timeout bounds the job runs and the release (default 10 minutes).
	Timeout time.Duration
}

// Demo is a running demo.
type Demo struct {
	cfg        Config
	dir        string
	out        io.Writer
	log        *slog.Logger
	logFile    *os.File
	srv        *server.Server
	st         store.Store
	svc        *jobserver.Service
	serverURL  string
	airlockURL string
	airlock    *airlockapp.App
	tokens     map[string]jobserver.BackendTokens
	users      map[string]*store.User
	wg         sync.WaitGroup
	errs       chan error
}

// Run runs the demo. With cfg.Once it returns the summary once the script
// has finished; its error is non-nil when a step failed, and the summary
// lists any expected state that was not reached. Without Once it sets
// everything up, prints how to use it, and serves until ctx ends.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d, sum, err := Start(ctx, cfg)
	if d != nil {
		defer func() {
			cancel()
			d.Close()
		}()
	}
	if err != nil {
		return sum, err
	}
	if cfg.Once {
		rctx, rcancel := context.WithTimeout(ctx, d.cfg.Timeout)
		defer rcancel()
		err := d.Review(rctx, sum)
		sum.Print(d.out)
		return sum, err
	}
	sum.Print(d.out)
	d.instructions(ctx)
	select {
	case <-ctx.Done():
		return sum, nil
	case err := <-d.errs:
		return sum, err
	}
}

// Start sets the demo up and runs it until the release request is open:
// the job server, the agents and Airlock keep running until ctx ends;
// call Close after that. On error the returned Demo, when not nil, must
// be closed too.
func Start(ctx context.Context, cfg Config) (*Demo, *Summary, error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, nil, haven.Errorf(haven.EINVALID, "haven demo needs git to make the studies' repositories: install git and try again")
	}
	d := &Demo{cfg: cfg, out: cfg.Out, tokens: map[string]jobserver.BackendTokens{}, users: map[string]*store.User{}, errs: make(chan error, 8)}
	if err := d.makeDir(); err != nil {
		return nil, nil, err
	}
	d.say("Haven demo: everything lives in %s (logs in %s)", d.dir, filepath.Join(d.dir, "demo.log"))
	sum := &Summary{Dir: d.dir}
	if err := d.startServer(ctx); err != nil {
		return d, sum, err
	}
	sum.ServerURL = d.serverURL
	if err := d.seed(ctx); err != nil {
		return d, sum, err
	}
	if err := d.startAgents(ctx); err != nil {
		return d, sum, err
	}
	if err := d.startAirlock(ctx); err != nil {
		return d, sum, err
	}
	sum.AirlockURL = d.airlockURL
	rctx, rcancel := context.WithTimeout(ctx, cfg.Timeout)
	defer rcancel()
	if err := d.runJobs(rctx, sum); err != nil {
		return d, sum, err
	}
	rel, err := d.openRelease(rctx)
	sum.Release = rel
	return d, sum, err
}

// Close waits for the components to stop (cancel Start's context first)
// and closes the databases.
func (d *Demo) Close() {
	d.wg.Wait()
	if d.airlock != nil {
		d.airlock.Close()
	}
	if d.st != nil {
		d.st.Close()
	}
	if d.logFile != nil {
		d.logFile.Close()
	}
}

// ServerURL and AirlockURL are where the pages are.
func (d *Demo) ServerURL() string  { return d.serverURL }
func (d *Demo) AirlockURL() string { return d.airlockURL }

// AirlockToken makes a one-time Airlock sign-in token for a demo user, as
// the job server's "Airlock token" page does.
func (d *Demo) AirlockToken(ctx context.Context, username string) (string, error) {
	u, ok := d.users[username]
	if !ok {
		return "", haven.Errorf(haven.ENOTFOUND, "the demo has no user %q", username)
	}
	tok, _, err := d.svc.CreateAirlockLoginToken(ctx, u)
	return tok, err
}

// Errors reports a component that stopped on its own.
func (d *Demo) Errors() <-chan error { return d.errs }

// makeDir creates (or reuses) the demo's directory and its log file.
func (d *Demo) makeDir() error {
	dir := d.cfg.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "haven-demo-")
		if err != nil {
			return fmt.Errorf("create a temporary directory: %w", err)
		}
		dir = tmp
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return haven.Errorf(haven.EINVALID, "bad --dir %s: %v", dir, err)
		}
		dir = abs
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return haven.Errorf(haven.EINVALID, "%s is not empty: the demo starts from scratch, so give it a new or empty directory (or leave --dir out for a temporary one)", dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return haven.Errorf(haven.EINVALID, "cannot create %s: %v", dir, err)
		}
	}
	d.dir = dir
	f, err := os.OpenFile(filepath.Join(dir, "demo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create the demo log: %w", err)
	}
	d.logFile = f
	d.log = slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return nil
}

func (d *Demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// listen listens on addr, or on a free port when addr is "" with Once or
// the preferred port is taken.
func (d *Demo) listen(addr, preferred string) (net.Listener, error) {
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, haven.Errorf(haven.EINVALID, "cannot listen on %s: %v; choose another address", addr, err)
		}
		return l, nil
	}
	if !d.cfg.Once {
		if l, err := net.Listen("tcp", preferred); err == nil {
			return l, nil
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

func (d *Demo) startServer(ctx context.Context) error {
	cfg := server.Config{DataDir: filepath.Join(d.dir, "server"), Logger: d.log.With("process", "server")}
	st, _, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	d.st = st
	srv, err := server.New(cfg, st)
	if err != nil {
		return err
	}
	d.srv, d.svc = srv, srv.Service
	l, err := d.listen(d.cfg.ServerAddr, "127.0.0.1:8000")
	if err != nil {
		return err
	}
	d.serverURL = "http://" + l.Addr().String()
	d.goRun("job server", func() error { return srv.Serve(ctx, l) })
	return nil
}

// goRun runs a component until ctx ends; an early failure ends the demo.
func (d *Demo) goRun(name string, fn func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := fn(); err != nil {
			select {
			case d.errs <- fmt.Errorf("%s stopped: %w", name, err):
			default:
			}
		}
	}()
}

// makeRepo writes an example study into a new git repository on branch
// and commits it, with a fixed author and date so the commit is the same
// on every run.
func (d *Demo) makeRepo(example, name, branch string) (string, error) {
	dir := filepath.Join(d.dir, "repos", name)
	sub, err := fs.Sub(examples.FS, example)
	if err != nil {
		return "", err
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return "", fmt.Errorf("copy example %s: %w", example, err)
	}
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Haven Demo", "GIT_AUTHOR_EMAIL=demo@haven.invalid",
		"GIT_COMMITTER_NAME=Haven Demo", "GIT_COMMITTER_EMAIL=demo@haven.invalid",
		"GIT_AUTHOR_DATE=2022-03-01T12:00:00Z", "GIT_COMMITTER_DATE=2022-03-01T12:00:00Z")
	for _, args := range [][]string{{"init", "-q", "-b", branch}, {"add", "-A"}, {"commit", "-qm", "Study code for " + name}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("git %s in %s: %v: %s", strings.Join(args, " "), dir, err, out)
		}
	}
	return dir, nil
}

// people are the demo's users: the researchers of the published job
// request pages, two output checkers and an administrator.
var people = []struct {
	username, fullname string
	roles              []store.Role
	what               string
}{
	{"colmandrews", "Colm Andrews", nil, "researcher on primary-care-covid-codes-research (TPP)"},
	{"louisfisher", "Louis Fisher", nil, "researcher on mechanical-valve-anticoag-updated (EMIS)"},
	{"simondavy", "Simon Davy", nil, "researcher on flucats (EMIS)"},
	{"checker1", "Priya Output-Checker", []store.Role{store.RoleOutputChecker}, "output checker"},
	{"checker2", "Sam Output-Checker", []store.Role{store.RoleOutputChecker}, "output checker"},
	{"admin", "Demo Administrator", []store.Role{store.RoleStaffAreaAdministrator, store.RoleDeploymentAdministrator}, "administrator"},
}

// workspaces of the demo: the example each is made from, its branch
// (as on the published pages), project, organisation and researcher.
var workspaces = []struct {
	name, example, branch, project, org, researcher string
}{
	{"primary-care-covid-codes-research", "primary-care-covid-codes", "master", "Primary care COVID-19 codes", "Bennett Institute", "colmandrews"},
	{"mechanical-valve-anticoag-updated", "mechanical-valve-anticoag", "updates", "Anticoagulation in mechanical heart valves", "Bennett Institute", "louisfisher"},
	{"flucats", "flucats", "main", "FluCATs", "University of Liverpool", "simondavy"},
}

// seed creates the users, organisations, projects, workspaces and
// backends.
func (d *Demo) seed(ctx context.Context) error {
	svc := d.svc
	for _, p := range people {
		u, err := svc.CreateUser(ctx, p.username, p.username+"@example.org", p.fullname, Password, p.roles)
		if err != nil {
			return fmt.Errorf("create user %s: %w", p.username, err)
		}
		d.users[p.username] = u
	}
	for _, slug := range []string{"tpp", "emis"} {
		_, tok, err := svc.CreateBackend(ctx, slug, strings.ToUpper(slug))
		if err != nil {
			return err
		}
		if err := svc.SetBackendArtificialData(ctx, slug, true); err != nil {
			return err
		}
		d.tokens[slug] = tok
		for _, p := range people {
			if err := svc.AddBackendMember(ctx, slug, p.username); err != nil {
				return err
			}
		}
	}
	orgs := map[string]string{}
	for _, w := range workspaces {
		if _, ok := orgs[w.org]; !ok {
			o, err := svc.CreateOrg(ctx, w.org, "")
			if err != nil {
				return err
			}
			orgs[w.org] = o.Slug
		}
		p, err := svc.CreateProject(ctx, orgs[w.org], w.project, "")
		if err != nil {
			return err
		}
		if err := svc.AddProjectMember(ctx, p.Slug, w.researcher, []store.Role{store.RoleProjectDeveloper}); err != nil {
			return err
		}
		repo, err := d.makeRepo(w.example, w.name, w.branch)
		if err != nil {
			return err
		}
		if _, err := svc.CreateWorkspace(ctx, nil, jobserver.NewWorkspace{Project: p.Slug, Name: w.name, Repo: repo, Branch: w.branch, Purpose: "Demo copy of a published study"}); err != nil {
			return err
		}
	}
	d.say("Created users, organisations, projects, workspaces and the TPP and EMIS backends (artificial data only).")
	return nil
}

// backendDir is a backend's folder of high- and medium-privacy
// directories and agent state.
func (d *Demo) backendDir(slug string, parts ...string) string {
	return filepath.Join(append([]string{d.dir, "backends", slug}, parts...)...)
}

func (d *Demo) startAgents(ctx context.Context) error {
	for _, slug := range []string{"tpp", "emis"} {
		for _, sub := range []string{"high-privacy", "medium-privacy", "agent-state"} {
			if err := os.MkdirAll(d.backendDir(slug, sub), 0o700); err != nil {
				return err
			}
		}
		ag, err := agent.New(ctx, agent.Config{
			ServerURL: d.serverURL, Backend: slug, Token: d.tokens[slug].Agent, AgentID: "demo-" + slug,
			Executor: local.New(local.Config{Listing: outputs.NewCodeListing(), Native: actions.Native()}),
			HighDir:  d.backendDir(slug, "high-privacy"), MediumDir: d.backendDir(slug, "medium-privacy"),
			StateDir: d.backendDir(slug, "agent-state"), Code: gitrepo.New(d.backendDir(slug, "agent-state", "git")),
			MaxJobs: 2, Logger: d.log.With("process", "agent", "backend", slug), Now: time.Now,
		})
		if err != nil {
			return err
		}
		d.goRun(slug+" agent", func() error {
			defer ag.Close()
			if err := ag.Run(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		})
	}
	return nil
}

func (d *Demo) startAirlock(ctx context.Context) error {
	a, err := airlockapp.New(ctx, airlockapp.Config{
		DataDir:          d.backendDir("tpp", "airlock"),
		MediumPrivacyDir: d.backendDir("tpp", "medium-privacy"),
		ServerURL:        d.serverURL, Backend: "tpp", Token: d.tokens["tpp"].Airlock,
		Logger:     d.log.With("process", "airlock", "backend", "tpp"),
		RetryEvery: 5 * time.Second,
	})
	if err != nil {
		return err
	}
	d.airlock = a
	l, err := d.listen(d.cfg.AirlockAddr, "127.0.0.1:8001")
	if err != nil {
		return err
	}
	d.airlockURL = "http://" + l.Addr().String()
	d.goRun("airlock", func() error { return a.Serve(ctx, l) })
	return nil
}

// Accessors for tests and tools that drive a started demo further.

// Server is the job server.
func (d *Demo) Server() *server.Server { return d.srv }

// Airlock is the TPP backend's Airlock.
func (d *Demo) Airlock() *airlockapp.App { return d.airlock }

// User returns a demo user of the job server.
func (d *Demo) User(username string) *store.User { return d.users[username] }

// Dir is the demo's directory.
func (d *Demo) Dir() string { return d.dir }

// AirlockBackendToken is the TPP backend's Airlock token.
func (d *Demo) AirlockBackendToken() string { return d.tokens["tpp"].Airlock }

// WaitJobRequest waits until job request id has finished.
func (d *Demo) WaitJobRequest(ctx context.Context, id int64) error { return d.wait(ctx, id) }
