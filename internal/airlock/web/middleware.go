package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
)

// contentSecurityPolicy is sent with every page (spec §14). Content
// responses replace it with their own, stricter policy.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'; frame-src 'self'"

// reqState is what one request carries through the handlers.
type reqState struct {
	id      string // reference shown on error pages and logged
	user    *airlock.User
	session *astore.Session
}

type stateKey struct{}

func state(r *http.Request) *reqState {
	if s, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{id: newRequestID()}
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP sets the security headers, refuses unsafe paths, recovers
// from panics, logs the request and hands it to the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &reqState{id: newRequestID()}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))

	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "SAMEORIGIN")

	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.log.ErrorContext(r.Context(), "panic serving request",
				"ref", st.id, "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if sw.status == 0 {
				h.renderError(sw, r, haven.Errorf(haven.EINTERNAL, "internal error"))
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		// The path only: query strings are never logged.
		h.log.InfoContext(r.Context(), "request",
			"method", r.Method, "path", r.URL.Path, "status", status,
			"duration", time.Since(start), "ref", st.id)
	}()
	if err := checkURLPath(r); err != nil {
		h.renderError(sw, r, err)
		return
	}
	h.mux.ServeHTTP(sw, r)
}

// checkURLPath refuses a request path that tries to leave where it points:
// '.' or '..' parts (plain or percent-encoded), empty parts, encoded
// slashes or backslashes, backslashes and control characters. The router
// would otherwise clean such a path and redirect; Airlock refuses it.
func checkURLPath(r *http.Request) error {
	bad := haven.Errorf(haven.EINVALID, "The address %q is not a valid Airlock address: it contains '.' or '..' parts, an empty part, an encoded slash or a control character. Use the links on Airlock's pages.", truncate(r.URL.EscapedPath(), 200))
	escaped := strings.ToLower(r.URL.EscapedPath())
	if strings.Contains(escaped, "%2f") || strings.Contains(escaped, "%5c") || strings.Contains(escaped, "%00") {
		return bad
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, '\\') {
		return bad
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return bad
		}
	}
	parts := strings.Split(p[1:], "/")
	for i, part := range parts {
		switch {
		case part == "." || part == "..":
			return bad
		case part == "" && i != len(parts)-1:
			return bad
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
