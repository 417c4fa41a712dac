package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

func testUsers(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	u := &store.User{Username: "bob", Email: "bob@example.org", Fullname: "Bob Builder",
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", Roles: []store.Role{store.RoleOutputChecker}}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.ID == 0 || u.ID == e.user.ID {
		t.Fatalf("CreateUser set ID %d (fixture user %d), want a new non-zero id", u.ID, e.user.ID)
	}
	if u.CreatedAt.IsZero() {
		t.Errorf("CreateUser left CreatedAt zero")
	}
	check := func(what string, got *store.User) {
		t.Helper()
		if got.ID != u.ID || got.Username != "bob" || got.Email != "bob@example.org" || got.Fullname != "Bob Builder" ||
			got.PasswordHash != u.PasswordHash || !slices.Equal(got.Roles, []store.Role{store.RoleOutputChecker}) {
			t.Errorf("%s = %+v, want %+v", what, got, u)
		}
		wantTime(t, what+".CreatedAt", got.CreatedAt, u.CreatedAt)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User(%d): %v", u.ID, err)
	}
	check("User", got)
	got, err = s.UserByUsername(ctx, "bob")
	if err != nil {
		t.Fatalf("UserByUsername(bob): %v", err)
	}
	check("UserByUsername", got)

	_, err = s.User(ctx, u.ID+1000)
	wantCode(t, "User(missing)", err, haven.ENOTFOUND)
	_, err = s.UserByUsername(ctx, "nobody")
	wantCode(t, "UserByUsername(nobody)", err, haven.ENOTFOUND)

	err = s.CreateUser(ctx, &store.User{Username: "bob", Email: "other@example.org", Fullname: "Other Bob"})
	wantCode(t, "CreateUser(duplicate username)", err, haven.ECONFLICT)
	err = s.CreateUser(ctx, &store.User{Username: "robert", Email: "bob@example.org", Fullname: "Robert"})
	wantCode(t, "CreateUser(duplicate email)", err, haven.ECONFLICT)

	if err := s.SetPasswordHash(ctx, u.ID, "$argon2id$new"); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	roles := []store.Role{store.RoleStaffAreaAdministrator, store.RoleOutputPublisher}
	if err := s.SetUserRoles(ctx, u.ID, roles); err != nil {
		t.Fatalf("SetUserRoles: %v", err)
	}
	got, err = s.User(ctx, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	if got.PasswordHash != "$argon2id$new" {
		t.Errorf("after SetPasswordHash, PasswordHash = %q", got.PasswordHash)
	}
	if !slices.Equal(sortedRoles(got.Roles), sortedRoles(roles)) {
		t.Errorf("after SetUserRoles, Roles = %v, want %v", got.Roles, roles)
	}
	if err := s.SetUserRoles(ctx, u.ID, nil); err != nil {
		t.Fatalf("SetUserRoles(nil): %v", err)
	}
	if got, err = s.User(ctx, u.ID); err != nil || len(got.Roles) != 0 {
		t.Errorf("after SetUserRoles(nil), User = %+v, %v; want no roles", got, err)
	}
	wantCode(t, "SetPasswordHash(missing user)", s.SetPasswordHash(ctx, u.ID+1000, "x"), haven.ENOTFOUND)

	all, err := s.Users(ctx)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	var names []string
	for _, x := range all {
		names = append(names, x.Username)
	}
	if !slices.Equal(sorted(names), []string{"alice", "bob"}) {
		t.Errorf("Users = %v, want alice and bob", names)
	}
}

func sortedRoles(r []store.Role) []store.Role {
	r = slices.Clone(r)
	slices.Sort(r)
	return r
}

func testAPITokens(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	bob := &store.User{Username: "bob", Email: "bob@example.org", Fullname: "Bob"}
	if err := s.CreateUser(ctx, bob); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	tok := hashOf("bob-token")
	expires := at(0).Add(90 * 24 * time.Hour)
	if err := s.SetAPIToken(ctx, bob.ID, tok, expires); err != nil {
		t.Fatalf("SetAPIToken: %v", err)
	}
	got, err := s.UserByAPIToken(ctx, tok, at(0))
	if err != nil || got.ID != bob.ID {
		t.Fatalf("UserByAPIToken before expiry = %+v, %v; want bob", got, err)
	}
	if got.APITokenHash != tok {
		t.Errorf("APITokenHash = %q, want %q", got.APITokenHash, tok)
	}
	wantTime(t, "APITokenExpires", got.APITokenExpires, expires)

	_, err = s.UserByAPIToken(ctx, tok, expires)
	wantCode(t, "UserByAPIToken at expiry", err, haven.ENOTFOUND)
	_, err = s.UserByAPIToken(ctx, tok, expires.Add(time.Hour))
	wantCode(t, "UserByAPIToken after expiry", err, haven.ENOTFOUND)
	_, err = s.UserByAPIToken(ctx, hashOf("other"), at(0))
	wantCode(t, "UserByAPIToken(unknown hash)", err, haven.ENOTFOUND)
	// alice has no token: the empty hash must never match her.
	_, err = s.UserByAPIToken(ctx, "", at(0))
	wantCode(t, `UserByAPIToken("")`, err, haven.ENOTFOUND)

	// Rotation: the old hash stops working.
	tok2 := hashOf("bob-token-2")
	if err := s.SetAPIToken(ctx, bob.ID, tok2, expires); err != nil {
		t.Fatalf("SetAPIToken: %v", err)
	}
	_, err = s.UserByAPIToken(ctx, tok, at(0))
	wantCode(t, "UserByAPIToken(rotated-out hash)", err, haven.ENOTFOUND)
	if got, err := s.UserByAPIToken(ctx, tok2, at(0)); err != nil || got.ID != bob.ID {
		t.Errorf("UserByAPIToken(new hash) = %+v, %v; want bob", got, err)
	}
}

func testSessions(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	sess := &store.Session{IDHash: hashOf("cookie"), UserID: e.user.ID, CSRFToken: "csrf-token-1",
		CreatedAt: at(0), ExpiresAt: at(0).Add(14 * 24 * time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.Session(ctx, sess.IDHash, at(3600))
	if err != nil {
		t.Fatalf("Session before expiry: %v", err)
	}
	if got.IDHash != sess.IDHash || got.UserID != e.user.ID || got.CSRFToken != "csrf-token-1" {
		t.Errorf("Session = %+v, want %+v", got, sess)
	}
	wantTime(t, "Session.CreatedAt", got.CreatedAt, sess.CreatedAt)
	wantTime(t, "Session.ExpiresAt", got.ExpiresAt, sess.ExpiresAt)

	_, err = s.Session(ctx, sess.IDHash, sess.ExpiresAt.Add(time.Second))
	wantCode(t, "Session after expiry", err, haven.ENOTFOUND)
	_, err = s.Session(ctx, hashOf("other cookie"), at(0))
	wantCode(t, "Session(unknown)", err, haven.ENOTFOUND)

	if err := s.DeleteSession(ctx, sess.IDHash); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	_, err = s.Session(ctx, sess.IDHash, at(0))
	wantCode(t, "Session after DeleteSession", err, haven.ENOTFOUND)
}

func testOrgs(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	o := &store.Org{Name: "University of Somewhere", Slug: "somewhere", Description: "A university", CreatedAt: at(0)}
	if err := s.CreateOrg(ctx, o); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	if o.ID == 0 || o.ID == e.org.ID {
		t.Fatalf("CreateOrg set ID %d", o.ID)
	}
	for what, get := range map[string]func() (*store.Org, error){
		"Org":       func() (*store.Org, error) { return s.Org(ctx, o.ID) },
		"OrgBySlug": func() (*store.Org, error) { return s.OrgBySlug(ctx, "somewhere") },
	} {
		got, err := get()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if got.ID != o.ID || got.Name != o.Name || got.Slug != o.Slug || got.Description != o.Description {
			t.Errorf("%s = %+v, want %+v", what, got, o)
		}
	}
	_, err := s.Org(ctx, o.ID+1000)
	wantCode(t, "Org(missing)", err, haven.ENOTFOUND)
	_, err = s.OrgBySlug(ctx, "nowhere")
	wantCode(t, "OrgBySlug(missing)", err, haven.ENOTFOUND)
	wantCode(t, "CreateOrg(duplicate name)",
		s.CreateOrg(ctx, &store.Org{Name: "University of Somewhere", Slug: "somewhere-2", CreatedAt: at(0)}), haven.ECONFLICT)
	wantCode(t, "CreateOrg(duplicate slug)",
		s.CreateOrg(ctx, &store.Org{Name: "Somewhere Else", Slug: "somewhere", CreatedAt: at(0)}), haven.ECONFLICT)
	if err := s.AddOrgMember(ctx, o.ID, e.user.ID); err != nil {
		t.Errorf("AddOrgMember: %v", err)
	}
}

func testProjects(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	p := &store.Project{Name: "Long COVID", Slug: "long-covid", Number: "POS-2026-0001", OrgID: e.org.ID, CreatedAt: at(0)}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	if p.ID == 0 || p.ID == e.project.ID {
		t.Fatalf("CreateProject set ID %d", p.ID)
	}
	for what, get := range map[string]func() (*store.Project, error){
		"Project":       func() (*store.Project, error) { return s.Project(ctx, p.ID) },
		"ProjectBySlug": func() (*store.Project, error) { return s.ProjectBySlug(ctx, "long-covid") },
	} {
		got, err := get()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if got.ID != p.ID || got.Name != p.Name || got.Slug != p.Slug || got.Number != p.Number || got.OrgID != e.org.ID {
			t.Errorf("%s = %+v, want %+v", what, got, p)
		}
	}
	_, err := s.Project(ctx, p.ID+1000)
	wantCode(t, "Project(missing)", err, haven.ENOTFOUND)
	_, err = s.ProjectBySlug(ctx, "no-such-project")
	wantCode(t, "ProjectBySlug(missing)", err, haven.ENOTFOUND)
	wantCode(t, "CreateProject(duplicate name)",
		s.CreateProject(ctx, &store.Project{Name: "Long COVID", Slug: "long-covid-2", OrgID: e.org.ID, CreatedAt: at(0)}), haven.ECONFLICT)
	wantCode(t, "CreateProject(duplicate slug)",
		s.CreateProject(ctx, &store.Project{Name: "Long COVID 2", Slug: "long-covid", OrgID: e.org.ID, CreatedAt: at(0)}), haven.ECONFLICT)
}

func testProjectRoles(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	bob := &store.User{Username: "bob", Email: "bob@example.org", Fullname: "Bob"}
	if err := s.CreateUser(ctx, bob); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	other := &store.Project{Name: "Other", Slug: "other", OrgID: e.org.ID, CreatedAt: at(0)}
	if err := s.CreateProject(ctx, other); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	roles := func(projectID, userID int64) []store.Role {
		t.Helper()
		r, err := s.ProjectRoles(ctx, projectID, userID)
		if err != nil && haven.ErrorCode(err) != haven.ENOTFOUND {
			t.Fatalf("ProjectRoles(%d, %d): %v", projectID, userID, err)
		}
		return sortedRoles(r)
	}
	if r := roles(e.project.ID, bob.ID); len(r) != 0 {
		t.Errorf("roles before any membership = %v, want none", r)
	}
	both := []store.Role{store.RoleProjectCollaborator, store.RoleProjectDeveloper}
	if err := s.SetProjectRoles(ctx, e.project.ID, bob.ID, both); err != nil {
		t.Fatalf("SetProjectRoles: %v", err)
	}
	if err := s.SetProjectRoles(ctx, other.ID, bob.ID, []store.Role{store.RoleProjectCollaborator}); err != nil {
		t.Fatalf("SetProjectRoles(other): %v", err)
	}
	if r := roles(e.project.ID, bob.ID); !slices.Equal(r, both) {
		t.Errorf("ProjectRoles = %v, want %v", r, both)
	}
	if err := s.SetProjectRoles(ctx, e.project.ID, bob.ID, []store.Role{store.RoleProjectDeveloper}); err != nil {
		t.Fatalf("SetProjectRoles(replace): %v", err)
	}
	if r := roles(e.project.ID, bob.ID); !slices.Equal(r, []store.Role{store.RoleProjectDeveloper}) {
		t.Errorf("ProjectRoles after replacing = %v, want [ProjectDeveloper]", r)
	}
	if r := roles(e.project.ID, e.user.ID); len(r) != 0 {
		t.Errorf("another user's roles = %v, want none", r)
	}
	if err := s.SetProjectRoles(ctx, e.project.ID, bob.ID, nil); err != nil {
		t.Fatalf("SetProjectRoles(nil): %v", err)
	}
	if r := roles(e.project.ID, bob.ID); len(r) != 0 {
		t.Errorf("ProjectRoles after removing the membership = %v, want none", r)
	}
	if r := roles(other.ID, bob.ID); !slices.Equal(r, []store.Role{store.RoleProjectCollaborator}) {
		t.Errorf("roles on the other project = %v, want [ProjectCollaborator]", r)
	}
}

func testWorkspaces(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	w := &store.Workspace{Name: "a-first", ProjectID: e.project.ID, RepoURL: "https://github.com/example/other",
		Branch: "develop", ShouldNotify: true, Purpose: "Testing the pipeline", CreatedBy: e.user.ID, CreatedAt: at(5)}
	if err := s.CreateWorkspace(ctx, w); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	if w.ID == 0 || w.ID == e.w1.ID || w.ID == e.w2.ID {
		t.Fatalf("CreateWorkspace set ID %d", w.ID)
	}
	check := func(what string, got *store.Workspace) {
		t.Helper()
		if got.ID != w.ID || got.Name != w.Name || got.ProjectID != w.ProjectID || got.RepoURL != w.RepoURL ||
			got.Branch != w.Branch || got.IsArchived || !got.ShouldNotify || got.Purpose != w.Purpose || got.CreatedBy != w.CreatedBy {
			t.Errorf("%s = %+v, want %+v", what, got, w)
		}
		wantTime(t, what+".CreatedAt", got.CreatedAt, w.CreatedAt)
	}
	got, err := s.Workspace(ctx, w.ID)
	if err != nil {
		t.Fatalf("Workspace: %v", err)
	}
	check("Workspace", got)
	got, err = s.WorkspaceByName(ctx, "a-first")
	if err != nil {
		t.Fatalf("WorkspaceByName: %v", err)
	}
	check("WorkspaceByName", got)
	_, err = s.Workspace(ctx, w.ID+1000)
	wantCode(t, "Workspace(missing)", err, haven.ENOTFOUND)
	_, err = s.WorkspaceByName(ctx, "no-such-workspace")
	wantCode(t, "WorkspaceByName(missing)", err, haven.ENOTFOUND)

	other := &store.Project{Name: "Other", Slug: "other", OrgID: e.org.ID, CreatedAt: at(0)}
	if err := s.CreateProject(ctx, other); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	ow := &store.Workspace{Name: "b-other", ProjectID: other.ID, RepoURL: "/srv/repos/other", Branch: "main", CreatedBy: e.user.ID, CreatedAt: at(0)}
	if err := s.CreateWorkspace(ctx, ow); err != nil {
		t.Fatalf("CreateWorkspace(other project): %v", err)
	}
	// Names are unique across projects.
	wantCode(t, "CreateWorkspace(duplicate name in another project)",
		s.CreateWorkspace(ctx, &store.Workspace{Name: "ws-one", ProjectID: other.ID, RepoURL: "/x", Branch: "main", CreatedBy: e.user.ID, CreatedAt: at(0)}),
		haven.ECONFLICT)

	names := func(projectID int64) []string {
		t.Helper()
		ws, err := s.Workspaces(ctx, projectID)
		if err != nil {
			t.Fatalf("Workspaces(%d): %v", projectID, err)
		}
		var out []string
		for _, w := range ws {
			out = append(out, w.Name)
		}
		return out
	}
	if got := names(e.project.ID); !slices.Equal(got, []string{"a-first", "ws-one", "ws-two"}) {
		t.Errorf("Workspaces(project) = %v, want [a-first ws-one ws-two] (by name)", got)
	}
	if got := names(0); !slices.Equal(got, []string{"a-first", "b-other", "ws-one", "ws-two"}) {
		t.Errorf("Workspaces(0) = %v, want [a-first b-other ws-one ws-two] (by name)", got)
	}

	if err := s.SetWorkspaceArchived(ctx, w.ID, true); err != nil {
		t.Fatalf("SetWorkspaceArchived: %v", err)
	}
	if got, err := s.Workspace(ctx, w.ID); err != nil || !got.IsArchived {
		t.Errorf("after archiving, Workspace = %+v, %v", got, err)
	}
	if err := s.SetWorkspaceArchived(ctx, w.ID, false); err != nil {
		t.Fatalf("SetWorkspaceArchived(false): %v", err)
	}
	if got, err := s.Workspace(ctx, w.ID); err != nil || got.IsArchived {
		t.Errorf("after unarchiving, Workspace = %+v, %v", got, err)
	}
	wantCode(t, "SetWorkspaceArchived(missing)", s.SetWorkspaceArchived(ctx, w.ID+1000, true), haven.ENOTFOUND)
}

func testBackends(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	b := &store.Backend{Slug: "airlock-test", Name: "Test backend", AgentTokenHash: hashOf("t-agent"),
		IsActive: false, AlertTimeout: 10 * time.Minute, CreatedAt: at(1)}
	if err := s.CreateBackend(ctx, b); err != nil {
		t.Fatalf("CreateBackend: %v", err)
	}
	if b.ID == 0 || b.ID == e.b1.ID || b.ID == e.b2.ID {
		t.Fatalf("CreateBackend set ID %d", b.ID)
	}
	check := func(what string, got *store.Backend) {
		t.Helper()
		if got.ID != b.ID || got.Slug != b.Slug || got.Name != b.Name || got.AgentTokenHash != b.AgentTokenHash ||
			got.AirlockTokenHash != "" || got.IsActive || got.IsPaused || got.DBMaintenance || got.AlertTimeout != 10*time.Minute {
			t.Errorf("%s = %+v, want %+v", what, got, b)
		}
		wantTime(t, what+".LastSeenAt", got.LastSeenAt, time.Time{})
	}
	got, err := s.Backend(ctx, b.ID)
	if err != nil {
		t.Fatalf("Backend: %v", err)
	}
	check("Backend", got)
	got, err = s.BackendBySlug(ctx, "airlock-test")
	if err != nil {
		t.Fatalf("BackendBySlug: %v", err)
	}
	check("BackendBySlug", got)
	_, err = s.Backend(ctx, b.ID+1000)
	wantCode(t, "Backend(missing)", err, haven.ENOTFOUND)
	_, err = s.BackendBySlug(ctx, "nope")
	wantCode(t, "BackendBySlug(missing)", err, haven.ENOTFOUND)
	wantCode(t, "CreateBackend(duplicate slug)",
		s.CreateBackend(ctx, &store.Backend{Slug: "tpp", Name: "Again", AgentTokenHash: hashOf("again"), CreatedAt: at(0)}), haven.ECONFLICT)

	all, err := s.Backends(ctx)
	if err != nil {
		t.Fatalf("Backends: %v", err)
	}
	var slugs []string
	for _, x := range all {
		slugs = append(slugs, x.Slug)
	}
	if !slices.Equal(slugs, []string{"airlock-test", "emis", "tpp"}) {
		t.Errorf("Backends = %v, want [airlock-test emis tpp] (by slug)", slugs)
	}

	if err := s.SetBackendPaused(ctx, e.b1.ID, true); err != nil {
		t.Fatalf("SetBackendPaused: %v", err)
	}
	if got, err := s.Backend(ctx, e.b1.ID); err != nil || !got.IsPaused {
		t.Errorf("after pausing, Backend = %+v, %v", got, err)
	}
	if got, err := s.Backend(ctx, e.b2.ID); err != nil || got.IsPaused {
		t.Errorf("pausing tpp paused emis: %+v, %v", got, err)
	}
	if err := s.SetBackendPaused(ctx, e.b1.ID, false); err != nil {
		t.Fatalf("SetBackendPaused(false): %v", err)
	}
	if got, err := s.Backend(ctx, e.b1.ID); err != nil || got.IsPaused {
		t.Errorf("after unpausing, Backend = %+v, %v", got, err)
	}

	if got, err := s.Backend(ctx, e.b1.ID); err != nil || got.ArtificialData {
		t.Errorf("a new backend has ArtificialData set: %+v, %v", got, err)
	}
	if err := s.SetBackendArtificialData(ctx, e.b1.ID, true); err != nil {
		t.Fatalf("SetBackendArtificialData: %v", err)
	}
	if got, err := s.BackendBySlug(ctx, e.b1.Slug); err != nil || !got.ArtificialData {
		t.Errorf("after SetBackendArtificialData(true), BackendBySlug = %+v, %v", got, err)
	}
	if got, err := s.Backend(ctx, e.b2.ID); err != nil || got.ArtificialData {
		t.Errorf("marking one backend artificial marked another: %+v, %v", got, err)
	}
	wantCode(t, "SetBackendArtificialData(missing)", s.SetBackendArtificialData(ctx, 999999, true), haven.ENOTFOUND)
}

func testBackendTokens(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	none := &store.Backend{Slug: "no-airlock", Name: "No airlock", AgentTokenHash: hashOf("na-agent"), CreatedAt: at(0)}
	if err := s.CreateBackend(ctx, none); err != nil {
		t.Fatalf("CreateBackend: %v", err)
	}
	lookup := func(what string, f func(hash string) (*store.Backend, error), hash string, want *store.Backend) {
		t.Helper()
		got, err := f(hash)
		if want == nil {
			wantCode(t, what, err, haven.ENOTFOUND)
			return
		}
		if err != nil || got.ID != want.ID {
			t.Errorf("%s = %+v, %v; want %s", what, got, err, want.Slug)
		}
	}
	agentTok := func(h string) (*store.Backend, error) { return s.BackendByAgentToken(ctx, h) }
	airlockTok := func(h string) (*store.Backend, error) { return s.BackendByAirlockToken(ctx, h) }
	lookup("BackendByAgentToken(tpp)", agentTok, hashOf("tpp-agent"), e.b1)
	lookup("BackendByAgentToken(emis)", agentTok, hashOf("emis-agent"), e.b2)
	lookup("BackendByAirlockToken(tpp)", airlockTok, hashOf("tpp-airlock"), e.b1)
	// A token only acts for its own component.
	lookup("BackendByAgentToken(an airlock token)", agentTok, hashOf("tpp-airlock"), nil)
	lookup("BackendByAirlockToken(an agent token)", airlockTok, hashOf("tpp-agent"), nil)
	lookup("BackendByAgentToken(unknown)", agentTok, hashOf("unknown"), nil)
	// A backend without an airlock token is never found by the empty hash.
	lookup(`BackendByAirlockToken("")`, airlockTok, "", nil)
	lookup(`BackendByAgentToken("")`, agentTok, "", nil)

	if err := s.SetBackendTokens(ctx, e.b1.ID, hashOf("tpp-agent-2"), hashOf("tpp-airlock-2")); err != nil {
		t.Fatalf("SetBackendTokens: %v", err)
	}
	lookup("BackendByAgentToken(rotated-out)", agentTok, hashOf("tpp-agent"), nil)
	lookup("BackendByAirlockToken(rotated-out)", airlockTok, hashOf("tpp-airlock"), nil)
	lookup("BackendByAgentToken(new)", agentTok, hashOf("tpp-agent-2"), e.b1)
	lookup("BackendByAirlockToken(new)", airlockTok, hashOf("tpp-airlock-2"), e.b1)
	got, err := s.Backend(ctx, e.b1.ID)
	if err != nil {
		t.Fatalf("Backend: %v", err)
	}
	if got.AgentTokenHash != hashOf("tpp-agent-2") || got.AirlockTokenHash != hashOf("tpp-airlock-2") {
		t.Errorf("after SetBackendTokens, hashes = %q, %q", got.AgentTokenHash, got.AirlockTokenHash)
	}
	wantCode(t, "SetBackendTokens(missing)", s.SetBackendTokens(ctx, e.b1.ID+1000, hashOf("a"), hashOf("b")), haven.ENOTFOUND)
}

func testTouchBackend(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	if err := s.TouchBackend(ctx, e.b1.ID, at(10), true); err != nil {
		t.Fatalf("TouchBackend: %v", err)
	}
	got, err := s.Backend(ctx, e.b1.ID)
	if err != nil {
		t.Fatalf("Backend: %v", err)
	}
	wantTime(t, "LastSeenAt after TouchBackend", got.LastSeenAt, at(10))
	if !got.DBMaintenance {
		t.Errorf("DBMaintenance = false after TouchBackend(…, true)")
	}
	other, err := s.Backend(ctx, e.b2.ID)
	if err != nil {
		t.Fatalf("Backend: %v", err)
	}
	if !other.LastSeenAt.IsZero() || other.DBMaintenance {
		t.Errorf("touching tpp changed emis: %+v", other)
	}
	if err := s.TouchBackend(ctx, e.b1.ID, at(40), false); err != nil {
		t.Fatalf("TouchBackend: %v", err)
	}
	got, err = s.Backend(ctx, e.b1.ID)
	if err != nil {
		t.Fatalf("Backend: %v", err)
	}
	wantTime(t, "LastSeenAt after the second TouchBackend", got.LastSeenAt, at(40))
	if got.DBMaintenance {
		t.Errorf("DBMaintenance = true after TouchBackend(…, false)")
	}
}

func testBackendMembers(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	bob := &store.User{Username: "bob", Email: "bob@example.org", Fullname: "Bob"}
	if err := s.CreateUser(ctx, bob); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for _, b := range []*store.Backend{e.b1, e.b2} {
		if err := s.AddBackendMember(ctx, b.ID, bob.ID); err != nil {
			t.Fatalf("AddBackendMember(%s): %v", b.Slug, err)
		}
	}
	bs, err := s.UserBackends(ctx, bob.ID)
	if err != nil {
		t.Fatalf("UserBackends: %v", err)
	}
	var slugs []string
	for _, b := range bs {
		slugs = append(slugs, b.Slug)
	}
	if !slices.Equal(sorted(slugs), []string{"emis", "tpp"}) {
		t.Errorf("UserBackends(bob) = %v, want emis and tpp", slugs)
	}
	bs, err = s.UserBackends(ctx, e.user.ID)
	if err != nil || len(bs) != 0 {
		t.Errorf("UserBackends(alice, no memberships) = %d backends, %v; want none", len(bs), err)
	}
}
