package web

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// page is what every template receives.
type page = webkit.Page[*store.User]

var funcs = template.FuncMap{
	"isoTime":  isoTime,
	"showTime": showTime,
	"upper":    strings.ToUpper,
	"short":    shortSHA,
	"label":    statusLabel,
	"pill":     pillClass,
}

// render writes the page template name with status, wrapped in the
// site's base template; a template error becomes a clean 500 rather than
// half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	st := state(r)
	if !st.loaded {
		// Pages show who is signed in; error pages too, when possible.
		_, _ = h.user(r)
	}
	p := page{Title: title, User: st.user, CSRF: st.csrfToken(), CSS: h.cssPath, Path: r.URL.Path, Data: data}
	if status == http.StatusOK {
		p.Flash = h.cookies.TakeFlash(w, r)
	}
	if err := h.pages.Render(w, status, name, p); err != nil {
		h.log.ErrorContext(r.Context(), "rendering page", "template", name, "ref", st.id, "error", err)
		http.Error(w, "Internal Server Error (reference "+st.id+")", http.StatusInternalServerError)
	}
}

// static serves the embedded stylesheet (and any other static file).
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	if !h.files.Serve(w, r, r.PathValue("file")) {
		h.notFound(w, r)
	}
}

// healthCheck answers liveness probes.
func (h *Handler) healthCheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}
