package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/jobserver"
)

var tokenText = regexp.MustCompile(`<code id="token-text">([^<]*)</code>`)

func TestAirlockTokenPage(t *testing.T) {
	e := newEnv(t)
	const page = "/settings/airlock-token/"

	// Signed out: to the sign-in page, and no link in the menu.
	anon := e.client()
	rec := anon.get(page)
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login/?next=") {
		t.Errorf("signed-out GET: %d to %q, want 303 to the sign-in page", rec.Code, rec.Header().Get("Location"))
	}
	if body := anon.get("/").Body.String(); strings.Contains(body, `href="/settings/airlock-token/"`) {
		t.Errorf("the signed-out menu links to the Airlock token page")
	}
	if rec := anon.post(page, url.Values{"csrf_token": {"x"}}); rec.Code != http.StatusForbidden {
		t.Errorf("signed-out POST: %d, want 403", rec.Code)
	}

	// A backend member: an explanation and a form, no token yet.
	alice := e.signIn("alice")
	if body := alice.get("/").Body.String(); !strings.Contains(body, `href="/settings/airlock-token/">Airlock token</a>`) {
		t.Errorf("the signed-in menu has no Airlock token link")
	}
	rec = alice.get(page)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="airlock-token-form"`) || !strings.Contains(body, `name="csrf_token" value="`+alice.csrf()+`"`) ||
		!strings.Contains(body, "TPP") || strings.Contains(body, `id="token-text"`) {
		t.Errorf("GET as alice: %d\n%s", rec.Code, body)
	}

	// The form needs its CSRF token.
	before := e.counts().audit
	if rec := alice.post(page, url.Values{}); rec.Code != http.StatusForbidden {
		t.Errorf("POST without a CSRF token: %d, want 403", rec.Code)
	}
	if rec := alice.post(page, url.Values{"csrf_token": {"not-the-token"}}); rec.Code != http.StatusForbidden {
		t.Errorf("POST with a wrong CSRF token: %d, want 403", rec.Code)
	}
	if after := e.counts().audit; after != before {
		t.Errorf("refused POSTs changed the audit log (%d → %d events)", before, after)
	}

	// The token, shown once, with the username to use; it signs in.
	rec = alice.post(page, url.Values{"csrf_token": {alice.csrf()}})
	body = rec.Body.String()
	m := tokenText.FindStringSubmatch(body)
	if rec.Code != http.StatusOK || m == nil || !strings.Contains(body, "Your Airlock sign-in token is:") ||
		!strings.Contains(body, "It works once, for one hour") || !strings.Contains(body, `<code id="token-username">alice</code>`) {
		t.Fatalf("POST as alice: %d\n%s", rec.Code, body)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page with the token has Cache-Control %q, want no-store", cc)
	}
	tok := html.UnescapeString(m[1])
	if len(strings.Fields(tok)) != jobserver.AirlockTokenWords {
		t.Errorf("token %q is not %d words", tok, jobserver.AirlockTokenWords)
	}
	if _, err := e.svc.AuthenticateAirlock(e.ctx, e.backend, "alice", tok); err != nil {
		t.Errorf("the shown token does not sign in: %v", err)
	}
	if rec := alice.get(page); strings.Contains(rec.Body.String(), tok) {
		t.Errorf("the token is shown again on a later visit")
	}

	// The hourly limit is explained on the page.
	for range jobserver.AirlockTokensPerHour - 1 {
		if rec := alice.post(page, url.Values{"csrf_token": {alice.csrf()}}); rec.Code != http.StatusOK {
			t.Fatalf("token within the limit: %d", rec.Code)
		}
	}
	rec = alice.post(page, url.Values{"csrf_token": {alice.csrf()}})
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "too many Airlock sign-in tokens") || tokenText.MatchString(rec.Body.String()) {
		t.Errorf("token over the limit: %d\n%s", rec.Code, rec.Body)
	}
}

func TestAirlockTokenPageWithoutBackend(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.CreateUser(e.ctx, "carol", "carol@example.org", "Carol Cole", testPassword, nil); err != nil {
		t.Fatal(err)
	}
	carol := e.signIn("carol")
	rec := carol.get("/settings/airlock-token/")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="no-backend"`) || strings.Contains(body, `id="airlock-token-form"`) {
		t.Errorf("GET without a backend: %d\n%s", rec.Code, body)
	}
	rec = carol.post("/settings/airlock-token/", url.Values{"csrf_token": {carol.csrf()}})
	body = rec.Body.String()
	if rec.Code != http.StatusForbidden || !strings.Contains(body, "not a member of any backend") || tokenText.MatchString(body) {
		t.Errorf("POST without a backend: %d\n%s", rec.Code, body)
	}
}
