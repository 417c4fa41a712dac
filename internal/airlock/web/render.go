package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven/internal/airlock"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// page is what every template receives.
type page struct {
	Title string
	User  *airlock.User // nil when signed out
	CSRF  string        // the token every form carries
	Flash *flash        // a one-time message from the previous request
	CSS   string        // the stylesheet's versioned path
	Data  any           // the page's own view model
}

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

// parseTemplates parses base.html with each page template once. A page
// template defines "content".
func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/partials.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template)
	for _, name := range names {
		file := path.Base(name)
		if file == "base.html" || file == "partials.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, name)
		if err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(file, ".html")] = t
	}
	return pages, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes the page template name into a buffer, then writes it
// with status, so a template error becomes a clean 500 rather than half
// a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	st := state(r)
	t, ok := h.pages[name]
	if !ok {
		h.log.ErrorContext(r.Context(), "missing template", "template", name, "ref", st.id)
		http.Error(w, "Internal Server Error (reference "+st.id+")", http.StatusInternalServerError)
		return
	}
	p := page{Title: title, User: st.user, CSS: h.cssPath, Data: data}
	if st.session != nil {
		p.CSRF = st.session.CSRF
	}
	if status == http.StatusOK {
		p.Flash = h.takeFlash(w, r)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := t.ExecuteTemplate(buf, "base.html", p); err != nil {
		h.log.ErrorContext(r.Context(), "rendering page", "template", name, "ref", st.id, "err", err)
		http.Error(w, "Internal Server Error (reference "+st.id+")", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// staticName is the form of a static file's name.
var staticName = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]{0,63}$`)

// staticPath is the versioned path of an embedded static file: its URL
// changes with its content, so it can be cached for a year.
func staticPath(name string) (string, error) {
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "/static/" + name + "?v=" + hex.EncodeToString(sum[:6]), nil
}

// static serves the embedded stylesheet.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !staticName.MatchString(name) {
		h.renderError(w, r, errNotFound)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		h.renderError(w, r, errNotFound)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}
