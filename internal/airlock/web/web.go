// Package web serves the pages of `haven airlock` (spec §8–§14): sign-in
// with a token from the job server, the workspaces and their file trees,
// release requests with their files, votes and comments, and the sandboxed
// content frames.
//
// Handlers only parse input, call airlock.Service (which decides every
// permission and state change) and render. Pages are built on the server
// with html/template and work without JavaScript; every page carries a
// strict Content-Security-Policy and every form a CSRF token. File content
// is never part of a page: pages embed content URLs in sandboxed iframes,
// and content responses come only from the render package, which sets its
// own, stricter headers.
package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/webkit"
)

// DefaultRefreshEvery is how often a signed-in user's profile is fetched
// again from the job server (spec §8.1).
const DefaultRefreshEvery = 15 * time.Minute

// Config is what a Handler needs.
type Config struct {
	Service *airlock.Service
	Store   *astore.Store // sessions
	// Server is the job server: Authenticate at sign-in, Authorise for the
	// profile refresh.
	Server airlock.ReleaseServer
	// ServerURL is the job server's public URL, for links to released
	// files and to the page that gives out sign-in tokens.
	ServerURL string
	// SecureCookies marks cookies Secure (set it whenever Airlock is
	// reached over HTTPS).
	SecureCookies bool
	Logger        *slog.Logger     // nil: slog.Default()
	Now           func() time.Time // nil: time.Now
	// RefreshEvery is the profile refresh interval (0: DefaultRefreshEvery).
	RefreshEvery time.Duration
}

// Handler serves Airlock's pages; it is an http.Handler for the whole
// site (mount it at "/").
type Handler struct {
	svc          *airlock.Service
	store        *astore.Store
	server       airlock.ReleaseServer
	serverURL    string
	log          *slog.Logger
	now          func() time.Time
	refreshEvery time.Duration
	cookies      *webkit.Cookies
	pages        webkit.Pages
	files        webkit.Static
	mw           webkit.Middleware
	cssPath      string // /static/airlock.css?v=<content hash>
	mux          *http.ServeMux
}

// New builds a Handler: it parses the embedded templates and registers
// the routes.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil || cfg.Store == nil || cfg.Server == nil {
		return nil, errors.New("airlock web.New: Config.Service, Config.Store and Config.Server are required")
	}
	h := &Handler{
		svc:          cfg.Service,
		store:        cfg.Store,
		server:       cfg.Server,
		serverURL:    trimSlash(cfg.ServerURL),
		log:          cfg.Logger,
		now:          cfg.Now,
		refreshEvery: cfg.RefreshEvery,
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.refreshEvery <= 0 {
		h.refreshEvery = DefaultRefreshEvery
	}
	h.mw = webkit.Middleware{CSP: contentSecurityPolicy, Log: h.log, Failed: func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, haven.Errorf(haven.EINTERNAL, "internal error"))
	}}
	site, err := webkit.NewSite(webkit.SiteConfig{
		Cookies: webkit.CookieConfig{
			Session: sessionCookie, CSRF: csrfCookie, Flash: flashCookie,
			Secure: cfg.SecureCookies,
		},
		Templates: templateFS, Static: staticFS, Stylesheet: "airlock.css", Funcs: funcs,
	})
	if err != nil {
		return nil, fmt.Errorf("airlock web.New: %w", err)
	}
	h.cookies, h.pages, h.files, h.cssPath = site.Cookies, site.Pages, site.Static, site.CSSPath
	h.mux = http.NewServeMux()
	h.routes()
	return h, nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// routes registers every page. GET pages need a session except the
// sign-in page and static files; every POST needs the session (the
// sign-in form: its own double-submit token) and the CSRF token.
func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /login/{$}", h.loginPage)
	m.HandleFunc("POST /login/{$}", h.loginSubmit)
	m.HandleFunc("POST /logout/{$}", h.logout)
	m.HandleFunc("GET /static/{file}", h.static)

	m.HandleFunc("GET /{$}", h.page(h.home))
	m.HandleFunc("GET /workspaces/{ws}/{$}", h.page(h.workspacePage))
	m.HandleFunc("GET /workspaces/{ws}/tree/{path...}", h.page(h.workspacePage))
	m.HandleFunc("GET /workspaces/{ws}/content/{path...}", h.page(h.workspaceContent))
	m.HandleFunc("POST /workspaces/{ws}/add-file", h.form(h.addFile))
	m.HandleFunc("POST /workspaces/{ws}/add-files", h.form(h.addFiles))

	m.HandleFunc("GET /requests/{id}/{$}", h.page(h.requestPage))
	m.HandleFunc("GET /requests/{id}/files/{path...}", h.page(h.requestFilePage))
	m.HandleFunc("GET /requests/{id}/content/{path...}", h.page(h.requestContent))
	m.HandleFunc("GET /requests/{id}/download/{path...}", h.page(h.requestDownload))
	m.HandleFunc("POST /requests/{id}/{action}", h.form(h.requestAction))

	m.HandleFunc("/", h.notFound)
}
