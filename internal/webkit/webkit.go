// Package webkit is what the job server's pages (internal/web) and
// Airlock's pages (internal/airlock/web) share: random tokens, cookies
// with signed flash messages and CSRF checks, safe redirect targets,
// template parsing and rendering, versioned static files, the mapping of
// Haven's error codes to statuses and error pages, and the middleware
// that sets the security headers, recovers from panics and logs each
// request.
//
// It holds plain functions and small types, parameterised where the two
// sites differ (cookie names, Content-Security-Policy, templates, error
// texts). It knows nothing of users or sessions: each site keeps its own.
package webkit

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
)

// Form limits and names shared by both sites.
const (
	CSRFField    = "csrf_token"   // the form field carrying the CSRF token
	CSRFHeader   = "X-CSRF-Token" // the header scripts may carry it in instead
	MaxFormBytes = 1 << 20        // the largest form body a page accepts
	TokenLen     = 43             // the length of RandomToken(32)
)

// RandomToken returns n random bytes, URL-safe base64 encoded without
// padding.
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewRequestID returns a request's reference: logged with it, and shown
// on error pages so that a user can quote it.
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CSRFEqual reports whether a request's token got matches want, in
// constant time. An empty token never matches.
func CSRFEqual(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// SafeNext returns next when it is a path on this site (the target of a
// redirect after signing in), else "/". It refuses absolute URLs,
// scheme-relative ones ("//host"), backslashes (which browsers read as
// slashes), control characters and overlong values. A percent-encoded
// slash is kept as it is: the browser asks this site for that path.
func SafeNext(next string) string {
	if next == "" || len(next) > 1000 || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next) // refuses any other control character
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// Truncate returns s cut to n bytes, with an ellipsis when it was longer,
// for quoting user input in messages.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
