package web

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/webkit"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// page is what every template receives.
type page = webkit.Page[*airlock.User]

var funcs = template.FuncMap{
	"utc":     showTime,
	"iso":     isoTime,
	"size":    humanSize,
	"lower":   strings.ToLower,
	"verdict": verdictClass,
}

// showTime shows a time in UTC, to the second; "-" for none.
func showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// isoTime is a time for a datetime attribute.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// humanSize shows a byte count.
func humanSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}

// verdictClass is the badge class of a disclosure verdict or decision.
func verdictClass(v string) string {
	switch v {
	case "PASS", "APPROVED":
		return "badge badge-ok"
	case "FAIL", "CHANGES_REQUESTED", "CONFLICTED":
		return "badge badge-bad"
	case "REVIEW", "ERROR", "INCOMPLETE":
		return "badge badge-warn"
	}
	return "badge"
}

// pathURL is prefix followed by a '/'-separated path with each part
// escaped, so a file name can never change the route it is under.
func pathURL(prefix, p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		parts[i] = url.PathEscape(part)
	}
	return prefix + strings.Join(parts, "/")
}

// render writes the page template name with status, wrapped in the
// site's base template; a template error becomes a clean 500 rather than
// half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	st := state(r)
	p := page{Title: title, User: st.user, CSRF: st.csrfToken(), CSS: h.cssPath, Data: data}
	if status == http.StatusOK {
		p.Flash = h.cookies.TakeFlash(w, r)
	}
	if err := h.pages.Render(w, status, name, p); err != nil {
		h.log.ErrorContext(r.Context(), "rendering page", "template", name, "ref", st.id, "err", err)
		http.Error(w, "Internal Server Error (reference "+st.id+")", http.StatusInternalServerError)
	}
}

// static serves the embedded stylesheet.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	if !h.files.Serve(w, r, r.PathValue("file")) {
		h.renderError(w, r, webkit.ErrNotFound)
	}
}
