package webkit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CookieConfig names a site's cookies. Each site has its own names, so
// two sites on one host never clash (cookies ignore ports).
type CookieConfig struct {
	Session string // the session id
	CSRF    string // the sign-in form's double-submit token
	Flash   string // the one-time message for the next page
	// Secure marks every cookie Secure (whenever the site is reached over
	// HTTPS).
	Secure bool
	// CSRFHeader, when set, is a request header that may carry the CSRF
	// token instead of the form field (for scripts).
	CSRFHeader string
}

// Cookies sets and reads a site's cookies. Build it with NewCookies.
type Cookies struct {
	CookieConfig
	flashKey []byte // signs flash messages; per process
}

// NewCookies returns the cookies of cfg with a new random key for
// signing flash messages.
func NewCookies(cfg CookieConfig) (*Cookies, error) {
	if cfg.Session == "" || cfg.CSRF == "" || cfg.Flash == "" {
		return nil, fmt.Errorf("webkit.NewCookies: the session, CSRF and flash cookie names are all required, got %q, %q and %q", cfg.Session, cfg.CSRF, cfg.Flash)
	}
	c := &Cookies{CookieConfig: cfg, flashKey: make([]byte, 32)}
	if _, err := rand.Read(c.flashKey); err != nil {
		return nil, fmt.Errorf("webkit.NewCookies: %w", err)
	}
	return c, nil
}

// Set sets cookie name for the whole site, hidden from scripts and not
// sent with cross-site subrequests. A negative maxAge deletes it.
func (c *Cookies) Set(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   c.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, ck)
}

// Clear deletes cookie name.
func (c *Cookies) Clear(w http.ResponseWriter, name string) { c.Set(w, name, "", -1) }

// SessionID returns the request's session cookie when it has the form of
// a session id (RandomToken(32)), else "".
func (c *Cookies) SessionID(r *http.Request) string {
	ck, err := r.Cookie(c.Session)
	if err != nil || len(ck.Value) != TokenLen {
		return ""
	}
	return ck.Value
}

// SignedOutCSRF returns the sign-in form's double-submit token, setting
// its cookie when the browser has none yet.
func (c *Cookies) SignedOutCSRF(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.CSRF); err == nil && len(ck.Value) == TokenLen {
		return ck.Value
	}
	tok := RandomToken(32)
	c.Set(w, c.CSRF, tok, 24*time.Hour)
	return tok
}

// CheckCSRF parses the form of a state-changing request (at most
// MaxFormBytes) and reports whether it carries the right token:
// sessionToken for a signed-in user, else ("" when signed out) the
// sign-in form's double-submit cookie. The token comes from the
// CSRFHeader header when configured and present, else the CSRFField
// form field.
func (c *Cookies) CheckCSRF(w http.ResponseWriter, r *http.Request, sessionToken string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	var got string
	if c.CSRFHeader != "" {
		got = r.Header.Get(c.CSRFHeader)
	}
	if got == "" {
		got = r.PostForm.Get(CSRFField)
	}
	want := sessionToken
	if want == "" {
		if ck, err := r.Cookie(c.CSRF); err == nil {
			want = ck.Value
		}
	}
	return CSRFEqual(got, want)
}

// Flash is a one-time message shown on the next page.
type Flash struct {
	Kind string // FlashSuccess, FlashWarning or FlashError (the alert's style)
	Text string
}

// Flash kinds.
const (
	FlashSuccess = "success"
	FlashWarning = "warning"
	FlashError   = "error"
)

// maxFlash is the longest flash message kept, in bytes.
const maxFlash = 1000

// SetFlash stores a one-time message for the next page, signed so that
// nobody else can put words in it. The key is per process: with several
// replicas a message may be lost, never forged.
func (c *Cookies) SetFlash(w http.ResponseWriter, kind, msg string) {
	if len(msg) > maxFlash {
		msg = msg[:maxFlash]
	}
	body := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + msg))
	c.Set(w, c.Flash, body+"."+c.flashMAC(body), 5*time.Minute)
}

// TakeFlash returns the one-time message (nil for none, or for one that
// is not signed with this process's key) and clears it. An unknown kind
// is shown as FlashSuccess.
func (c *Cookies) TakeFlash(w http.ResponseWriter, r *http.Request) *Flash {
	ck, err := r.Cookie(c.Flash)
	if err != nil {
		return nil
	}
	c.Clear(w, c.Flash)
	body, mac, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(c.flashMAC(body))) {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil
	}
	kind, text, ok := strings.Cut(string(b), ":")
	switch {
	case !ok:
		return nil
	case kind != FlashSuccess && kind != FlashWarning && kind != FlashError:
		kind = FlashSuccess
	}
	return &Flash{Kind: kind, Text: text}
}

func (c *Cookies) flashMAC(body string) string {
	m := hmac.New(sha256.New, c.flashKey)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
