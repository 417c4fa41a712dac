package releaseapi

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/jobserver"
)

// signInFixture is a fixture whose Service runs on the fixture's clock.
func signInFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.api.Service.Now = f.now
	return f
}

// loginToken makes an Airlock login token for the user called name.
func (f *fixture) loginToken(name string) string {
	f.t.Helper()
	u, err := f.st.UserByUsername(context.Background(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	tok, _, err := f.api.Service.CreateAirlockLoginToken(context.Background(), u)
	if err != nil {
		f.t.Fatalf("CreateAirlockLoginToken(%s): %v", name, err)
	}
	return tok
}

// postJSON POSTs body to path with the airlock token of b1 unless hdr
// says otherwise ("" removes a header).
func (f *fixture) postJSON(path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	h := map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Type": "application/json"}
	for k, v := range hdr {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return f.do(request("POST", path, strings.NewReader(body), int64(len(body)), h))
}

func authBody(user, token string) string {
	b, _ := json.Marshal(AuthenticateRequest{User: user, Token: token})
	return string(b)
}

func decodeProfile(t *testing.T, w *httptest.ResponseRecorder) *Profile {
	t.Helper()
	var p Profile
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("profile %s: %v", w.Body, err)
	}
	return &p
}

func TestAuthenticate(t *testing.T) {
	f := signInFixture(t)

	// A project developer: an author in the project's workspaces.
	tok := f.loginToken("researcher")
	w := f.postJSON(PathAuthenticate, authBody("researcher", tok), nil)
	wantStatus(t, "authenticate researcher", w, 200, "")
	for _, raw := range []string{`"copiloted_workspaces":{}`, `"output_checker":false`, `"readonly_access":false`} {
		if !strings.Contains(w.Body.String(), raw) {
			t.Errorf("profile %s does not contain %s", w.Body, raw)
		}
	}
	p := decodeProfile(t, w)
	ws, ok := p.Workspaces["ws-one"]
	if p.Username != "researcher" || p.Fullname != "researcher" || len(p.Workspaces) != 1 || !ok ||
		ws.Archived || ws.Project.Name != "Vaccine uptake" || ws.Project.Slug != "vaccine-uptake" || !ws.Project.Ongoing ||
		len(ws.Project.Orgs) != 1 || ws.Project.Orgs[0] != "Institute" {
		t.Errorf("researcher's profile = %+v", p)
	}
	wantStatus(t, "the same token again", f.postJSON(PathAuthenticate, authBody("researcher", tok), nil), 403, "works once")

	// An output checker by global role only: a reviewer, an author
	// nowhere; signing in by email address.
	w = f.postJSON(PathAuthenticate, authBody("checker@example.org", f.loginToken("checker")), nil)
	wantStatus(t, "authenticate checker by email", w, 200, "")
	if p := decodeProfile(t, w); !p.OutputChecker || len(p.Workspaces) != 0 || p.Username != "checker" {
		t.Errorf("checker's profile = %+v, want an output checker with no workspaces", p)
	}

	// Expired.
	tok = f.loginToken("researcher")
	f.advance(time.Hour)
	wantStatus(t, "expired token", f.postJSON(PathAuthenticate, authBody("researcher", tok), nil), 403, "one hour")

	// The backend token.
	tok = f.loginToken("researcher")
	body := authBody("researcher", tok)
	wantStatus(t, "no backend token", f.postJSON(PathAuthenticate, body, map[string]string{"Authorization": ""}), 401, "unauthorized")
	wantStatus(t, "unknown backend token", f.postJSON(PathAuthenticate, body, map[string]string{"Authorization": "Bearer " + strings.Repeat("q", 43)}), 401, "unauthorized")
	wantStatus(t, "agent token", f.postJSON(PathAuthenticate, body, map[string]string{"Authorization": "Bearer " + agentTok}), 403, "agent token")
	wantStatus(t, "inactive backend", f.postJSON(PathAuthenticate, body, map[string]string{"Authorization": "Bearer " + inactiveTok}), 403, "not active")
	// None of those used the token up.
	wantStatus(t, "the token after refused calls", f.postJSON(PathAuthenticate, body, nil), 200, "")

	// A member of another backend.
	wantStatus(t, "member of emis at tpp's Airlock", f.postJSON(PathAuthenticate, authBody("outsider", f.loginToken("outsider")), nil), 403, "not a member of backend tpp")

	// Bodies.
	for _, b := range []string{`{}`, `{"user":"researcher"}`, `{"token":"a b c"}`, `{"user":"researcher","token":"a b c","extra":1}`, ``, `[]`} {
		wantStatus(t, "body "+b, f.postJSON(PathAuthenticate, b, nil), 400, "")
	}
	if evs, _ := f.st.AuditEvents(context.Background(), "user:researcher", 100); len(evs) == 0 || evs[0].Type != "airlock.sign_in" {
		t.Errorf("audit events about researcher = %+v, want airlock.sign_in last", evs)
	}
}

func TestAuthenticateRateLimit(t *testing.T) {
	f := signInFixture(t)
	tok := f.loginToken("researcher")
	for range jobserver.SignInMaxFailures {
		wantStatus(t, "wrong token", f.postJSON(PathAuthenticate, authBody("researcher", "not the token"), nil), 403, "do not match")
	}
	w := f.postJSON(PathAuthenticate, authBody("researcher", tok), nil)
	wantStatus(t, "right token after too many failures", w, 429, "Too many")
	if ra := w.Header().Get("Retry-After"); ra != "900" {
		t.Errorf("Retry-After = %q, want 900", ra)
	}
	// Another user still signs in.
	wantStatus(t, "another user", f.postJSON(PathAuthenticate, authBody("checker", f.loginToken("checker")), nil), 200, "")
	f.advance(jobserver.SignInWindow)
	wantStatus(t, "after the window", f.postJSON(PathAuthenticate, authBody("researcher", tok), nil), 200, "")
}

func TestAuthorise(t *testing.T) {
	f := signInFixture(t)
	ctx := context.Background()
	w := f.postJSON(PathAuthorise, `{"user":"researcher"}`, nil)
	wantStatus(t, "authorise researcher", w, 200, "")
	if p := decodeProfile(t, w); p.Username != "researcher" || len(p.Workspaces) != 1 {
		t.Errorf("profile = %+v", p)
	}

	// Removed from the project: still a member of the backend, no longer
	// an author anywhere.
	researcher, err := f.st.UserByUsername(ctx, "researcher")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetProjectRoles(ctx, f.ws.ProjectID, researcher.ID, nil); err != nil {
		t.Fatal(err)
	}
	w = f.postJSON(PathAuthorise, `{"user":"researcher"}`, nil)
	wantStatus(t, "authorise after leaving the project", w, 200, "")
	if p := decodeProfile(t, w); len(p.Workspaces) != 0 {
		t.Errorf("workspaces after leaving the project = %v, want none", p.Workspaces)
	}

	wantStatus(t, "no backend membership", f.postJSON(PathAuthorise, `{"user":"viewer"}`, nil), 403, "not a member of backend tpp")
	wantStatus(t, "member of another backend", f.postJSON(PathAuthorise, `{"user":"outsider"}`, nil), 403, "not a member of backend tpp")
	wantStatus(t, "unknown user", f.postJSON(PathAuthorise, `{"user":"mallory"}`, nil), 403, "mallory")
	wantStatus(t, "no user", f.postJSON(PathAuthorise, `{}`, nil), 400, "user")
	wantStatus(t, "agent token", f.postJSON(PathAuthorise, `{"user":"researcher"}`, map[string]string{"Authorization": "Bearer " + agentTok}), 403, "agent token")
	wantStatus(t, "no token", f.postJSON(PathAuthorise, `{"user":"researcher"}`, map[string]string{"Authorization": ""}), 401, "")
}

func TestWireProfile(t *testing.T) {
	p := wireProfile(&jobserver.AirlockProfile{Username: "u", Fullname: "U", OutputChecker: true,
		Workspaces: map[string]jobserver.AirlockWorkspace{"w": {Archived: true, Project: jobserver.AirlockProject{Name: "P", Slug: "p", Ongoing: true}}}})
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"username":"u","fullname":"U","workspaces":{"w":{"project":{"name":"P","slug":"p","ongoing":true,"orgs":[]},"archived":true}},"copiloted_workspaces":{},"output_checker":true,"readonly_access":false}`
	if string(b) != want {
		t.Errorf("profile JSON\n got %s\nwant %s", b, want)
	}
}
