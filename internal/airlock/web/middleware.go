package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/webkit"
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

// csrfToken is the signed-in session's CSRF token; "" when signed out.
func (st *reqState) csrfToken() string {
	if st.session == nil {
		return ""
	}
	return st.session.CSRF
}

type stateKey struct{}

func state(r *http.Request) *reqState {
	if s, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return s
	}
	return &reqState{id: webkit.NewRequestID()}
}

// ServeHTTP sets the security headers, refuses unsafe paths, recovers
// from panics, logs the request and hands it to the routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &reqState{id: webkit.NewRequestID()}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	h.mw.Serve(w, r, st.id, "", http.HandlerFunc(h.route))
}

// route refuses unsafe paths and hands the rest to the routes.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	if err := checkURLPath(r); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// checkURLPath refuses a request path that tries to leave where it points:
// '.' or '..' parts (plain or percent-encoded), empty parts, encoded
// slashes or backslashes, backslashes and control characters. The router
// would otherwise clean such a path and redirect; Airlock refuses it.
func checkURLPath(r *http.Request) error {
	bad := haven.Errorf(haven.EINVALID, "The address %q is not a valid Airlock address: it contains '.' or '..' parts, an empty part, an encoded slash or a control character. Use the links on Airlock's pages.", webkit.Truncate(r.URL.EscapedPath(), 200))
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
