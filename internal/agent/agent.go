// Package agent is the backend agent: the process inside a secure
// environment that pulls jobs from the job server and runs them with the
// same runner as `haven run` (spec §7).
//
// The agent never listens on a port. It long-polls the server for tasks,
// holds each claimed job under a lease it extends, runs the job with
// internal/runner and its executor, and reports each recorded status
// transition as a redacted update: codes, fixed messages, numbers and
// booleans; never file names, patterns or log text, which stay in the
// workspaces' logs on the backend.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

// Version is sent with every poll.
const Version = "haven-agent/1"

// Defaults (spec §7.1).
const (
	DefaultMaxJobs      = 2
	DefaultPollInterval = time.Second
	DefaultExtendEvery  = agentapi.DefaultExtendEvery
	// DefaultRetryMin and DefaultRetryMax bound the exponential backoff
	// (with jitter) used while the server is away.
	DefaultRetryMin = time.Second
	DefaultRetryMax = 30 * time.Second
)

// CodeSource exports a study's code. internal/gitrepo implements it.
type CodeSource interface {
	// Export writes the tree of repo at commit into dir, which exists and
	// is empty.
	Export(ctx context.Context, repo, commit, dir string) error
}

// Config is what an Agent works with.
type Config struct {
	// ServerURL is the job server's address (https://…).
	ServerURL string
	// Backend is the backend's slug, for logs.
	Backend string
	// Token is the backend's agent token.
	Token string
	// AgentID names this agent to the server (default: hostname-pid).
	AgentID string

	// Executor runs the jobs (local, docker, fake), built by the caller.
	Executor executor.Executor
	// HighDir holds the high-privacy workspaces: outputs land in
	// HighDir/<workspace>.
	HighDir string
	// MediumDir holds the medium-privacy workspaces (MediumDir/<workspace>);
	// "" for none.
	MediumDir string
	// StateDir is the agent's own: its job store (agent.db), code
	// checkouts, scratch workspaces and job logs. An agent restarted on the
	// same StateDir recovers the jobs the previous one left running.
	StateDir string
	// Code exports study code at a commit.
	Code CodeSource

	// MaxJobs is how many jobs run at once (default 2); MaxDBJobs how many
	// of them may be database jobs (default MaxJobs).
	MaxJobs   int
	MaxDBJobs int
	// PollInterval is the least time between the starts of two polls that
	// found no work (default 1 s): the server's long-poll hold (25 s)
	// makes the usual gap; this only guards against a server that answers
	// at once.
	PollInterval time.Duration
	// ExtendEvery is how often leases are extended (default 30 s; the
	// server may ask for less).
	ExtendEvery time.Duration
	// RetryMin and RetryMax bound the backoff while the server is away
	// (defaults 1 s and 30 s).
	RetryMin, RetryMax time.Duration
	// RecoverGrace is how long a job whose lease was lost keeps running in
	// case the server hands it back with a recover task (default
	// 2 × ExtendEvery); after it the job is cancelled.
	RecoverGrace time.Duration
	// RequestTimeout bounds each request (default 60 s).
	RequestTimeout time.Duration
	// HTTPClient sends the requests (its transport verifies TLS); a client
	// without its own timeout if nil.
	HTTPClient *http.Client

	// DBStatus, if set, says whether the backend's database is in
	// maintenance (and what kind), reported with every poll; the server
	// then holds database jobs back. nil: never in maintenance.
	DBStatus func(ctx context.Context) (maintenance bool, kind string)

	// Runner settings, passed to every job.
	Timeout            time.Duration // per-job wall-clock limit, 0 for none
	CPUCount           float64
	MemoryLimit        int64
	Env                map[string]string
	RunnerPollInterval time.Duration // for executors that are not Waiters (default 1 s)

	Logger *slog.Logger
	Now    func() time.Time
}

// Agent pulls and runs a backend's jobs. Create one with New; call Run
// once, then Close.
type Agent struct {
	cfg    Config
	client *agentapi.Client
	db     *sqlite.DB
	log    *slog.Logger

	checkoutMu sync.Mutex
	checkouts  map[string]*sync.Mutex // commit -> export lock

	mu       sync.Mutex
	jobs     map[string]*jobRun // by job identifier
	stopping bool
	freed    chan struct{} // signalled when a job slot frees
	wg       sync.WaitGroup

	// pollCancel interrupts a poll in flight that was sent with no free
	// capacity (see poll).
	pollMu     sync.Mutex
	pollCancel context.CancelCauseFunc

	stateMu sync.Mutex
	state   string // "", connected, unreachable, refused: logged on change only

	everPolled bool
}

// New checks cfg, fills in defaults and opens the agent's job store in
// StateDir.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	switch {
	case cfg.ServerURL == "":
		return nil, haven.Errorf(haven.EINVALID, "agent: no server URL: give the job server's address")
	case cfg.Token == "":
		return nil, haven.Errorf(haven.EINVALID, "agent: no token: give the backend's agent token")
	case cfg.Executor == nil:
		return nil, haven.Errorf(haven.EINVALID, "agent: no executor")
	case cfg.Code == nil:
		return nil, haven.Errorf(haven.EINVALID, "agent: no code source")
	case cfg.HighDir == "" || cfg.StateDir == "":
		return nil, haven.Errorf(haven.EINVALID, "agent: the high-privacy directory and the state directory must both be set")
	}
	if u, err := url.Parse(cfg.ServerURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, haven.Errorf(haven.EINVALID, "agent: server URL %q is not an http(s) address such as https://jobs.example.org", cfg.ServerURL)
	}
	if cfg.AgentID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "agent"
		}
		cfg.AgentID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if cfg.MaxJobs < 1 {
		cfg.MaxJobs = DefaultMaxJobs
	}
	if cfg.MaxDBJobs < 1 || cfg.MaxDBJobs > cfg.MaxJobs {
		cfg.MaxDBJobs = cfg.MaxJobs
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ExtendEvery <= 0 {
		cfg.ExtendEvery = DefaultExtendEvery
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(DefaultRetryMax, cfg.RetryMin)
	}
	if cfg.RecoverGrace <= 0 {
		cfg.RecoverGrace = 2 * cfg.ExtendEvery
	}
	if cfg.RunnerPollInterval <= 0 {
		cfg.RunnerPollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, dir := range []string{cfg.StateDir, filepath.Join(cfg.StateDir, "checkouts"), filepath.Join(cfg.StateDir, "scratch"), filepath.Join(cfg.StateDir, "logs"), cfg.HighDir} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, &haven.Error{Code: haven.EINVALID, Message: "agent: cannot create " + dir, Err: err}
		}
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.StateDir, "agent.db"))
	if err != nil {
		return nil, &haven.Error{Code: haven.EINTERNAL, Message: "agent: open its job store in " + cfg.StateDir, Err: err}
	}
	return &Agent{
		cfg: cfg,
		client: &agentapi.Client{
			BaseURL: cfg.ServerURL, Token: cfg.Token, Backend: cfg.Backend, HTTP: cfg.HTTPClient, Timeout: cfg.RequestTimeout,
		},
		db:        db,
		log:       cfg.Logger.With("backend", cfg.Backend, "agent", cfg.AgentID),
		checkouts: map[string]*sync.Mutex{},
		jobs:      map[string]*jobRun{},
		freed:     make(chan struct{}, 1),
	}, nil
}

// Close closes the agent's job store. Call it after Run has returned.
func (a *Agent) Close() error { return a.db.Close() }

// Run polls for tasks and runs them until ctx ends. On the way out it
// gives back the leases of jobs that had not started and leaves running
// jobs to their executor: the next agent on the same StateDir recovers
// them when the server asks. It returns nil after a shutdown, or an error
// when the server refuses the agent's token before any poll succeeded.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("agent starting", "server", a.cfg.ServerURL, "max_jobs", a.cfg.MaxJobs)
	retry := backoff{min: a.cfg.RetryMin, max: a.cfg.RetryMax}
	for ctx.Err() == nil {
		started := time.Now()
		task, err := a.poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, errPollInterrupted) {
				continue // a slot freed: ask again with the room there is now
			}
			if !agentapi.IsRetryable(err) && !a.everPolled {
				a.shutdown()
				return &haven.Error{Code: haven.EINVALID, Message: fmt.Sprintf("agent: the server at %s refused to hand out work for backend %s; check that the token file holds that backend's agent token (haven server admin create-backend or rotate-backend-tokens prints it)", a.cfg.ServerURL, a.cfg.Backend), Err: err}
			}
			if agentapi.IsRetryable(err) {
				a.setState("unreachable", err)
			} else {
				a.setState("refused", err)
			}
			sleep(ctx, retry.next())
			continue
		}
		a.everPolled = true
		retry.reset()
		a.setState("connected", nil)
		if task != nil {
			a.dispatch(ctx, task)
			continue
		}
		if d := a.cfg.PollInterval - time.Since(started); d > 0 {
			select {
			case <-ctx.Done():
			case <-a.freed:
			case <-time.After(d):
			}
		}
	}
	a.shutdown()
	a.log.Info("agent stopped")
	return nil
}

// errPollInterrupted ends a poll sent with no free capacity when a job
// slot frees: the agent asks again at once with the room it now has.
var errPollInterrupted = errors.New("poll interrupted: a job slot freed")

// poll sends one poll. A poll sent with no free capacity only waits for
// cancel and recover tasks, so it is interrupted when a slot frees (no run
// task can be lost that way; a cancel or recover task claimed just then is
// handed out again by the lease's expiry or the extend answer).
func (a *Agent) poll(ctx context.Context) (*agentapi.Task, error) {
	req := a.pollRequest()
	if a.cfg.DBStatus != nil {
		req.Flags.DBMaintenance, req.Flags.DBMaintenanceType = a.cfg.DBStatus(ctx)
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	full := req.Capacity.Jobs == 0
	a.pollMu.Lock()
	if full {
		a.pollCancel = cancel
	}
	a.pollMu.Unlock()
	task, err := a.client.Poll(pctx, req)
	a.pollMu.Lock()
	a.pollCancel = nil
	a.pollMu.Unlock()
	if err != nil && errors.Is(context.Cause(pctx), errPollInterrupted) && ctx.Err() == nil {
		return nil, errPollInterrupted
	}
	return task, err
}

// setState logs the connection state when it changes: one line per
// change, not one per failed poll.
func (a *Agent) setState(state string, err error) {
	a.stateMu.Lock()
	defer a.stateMu.Unlock()
	if a.state == state {
		return
	}
	prev := a.state
	a.state = state
	switch {
	case state == "refused":
		a.log.Error("the server refuses this agent's polls (check its token and the backend); retrying with backoff", "err", err)
	case err != nil:
		a.log.Warn("server unreachable; retrying with backoff", "err", err)
	case prev == "":
		a.log.Info("connected to the server")
	default:
		a.log.Info("reconnected to the server")
	}
}

// pollRequest describes the agent's free capacity.
func (a *Agent) pollRequest() agentapi.PollRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	busy, busyDB := 0, 0
	leases := []string{}
	for _, j := range a.jobs {
		if lease := j.currentLease(); lease != "" {
			leases = append(leases, lease)
		}
		if j.holdsSlot() {
			busy++
			if j.task().RequiresDB {
				busyDB++
			}
		}
	}
	free := max(a.cfg.MaxJobs-busy, 0)
	freeDB := min(max(a.cfg.MaxDBJobs-busyDB, 0), free)
	return agentapi.PollRequest{
		AgentID: a.cfg.AgentID, AgentVersion: Version,
		Capacity: agentapi.Capacity{Jobs: free, DBJobs: freeDB},
		Leases:   leases,
	}
}

// dispatch acts on a task.
func (a *Agent) dispatch(ctx context.Context, t *agentapi.Task) {
	log := a.log.With("job", t.JobIdentifier, "action", t.Action, "attempt", t.Attempt)
	a.mu.Lock()
	existing := a.jobs[t.JobIdentifier]
	a.mu.Unlock()
	switch t.Kind {
	case agentapi.TaskCancel:
		log.Info("cancel requested")
		if existing != nil {
			existing.userCancel()
			return
		}
		a.start(ctx, t, log, a.cancelUnknown)
	case agentapi.TaskRecover, agentapi.TaskRun:
		if existing != nil && existing.adopt(t) {
			log.Info("job handed back to this agent; continuing it", "kind", t.Kind)
			return
		}
		if t.Kind == agentapi.TaskRecover {
			log.Info("recovering job")
			a.start(ctx, t, log, a.recoverJob)
			return
		}
		log.Info("job claimed")
		a.start(ctx, t, log, a.runJob)
	}
}

// start registers a job and runs fn for it in its own goroutine.
func (a *Agent) start(ctx context.Context, t *agentapi.Task, log *slog.Logger, fn func(*jobRun)) {
	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return
	}
	j := a.newJobRun(t, log)
	if old := a.jobs[t.JobIdentifier]; old != nil {
		// An earlier run of this job is still winding down; it no longer
		// reports, and this one takes its place.
		old.abandon()
	}
	a.jobs[t.JobIdentifier] = j
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer a.finished(j)
		j.startLeaseKeeper()
		fn(j)
		j.finish()
	}()
}

// finished forgets a job once it has been reported (or given up).
func (a *Agent) finished(j *jobRun) {
	a.mu.Lock()
	if a.jobs[j.id] == j {
		delete(a.jobs, j.id)
	}
	a.mu.Unlock()
	a.slotFreed()
}

// slotFreed wakes the poll loop's pause so freed capacity is offered at
// once.
func (a *Agent) slotFreed() {
	select {
	case a.freed <- struct{}{}:
	default:
	}
	a.pollMu.Lock()
	cancel := a.pollCancel
	a.pollCancel = nil
	a.pollMu.Unlock()
	if cancel != nil {
		cancel(errPollInterrupted)
	}
}

// shutdown leaves the jobs: leases of jobs not started are given back,
// running ones are detached (their work stays with the executor), and
// nothing more is reported.
func (a *Agent) shutdown() {
	a.mu.Lock()
	a.stopping = true
	jobs := make([]*jobRun, 0, len(a.jobs))
	for _, j := range a.jobs {
		jobs = append(jobs, j)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() { j.detach() })
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		a.log.Warn("some jobs are still winding down; leaving them")
	}
}

// backoff is exponential backoff with full jitter.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	// Half fixed, half random: never zero, never in lock-step with other
	// agents.
	half := b.cur / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// errDetached is returned to the runner once the agent has let go of a
// job: nothing more is recorded or done for it.
var errDetached = errors.New("the agent has stopped following this job")
