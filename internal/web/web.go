// Package web serves the job server's pages and its JSON API (/api/v1/):
// the workspaces, projects, run-jobs form, job request and job pages, the
// event log, backend status, sign-in, and the bearer-token API bots use.
//
// Pages are rendered on the server with html/template (parsed once, at
// New) and work without JavaScript. Every state change goes through
// jobserver.Service; reads use the store directly. Every page carries a
// strict Content-Security-Policy, every form a CSRF token, and every path
// parameter is checked against its pattern before anything is looked up.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// Config is what a Handler needs.
type Config struct {
	Service  *jobserver.Service
	Store    store.Store
	Logger   *slog.Logger          // nil: slog.Default()
	Registry prometheus.Registerer // nil: no metrics are registered
	// SecureCookies marks cookies Secure (set it whenever the server is
	// reached over HTTPS, which is every deployment but a local demo).
	SecureCookies bool
	Now           func() time.Time // nil: time.Now
}

// Handler serves the pages and the API. Build it with New and add its
// routes to a mux with Register.
type Handler struct {
	svc     *jobserver.Service
	store   store.Store
	log     *slog.Logger
	now     func() time.Time
	cookies *webkit.Cookies
	pages   webkit.Pages
	files   webkit.Static
	mw      webkit.Middleware
	metrics *metrics
	cache   *cache
	cssPath string // /static/haven.css?v=<content hash>
}

// New builds a Handler: it parses the embedded templates and registers
// the HTTP metrics on cfg.Registry.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil || cfg.Store == nil {
		return nil, errors.New("web.New: Config.Service and Config.Store are required")
	}
	h := &Handler{
		svc:   cfg.Service,
		store: cfg.Store,
		log:   cfg.Logger,
		now:   cfg.Now,
		cache: newCache(cfg.Store),
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.mw = webkit.Middleware{CSP: contentSecurityPolicy, Log: h.log, Failed: func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, errInternalPanic)
	}}
	site, err := webkit.NewSite(webkit.SiteConfig{
		Cookies: webkit.CookieConfig{
			Session: sessionCookie, CSRF: csrfCookie, Flash: flashCookie,
			Secure: cfg.SecureCookies, CSRFHeader: webkit.CSRFHeader,
		},
		Templates: templateFS, Static: staticFS, Stylesheet: "haven.css", Funcs: funcs,
	})
	if err != nil {
		return nil, fmt.Errorf("web.New: %w", err)
	}
	h.cookies, h.pages, h.files, h.cssPath = site.Cookies, site.Pages, site.Static, site.CSSPath
	if h.metrics, err = newMetrics(cfg.Registry); err != nil {
		return nil, fmt.Errorf("web.New: %w", err)
	}
	return h, nil
}

// Register adds every page, the API, the static files and the health
// check to mux. It also registers "/", which answers unknown paths with
// the 404 page.
func (h *Handler) Register(mux *http.ServeMux) {
	// Site-wide pages.
	h.handle(mux, "GET /{$}", h.home)
	h.handle(mux, "GET /login/{$}", h.loginPage)
	h.handle(mux, "POST /login/{$}", h.loginSubmit)
	h.handle(mux, "POST /logout/{$}", h.logout)
	h.handle(mux, "GET /event-log/{$}", h.eventLog)
	h.handle(mux, "GET /status/{$}", h.statusPage)
	h.handle(mux, "GET /status/{backend}/{$}", h.backendStatus)
	h.handle(mux, "GET /status/{backend}/db-availability/{$}", h.backendDBAvailability)
	h.handle(mux, "GET /jobs/{job}/{$}", h.jobRedirect)
	h.handle(mux, "GET /health-check", h.healthCheck)
	h.registerAirlockToken(mux)
	h.handle(mux, "GET /static/{file}", h.static)

	// Projects, workspaces, job requests and jobs.
	h.handle(mux, "GET /{project}/{$}", h.projectPage)
	h.handle(mux, "GET /{project}/{workspace}/{$}", h.workspacePage)
	h.handle(mux, "GET /{project}/{workspace}/logs/{$}", h.workspaceLogs)
	h.handle(mux, "GET /{project}/{workspace}/run-jobs/{$}", h.runJobsPage)
	h.handle(mux, "GET /{project}/{workspace}/run-jobs/{ref}/{$}", h.runJobsPage)
	// The form always posts here, with the commit in a hidden field: a
	// POST pattern with {ref} would overlap the cancel pattern below.
	h.handle(mux, "POST /{project}/{workspace}/run-jobs/{$}", h.runJobsSubmit)
	h.handle(mux, "GET /{project}/{workspace}/{jr}/{$}", h.jobRequestPage)
	h.handle(mux, "POST /{project}/{workspace}/{jr}/cancel/{$}", h.cancelJobRequest)
	h.handle(mux, "GET /{project}/{workspace}/{jr}/{job}/{$}", h.jobPage)
	h.handle(mux, "POST /{project}/{workspace}/{jr}/{job}/cancel/{$}", h.cancelJob)

	// The JSON API.
	h.handle(mux, "GET /api/v1/workspaces/{$}", h.apiWorkspaces)
	h.handle(mux, "GET /api/v1/workspaces/{workspace}/statuses/{$}", h.apiStatuses)
	h.handle(mux, "POST /api/v1/workspaces/{workspace}/job-requests/{$}", h.apiCreateJobRequest)
	h.handle(mux, "GET /api/v1/job-requests/{jr}/{$}", h.apiJobRequest)
	h.handle(mux, "POST /api/v1/job-requests/{jr}/cancel/{$}", h.apiCancel)

	h.handle(mux, "/", h.notFound)
}

// handle registers fn for pattern behind the middleware (security
// headers, request state, panic recovery, logging and metrics).
func (h *Handler) handle(mux *http.ServeMux, pattern string, fn func(http.ResponseWriter, *http.Request)) {
	mux.Handle(pattern, h.wrap(pattern, http.HandlerFunc(fn)))
}
