package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/haven-tre/haven/internal/auth"
	"io"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults (spec §7.1).
const (
	DefaultHold             = 25 * time.Second
	DefaultTTL              = 90 * time.Second
	DefaultExtendEvery      = 30 * time.Second
	DefaultRecoveryDeadline = 30 * time.Minute
	DefaultReapEvery        = 10 * time.Second
	// DefaultMaxBodyBytes bounds a request body.
	DefaultMaxBodyBytes = 64 << 10
)

// API serves the agent endpoints of the job server. Set its fields, then
// call Register; zero durations take the defaults above. Its fields must
// not change once it serves requests.
//
// Status codes: 200 with a task or an answer; 204 when a poll found no
// work within Hold; 400 for a body that is not valid (unknown fields, a
// code the agent may not send, a message that is not redaction-safe);
// 401 {"error":"unauthorized"} for a missing or unknown token; 403 for the
// backend's airlock token or an inactive backend; 404 for a job that is
// not one of the token's backend's (another backend's job is not found,
// so its existence is not revealed); 409 for a lease lost or an attempt
// superseded; 413 for a body over MaxBodyBytes; 500 when the store fails.
type API struct {
	Store  store.Store
	Logger *slog.Logger
	Now    func() time.Time

	Hold             time.Duration // how long a poll waits for work (25 s)
	TTL              time.Duration // lease lifetime (90 s)
	ExtendEvery      time.Duration // how often agents are told to extend (30 s)
	RecoveryDeadline time.Duration // unrecovered jobs fail after this (30 min)
	ReapEvery        time.Duration // RunReaper's period (10 s)
	MaxBodyBytes     int64         // request body limit (64 KiB)

	// Notifier wakes waiting polls; one is created if nil. The job
	// server's Service.Wake is wired to Notifier.Wake.
	Notifier *Notifier
	// Registry, if not nil, receives the endpoints' Prometheus counters.
	Registry prometheus.Registerer

	once    sync.Once
	metrics *metrics
}

// New returns an API over s with the default timings.
func New(s store.Store, logger *slog.Logger) *API {
	a := &API{Store: s, Logger: logger}
	a.init()
	return a
}

func (a *API) init() {
	a.once.Do(func() {
		if a.Logger == nil {
			a.Logger = slog.New(slog.DiscardHandler)
		}
		if a.Now == nil {
			a.Now = time.Now
		}
		if a.Hold <= 0 {
			a.Hold = DefaultHold
		}
		if a.TTL <= 0 {
			a.TTL = DefaultTTL
		}
		if a.ExtendEvery <= 0 {
			a.ExtendEvery = DefaultExtendEvery
		}
		if a.RecoveryDeadline <= 0 {
			a.RecoveryDeadline = DefaultRecoveryDeadline
		}
		if a.ReapEvery <= 0 {
			a.ReapEvery = DefaultReapEvery
		}
		if a.MaxBodyBytes <= 0 {
			a.MaxBodyBytes = DefaultMaxBodyBytes
		}
		if a.Notifier == nil {
			a.Notifier = &Notifier{}
		}
		a.metrics = newMetrics(a.Registry)
	})
}

// Wake wakes the polls waiting for a backend's work. It suits
// jobserver.Service.Wake.
func (a *API) Wake(backendID int64) {
	a.init()
	a.Notifier.Wake(backendID)
}

// Register adds the agent endpoints to mux.
func (a *API) Register(mux *http.ServeMux) {
	a.init()
	mux.HandleFunc("POST "+PathPoll, a.handlePoll)
	mux.HandleFunc("POST "+PathExtend, a.handleExtend)
	mux.HandleFunc("POST "+PathRelease, a.handleRelease)
	mux.HandleFunc("POST "+PathStatus, a.handleStatus)
}

// RunReaper handles expired leases every ReapEvery until ctx ends (spec
// §7.6), waking the polls of every backend when it changed anything.
// Failures are logged and retried at the next tick.
func (a *API) RunReaper(ctx context.Context) {
	a.init()
	t := time.NewTicker(a.ReapEvery)
	defer t.Stop()
	for {
		if _, err := a.Reap(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Error("reap expired leases", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Reap handles expired leases once: jobs that had not started go back to
// the queue, started ones wait for recovery, and jobs past the recovery
// deadline fail with internal_error. Waiting polls are woken when anything
// changed. It returns how many jobs changed.
func (a *API) Reap(ctx context.Context) (int, error) {
	a.init()
	n, err := a.Store.Reap(ctx, a.now(), a.RecoveryDeadline)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		a.Logger.Info("reaped expired leases", "jobs", n)
		a.Notifier.WakeAll()
	}
	return n, nil
}

func (a *API) now() time.Time { return a.Now().UTC() }

// httpError is an answer other than 200.
type httpError struct {
	status  int
	msg     string
	outcome string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, outcome, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...), outcome: outcome}
}

var errUnauthorized = &httpError{status: http.StatusUnauthorized, msg: "unauthorized", outcome: outcomeUnauthorized}

// fail writes err as a JSON error and returns the metrics outcome. Store
// failures are logged, not shown.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) string {
	var he *httpError
	if !errors.As(err, &he) {
		switch {
		case errors.Is(err, store.ErrLeaseLost), errors.Is(err, store.ErrSuperseded):
			he = errorf(http.StatusConflict, outcomeConflict, "%v", err)
		case haven.ErrorCode(err) == haven.ENOTFOUND:
			he = errorf(http.StatusNotFound, outcomeNotFound, "%s", webkit.PublicMessage(err))
		case haven.ErrorCode(err) == haven.EINVALID:
			he = errorf(http.StatusBadRequest, outcomeInvalid, "%s", webkit.PublicMessage(err))
		case haven.ErrorCode(err) == haven.EFORBIDDEN:
			he = errorf(http.StatusForbidden, outcomeForbidden, "%s", webkit.PublicMessage(err))
		case haven.ErrorCode(err) == haven.ECONFLICT:
			he = errorf(http.StatusConflict, outcomeConflict, "%s", webkit.PublicMessage(err))
		default:
			if r.Context().Err() == nil {
				a.Logger.Error("agent endpoint failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			he = errorf(http.StatusInternalServerError, outcomeError, "internal error")
		}
	}
	webkit.WriteJSON(w, he.status, ErrorResponse{Error: he.msg})
	return he.outcome
}

// authenticate finds the backend of the request's agent token.
func (a *API) authenticate(r *http.Request) (*store.Backend, error) {
	tok := auth.BearerToken(r)
	if tok == "" {
		return nil, errUnauthorized
	}
	hash := auth.HashToken(tok)
	b, err := a.Store.BackendByAgentToken(r.Context(), hash)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		if _, aerr := a.Store.BackendByAirlockToken(r.Context(), hash); aerr == nil {
			return nil, errorf(http.StatusForbidden, outcomeForbidden, "forbidden: this is an airlock token; the agent endpoints take the backend's agent token")
		}
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	// An agent names the backend it was configured for; a token that
	// belongs to another backend (a mixed-up token file) is refused as if
	// unknown, so the agent never acts for the wrong backend.
	if claimed := r.Header.Get(HeaderBackend); claimed != "" && claimed != b.Slug {
		a.Logger.Warn("agent token used for another backend", "token_backend", b.Slug, "claimed_backend", claimed)
		return nil, errUnauthorized
	}
	if !b.IsActive {
		return nil, errorf(http.StatusForbidden, outcomeForbidden, "forbidden: backend %s is not active", b.Slug)
	}
	return b, nil
}

// HeaderBackend carries the slug of the backend an agent was configured
// for; the server refuses (401) a token that belongs to another backend.
const HeaderBackend = "Haven-Backend"

// decode reads a JSON body into v: at most MaxBodyBytes, one object, no
// unknown fields.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, a.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errorf(http.StatusRequestEntityTooLarge, outcomeInvalid, "request body is larger than %d bytes", a.MaxBodyBytes)
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, outcomeInvalid, "request body is empty: send a JSON object")
		}
		return errorf(http.StatusBadRequest, outcomeInvalid, "request body is not valid: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, outcomeInvalid, "request body is larger than %d bytes", a.MaxBodyBytes)
		}
		return errorf(http.StatusBadRequest, outcomeInvalid, "request body is not valid: it holds more than one JSON value")
	}
	return nil
}

var (
	reIdent  = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
	reReason = regexp.MustCompile(`^[a-z_]{0,32}$`)
	reMetric = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	reDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// maxMetrics bounds the metrics of one update.
const maxMetrics = 32

func checkAgentID(id string) error {
	if !reIdent.MatchString(id) {
		return errorf(http.StatusBadRequest, outcomeInvalid, "agent_id %q is not valid: use 1 to 128 letters, digits, '_', '.', ':' or '-'", id)
	}
	return nil
}

func (a *API) handlePoll(w http.ResponseWriter, r *http.Request) {
	outcome, err := a.poll(w, r)
	if err != nil {
		outcome = a.fail(w, r, err)
	}
	a.metrics.polls.WithLabelValues(outcome).Inc()
}

func (a *API) poll(w http.ResponseWriter, r *http.Request) (string, error) {
	ctx := r.Context()
	b, err := a.authenticate(r)
	if err != nil {
		return "", err
	}
	var req PollRequest
	if err := a.decode(w, r, &req); err != nil {
		return "", err
	}
	if err := checkAgentID(req.AgentID); err != nil {
		return "", err
	}
	if req.Capacity.Jobs < 0 || req.Capacity.DBJobs < 0 {
		return "", errorf(http.StatusBadRequest, outcomeInvalid, "capacity must not be negative (jobs %d, db_jobs %d)", req.Capacity.Jobs, req.Capacity.DBJobs)
	}
	if err := a.Store.TouchBackend(ctx, b.ID, a.now(), req.Flags.DBMaintenance); err != nil {
		return "", err
	}
	capacity := store.Capacity{Jobs: req.Capacity.Jobs, DBJobs: req.Capacity.DBJobs}
	hold := time.NewTimer(a.Hold)
	defer hold.Stop()
	last := false
	for {
		wake := a.Notifier.Wait(b.ID)
		t, err := a.Store.Poll(ctx, b.ID, req.AgentID, capacity, a.now(), a.TTL)
		if err != nil {
			return "", err
		}
		if t != nil {
			task, err := a.task(ctx, t)
			if err != nil {
				if t.Kind != store.TaskCancel {
					// Give the claim back rather than hold it until it expires.
					if rerr := a.Store.ReleaseLease(context.WithoutCancel(ctx), b.ID, t.Job.LeaseID, req.AgentID, a.now()); rerr != nil {
						a.Logger.Warn("release a task that could not be built", "job", t.Job.ID, "err", rerr)
					}
				}
				return "", err
			}
			a.metrics.claims.WithLabelValues(t.Kind).Inc()
			webkit.WriteJSON(w, http.StatusOK, task)
			return outcomeTask, nil
		}
		if last {
			w.WriteHeader(http.StatusNoContent)
			return outcomeEmpty, nil
		}
		select {
		case <-wake:
			if capacity.Jobs == 0 && capacity.DBJobs == 0 {
				// Work appeared or finished on this backend, and the agent
				// asked with no room: let it ask again with what it has
				// now rather than wait out the hold.
				last = true
			}
		case <-hold.C:
			// One last look: work queued through another server replica
			// wakes nobody here.
			last = true
		case <-ctx.Done():
			return outcomeEmpty, nil
		}
	}
}

// task builds the wire task for a claimed job, with the repository and
// commit of its request.
func (a *API) task(ctx context.Context, t *store.Task) (*Task, error) {
	j := t.Job
	out := &Task{
		Kind:                t.Kind,
		Lease:               Lease{ID: j.LeaseID, ExpiresAt: j.LeaseExpiresAt.UTC()},
		Attempt:             j.Attempt,
		JobIdentifier:       j.ID,
		RequestIdentifier:   j.RequestID,
		Workspace:           j.Workspace,
		Action:              j.Action,
		RunCommand:          j.RunCommand,
		Image:               j.Image,
		Args:                j.Args,
		RequiresDB:          j.RequiresDB,
		OutputSpec:          j.OutputSpec,
		RequiresOutputsFrom: j.RequiresOutputsFrom,
		CreatedAt:           j.CreatedAt.UTC(),
		ExtendEverySeconds:  a.ExtendEvery.Seconds(),
	}
	if j.RequiresDB {
		out.DatabaseName = "default"
	}
	if t.Kind == store.TaskCancel {
		return out, nil
	}
	jr, err := a.Store.JobRequest(ctx, j.JobRequestID)
	if err != nil {
		return nil, fmt.Errorf("job %s: its request %d: %w", j.ID, j.JobRequestID, err)
	}
	ws, err := a.Store.Workspace(ctx, jr.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("job %s: its workspace %d: %w", j.ID, jr.WorkspaceID, err)
	}
	out.RepoURL, out.Commit = ws.RepoURL, jr.SHA
	if out.RequestIdentifier == "" {
		out.RequestIdentifier = jr.Identifier
	}
	if out.Workspace == "" {
		out.Workspace = ws.Name
	}
	if jr.CreatedBy != 0 {
		if u, err := a.Store.User(ctx, jr.CreatedBy); err == nil {
			out.User = u.Username
		} else if haven.ErrorCode(err) != haven.ENOTFOUND {
			return nil, fmt.Errorf("job %s: its requester %d: %w", j.ID, jr.CreatedBy, err)
		}
	}
	return out, nil
}

func (a *API) leaseID(r *http.Request) (string, error) {
	id := r.PathValue("lease")
	if !reIdent.MatchString(id) {
		return "", errorf(http.StatusBadRequest, outcomeInvalid, "lease id %q is not valid", id)
	}
	return id, nil
}

func (a *API) handleExtend(w http.ResponseWriter, r *http.Request) {
	if err := a.extend(w, r); err != nil {
		a.fail(w, r, err)
	}
}

func (a *API) extend(w http.ResponseWriter, r *http.Request) error {
	b, err := a.authenticate(r)
	if err != nil {
		return err
	}
	lease, err := a.leaseID(r)
	if err != nil {
		return err
	}
	var req ExtendRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkAgentID(req.AgentID); err != nil {
		return err
	}
	expires, cancel, err := a.Store.ExtendLease(r.Context(), b.ID, lease, req.AgentID, a.now(), a.TTL)
	if err != nil {
		return err
	}
	webkit.WriteJSON(w, http.StatusOK, ExtendResponse{ExpiresAt: expires.UTC(), Cancel: cancel})
	return nil
}

func (a *API) handleRelease(w http.ResponseWriter, r *http.Request) {
	if err := a.release(w, r); err != nil {
		a.fail(w, r, err)
	}
}

func (a *API) release(w http.ResponseWriter, r *http.Request) error {
	b, err := a.authenticate(r)
	if err != nil {
		return err
	}
	lease, err := a.leaseID(r)
	if err != nil {
		return err
	}
	var req ReleaseRequest
	if err := a.decode(w, r, &req); err != nil {
		return err
	}
	if err := checkAgentID(req.AgentID); err != nil {
		return err
	}
	if !reReason.MatchString(req.Reason) {
		return errorf(http.StatusBadRequest, outcomeInvalid, "reason %q is not valid: use up to 32 lower-case letters and underscores, e.g. shutdown", req.Reason)
	}
	if err := a.Store.ReleaseLease(r.Context(), b.ID, lease, req.AgentID, a.now()); err != nil {
		return err
	}
	a.Notifier.Wake(b.ID)
	webkit.WriteJSON(w, http.StatusOK, struct{}{})
	return nil
}

func (a *API) handleStatus(w http.ResponseWriter, r *http.Request) {
	outcome, err := a.status(w, r)
	if err != nil {
		outcome = a.fail(w, r, err)
	}
	a.metrics.updates.WithLabelValues(outcome).Inc()
}

func (a *API) status(w http.ResponseWriter, r *http.Request) (string, error) {
	b, err := a.authenticate(r)
	if err != nil {
		return "", err
	}
	job := r.PathValue("job")
	if !reIdent.MatchString(job) {
		return "", errorf(http.StatusBadRequest, outcomeInvalid, "job identifier %q is not valid", job)
	}
	var in Update
	if err := a.decode(w, r, &in); err != nil {
		return "", err
	}
	u, err := ToStoreUpdate(in)
	if err != nil {
		return "", errorf(http.StatusBadRequest, outcomeInvalid, "%s", err.Error())
	}
	applied, err := a.Store.ApplyUpdate(r.Context(), b.ID, job, u, a.now(), a.TTL)
	if err != nil {
		return "", err
	}
	if applied && (u.StatusCode.IsFinal() || u.StatusCode.IsReset()) {
		// Dependants may now be claimable, or the job is queued again.
		a.Notifier.Wake(b.ID)
	}
	webkit.WriteJSON(w, http.StatusOK, UpdateResponse{Applied: applied})
	if applied {
		return outcomeApplied, nil
	}
	return outcomeIgnored, nil
}

// ToStoreUpdate validates a wire update and converts it: a code the agent
// may send, a message AllowedMessage accepts ("" becomes the code's
// message), positive attempt and seq, finite metrics with plain names, and
// an image digest that is a sha256 digest. The error says what is wrong.
func ToStoreUpdate(in Update) (store.Update, error) {
	code := haven.StatusCode(in.StatusCode)
	switch {
	case in.Attempt < 1:
		return store.Update{}, fmt.Errorf("attempt must be at least 1, got %d", in.Attempt)
	case in.Seq < 1:
		return store.Update{}, fmt.Errorf("seq must be at least 1, got %d", in.Seq)
	case !code.Known():
		return store.Update{}, fmt.Errorf("status_code %q is not a status code", in.StatusCode)
	case !store.AgentMayReport(code):
		return store.Update{}, fmt.Errorf("status_code %q is set by the server, not by an agent", in.StatusCode)
	case !AllowedMessage(code, in.StatusMessage):
		return store.Update{}, fmt.Errorf("status_message is not one of the fixed messages for %s: an agent sends only fixed messages, never file names or log text", code)
	case in.ImageDigest != "" && !reDigest.MatchString(in.ImageDigest):
		return store.Update{}, fmt.Errorf("image_digest must be sha256:<64 hex digits>")
	case len(in.Metrics) > maxMetrics:
		return store.Update{}, fmt.Errorf("at most %d metrics are accepted, got %d", maxMetrics, len(in.Metrics))
	}
	for k, v := range in.Metrics {
		if !reMetric.MatchString(k) {
			return store.Update{}, fmt.Errorf("metric name %q is not valid: use lower-case letters, digits and underscores", k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return store.Update{}, fmt.Errorf("metric %s is not a finite number", k)
		}
	}
	msg := in.StatusMessage
	if msg == "" {
		msg = code.Message()
	}
	u := store.Update{
		Attempt: in.Attempt, Seq: in.Seq, TimestampNS: in.TimestampNS,
		StatusCode: code, StatusMessage: msg, Metrics: in.Metrics,
		HasUnmatchedPattern: in.HasUnmatchedPatterns, HasExcludedFiles: in.HasExcludedFiles,
		ExitCode: in.ExitCode, ImageDigest: in.ImageDigest,
	}
	if in.StartedAt != nil {
		u.StartedAt = in.StartedAt.UTC()
	}
	if in.CompletedAt != nil {
		u.CompletedAt = in.CompletedAt.UTC()
	}
	return u, nil
}
