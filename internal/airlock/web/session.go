package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/releaseapi"
	"github.com/haven-tre/haven/internal/webkit"
)

// Cookie names and lifetimes. The names differ from the job server's, so
// the two never clash when both run on one host (cookies ignore ports).
const (
	sessionCookie   = "haven_airlock_session"
	csrfCookie      = "haven_airlock_csrf" // the sign-in form's double-submit token
	flashCookie     = "haven_airlock_flash"
	sessionLifetime = 8 * time.Hour
	serverTimeout   = 15 * time.Second
)

// handlerFunc is a handler for a signed-in user.
type handlerFunc func(w http.ResponseWriter, r *http.Request, u *airlock.User)

// page wraps a GET page that needs a signed-in user: without one, the
// browser is sent to the sign-in page and back.
func (h *Handler) page(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := h.signedIn(w, r)
		if !ok {
			return
		}
		if u == nil {
			http.Redirect(w, r, "/login/?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		fn(w, r, u)
	}
}

// form wraps a state-changing POST: it needs a signed-in user and the
// session's CSRF token in the form.
func (h *Handler) form(fn handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := h.signedIn(w, r)
		if !ok {
			return
		}
		if u == nil {
			h.renderError(w, r, errSignInNeeded)
			return
		}
		if !h.checkCSRF(w, r) {
			h.renderError(w, r, webkit.ErrCSRF)
			return
		}
		fn(w, r, u)
	}
}

// signedIn returns the signed-in user (nil when signed out). It refreshes
// the profile from the job server when it is older than RefreshEvery. ok
// is false when it has answered the request itself (an error, or the end
// of a session the job server no longer allows).
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request) (u *airlock.User, ok bool) {
	st := state(r)
	sess, err := h.session(r)
	if err != nil {
		h.renderError(w, r, err)
		return nil, false
	}
	if sess == nil {
		return nil, true
	}
	now := h.now().UTC()
	if now.Sub(sess.RefreshedAt) >= h.refreshEvery {
		ended, err := h.refresh(r.Context(), sess, now)
		if err != nil {
			h.renderError(w, r, err)
			return nil, false
		}
		if ended != "" {
			h.cookies.Clear(w, sessionCookie)
			h.cookies.SetFlash(w, webkit.FlashError, ended)
			http.Redirect(w, r, "/login/", http.StatusSeeOther)
			return nil, false
		}
	}
	u, err = airlock.UserFromProfile(sess.Profile)
	if err != nil {
		// A profile that cannot be read ends the session rather than
		// failing every page.
		h.log.WarnContext(r.Context(), "unreadable profile in an Airlock session", "user", sess.Username, "ref", st.id, "err", err)
		_ = h.store.DeleteSession(r.Context(), sess.IDHash)
		h.cookies.Clear(w, sessionCookie)
		http.Redirect(w, r, "/login/", http.StatusSeeOther)
		return nil, false
	}
	st.user, st.session = u, sess
	return u, true
}

// session looks up the session of the request's cookie; nil for none.
func (h *Handler) session(r *http.Request) (*astore.Session, error) {
	id := h.cookies.SessionID(r)
	if id == "" {
		return nil, nil
	}
	sess, err := h.store.Session(r.Context(), auth.HashToken(id), h.now().UTC())
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, nil
	}
	return sess, err
}

// refresh asks the job server for the user's profile again (spec §8.1).
// A refusal ends the session (the message says why); a failure to reach
// the server keeps the old profile, and the refresh is tried again on the
// next page.
func (h *Handler) refresh(ctx context.Context, sess *astore.Session, now time.Time) (ended string, err error) {
	cctx, cancel := context.WithTimeout(ctx, serverTimeout)
	defer cancel()
	prof, err := h.server.Authorise(cctx, sess.Username)
	var apiErr *releaseapi.APIError
	limited := errors.As(err, &apiErr) && apiErr.Status == http.StatusTooManyRequests
	if err != nil && !limited {
		switch haven.ErrorCode(err) {
		case haven.EFORBIDDEN, haven.ENOTFOUND:
			if derr := h.store.DeleteSession(ctx, sess.IDHash); derr != nil {
				return "", derr
			}
			h.log.InfoContext(ctx, "Airlock session ended: the job server refused the profile refresh", "user", sess.Username, "err", err)
			return "The job server no longer allows you into Airlock (" + serverMessage(err) + "), so you have been signed out. If that is a mistake, ask your project's lead, then sign in again.", nil
		}
	}
	if err != nil {
		h.log.WarnContext(ctx, "could not refresh an Airlock user's profile; keeping the old one", "user", sess.Username, "err", err)
		return "", nil
	}
	raw, err := json.Marshal(prof)
	if err != nil {
		return "", err
	}
	u, err := airlock.UserFromProfile(raw)
	if err != nil || u.Username != sess.Username {
		h.log.WarnContext(ctx, "the job server's refreshed profile is not usable; keeping the old one", "user", sess.Username, "err", err)
		return "", nil
	}
	if err := h.store.RefreshSession(ctx, sess.IDHash, raw, now); err != nil {
		if haven.ErrorCode(err) == haven.ENOTFOUND {
			return "Your Airlock session has expired; sign in again.", nil
		}
		return "", err
	}
	sess.Profile, sess.RefreshedAt = raw, now
	return "", nil
}

// serverMessage is the job server's own words for a refusal.
func serverMessage(err error) string {
	var he *haven.Error
	if errors.As(err, &he) && he.Message != "" {
		return he.Message
	}
	return err.Error()
}

// checkCSRF reports whether a POST carries the right token: the session's
// for a signed-in user, else the sign-in form's double-submit cookie. It
// parses the form (bounded in size).
func (h *Handler) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	return h.cookies.CheckCSRF(w, r, state(r).csrfToken())
}

// loginData is the sign-in page's view model.
type loginData struct {
	CSRF     string
	Next     string
	Username string
	Error    string
	TokenURL string // where to get a token
}

func (h *Handler) tokenURL() string { return h.serverURL + "/settings/airlock-token/" }

// loginPage shows the sign-in form.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	next := webkit.SafeNext(r.URL.Query().Get("next"))
	sess, err := h.session(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if sess != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", "Sign in", loginData{CSRF: h.cookies.SignedOutCSRF(w, r), Next: next, TokenURL: h.tokenURL()})
}

// loginSubmit checks a username (or email) and sign-in token with the job
// server and starts a new session with the profile it returns. The
// session id is new at every sign-in, so a session fixed before is
// useless.
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, webkit.ErrCSRF)
		return
	}
	user := strings.TrimSpace(r.PostForm.Get("user"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	next := webkit.SafeNext(r.PostForm.Get("next"))
	again := func(status int, msg string) {
		h.render(w, r, status, "login", "Sign in", loginData{
			CSRF: h.cookies.SignedOutCSRF(w, r), Next: next, Username: user, Error: msg, TokenURL: h.tokenURL(),
		})
	}
	if user == "" || token == "" || len(user) > 254 || len(token) > 200 {
		again(http.StatusBadRequest, "Enter your username (or email) and the sign-in token the job server gave you.")
		return
	}
	ctx := r.Context()
	cctx, cancel := context.WithTimeout(ctx, serverTimeout)
	prof, err := h.server.Authenticate(cctx, user, token)
	cancel()
	if err != nil {
		switch haven.ErrorCode(err) {
		case haven.EFORBIDDEN, haven.EINVALID, haven.ENOTFOUND, haven.ECONFLICT:
			msg := strings.TrimRight(serverMessage(err), ". ")
			if !strings.Contains(msg, "one hour") {
				msg += ". Tokens work once, for one hour: get a new one from the job server and try again"
			}
			again(http.StatusBadRequest, "That token was not accepted: "+msg+".")
		default:
			h.log.WarnContext(ctx, "sign-in: could not check a token with the job server", "ref", state(r).id, "err", err)
			again(http.StatusServiceUnavailable, "Airlock could not reach the job server to check your token. Try again in a minute; if it keeps happening, tell the backend's administrators (reference "+state(r).id+").")
		}
		return
	}
	raw, err := json.Marshal(prof)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	u, err := airlock.UserFromProfile(raw)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if old, _ := h.session(r); old != nil {
		if err := h.store.DeleteSession(ctx, old.IDHash); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	id := webkit.RandomToken(32)
	now := h.now().UTC()
	sess := &astore.Session{
		IDHash:      auth.HashToken(id),
		Username:    u.Username,
		Profile:     raw,
		CSRF:        webkit.RandomToken(32),
		CreatedAt:   now,
		RefreshedAt: now,
		ExpiresAt:   now.Add(sessionLifetime),
	}
	if err := h.store.CreateSession(ctx, sess); err != nil {
		h.renderError(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "signed in to Airlock", "user", u.Username, "ref", state(r).id)
	h.cookies.Set(w, sessionCookie, id, sessionLifetime)
	h.cookies.Clear(w, csrfCookie)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	sess, err := h.session(r)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	state(r).session = sess
	if !h.checkCSRF(w, r) {
		h.renderError(w, r, webkit.ErrCSRF)
		return
	}
	if sess != nil {
		if err := h.store.DeleteSession(r.Context(), sess.IDHash); err != nil {
			h.renderError(w, r, err)
			return
		}
	}
	h.cookies.Clear(w, sessionCookie)
	h.cookies.SetFlash(w, webkit.FlashSuccess, "You have signed out of Airlock.")
	http.Redirect(w, r, "/login/", http.StatusSeeOther)
}
