package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/auth"
)

func TestPagesNeedSignIn(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, p := range []string{"/", "/workspaces/" + testWS + "/", "/workspaces/" + testWS + "/tree/output/table.csv", "/workspaces/" + testWS + "/content/output/table.csv", "/requests/01HXAAAAAAAAAAAAAAAAAAAAAA/"} {
		rec := c.get(p)
		wantStatus(t, "GET "+p, rec, http.StatusSeeOther)
		if want := "/login/?next=" + url.QueryEscape(p); rec.Header().Get("Location") != want {
			t.Errorf("GET %s: redirect to %q, want %q", p, rec.Header().Get("Location"), want)
		}
	}
	rec := c.postRaw("/workspaces/"+testWS+"/add-file", url.Values{"path": {"output/table.csv"}})
	wantStatus(t, "signed-out POST", rec, http.StatusForbidden)
	// The stylesheet needs no session.
	rec = c.get(e.h.cssPath)
	wantStatus(t, "GET css", rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("css Content-Type %q", ct)
	}
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	rec := c.get("/login/?next=/workspaces/" + testWS + "/")
	wantStatus(t, "GET /login/", rec, http.StatusOK)
	doc := assertPageSafe(t, "login page", rec)
	if link := byID(doc, "token-link"); link == nil || attr(link, "href") != serverURL+"/settings/airlock-token/" {
		t.Fatalf("no link to the job server's token page: %v", link)
	}
	tok := loginCSRF(t, rec)

	// A wrong token: 400, the form again, no session.
	rec = c.postRaw("/login/", url.Values{csrfField: {tok}, "user": {"researcher"}, "token": {"wrong words here"}})
	wantStatus(t, "wrong token", rec, http.StatusBadRequest)
	if !strings.Contains(rec.Body.String(), "That token was not accepted: the login token is wrong, used or expired") {
		t.Errorf("wrong token page:\n%s", rec.Body)
	}
	if c.cookies[sessionCookie] != nil {
		t.Fatal("a failed sign-in set a session cookie")
	}
	// No fields: 400.
	wantStatus(t, "empty form", c.postRaw("/login/", url.Values{csrfField: {tok}}), http.StatusBadRequest)
	// No CSRF token: 403.
	rec = c.postRaw("/login/", url.Values{"user": {"researcher"}, "token": {e.server.tokens["researcher"]}})
	wantStatus(t, "sign-in without CSRF token", rec, http.StatusForbidden)
	if c.cookies[sessionCookie] != nil {
		t.Fatal("sign-in without CSRF token set a session cookie")
	}

	// Success: 303 to next, a session cookie with the right flags, the
	// id stored only hashed.
	rec = c.postRaw("/login/", url.Values{csrfField: {tok}, "user": {"researcher"}, "token": {e.server.tokens["researcher"]}, "next": {"/workspaces/" + testWS + "/"}})
	wantStatus(t, "sign in", rec, http.StatusSeeOther)
	if loc := rec.Header().Get("Location"); loc != "/workspaces/"+testWS+"/" {
		t.Errorf("redirect to %q", loc)
	}
	var session *http.Cookie
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
		t.Fatalf("session cookie %+v", session)
	}
	if session.MaxAge != int((8 * time.Hour).Seconds()) {
		t.Errorf("session cookie lives %d s, want 8 h", session.MaxAge)
	}
	sess, err := e.store.Session(e.ctx, auth.HashToken(session.Value), e.clock())
	if err != nil || sess.Username != "researcher" || !sess.ExpiresAt.Equal(t0.Add(8*time.Hour)) {
		t.Fatalf("stored session %+v, %v", sess, err)
	}
	if _, err := e.store.Session(e.ctx, session.Value, e.clock()); err == nil {
		t.Error("the session is stored under the cookie value itself")
	}
	rec = c.get("/")
	wantStatus(t, "home", rec, http.StatusOK)
	if !strings.Contains(rec.Body.String(), "Signed in as Rita Researcher") {
		t.Error("the home page does not say who is signed in")
	}

	// Signing in again rotates the session id.
	old := session.Value
	c2 := e.signIn("researcher")
	if c2.cookies[sessionCookie].Value == old {
		t.Error("a new sign-in reused the session id")
	}

	// Sign out: the session is gone.
	wantStatus(t, "sign out", c.post("/logout/", nil), http.StatusSeeOther)
	if _, err := e.store.Session(e.ctx, auth.HashToken(old), e.clock()); err == nil {
		t.Error("the session survived signing out")
	}
	wantStatus(t, "home after sign-out", c.get("/"), http.StatusSeeOther)

	// Sessions expire after 8 hours.
	e.advance(8*time.Hour + time.Second)
	wantStatus(t, "home after 8 h", c2.get("/"), http.StatusSeeOther)
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t)
	e.h.cookies.Secure = true
	c := e.client()
	rec := c.get("/login/")
	rec = c.postRaw("/login/", url.Values{csrfField: {loginCSRF(t, rec)}, "user": {"checker1"}, "token": {e.server.tokens["checker1"]}})
	wantStatus(t, "sign in", rec, http.StatusSeeOther)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == sessionCookie && !ck.Secure {
			t.Error("session cookie is not Secure although SecureCookies is set")
		}
	}
}

func TestSignInRefusesOpenRedirects(t *testing.T) {
	e := newEnv(t)
	for next, want := range map[string]string{
		"/requests/X/":                      "/requests/X/",
		"//evil.example/":                   "/",
		"https://evil.example/":             "/",
		"/\\evil.example":                   "/",
		"javascript:alert(1)":               "/",
		"":                                  "/",
		"evil.example":                      "/",
		"/%0d%0aSet-Cookie:x=1":             "/%0d%0aSet-Cookie:x=1",
		"http:/evil.example":                "/",
		"/ok?x=1":                           "/ok?x=1",
		"///evil.example/":                  "/",
		"/\tevil":                           "/",
		"https:\\\\evil.example":            "/",
		"/workspaces/" + testWS + "/":       "/workspaces/" + testWS + "/",
		strings.Repeat("/a", 600):           "/",
		"//user@evil.example/":              "/",
		"/\\/evil.example/":                 "/",
		"\\\\evil.example":                  "/",
		"/.//evil.example":                  "/evil.example",
		"/%2F%2Fevil.example":               "/%2F%2Fevil.example",
		"HTTPS://EVIL.EXAMPLE/":             "/",
		" https://evil.example/":            "/",
		"/login/?next=//evil.example/":      "/login/?next=//evil.example/",
		"data:text/html,<script>x</script>": "/",
	} {
		c := e.client()
		rec := c.get("/login/")
		rec = c.postRaw("/login/", url.Values{csrfField: {loginCSRF(t, rec)}, "user": {"researcher"}, "token": {e.server.tokens["researcher"]}, "next": {next}})
		wantStatus(t, "sign in with next="+next, rec, http.StatusSeeOther)
		if got := rec.Header().Get("Location"); got != want {
			t.Errorf("next=%q: redirect to %q, want %q", next, got, want)
		}
	}
}

func TestProfileRefresh(t *testing.T) {
	e := newEnv(t)
	c := e.signIn("researcher")
	wantStatus(t, "workspace", c.get("/workspaces/"+testWS+"/"), http.StatusOK)
	calls := func() int {
		e.server.mu.Lock()
		defer e.server.mu.Unlock()
		return e.server.authCall
	}
	if calls() != 0 {
		t.Fatalf("Authorise called %d times before 15 minutes", calls())
	}

	// After 15 minutes with the server unreachable: the old profile stays.
	e.advance(16 * time.Minute)
	e.server.mu.Lock()
	e.server.down = true
	e.server.mu.Unlock()
	wantStatus(t, "workspace, server down", c.get("/workspaces/"+testWS+"/"), http.StatusOK)
	if calls() != 1 || !c.sessionAlive() {
		t.Fatalf("server down: %d calls, session alive %v", calls(), c.sessionAlive())
	}

	// The server answers with a profile without the workspace: it is
	// stored and applies at once.
	e.server.mu.Lock()
	e.server.down = false
	p := *e.server.profiles["researcher"]
	p.Workspaces = nil
	e.server.profiles["researcher"] = &p
	e.server.mu.Unlock()
	wantStatus(t, "workspace after losing access", c.get("/workspaces/"+testWS+"/"), http.StatusNotFound)
	sess, err := e.store.Session(e.ctx, auth.HashToken(c.cookies[sessionCookie].Value), e.clock())
	if err != nil || !sess.RefreshedAt.Equal(e.clock()) || strings.Contains(string(sess.Profile), testWS) {
		t.Fatalf("refreshed session %+v, %v", sess, err)
	}
	n := calls()
	wantStatus(t, "home right after the refresh", c.get("/"), http.StatusOK)
	if calls() != n {
		t.Error("the profile was refreshed again within 15 minutes")
	}

	// A refused refresh ends the session.
	e.advance(16 * time.Minute)
	e.server.mu.Lock()
	e.server.refused["researcher"] = true
	e.server.mu.Unlock()
	rec := c.get("/")
	wantStatus(t, "home after a refused refresh", rec, http.StatusSeeOther)
	if rec.Header().Get("Location") != "/login/" {
		t.Errorf("redirect to %q", rec.Header().Get("Location"))
	}
	if c.sessionAlive() {
		t.Error("the session survived a refused refresh")
	}
	rec = c.get("/login/")
	if !strings.Contains(rec.Body.String(), "no longer allows you into Airlock") {
		t.Errorf("the sign-in page does not say why:\n%s", rec.Body)
	}
}
