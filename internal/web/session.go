package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/store"
)

// Cookie names and lifetimes.
const (
	sessionCookie   = auth.SessionCookie
	csrfCookie      = "haven_csrf" // signed-out forms (sign-in): double-submit token
	flashCookie     = "haven_flash"
	sessionLifetime = 14 * 24 * time.Hour
	csrfField       = "csrf_token"
	csrfHeader      = "X-CSRF-Token"
	maxFormBytes    = 1 << 20
)

// randomToken returns n random bytes, URL-safe base64 encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// user returns the signed-in user of a page request (nil when signed
// out), looking the session cookie up once per request.
func (h *Handler) user(r *http.Request) (*store.User, error) {
	st := state(r)
	if st.loaded {
		return st.user, nil
	}
	st.loaded = true
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) != 43 { // 32 bytes, base64
		return nil, nil
	}
	now := h.now().UTC()
	s, err := h.store.Session(r.Context(), auth.HashToken(c.Value), now)
	if err != nil {
		if haven.ErrorCode(err) == haven.ENOTFOUND {
			return nil, nil
		}
		return nil, err
	}
	u, err := h.store.User(r.Context(), s.UserID)
	if err != nil {
		if haven.ErrorCode(err) == haven.ENOTFOUND {
			return nil, nil
		}
		return nil, err
	}
	st.user, st.session = u, s
	return u, nil
}

// checkCSRF reports whether a state-changing request carries the right
// token: the session's for a signed-in user, else the sign-in form's
// double-submit cookie. The token comes from the form field or the
// X-CSRF-Token header. It parses the form (bounded in size).
func (h *Handler) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	if _, err := h.user(r); err != nil {
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return false
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostForm.Get(csrfField)
	}
	var want string
	if st := state(r); st.session != nil {
		want = st.session.CSRFToken
	} else if c, err := r.Cookie(csrfCookie); err == nil {
		want = c.Value
	}
	if want == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   h.secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

// loginData is the sign-in page's view model.
type loginData struct {
	CSRF     string
	Next     string
	Username string
	Error    string
}

// loginPage shows the sign-in form.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	u, err := h.user(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	if u != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", "Sign in", loginData{CSRF: h.signedOutCSRF(w, r), Next: next})
}

// signedOutCSRF returns the double-submit token of the sign-in form,
// setting its cookie when the browser has none yet.
func (h *Handler) signedOutCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomToken(32)
	h.setCookie(w, csrfCookie, tok, 24*time.Hour)
	return tok
}

// loginSubmit signs a user in with a username and password and starts a
// new session (a fresh id, so a session fixed before sign-in is useless).
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, errCSRF)
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	if len(username) > 200 || len(password) > 1000 {
		username, password = "", ""
	}
	var u *store.User
	var err error = haven.Errorf(haven.EINVALID, "Enter your username and password.")
	if username != "" && password != "" {
		u, err = h.svc.SignIn(r.Context(), username, password)
	}
	if err != nil {
		if code := haven.ErrorCode(err); code != haven.EINVALID && code != haven.EFORBIDDEN {
			h.renderError(w, r, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, "login", "Sign in", loginData{
			CSRF: h.signedOutCSRF(w, r), Next: next, Username: username, Error: userMessage(err),
		})
		return
	}
	ctx := r.Context()
	if old := state(r).session; old != nil {
		if err := h.store.DeleteSession(ctx, old.IDHash); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	id := randomToken(32)
	now := h.now().UTC()
	s := &store.Session{
		IDHash:    auth.HashToken(id),
		UserID:    u.ID,
		CSRFToken: randomToken(32),
		CreatedAt: now,
		ExpiresAt: now.Add(sessionLifetime),
	}
	if err := h.store.CreateSession(ctx, s); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.setCookie(w, sessionCookie, id, sessionLifetime)
	h.setCookie(w, csrfCookie, "", -1)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, errCSRF)
		return
	}
	if s := state(r).session; s != nil {
		if err := h.store.DeleteSession(r.Context(), s.IDHash); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	h.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeNext returns next when it is a path on this site, else "/".
func safeNext(next string) string {
	if next == "" || len(next) > 1000 || !strings.HasPrefix(next, "/") ||
		strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// loginURL is the sign-in page that returns to the current page.
func loginURL(r *http.Request) string {
	return "/login/?next=" + url.QueryEscape(r.URL.Path)
}

// flash is a one-time message shown on the next page.
type flash struct {
	Kind string // success, warning or error (the alert's style)
	Text string
}

// Flash kinds.
const (
	flashSuccess = "success"
	flashWarning = "warning"
	flashError   = "error"
)

// setFlash stores a one-time message for the next page, signed so that
// nobody else can put words in it. The key is per process: with several
// server replicas a message may be lost, never forged.
func (h *Handler) setFlash(w http.ResponseWriter, kind, msg string) {
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	body := base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + msg))
	h.setCookie(w, flashCookie, body+"."+h.flashMAC(body), 5*time.Minute)
}

// takeFlash returns the one-time message (nil for none) and clears it.
func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	h.setCookie(w, flashCookie, "", -1)
	body, mac, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(h.flashMAC(body))) {
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
	case kind != flashSuccess && kind != flashWarning && kind != flashError:
		kind = flashSuccess
	}
	return &flash{Kind: kind, Text: text}
}

func (h *Handler) flashMAC(body string) string {
	m := hmac.New(sha256.New, h.flashKey)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
