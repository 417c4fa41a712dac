package jobserver

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-diceware/diceware"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

func TestNormalizeAirlockToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"apple bread cider", "apple bread cider"},
		{"  Apple   BREAD\tcider \n", "apple bread cider"},
		{"t-shirt yo-yo felt-tip", "t-shirt yo-yo felt-tip"},
		{"", ""},
		{"   ", ""},
	} {
		if got := NormalizeAirlockToken(tc.in); got != tc.want {
			t.Errorf("NormalizeAirlockToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// effWords is the EFF long word list.
func effWords() map[string]bool {
	list := diceware.WordListEffLarge()
	words := map[string]bool{}
	for a := 1; a <= 6; a++ {
		for b := 1; b <= 6; b++ {
			for c := 1; c <= 6; c++ {
				for d := 1; d <= 6; d++ {
					for e := 1; e <= 6; e++ {
						words[list.WordAt(a*10000+b*1000+c*100+d*10+e)] = true
					}
				}
			}
		}
	}
	return words
}

func TestCreateAirlockLoginToken(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx

	// Only members of a backend get one.
	_, _, err := f.svc.CreateAirlockLoginToken(ctx, f.noBack)
	if code(err) != haven.EFORBIDDEN || !strings.Contains(err.Error(), "not a member of any backend") {
		t.Errorf("token for a user without a backend: %v, want EFORBIDDEN saying why", err)
	}
	if _, _, err := f.svc.CreateAirlockLoginToken(ctx, nil); code(err) != haven.EFORBIDDEN {
		t.Errorf("token for nobody: %v, want EFORBIDDEN", err)
	}
	if evs := f.audits("user:noback"); slices.Contains(evs, "airlock.login_token_create") {
		t.Errorf("a refused token was audited as created: %v", evs)
	}

	// Three distinct lower-case words of the EFF long list, an hour.
	words := effWords()
	if len(words) != 7776 {
		t.Fatalf("EFF long list has %d words, want 7776", len(words))
	}
	format := regexp.MustCompile(`^[a-z-]+ [a-z-]+ [a-z-]+$`)
	seen := map[string]bool{}
	for i := range 3 {
		before := f.clock()
		tok, expires, err := f.svc.CreateAirlockLoginToken(ctx, f.dev)
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if !format.MatchString(tok) || NormalizeAirlockToken(tok) != tok {
			t.Errorf("token %q is not three lower-case words separated by single spaces", tok)
		}
		ws := strings.Fields(tok)
		for _, w := range ws {
			if !words[w] {
				t.Errorf("token %q: %q is not on the EFF long word list", tok, w)
			}
		}
		if ws[0] == ws[1] || ws[1] == ws[2] || ws[0] == ws[2] {
			t.Errorf("token %q repeats a word", tok)
		}
		if seen[tok] {
			t.Errorf("token %q made twice", tok)
		}
		seen[tok] = true
		if d := expires.Sub(before); d <= 0 || d > AirlockTokenLifetime+time.Minute || expires.Location() != time.UTC {
			t.Errorf("token expires %v, %v after it was made; want an hour, UTC", expires, d)
		}
	}
	if evs := f.audits("user:dev"); len(evs) < 3 || evs[0] != "airlock.login_token_create" {
		t.Errorf("audit events about dev = %v, want airlock.login_token_create ones", evs)
	}

	// At most AirlockTokensPerHour an hour.
	for range AirlockTokensPerHour - 3 {
		if _, _, err := f.svc.CreateAirlockLoginToken(ctx, f.dev); err != nil {
			t.Fatalf("token within the limit: %v", err)
		}
	}
	_, _, err = f.svc.CreateAirlockLoginToken(ctx, f.dev)
	if code(err) != haven.EFORBIDDEN || !errors.Is(err, store.ErrRateLimited) || !strings.Contains(err.Error(), "too many") {
		t.Errorf("token %d within an hour: %v, want EFORBIDDEN rate limited", AirlockTokensPerHour+1, err)
	}
	f.advance(time.Hour)
	if _, _, err := f.svc.CreateAirlockLoginToken(ctx, f.dev); err != nil {
		t.Errorf("token an hour later: %v", err)
	}
}

func TestAuthenticateAirlock(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	token := func(u *store.User) string {
		t.Helper()
		tok, _, err := f.svc.CreateAirlockLoginToken(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	// Once, by username.
	tok := token(f.dev)
	p, err := f.svc.AuthenticateAirlock(ctx, f.tpp, "dev", tok)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	want := AirlockWorkspace{Project: AirlockProject{Name: "Valve study", Slug: f.projA.Slug, Ongoing: true, Orgs: []string{"Bennett Institute"}}}
	if p.Username != "dev" || p.Fullname != "User dev" || p.OutputChecker || p.ReadonlyAccess || len(p.Workspaces) != 1 ||
		p.Workspaces["valve-main"].Project.Name != want.Project.Name || !slices.Equal(p.Workspaces["valve-main"].Project.Orgs, want.Project.Orgs) ||
		!p.Workspaces["valve-main"].Project.Ongoing || p.Workspaces["valve-main"].Archived {
		t.Errorf("profile = %+v, want dev with valve-main %+v", p, want)
	}
	_, err = f.svc.AuthenticateAirlock(ctx, f.tpp, "dev", tok)
	if code(err) != haven.EFORBIDDEN || !strings.Contains(err.Error(), "works once") {
		t.Errorf("second use: %v, want EFORBIDDEN MsgAirlockBadToken", err)
	}
	if evs := f.audits("user:dev"); evs[0] != "airlock.sign_in_failed" || evs[1] != "airlock.sign_in" {
		t.Errorf("audit events = %v, want airlock.sign_in then airlock.sign_in_failed", evs)
	}

	// By email, typed with capitals and spaces.
	tok = token(f.dev)
	if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, " DEV@example.org ", "  "+strings.ToUpper(tok)+" "); err != nil {
		t.Errorf("authenticate by email with a loosely typed token: %v", err)
	}

	// Expired.
	tok = token(f.dev)
	f.advance(AirlockTokenLifetime)
	if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, "dev", tok); code(err) != haven.EFORBIDDEN {
		t.Errorf("expired token: %v, want EFORBIDDEN", err)
	}

	// A new token replaces the old.
	old := token(f.dev2)
	tok = token(f.dev2)
	if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, "dev2", old); code(err) != haven.EFORBIDDEN {
		t.Errorf("replaced token: %v, want EFORBIDDEN", err)
	}
	if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, "dev2", tok); err != nil {
		t.Errorf("the new token: %v", err)
	}

	// Someone else's token, an unknown user, no token.
	tok = token(f.collab)
	for _, tc := range []struct{ user, token string }{{"dev2", tok}, {"mallory", tok}, {"collab", ""}, {"", tok}} {
		if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, tc.user, tc.token); code(err) != haven.EFORBIDDEN || !strings.Contains(err.Error(), "do not match") {
			t.Errorf("authenticate(%q, %q): %v, want EFORBIDDEN MsgAirlockBadToken", tc.user, tc.token, err)
		}
	}

	// A member of tpp only, at emis's Airlock.
	if _, err := f.svc.AuthenticateAirlock(ctx, f.emis, "collab", tok); code(err) != haven.EFORBIDDEN || !strings.Contains(err.Error(), "not a member of backend emis") {
		t.Errorf("authenticate at another backend: %v, want EFORBIDDEN not a member", err)
	}
}

func TestAuthenticateAirlockRateLimit(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	tok, _, err := f.svc.CreateAirlockLoginToken(ctx, f.dev)
	if err != nil {
		t.Fatal(err)
	}
	// Failures count per user, by username or email alike.
	for i := range SignInMaxFailures {
		user := "dev"
		if i%2 == 1 {
			user = "dev@example.org"
		}
		if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, user, "wrong words here"); code(err) != haven.EFORBIDDEN || errors.Is(err, ErrAirlockTooManyAttempts) {
			t.Fatalf("failure %d: %v, want a plain EFORBIDDEN", i+1, err)
		}
	}
	_, err = f.svc.AuthenticateAirlock(ctx, f.tpp, "dev", tok)
	if code(err) != haven.EFORBIDDEN || !errors.Is(err, ErrAirlockTooManyAttempts) {
		t.Errorf("right token after %d failures: %v, want ErrAirlockTooManyAttempts", SignInMaxFailures, err)
	}
	// Another user is not blocked; the web sign-in is not blocked.
	tok2, _, err := f.svc.CreateAirlockLoginToken(ctx, f.dev2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, "dev2", tok2); err != nil {
		t.Errorf("another user: %v", err)
	}
	if _, err := f.svc.SignIn(ctx, "dev", "correct horse battery"); err != nil {
		t.Errorf("web sign-in of the blocked Airlock user: %v", err)
	}
	// The block ends with the window; the token was not used meanwhile.
	f.advance(SignInWindow)
	if _, err := f.svc.AuthenticateAirlock(ctx, f.tpp, "dev", tok); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestAirlockProfile(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	checker, err := f.svc.CreateUser(ctx, "checker", "checker@example.org", "Chris Checker", "", []store.Role{store.RoleOutputChecker})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddBackendMember(ctx, "tpp", checker.Username); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetWorkspaceArchived(ctx, f.ws.ID, true); err != nil {
		t.Fatal(err)
	}
	second, err := f.svc.CreateWorkspace(ctx, f.dev, NewWorkspace{Project: f.projA.Slug, Name: "valve-second", Repo: f.repo.dir, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		user           string
		workspaces     []string
		archived       []string
		checker, ro    bool
		orgs           []string
		forbiddenError string
	}{
		{user: "dev", workspaces: []string{f.ws.Name, second.Name}, archived: []string{f.ws.Name}, orgs: []string{"Bennett Institute"}},
		// A collaborator cannot view unreleased outputs.
		{user: "collab"},
		// Developer on project B, which has no lead organisation.
		{user: "outsider", workspaces: []string{f.wsB.Name}, orgs: []string{}},
		// Global roles never make an author.
		{user: "checker", checker: true},
		{user: "admin", ro: true},
		{user: "noback", forbiddenError: "not a member of backend tpp"},
		{user: "mallory", forbiddenError: `no user called "mallory"`},
	} {
		p, err := f.svc.AirlockProfile(ctx, f.tpp, tc.user)
		if tc.forbiddenError != "" {
			if code(err) != haven.EFORBIDDEN || !strings.Contains(err.Error(), tc.forbiddenError) {
				t.Errorf("%s: %v, want EFORBIDDEN %q", tc.user, err, tc.forbiddenError)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.user, err)
			continue
		}
		var names, archived []string
		for name, w := range p.Workspaces {
			names = append(names, name)
			if w.Archived {
				archived = append(archived, name)
			}
			if !w.Project.Ongoing || !slices.Equal(w.Project.Orgs, tc.orgs) {
				t.Errorf("%s: workspace %s project %+v, want ongoing with orgs %v", tc.user, name, w.Project, tc.orgs)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.workspaces) || !slices.Equal(archived, tc.archived) {
			t.Errorf("%s: workspaces %v (archived %v), want %v (archived %v)", tc.user, names, archived, tc.workspaces, tc.archived)
		}
		if p.OutputChecker != tc.checker || p.ReadonlyAccess != tc.ro || p.Username != tc.user {
			t.Errorf("%s: profile %+v, want output checker %v, readonly %v", tc.user, p, tc.checker, tc.ro)
		}
	}
}
