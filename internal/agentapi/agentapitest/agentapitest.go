// Package agentapitest runs a job server's agent endpoints for tests: the
// real agentapi.API over a real SQLite server store in a temporary
// directory, with one user, project, workspace and two backends, a clock
// tests move by hand, and helpers that queue hand-built jobs.
package agentapitest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base32"
	"fmt"
	"github.com/haven-tre/haven/internal/auth"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

// Commit is the commit every queued request is for.
const Commit = "3f2a7c1d9e8b4a6f0c5d2e1b7a9c8d6e4f3a2b1c"

// Clock is a settable clock; it starts at the real time and moves only
// when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Server is a running agent API.
type Server struct {
	T     *testing.T
	Store *sqlite.ServerDB
	API   *agentapi.API
	HTTP  *httptest.Server
	Clock *Clock
	Ctx   context.Context
	User  *store.User
	WS    *store.Workspace
	// Backend is the backend agents poll; Other is a second one.
	Backend, Other *store.Backend
	// Token is Backend's agent token, AirlockToken its airlock token,
	// OtherToken Other's agent token.
	Token, AirlockToken, OtherToken string

	// handler serves the API; SetDown makes it answer 503 instead.
	mu      sync.Mutex
	down    string // path prefix answered 503, "" for none
	refused int
	n       int
}

// Options adjust a Server.
type Options struct {
	Hold    time.Duration // default 50 ms
	RepoURL string        // the workspace's repository
	// Configure, if set, is called on the API before it serves.
	Configure func(*agentapi.API)
	// Observe, if set, sees every request (with its body) before it is
	// served, from the handler's goroutine.
	Observe func(r *http.Request, body []byte)
}

// New starts a server for the test; it stops when the test ends.
func New(t *testing.T, o Options) *Server {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.OpenServer(ctx, filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatalf("OpenServer: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s := &Server{T: t, Store: db, Ctx: ctx, Clock: &Clock{now: time.Now().UTC()}}
	s.User = &store.User{Username: "alice", Email: "alice@example.org", Fullname: "Alice Analyst"}
	must(t, db.CreateUser(ctx, s.User))
	org := &store.Org{Name: "Research Institute", Slug: "research-institute"}
	must(t, db.CreateOrg(ctx, org))
	project := &store.Project{Name: "Vaccine uptake", Slug: "vaccine-uptake", OrgID: org.ID}
	must(t, db.CreateProject(ctx, project))
	repo := o.RepoURL
	if repo == "" {
		repo = "https://github.com/example/study"
	}
	s.WS = &store.Workspace{Name: "ws-one", ProjectID: project.ID, RepoURL: repo, Branch: "main", CreatedBy: s.User.ID}
	must(t, db.CreateWorkspace(ctx, s.WS))
	s.Token, s.AirlockToken, s.OtherToken = auth.NewToken(), auth.NewToken(), auth.NewToken()
	hash, airHash, otherHash := auth.HashToken(s.Token), auth.HashToken(s.AirlockToken), auth.HashToken(s.OtherToken)
	s.Backend = &store.Backend{Slug: "tpp", Name: "TPP", AgentTokenHash: hash, AirlockTokenHash: airHash, IsActive: true}
	must(t, db.CreateBackend(ctx, s.Backend))
	otherAir := auth.HashToken(auth.NewToken())
	s.Other = &store.Backend{Slug: "emis", Name: "EMIS", AgentTokenHash: otherHash, AirlockTokenHash: otherAir, IsActive: true}
	must(t, db.CreateBackend(ctx, s.Other))

	hold := o.Hold
	if hold <= 0 {
		hold = 50 * time.Millisecond
	}
	s.API = &agentapi.API{Store: db, Now: s.Clock.Now, Hold: hold}
	if o.Configure != nil {
		o.Configure(s.API)
	}
	mux := http.NewServeMux()
	s.API.Register(mux)
	s.HTTP = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down != "" && strings.HasPrefix(r.URL.Path, s.down)
		if down {
			s.refused++
		}
		s.mu.Unlock()
		if down {
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		if o.Observe != nil {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			o.Observe(r, body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.HTTP.Close)
	return s
}

// SetDown makes the server answer 503 to everything (true) or serve again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = ""
	if down {
		s.down = "/"
	}
}

// SetDownFor makes the server answer 503 to requests whose path starts
// with prefix (e.g. agentapi.PathPoll); "" serves everything again.
func (s *Server) SetDownFor(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = prefix
}

// Refused counts the requests answered 503 while the server was down.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Spec describes one job to queue.
type Spec struct {
	Action  string
	Image   string            // default python:v2
	Args    []string          // default analysis/<action>.py
	Outputs map[string]string // pattern -> level; default output/<action>.csv highly_sensitive
	Needs   []string          // actions of the same request it waits on
	// InputsFrom are further actions whose outputs it takes, without
	// waiting on a job for them (they succeeded in an earlier request).
	InputsFrom []string
	RequiresDB bool
}

// Queue stores a job request for the actions with hand-built jobs on
// Backend, wakes waiting polls and returns the request and its jobs.
func (s *Server) Queue(specs ...Spec) (*store.JobRequest, []*store.Job) {
	return s.QueueOn(s.Backend, specs...)
}

// QueueOn is Queue on a given backend.
func (s *Server) QueueOn(b *store.Backend, specs ...Spec) (*store.JobRequest, []*store.Job) {
	s.T.Helper()
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	sum := sha1.Sum(fmt.Appendf(nil, "%s/%d", s.T.Name(), n))
	jr := &store.JobRequest{
		Identifier:  strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10])),
		WorkspaceID: s.WS.ID, BackendID: b.ID, SHA: Commit,
		ProjectDefinition: "version: '4.0'\nactions: {}\n", CodelistsOK: true,
		CreatedBy: s.User.ID, CreatedAt: s.Clock.Now(),
	}
	for _, sp := range specs {
		jr.RequestedActions = append(jr.RequestedActions, sp.Action)
	}
	jobs, err := s.Store.CreateJobRequest(s.Ctx, jr, func([]*store.Job) ([]*store.Job, error) {
		var out []*store.Job
		for _, sp := range specs {
			j := &store.Job{}
			j.ID = pipeline.JobID(jr.Identifier, sp.Action)
			j.RequestID = jr.Identifier
			j.Workspace = s.WS.Name
			j.Action = sp.Action
			j.Image = sp.Image
			if j.Image == "" {
				j.Image = "python:v2"
			}
			j.Args = sp.Args
			if j.Args == nil {
				j.Args = []string{"analysis/" + sp.Action + ".py"}
			}
			j.RunCommand = j.Image + " " + strings.Join(j.Args, " ")
			j.RequiresDB = sp.RequiresDB
			j.OutputSpec = sp.Outputs
			if j.OutputSpec == nil {
				j.OutputSpec = map[string]string{"output/" + sp.Action + ".csv": "highly_sensitive"}
			}
			j.RequiresOutputsFrom = append([]string{}, sp.InputsFrom...)
			j.WaitForJobIDs = []string{}
			for _, need := range sp.Needs {
				j.RequiresOutputsFrom = append(j.RequiresOutputsFrom, need)
				j.WaitForJobIDs = append(j.WaitForJobIDs, pipeline.JobID(jr.Identifier, need))
			}
			j.SetCode(haven.StatusCreated, "", jr.CreatedAt)
			j.CreatedAt = jr.CreatedAt
			out = append(out, j)
		}
		return out, nil
	})
	if err != nil {
		s.T.Fatalf("CreateJobRequest: %v", err)
	}
	s.API.Wake(b.ID)
	return jr, jobs
}

// Job reads a job from the store.
func (s *Server) Job(id string) *store.Job {
	s.T.Helper()
	j, err := s.Store.Job(s.Ctx, id)
	if err != nil {
		s.T.Fatalf("Job %s: %v", id, err)
	}
	return j
}

// WaitFor polls the store until cond holds for the job, failing the test
// after timeout. It returns the job.
func (s *Server) WaitFor(id string, timeout time.Duration, what string, cond func(*store.Job) bool) *store.Job {
	s.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := s.Job(id)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			s.T.Fatalf("job %s (%s): gave up waiting for %s; it is %s %q (attempt %d, lease %q, needs recovery %v)",
				id, j.Action, what, j.StatusCode, j.StatusMessage, j.Attempt, j.LeaseID, j.NeedsRecovery)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Client is an agentapi.Client for Backend's agent token.
func (s *Server) Client() *agentapi.Client {
	return &agentapi.Client{BaseURL: s.HTTP.URL, Token: s.Token, Timeout: 30 * time.Second}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
