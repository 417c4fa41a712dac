package jobserver

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/store"
)

func TestRoleTable(t *testing.T) {
	// Spec §5.2, role by role.
	want := map[store.Role][]Permission{
		store.RoleProjectDeveloper: {PermJobCancel, PermJobRun, PermProjectManage, PermReleaseFileView, PermSnapshotCreate,
			PermUnreleasedOutputsView, PermWorkspaceArchive, PermWorkspaceCreate, PermWorkspaceToggleNotifications},
		store.RoleProjectCollaborator:     {PermReleaseFileView},
		store.RoleOutputChecker:           {PermReleaseFileDelete, PermReleaseFileUpload, PermReleaseFileView, PermUnreleasedOutputsView},
		store.RoleOutputPublisher:         {PermSnapshotPublish},
		store.RoleDeploymentAdministrator: {PermAirlockReadonlyAccess, PermJobCancel, PermJobRun},
		store.RoleStaffAreaAdministrator: {PermApplicationManage, PermBackendManage, PermOrgCreate, PermProjectCreate,
			PermProjectLinkToApplication, PermRepoSignOffWithOutputs, PermStaffAreaAccess, PermUserEditProjectRoles, PermUserManage},
	}
	for _, r := range AllRoles {
		got := RolePermissions(r)
		slices.Sort(got)
		w := slices.Clone(want[r])
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s grants %v; want %v", r, got, w)
		}
	}
	if RolePermissions("Wizard") != nil {
		t.Error("an unknown role grants permissions")
	}
	for _, tc := range []struct {
		role            store.Role
		global, project bool
	}{
		{store.RoleProjectDeveloper, false, true},
		{store.RoleProjectCollaborator, true, true},
		{store.RoleOutputChecker, true, false},
		{store.RoleOutputPublisher, true, false},
		{store.RoleDeploymentAdministrator, true, false},
		{store.RoleStaffAreaAdministrator, true, false},
		{"Wizard", false, false},
	} {
		if IsGlobalRole(tc.role) != tc.global || IsProjectRole(tc.role) != tc.project {
			t.Errorf("%s: global %v project %v; want %v %v", tc.role, IsGlobalRole(tc.role), IsProjectRole(tc.role), tc.global, tc.project)
		}
	}
}

func TestCan(t *testing.T) {
	f := newFixture(t)
	checker, err := f.svc.CreateUser(f.ctx, "checker", "checker@example.org", "Checker", "", []store.Role{store.RoleOutputChecker})
	if err != nil {
		t.Fatal(err)
	}
	// A project role smuggled in as a global role grants nothing.
	if err := f.st.SetUserRoles(f.ctx, f.outsider.ID, []store.Role{store.RoleProjectDeveloper}); err != nil {
		t.Fatal(err)
	}
	smuggler, _ := f.st.User(f.ctx, f.outsider.ID)
	for _, tc := range []struct {
		name    string
		user    *store.User
		perm    Permission
		project int64
		want    bool
	}{
		{"anonymous", nil, PermJobRun, f.projA.ID, false},
		{"developer runs jobs on their project", f.dev, PermJobRun, f.projA.ID, true},
		{"developer cancels on their project", f.dev, PermJobCancel, f.projA.ID, true},
		{"developer archives on their project", f.dev, PermWorkspaceArchive, f.projA.ID, true},
		{"developer on another project", f.dev, PermJobRun, f.projB.ID, false},
		{"developer globally", f.dev, PermJobRun, 0, false},
		{"developer cannot publish", f.dev, PermSnapshotPublish, f.projA.ID, false},
		{"collaborator views releases", f.collab, PermReleaseFileView, f.projA.ID, true},
		{"collaborator cannot run", f.collab, PermJobRun, f.projA.ID, false},
		{"output checker on any project", checker, PermReleaseFileUpload, f.projB.ID, true},
		{"output checker globally", checker, PermUnreleasedOutputsView, 0, true},
		{"output checker cannot run", checker, PermJobRun, f.projA.ID, false},
		{"deployment admin runs anywhere", f.admin, PermJobRun, f.projB.ID, true},
		{"deployment admin cancels anywhere", f.admin, PermJobCancel, f.projA.ID, true},
		{"deployment admin cannot create workspaces", f.admin, PermWorkspaceCreate, f.projA.ID, false},
		{"global project role ignored", smuggler, PermJobRun, f.projA.ID, false},
		{"its own project still counts", smuggler, PermJobRun, f.projB.ID, true},
	} {
		got, err := f.svc.Can(f.ctx, tc.user, tc.perm, tc.project)
		if err != nil || got != tc.want {
			t.Errorf("%s: Can = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	perms, err := f.svc.Permissions(f.ctx, f.dev, f.projA.ID)
	if err != nil || len(perms) != 9 || !perms[PermJobRun] || perms[PermSnapshotPublish] {
		t.Errorf("developer's permissions = %v, %v", perms, err)
	}
	if perms, _ := f.svc.Permissions(f.ctx, nil, f.projA.ID); len(perms) != 0 {
		t.Errorf("anonymous permissions = %v", perms)
	}
}

func TestSlugify(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Valve study", "valve-study"},
		{"  Café Study: 2024!  ", "cafe-study-2024"},
		{"ABC--def__ghi", "abc-def-ghi"},
		{"Ünïcödé", "unicode"},
		{"!!!", ""},
		{"Health Check", "health-check"},
	} {
		if got := Slugify(tc.in); got != tc.want {
			t.Errorf("Slugify(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestCreateUser(t *testing.T) {
	f := newFixture(t)
	u, err := f.svc.CreateUser(f.ctx, "ｊｏｅ.bloggs", " Joe@Example.ORG ", " Joe Bloggs ", "correct horse battery", []store.Role{store.RoleOutputChecker})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "joe.bloggs" || u.Email != "joe@example.org" || u.Fullname != "Joe Bloggs" || !auth.CheckPassword(u.PasswordHash, "correct horse battery") {
		t.Fatalf("user = %+v", u)
	}
	if got := f.audits("user:joe.bloggs"); !slices.Equal(got, []string{"user.create"}) {
		t.Errorf("audit = %v", got)
	}
	bot, err := f.svc.CreateUser(f.ctx, "bot", "bot@example.org", "A bot", "", nil)
	if err != nil || bot.PasswordHash != "" {
		t.Fatalf("bot = %+v, %v", bot, err)
	}
	for _, tc := range []struct {
		name, username, email, fullname, password string
		roles                                     []store.Role
		code, msg                                 string
	}{
		{"bad username", "joe bloggs", "a@b.org", "Joe", "correct horse battery", nil, haven.EINVALID, "username"},
		{"empty username", "", "a@b.org", "Joe", "correct horse battery", nil, haven.EINVALID, "username"},
		{"long username", strings.Repeat("a", 65), "a@b.org", "Joe", "correct horse battery", nil, haven.EINVALID, "username"},
		{"bad email", "joe2", "joe.example.org", "Joe", "correct horse battery", nil, haven.EINVALID, "email"},
		{"email with space", "joe2", "joe @example.org", "Joe", "correct horse battery", nil, haven.EINVALID, "email"},
		{"blank full name", "joe2", "joe2@example.org", "  ", "correct horse battery", nil, haven.EINVALID, "full name"},
		{"short password", "joe2", "joe2@example.org", "Joe", "hunter2", nil, haven.EINVALID, "at least 10 characters"},
		{"project role globally", "joe2", "joe2@example.org", "Joe", "correct horse battery", []store.Role{store.RoleProjectDeveloper}, haven.EINVALID, "project role"},
		{"unknown role", "joe2", "joe2@example.org", "Joe", "correct horse battery", []store.Role{"Wizard"}, haven.EINVALID, "unknown role"},
		{"duplicate username", "joe.bloggs", "other@example.org", "Joe", "correct horse battery", nil, haven.ECONFLICT, ""},
		{"duplicate email", "joe3", "JOE@example.org", "Joe", "correct horse battery", nil, haven.ECONFLICT, ""},
	} {
		_, err := f.svc.CreateUser(f.ctx, tc.username, tc.email, tc.fullname, tc.password, tc.roles)
		if code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v; want %s containing %q", tc.name, err, tc.code, tc.msg)
		}
	}
	if err := f.svc.SetUserRoles(f.ctx, "bot", []store.Role{store.RoleOutputPublisher}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPassword(f.ctx, "bot", "a long enough password"); err != nil {
		t.Fatal(err)
	}
	got, _ := f.st.UserByUsername(f.ctx, "bot")
	if !slices.Equal(got.Roles, []store.Role{store.RoleOutputPublisher}) || !auth.CheckPassword(got.PasswordHash, "a long enough password") {
		t.Errorf("bot after changes = %+v", got)
	}
	if err := f.svc.SetUserRoles(f.ctx, "nobody", nil); code(err) != haven.ENOTFOUND {
		t.Errorf("roles of a missing user: %v", err)
	}
}

func TestCreateProjectsAndWorkspaces(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, org, project, number, code string
	}{
		{"reserved slug", "", "API", "", haven.EINVALID},
		{"reserved slug with punctuation", "", "Event log!", "", haven.EINVALID},
		{"no letters", "", "???", "", haven.EINVALID},
		{"leading zero number", "", "Study X", "0123", haven.EINVALID},
		{"bad POS number", "", "Study X", "POS-2024-12", haven.EINVALID},
		{"unknown org", "nope", "Study X", "", haven.ENOTFOUND},
		{"duplicate name", "", "Valve study", "", haven.ECONFLICT},
		{"duplicate number", "", "Study Y", "1234", haven.ECONFLICT},
	} {
		if _, err := f.svc.CreateProject(f.ctx, tc.org, tc.project, tc.number); code(err) != tc.code {
			t.Errorf("%s: err = %v; want %s", tc.name, err, tc.code)
		}
	}
	p, err := f.svc.CreateProject(f.ctx, "bennett-institute", "Study X", "POS-2024-0012")
	if err != nil || p.Slug != "study-x" || p.OrgID == 0 {
		t.Fatalf("project = %+v, %v", p, err)
	}

	for _, tc := range []struct {
		name    string
		creator *store.User
		in      NewWorkspace
		code    string
	}{
		{"bad name", nil, NewWorkspace{Project: "valve-study", Name: "bad name", Repo: f.repo.dir, Branch: "main"}, haven.EINVALID},
		{"no repo", nil, NewWorkspace{Project: "valve-study", Name: "w1", Repo: " ", Branch: "main"}, haven.EINVALID},
		{"ext repo", nil, NewWorkspace{Project: "valve-study", Name: "w1", Repo: "ext::sh -c id", Branch: "main"}, haven.EINVALID},
		{"option repo", nil, NewWorkspace{Project: "valve-study", Name: "w1", Repo: "--upload-pack=id", Branch: "main"}, haven.EINVALID},
		{"bad branch", nil, NewWorkspace{Project: "valve-study", Name: "w1", Repo: f.repo.dir, Branch: "-x"}, haven.EINVALID},
		{"no branch", nil, NewWorkspace{Project: "valve-study", Name: "w1", Repo: f.repo.dir}, haven.EINVALID},
		{"unknown project", nil, NewWorkspace{Project: "nope", Name: "w1", Repo: f.repo.dir, Branch: "main"}, haven.ENOTFOUND},
		{"no permission", f.collab, NewWorkspace{Project: "valve-study", Name: "w1", Repo: f.repo.dir, Branch: "main"}, haven.EFORBIDDEN},
		{"other team", f.outsider, NewWorkspace{Project: "valve-study", Name: "w1", Repo: f.repo.dir, Branch: "main"}, haven.EFORBIDDEN},
		{"duplicate name", nil, NewWorkspace{Project: "valve-study", Name: "valve-main", Repo: f.repo.dir, Branch: "main"}, haven.ECONFLICT},
	} {
		if _, err := f.svc.CreateWorkspace(f.ctx, tc.creator, tc.in); code(err) != tc.code {
			t.Errorf("%s: err = %v; want %s", tc.name, err, tc.code)
		}
	}
	if f.ws.CreatedBy != f.dev.ID || f.wsB.CreatedBy != 0 {
		t.Errorf("created by %d and %d", f.ws.CreatedBy, f.wsB.CreatedBy)
	}
	if got := f.audits("workspace:valve-main"); !slices.Equal(got, []string{"workspace.create"}) {
		t.Errorf("audit = %v", got)
	}
}

func TestBackendsAndTokens(t *testing.T) {
	f := newFixture(t)
	for _, slug := range []string{"", "TPP", "-x", "a b", strings.Repeat("a", 41)} {
		if _, _, err := f.svc.CreateBackend(f.ctx, slug, ""); code(err) != haven.EINVALID {
			t.Errorf("CreateBackend(%q) = %v; want EINVALID", slug, err)
		}
	}
	if _, _, err := f.svc.CreateBackend(f.ctx, "tpp", ""); code(err) != haven.ECONFLICT {
		t.Errorf("duplicate backend: %v", err)
	}
	b, tok, err := f.svc.CreateBackend(f.ctx, "test", "")
	if err != nil || b.Name != "TEST" || tok.Agent == tok.Airlock || b.AgentTokenHash != auth.HashToken(tok.Agent) {
		t.Fatalf("backend = %+v, %+v, %v", b, tok, err)
	}
	if got, err := f.st.BackendByAgentToken(f.ctx, auth.HashToken(tok.Agent)); err != nil || got.ID != b.ID {
		t.Fatalf("agent token lookup = %+v, %v", got, err)
	}
	newTok, err := f.svc.RotateBackendTokens(f.ctx, "test")
	if err != nil || newTok.Agent == tok.Agent {
		t.Fatal(err)
	}
	if _, err := f.st.BackendByAgentToken(f.ctx, auth.HashToken(tok.Agent)); code(err) != haven.ENOTFOUND {
		t.Errorf("old agent token still works: %v", err)
	}
	if got, err := f.st.BackendByAirlockToken(f.ctx, auth.HashToken(newTok.Airlock)); err != nil || got.ID != b.ID {
		t.Errorf("new airlock token lookup = %+v, %v", got, err)
	}
	if _, err := f.svc.RotateBackendTokens(f.ctx, "nope"); code(err) != haven.ENOTFOUND {
		t.Errorf("rotate a missing backend: %v", err)
	}
	if got := f.audits("backend:test"); !slices.Equal(got, []string{"backend.rotate_tokens", "backend.create"}) {
		t.Errorf("audit = %v", got)
	}

	if err := f.svc.AddBackendMember(f.ctx, "nope", "dev"); code(err) != haven.ENOTFOUND {
		t.Errorf("member of a missing backend: %v", err)
	}
	if err := f.svc.AddBackendMember(f.ctx, "test", "nobody"); code(err) != haven.ENOTFOUND {
		t.Errorf("missing user as member: %v", err)
	}
	if err := f.svc.AddProjectMember(f.ctx, "valve-study", "dev", []store.Role{store.RoleOutputChecker}); code(err) != haven.EINVALID {
		t.Errorf("global role on a project: %v", err)
	}

	// Personal access tokens end with their expiry date.
	tokText, expires, err := f.svc.CreateAPIToken(f.ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(tokText, "-"+expires.Format(time.DateOnly)) || expires.Sub(f.now) > APITokenLifetime || expires.Sub(f.now) < APITokenLifetime-time.Minute {
		t.Fatalf("token %q expires %v (now %v)", tokText, expires, f.now)
	}
	if u, err := f.st.UserByAPIToken(f.ctx, auth.HashToken(tokText), f.now); err != nil || u.ID != f.dev.ID {
		t.Fatalf("token lookup = %+v, %v", u, err)
	}
	if _, err := f.st.UserByAPIToken(f.ctx, auth.HashToken(tokText), expires.Add(time.Second)); err == nil {
		t.Error("an expired token still works")
	}
}

func TestSignIn(t *testing.T) {
	f := newFixture(t)
	u, err := f.svc.SignIn(f.ctx, "dev", "correct horse battery")
	if err != nil || u.ID != f.dev.ID {
		t.Fatalf("sign in = %+v, %v", u, err)
	}
	if _, err := f.svc.SignIn(f.ctx, "ｄｅｖ", "correct horse battery"); err != nil {
		t.Errorf("NFKC-equivalent username: %v", err)
	}
	for _, tc := range []struct{ user, pw string }{
		{"dev", "wrong horse battery"},
		{"dev", ""},
		{"nobody", "correct horse battery"},
	} {
		if _, err := f.svc.SignIn(f.ctx, tc.user, tc.pw); code(err) != haven.EINVALID || err.Error() != MsgBadCredentials {
			t.Errorf("SignIn(%q, %q) = %v; want %q", tc.user, tc.pw, err, MsgBadCredentials)
		}
	}
	if got := f.audits("user:nobody"); !slices.Equal(got, []string{"auth.sign_in_failed"}) {
		t.Errorf("audit for an unknown user = %v", got)
	}
	// A user without a password cannot sign in with one.
	if _, err := f.svc.CreateUser(f.ctx, "bot", "bot@example.org", "Bot", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SignIn(f.ctx, "bot", ""); code(err) != haven.EINVALID {
		t.Errorf("password-less user signed in: %v", err)
	}

	// Ten failures (two already counted) lock the username, whatever the
	// case, even with the right password; other users are not affected.
	for i := 0; i < SignInMaxFailures-3; i++ {
		if _, err := f.svc.SignIn(f.ctx, "dev", "wrong horse battery"); code(err) != haven.EINVALID {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := f.svc.SignIn(f.ctx, "DEV", "wrong horse battery"); code(err) != haven.EINVALID {
		t.Fatalf("tenth failure: %v", err)
	}
	if _, err := f.svc.SignIn(f.ctx, "dev", "correct horse battery"); code(err) != haven.EFORBIDDEN || err.Error() != MsgTooManyAttempts {
		t.Fatalf("after ten failures: %v; want %q", err, MsgTooManyAttempts)
	}
	if _, err := f.svc.SignIn(f.ctx, "dev2", "correct horse battery"); err != nil {
		t.Fatalf("another user is locked too: %v", err)
	}
	f.advance(SignInWindow)
	if _, err := f.svc.SignIn(f.ctx, "dev", "correct horse battery"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	evs := f.audits("user:dev")
	count := map[string]int{}
	for _, e := range evs {
		count[e]++
	}
	if count["auth.sign_in"] != 3 || count["auth.sign_in_failed"] != 10 {
		t.Errorf("audit counts = %v", count)
	}
}
