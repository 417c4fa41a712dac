package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/haven-tre/haven/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// page is what every template receives.
type page struct {
	Title string
	User  *store.User // nil when signed out
	CSRF  string      // the token every form carries
	Flash *flash      // a one-time message from the previous request
	CSS   string      // the stylesheet's versioned path
	Path  string      // the request path, for "next" on the sign-in link
	Data  any         // the page's own view model
}

var funcs = template.FuncMap{
	"isoTime":  isoTime,
	"showTime": showTime,
	"upper":    strings.ToUpper,
	"short":    shortSHA,
	"label":    statusLabel,
	"pill":     pillClass,
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
	t, ok := h.pages[name]
	if !ok {
		h.log.ErrorContext(r.Context(), "missing template", "template", name, "ref", state(r).id)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	st := state(r)
	if !st.loaded {
		// Pages show who is signed in; error pages too, when possible.
		_, _ = h.user(r)
	}
	p := page{Title: title, User: st.user, CSS: h.cssPath, Path: r.URL.Path, Data: data}
	if st.session != nil {
		p.CSRF = st.session.CSRFToken
	}
	if status == http.StatusOK {
		p.Flash = h.takeFlash(w, r)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := t.ExecuteTemplate(buf, "base.html", p); err != nil {
		h.log.ErrorContext(r.Context(), "rendering page", "template", name, "ref", st.id, "error", err)
		http.Error(w, "Internal Server Error (reference "+st.id+")", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

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

// static serves the embedded stylesheet (and any other static file).
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !staticName.MatchString(name) {
		h.notFound(w, r)
		return
	}
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		h.notFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// healthCheck answers liveness probes.
func (h *Handler) healthCheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, "ok")
}
