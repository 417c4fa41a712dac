package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// Cookie names and lifetimes.
const (
	sessionCookie   = auth.SessionCookie
	csrfCookie      = "haven_csrf" // signed-out forms (sign-in): double-submit token
	flashCookie     = "haven_flash"
	sessionLifetime = 14 * 24 * time.Hour
)

// user returns the signed-in user of a page request (nil when signed
// out), looking the session cookie up once per request.
func (h *Handler) user(r *http.Request) (*store.User, error) {
	st := state(r)
	if st.loaded {
		return st.user, nil
	}
	st.loaded = true
	id := h.cookies.SessionID(r)
	if id == "" {
		return nil, nil
	}
	now := h.now().UTC()
	s, err := h.store.Session(r.Context(), auth.HashToken(id), now)
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
	return h.cookies.CheckCSRF(w, r, state(r).csrfToken())
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
	next := webkit.SafeNext(r.URL.Query().Get("next"))
	if u != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", "Sign in", loginData{CSRF: h.cookies.SignedOutCSRF(w, r), Next: next})
}

// loginSubmit signs a user in with a username and password and starts a
// new session (a fresh id, so a session fixed before sign-in is useless).
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, webkit.ErrCSRF)
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	next := webkit.SafeNext(r.PostForm.Get("next"))
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
			CSRF: h.cookies.SignedOutCSRF(w, r), Next: next, Username: username, Error: userMessage(err),
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
	id := webkit.RandomToken(32)
	now := h.now().UTC()
	s := &store.Session{
		IDHash:    auth.HashToken(id),
		UserID:    u.ID,
		CSRFToken: webkit.RandomToken(32),
		CreatedAt: now,
		ExpiresAt: now.Add(sessionLifetime),
	}
	if err := h.store.CreateSession(ctx, s); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.cookies.Set(w, sessionCookie, id, sessionLifetime)
	h.cookies.Clear(w, csrfCookie)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, webkit.ErrCSRF)
		return
	}
	if s := state(r).session; s != nil {
		if err := h.store.DeleteSession(r.Context(), s.IDHash); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	h.cookies.Clear(w, sessionCookie)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loginURL is the sign-in page that returns to the current page.
func loginURL(r *http.Request) string {
	return "/login/?next=" + url.QueryEscape(r.URL.Path)
}
