package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/plan"
	"github.com/haven-tre/haven/internal/server"
	"github.com/haven-tre/haven/internal/store"
)

// Names of what seed creates.
const (
	seedOrg      = "Bench Organisation"
	seedProject  = "Bench Study"
	seedUser     = "bench"
	seedBackend  = "bench"
	seedRepo     = "https://github.com/haven-tre/bench-study"
	seedBranch   = "main"
	workspaceFmt = "bench-ws-%04d"
)

// storeFlags are the flags naming the database, shared by seed and serve.
type storeFlags struct {
	dataDir     string
	databaseURL string
}

func (o *storeFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of the SQLite database (haven.db); created if missing")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (postgres://…) to use instead of SQLite")
}

func (o *storeFlags) check() error {
	switch {
	case o.dataDir == "" && o.databaseURL == "":
		return haven.Errorf(haven.EINVALID, "no database given: pass --data-dir DIR (SQLite) or --database-url postgres://… (PostgreSQL)")
	case o.dataDir != "" && o.databaseURL != "":
		return haven.Errorf(haven.EINVALID, "--data-dir and --database-url both given: pass one of them")
	}
	return nil
}

func (o *storeFlags) config() server.Config {
	return server.Config{DataDir: o.dataDir, DatabaseURL: o.databaseURL}
}

// parseFlags parses args. After the flag package printed the usage it
// returns flag.ErrHelp for -h and errUsage for a mistake.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "serverload %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// seedOptions are seed's flags.
type seedOptions struct {
	storeFlags
	jobs       int
	workspaces int
	tokenFile  string
	baseURL    string
	seed       uint64
	days       int
}

func seedCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o seedOptions
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.bind(fs)
	fs.IntVar(&o.jobs, "jobs", 100000, "number of historical jobs; rounded up to whole job requests of 10 jobs")
	fs.IntVar(&o.workspaces, "workspaces", 200, "number of workspaces the job requests are spread over (round robin)")
	fs.StringVar(&o.tokenFile, "token-file", "agent-token.txt", "file to write the backend's agent token to (mode 0600)")
	fs.StringVar(&o.baseURL, "base-url", "http://127.0.0.1:8000", "server address used in the printed page URL")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed for outcomes, durations, identifiers and commits")
	fs.IntVar(&o.days, "days", 365, "the history spans this many days, ending now")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	switch {
	case o.jobs < 1:
		return haven.Errorf(haven.EINVALID, "--jobs must be at least 1 (got %d)", o.jobs)
	case o.workspaces < 1:
		return haven.Errorf(haven.EINVALID, "--workspaces must be at least 1 (got %d)", o.workspaces)
	case o.days < 1:
		return haven.Errorf(haven.EINVALID, "--days must be at least 1 (got %d)", o.days)
	case o.tokenFile == "":
		return haven.Errorf(haven.EINVALID, "--token-file must name a file")
	}
	res, err := seed(ctx, o, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %s: %d job requests, %d jobs, %d workspaces in %.1f s (%s)\n",
		res.where, res.requests, res.jobs, o.workspaces, res.elapsed.Seconds(), res.outcomes)
	fmt.Fprintf(stdout, "job request page: %s%s\n", strings.TrimRight(o.baseURL, "/"), res.pagePath)
	fmt.Fprintf(stdout, "agent token written to %s\n", o.tokenFile)
	return nil
}

// seedResult is what seed did.
type seedResult struct {
	where    string // the database
	requests int
	jobs     int
	pagePath string // /<project>/<workspace>/<number>/
	outcomes string // "8214 succeeded, 1786 failed"
	elapsed  time.Duration
}

// seed fills an empty database: the organisation, project, user, backend
// and workspaces through jobserver.Service, then the job requests through
// store.CreateJobRequest with a plan function that returns the request's
// jobs already finished.
func seed(ctx context.Context, o seedOptions, progress io.Writer) (*seedResult, error) {
	began := time.Now()
	end := began.UTC().Truncate(time.Minute)
	start := end.AddDate(0, 0, -o.days)

	p, problems := pipeline.Parse("project.yaml", []byte(projectYAML))
	if problems.HasErrors() {
		return nil, fmt.Errorf("the seed's project.yaml is not valid: %v", problems.Errors())
	}
	if n := len(p.AllActions()); n != actionsPerRequest {
		return nil, fmt.Errorf("the seed's project.yaml has %d actions, want %d", n, actionsPerRequest)
	}

	cfg := o.config()
	st, where, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, err := st.BackendBySlug(ctx, seedBackend); err == nil {
		return nil, haven.Errorf(haven.ECONFLICT, "%s already holds the benchmark's data (backend %q exists): seed an empty database (remove the data directory, or drop and create the PostgreSQL database)", where, seedBackend)
	} else if haven.ErrorCode(err) != haven.ENOTFOUND {
		return nil, err
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Now = func() time.Time { return start }
	srv, err := server.New(cfg, st)
	if err != nil {
		return nil, err
	}
	svc := srv.Service

	org, err := svc.CreateOrg(ctx, seedOrg, "Organisation of the job server's load benchmark")
	if err != nil {
		return nil, err
	}
	proj, err := svc.CreateProject(ctx, org.Slug, seedProject, "1234")
	if err != nil {
		return nil, err
	}
	user, err := svc.CreateUser(ctx, seedUser, "bench@example.org", "Bench Researcher", "", nil)
	if err != nil {
		return nil, err
	}
	backend, tokens, err := svc.CreateBackend(ctx, seedBackend, "")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(o.tokenFile, []byte(tokens.Agent+"\n"), 0o600); err != nil {
		return nil, haven.Errorf(haven.EINVALID, "cannot write the agent token to %s: %v; choose another file with --token-file", o.tokenFile, err)
	}
	if err := svc.AddBackendMember(ctx, seedBackend, seedUser); err != nil {
		return nil, err
	}
	if err := svc.AddProjectMember(ctx, proj.Slug, seedUser, []store.Role{store.RoleProjectDeveloper}); err != nil {
		return nil, err
	}
	workspaces := make([]*store.Workspace, o.workspaces)
	for i := range workspaces {
		workspaces[i], err = svc.CreateWorkspace(ctx, nil, jobserver.NewWorkspace{
			Project: proj.Slug, Name: fmt.Sprintf(workspaceFmt, i+1), Repo: seedRepo, Branch: seedBranch,
			Purpose: "Load benchmark workspace",
		})
		if err != nil {
			return nil, err
		}
	}

	rng := rand.New(rand.NewPCG(o.seed, 0x68617665))
	nreq := (o.jobs + actionsPerRequest - 1) / actionsPerRequest
	step := end.Sub(start) / time.Duration(nreq+1)
	page := nreq / 2 // this request is forced to succeed and its page printed
	statuses := make(map[int64][2]string, nreq)
	counts := map[string]int{}
	res := &seedResult{where: where, requests: nreq}
	for i := range nreq {
		ws := workspaces[i%len(workspaces)]
		created := start.Add(time.Duration(i+1) * step).Add(time.Duration(rng.Int64N(int64(step) / 2)))
		jr := &store.JobRequest{
			Identifier:       identifier(rng),
			WorkspaceID:      ws.ID,
			BackendID:        backend.ID,
			RequestedActions: []string{pipeline.RunAll},
			SHA:              commitSHA(rng),
			// The stored text, as the run-jobs form stores it.
			ProjectDefinition: projectYAML,
			CodelistsOK:       true,
			Status:            store.RequestPending,
			CreatedBy:         user.ID,
			CreatedAt:         created,
		}
		planned, err := plan.Plan(p, plan.Request{
			ID: jr.Identifier, Workspace: ws.Name, RequestedActions: jr.RequestedActions,
			ForceRunDependencies: true, CodelistsOK: true,
			Backend: seedBackend, Database: "default", CreatedBy: seedUser,
		}, nil, created)
		if err != nil {
			return nil, fmt.Errorf("plan job request %d: %w", i+1, err)
		}
		out := outcomeSucceeded
		if i != page {
			out = pickOutcome(rng)
		}
		jobs := finish(planned, out, created, backend.ID, rng)
		for _, j := range jobs {
			if j.Cancelled {
				jr.CancelledActions = append(jr.CancelledActions, j.Action)
			}
		}
		if _, err := st.CreateJobRequest(ctx, jr, func([]*store.Job) ([]*store.Job, error) { return jobs, nil }); err != nil {
			return nil, fmt.Errorf("seed job request %d of %d: %w", i+1, nreq, err)
		}
		status, msg := store.DeriveStatus(store.RequestPending, jobs)
		statuses[jr.ID] = [2]string{status, msg}
		counts[status]++
		res.jobs += len(jobs)
		if i == page {
			res.pagePath = "/" + proj.Slug + "/" + ws.Name + "/" + strconv.FormatInt(jr.ID, 10) + "/"
		}
		if (i+1)%1000 == 0 {
			fmt.Fprintf(progress, "seed: %d of %d job requests (%.0f s)\n", i+1, nreq, time.Since(began).Seconds())
		}
	}
	if err := saveStatuses(ctx, st, o.databaseURL != "", statuses); err != nil {
		return nil, err
	}
	var parts []string
	for _, s := range []string{store.RequestSucceeded, store.RequestFailed, store.RequestRunning, store.RequestPending, store.RequestUnknown} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	res.outcomes = strings.Join(parts, ", ")
	res.elapsed = time.Since(began)
	return res, nil
}

// saveStatuses stores each request's final status. CreateJobRequest marks
// a request with jobs pending whatever their states (the real planner only
// creates pending jobs, and agents' updates re-derive the status later),
// and no Store method re-derives it, so the seed writes the statuses the
// store would derive straight into job_requests.
func saveStatuses(ctx context.Context, st store.Store, dollar bool, statuses map[int64][2]string) error {
	wr, ok := st.(interface{ Writer() *sql.DB })
	if !ok {
		return fmt.Errorf("the store (%T) does not expose its database: cannot save the requests' final statuses", st)
	}
	q := `UPDATE job_requests SET status = ?, status_message = ? WHERE id = ?`
	if dollar {
		q = `UPDATE job_requests SET status = $1, status_message = $2 WHERE id = $3`
	}
	db := wr.Writer()
	ids := make([]int64, 0, len(statuses))
	for id := range statuses {
		ids = append(ids, id)
	}
	const batch = 1000
	for len(ids) > 0 {
		n := min(batch, len(ids))
		if err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			for _, id := range ids[:n] {
				s := statuses[id]
				if _, err := tx.ExecContext(ctx, q, s[0], s[1], id); err != nil {
					return err
				}
			}
			return tx.Commit()
		}(); err != nil {
			return fmt.Errorf("save the seeded requests' statuses: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// identifier is a job request identifier: 16 characters of a-z and 2-7.
func identifier(rng *rand.Rand) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 16)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// commitSHA is a random 40-character commit id.
func commitSHA(rng *rand.Rand) string {
	b := make([]byte, 20)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return hex.EncodeToString(b)
}

// outcome is how a seeded request ended.
type outcome int

const (
	outcomeSucceeded      outcome = iota // every job succeeded
	outcomeNonzeroExit                   // one analysis job failed; its dependants did not run
	outcomeCancelled                     // the user cancelled part-way
	outcomeInternalError                 // one job failed with an internal error
	outcomeExtractionFail                // the cohort extraction failed; nothing else ran
)

// pickOutcome draws an outcome: 82% succeed, 10% have an analysis that
// exits non-zero, 4% are cancelled, 2% hit an internal error and 2% fail
// in the cohort extraction.
func pickOutcome(rng *rand.Rand) outcome {
	switch r := rng.IntN(100); {
	case r < 82:
		return outcomeSucceeded
	case r < 92:
		return outcomeNonzeroExit
	case r < 96:
		return outcomeCancelled
	case r < 98:
		return outcomeInternalError
	}
	return outcomeExtractionFail
}

// finish turns a request's planned jobs (in dependency order) into
// finished ones: each starts after a queueing delay once its dependencies
// have completed and runs for a duration typical of its kind (a cohort
// extraction 5 to 60 minutes, an analysis 20 seconds to 10 minutes).
func finish(planned []*haven.Job, out outcome, created time.Time, backendID int64, rng *rand.Rand) []*store.Job {
	failAt := -1 // index of the job that fails
	switch out {
	case outcomeNonzeroExit, outcomeInternalError:
		failAt = 1 + rng.IntN(len(planned)-1)
	case outcomeExtractionFail:
		failAt = 0
	}
	var cancelAt time.Time
	if out == outcomeCancelled {
		cancelAt = created.Add(time.Duration(2+rng.IntN(60)) * time.Minute)
	}

	jobs := make([]*store.Job, len(planned))
	done := make(map[string]*store.Job, len(planned))
	for i, pj := range planned {
		j := &store.Job{Job: *pj, BackendID: backendID}
		jobs[i] = j
		// When its dependencies finished, and whether one failed.
		ready := created
		var failedDep *store.Job
		for _, dep := range j.WaitForJobIDs {
			d := done[dep]
			if d == nil {
				continue
			}
			if d.CompletedAt.After(ready) {
				ready = d.CompletedAt
			}
			if d.State == haven.StateFailed && failedDep == nil {
				failedDep = d
			}
		}
		done[j.ID] = j
		if failedDep != nil {
			if failedDep.StatusCode == haven.StatusCancelledByUser {
				cancelJob(j, failedDep.CompletedAt, false)
			} else {
				j.SetCode(haven.StatusDependencyFailed, "", failedDep.CompletedAt)
			}
			j.StatusCodeUpdatedAt = j.CompletedAt.UnixNano()
			continue
		}
		started := ready.Add(time.Duration(5+rng.IntN(115)) * time.Second)
		var took time.Duration
		if j.RequiresDB {
			took = time.Duration(5*60+rng.IntN(55*60)) * time.Second
		} else {
			took = time.Duration(20+rng.IntN(580)) * time.Second
		}
		completed := started.Add(took)
		if !cancelAt.IsZero() && completed.After(cancelAt) {
			cancelJob(j, cancelAt, started.Before(cancelAt))
			if started.Before(cancelAt) {
				j.StartedAt = started
			}
			j.StatusCodeUpdatedAt = j.CompletedAt.UnixNano()
			continue
		}
		j.Attempt, j.LastUpdateSeq = 1, int64(6+rng.IntN(4))
		j.Metrics = map[string]float64{
			"cpu_mean":    float64(20 + rng.IntN(70)),
			"cpu_peak":    float64(90 + rng.IntN(10)),
			"mem_mb_mean": float64(200 + rng.IntN(2000)),
			"mem_mb_peak": float64(400 + rng.IntN(4000)),
		}
		switch {
		case i == failAt && out == outcomeInternalError:
			j.SetCode(haven.StatusInternalError, "", completed)
		case i == failAt:
			j.SetCode(haven.StatusNonzeroExit, "", completed)
			code := 1
			j.ExitCode = &code
		default:
			j.SetCode(haven.StatusSucceeded, "", completed)
			code := 0
			j.ExitCode = &code
			j.Outputs = make(map[string]string, len(j.OutputSpec))
			for pattern, level := range j.OutputSpec {
				j.Outputs[pattern] = level
			}
		}
		j.StartedAt = started
		j.StatusCodeUpdatedAt = completed.UnixNano()
	}
	return jobs
}

// cancelJob finishes j as cancelled by its user at t; a job that had
// started was claimed by the agent.
func cancelJob(j *store.Job, t time.Time, started bool) {
	j.Cancelled = true
	if started {
		j.Attempt, j.LastUpdateSeq, j.CancelSent = 1, 4, true
	}
	j.SetCode(haven.StatusCancelledByUser, "", t)
}
