package webkit

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// SetSecurityHeaders sets the headers every response of a site carries:
// its Content-Security-Policy, no MIME sniffing, no referrer sent to
// other sites, and framing by the site itself only.
func SetSecurityHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "SAMEORIGIN")
}

// StatusWriter records the status a handler wrote.
type StatusWriter struct {
	http.ResponseWriter
	Status int // 0 until the handler writes
}

// WriteHeader records the first status and passes it on.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and passes b on.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Middleware is what a site puts around every request.
type Middleware struct {
	CSP string       // the site's Content-Security-Policy
	Log *slog.Logger // where requests and panics are logged
	// Failed answers a request whose handler panicked before writing
	// anything (the site's 500 page).
	Failed func(w http.ResponseWriter, r *http.Request)
}

// Serve sets the security headers and runs next. A panic is logged with
// its stack and, when nothing was written yet, answered with Failed; an
// http.ErrAbortHandler panic is passed on. The request is logged by its
// path only (query strings may carry tokens or search text), its route
// pattern when route is set and its reference ref. It returns the status
// written and the time taken, for metrics.
func (m *Middleware) Serve(w http.ResponseWriter, r *http.Request, ref, route string, next http.Handler) (status int, elapsed time.Duration) {
	start := time.Now()
	SetSecurityHeaders(w.Header(), m.CSP)
	where := []any{"method", r.Method}
	if route != "" {
		where = append(where, "route", route)
	}
	where = append(where, "path", r.URL.Path)
	sw := &StatusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			m.Log.ErrorContext(r.Context(), "panic serving request",
				append(append([]any{"ref", ref}, where...), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))...)
			if sw.Status == 0 && m.Failed != nil {
				m.Failed(sw, r)
			}
		}
		status = sw.Status
		if status == 0 {
			status = http.StatusOK
		}
		elapsed = time.Since(start)
		m.Log.InfoContext(r.Context(), "request",
			append(where, "status", status, "duration", elapsed, "ref", ref)...)
	}()
	next.ServeHTTP(sw, r)
	return status, elapsed
}
