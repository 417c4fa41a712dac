package webkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Pages are a site's page templates by name ("home" for home.html), each
// parsed with the site's base.html and partials.html.
type Pages map[string]*template.Template

// ParsePages parses dir/base.html and dir/partials.html of fsys once,
// then each other dir/*.html with a copy of them. A page template defines
// "content", which base.html places.
func ParsePages(fsys fs.FS, dir string, funcs template.FuncMap) (Pages, error) {
	base, err := template.New("base.html").Funcs(funcs).ParseFS(fsys, dir+"/base.html", dir+"/partials.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, dir+"/*.html")
	if err != nil {
		return nil, err
	}
	pages := make(Pages)
	for _, name := range names {
		file := path.Base(name)
		if file == "base.html" || file == "partials.html" {
			continue
		}
		clone, err := base.Clone()
		if err != nil {
			return nil, err
		}
		t, err := clone.ParseFS(fsys, name)
		if err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(file, ".html")] = t
	}
	return pages, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render executes page name with data into a buffer, then writes it with
// status, as HTML that is never cached. When the page is missing or fails
// to execute, it writes nothing and returns the error, so that a template
// error becomes a clean error response rather than half a page.
func (p Pages) Render(w http.ResponseWriter, status int, name string, data any) error {
	t, ok := p[name]
	if !ok {
		return fmt.Errorf("there is no page template %q", name)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := t.ExecuteTemplate(buf, "base.html", data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// StaticName is the form of a static file's name in a URL.
var StaticName = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]{0,63}$`)

// Static serves a site's embedded static files (its stylesheet) under
// /static/, each at a URL that changes with its content.
type Static struct {
	fsys fs.FS
}

// NewStatic serves the files of dir in fsys.
func NewStatic(fsys fs.FS, dir string) (Static, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return Static{}, err
	}
	return Static{fsys: sub}, nil
}

// Path is the versioned path of static file name: its URL changes with
// its content, so it can be cached for a year.
func (s Static) Path(name string) (string, error) {
	b, err := fs.ReadFile(s.fsys, name)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "/static/" + name + "?v=" + hex.EncodeToString(sum[:6]), nil
}

// Serve writes static file name, cacheable for a year (its URL is
// versioned). It reports false, having written nothing, when there is no
// such file; the site then answers with its 404 page.
func (s Static) Serve(w http.ResponseWriter, r *http.Request, name string) bool {
	if !StaticName.MatchString(name) {
		return false
	}
	b, err := fs.ReadFile(s.fsys, name)
	if err != nil {
		return false
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
	return true
}
