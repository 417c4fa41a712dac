// Package app assembles `haven airlock`: Airlock's SQLite store under its
// data directory, the business layer over the backend's medium-privacy
// workspaces, the job server client, the web pages and the release
// uploader, behind one http.Server.
package app

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
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/web"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/releaseapi"
)

// Config is how an Airlock is set up.
type Config struct {
	// DataDir holds Airlock's database (airlock.db) and the frozen copies
	// of request files (files/).
	DataDir string
	// MediumPrivacyDir is the backend's medium-privacy directory, where
	// the agent copies moderately_sensitive outputs.
	MediumPrivacyDir string
	// ServerURL is the job server Airlock calls; PublicServerURL is how
	// users' browsers reach it ("": ServerURL).
	ServerURL, PublicServerURL string
	// Backend is the backend's slug; Token its Airlock token.
	Backend, Token string
	SecureCookies  bool
	Logger         *slog.Logger
	Now            func() time.Time
	// RetryEvery is the wait after a failed upload (0: 60 s).
	RetryEvery time.Duration
	// HTTP is the client for the job server (nil: one with a 60 s
	// timeout).
	HTTP *http.Client
}

// App is an assembled Airlock.
type App struct {
	Store   *astore.Store
	Service *airlock.Service
	Handler http.Handler
	log     *slog.Logger
}

// New opens (creating if needed) Airlock's database and assembles it.
func New(ctx context.Context, cfg Config) (*App, error) {
	switch {
	case cfg.ServerURL == "":
		return nil, haven.Errorf(haven.EINVALID, "no job server URL given: pass --server")
	case !strings.HasPrefix(cfg.ServerURL, "http://") && !strings.HasPrefix(cfg.ServerURL, "https://"):
		return nil, haven.Errorf(haven.EINVALID, "the job server URL %q must start with https:// (or http:// on a test machine)", cfg.ServerURL)
	case cfg.Token == "":
		return nil, haven.Errorf(haven.EINVALID, "no Airlock token given: pass the backend's Airlock token (haven server admin create-backend prints it)")
	case cfg.MediumPrivacyDir == "":
		return nil, haven.Errorf(haven.EINVALID, "no medium-privacy directory given: pass --medium-privacy-dir")
	}
	if fi, err := os.Stat(cfg.MediumPrivacyDir); err != nil || !fi.IsDir() {
		return nil, haven.Errorf(haven.EINVALID, "the medium-privacy directory %s does not exist: give the directory the agent writes moderately_sensitive outputs to (its --medium-privacy-dir)", cfg.MediumPrivacyDir)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, haven.Errorf(haven.EINVALID, "cannot create the data directory %s: %v; choose another with --data-dir", cfg.DataDir, err)
	}
	st, err := astore.Open(ctx, filepath.Join(cfg.DataDir, "airlock.db"))
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	client := &releaseapi.Client{BaseURL: strings.TrimRight(cfg.ServerURL, "/"), Token: cfg.Token, Backend: cfg.Backend, HTTP: hc}
	svc := &airlock.Service{
		Store:      st,
		Workspaces: workspace.Dir{Root: cfg.MediumPrivacyDir},
		FilesDir:   filepath.Join(cfg.DataDir, "files"),
		Server:     client,
		Logger:     log.With("component", "airlock"),
		Now:        now,
		RetryEvery: cfg.RetryEvery,
	}
	public := cfg.PublicServerURL
	if public == "" {
		public = cfg.ServerURL
	}
	h, err := web.New(web.Config{
		Service: svc, Store: st, Server: client, ServerURL: strings.TrimRight(public, "/"),
		SecureCookies: cfg.SecureCookies, Logger: log.With("component", "airlock-web"), Now: now,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &App{Store: st, Service: svc, Handler: h, log: log}, nil
}

// Close closes the database.
func (a *App) Close() error { return a.Store.Close() }

// Serve answers on l and runs the release uploader until ctx ends, then
// shuts down gracefully.
func (a *App) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	uctx, stopUploads := context.WithCancel(ctx)
	defer stopUploads()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Service.RunUploader(uctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	stopUploads()
	<-done
	if serveErr != nil {
		return serveErr
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
