// Package server assembles `haven server`: the store (SQLite under the data
// directory, or PostgreSQL), the business logic, the web pages and JSON
// API, the agent endpoints, the lease reaper and the metrics, behind one
// http.Server.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/releaseapi"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/postgres"
	"github.com/haven-tre/haven/internal/store/sqlite"
	"github.com/haven-tre/haven/internal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is how a server is set up.
type Config struct {
	// DataDir holds the SQLite database (haven.db), released files
	// (releases/) and the git cache.
	DataDir string
	// DatabaseURL, when set (postgres://…), stores everything in
	// PostgreSQL instead of the SQLite file.
	DatabaseURL string
	// SecureCookies marks session cookies Secure; set it whenever users
	// reach the server over HTTPS.
	SecureCookies bool
	Logger        *slog.Logger
	Now           func() time.Time
	// Agent protocol timings; zero values take the protocol defaults.
	Hold, TTL, ReapEvery, RecoveryDeadline time.Duration
}

// Server is an assembled job server.
type Server struct {
	Store    store.Store
	Service  *jobserver.Service
	Agents   *agentapi.API
	Web      *web.Handler
	Registry *prometheus.Registry
	Handler  http.Handler
	log      *slog.Logger
}

// OpenStore opens the database cfg names: PostgreSQL for a URL, else the
// SQLite file <DataDir>/haven.db, created and migrated on first use.
func OpenStore(ctx context.Context, cfg Config) (store.Store, string, error) {
	if cfg.DatabaseURL != "" {
		if !strings.HasPrefix(cfg.DatabaseURL, "postgres://") && !strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
			return nil, "", haven.Errorf(haven.EINVALID, "--database-url must start with postgres://, for example postgres://haven@db.example/haven")
		}
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, "", err
		}
		return s, "PostgreSQL", nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, "", haven.Errorf(haven.EINVALID, "cannot create the data directory %s: %v; choose another with --data-dir", cfg.DataDir, err)
	}
	path := filepath.Join(cfg.DataDir, "haven.db")
	s, err := sqlite.OpenServer(ctx, path)
	if err != nil {
		return nil, "", err
	}
	return s, path, nil
}

// New assembles a server over an open store.
func New(cfg Config, st store.Store) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	agents := &agentapi.API{
		Store: st, Logger: log.With("component", "agentapi"), Now: now, Registry: reg,
		Hold: cfg.Hold, TTL: cfg.TTL, ReapEvery: cfg.ReapEvery, RecoveryDeadline: cfg.RecoveryDeadline,
	}
	if cfg.TTL > 0 && cfg.TTL < 3*agentapi.DefaultExtendEvery {
		// Agents extend a lease three times in its life, so one lost
		// extension does not lose the job.
		agents.ExtendEvery = cfg.TTL / 3
	}
	svc := &jobserver.Service{
		Store:  st,
		Git:    gitrepo.New(filepath.Join(cacheRoot(cfg), "git")),
		Now:    now,
		Logger: log.With("component", "jobserver"),
		Wake:   agents.Wake,
	}
	w, err := web.New(web.Config{Service: svc, Store: st, Logger: log.With("component", "web"), Registry: reg, SecureCookies: cfg.SecureCookies, Now: now})
	if err != nil {
		return nil, err
	}
	releases := &releaseapi.API{
		Store: st, Service: svc, Dir: filepath.Join(cacheRoot(cfg), "releases"),
		Logger: log.With("component", "releaseapi"), Now: now,
	}
	mux := http.NewServeMux()
	agents.Register(mux)
	releases.Register(mux)
	w.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &Server{Store: st, Service: svc, Agents: agents, Web: w, Registry: reg, Handler: mux, log: log}, nil
}

// cacheRoot is where the server keeps files: the data directory, or a
// folder in the user's cache directory for a PostgreSQL server started
// without one (haven server always passes one: ./haven-data by default).
func cacheRoot(cfg Config) string {
	if cfg.DataDir != "" {
		return cfg.DataDir
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "haven-server")
	}
	return filepath.Join(os.TempDir(), "haven-server")
}

// Serve answers on l until ctx ends, then shuts down gracefully (waiting
// up to 30 s for requests in flight). The lease reaper runs meanwhile.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// No WriteTimeout: agent polls are held for up to the long-poll
		// hold; every handler bounds its own work.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	rctx, stopReaper := context.WithCancel(ctx)
	defer stopReaper()
	go s.Agents.RunReaper(rctx)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
