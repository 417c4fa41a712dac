package jobserver

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/store"
	"golang.org/x/text/unicode/norm"
)

// APITokenLifetime is how long a personal access token works.
const APITokenLifetime = 90 * 24 * time.Hour

// ReservedSlugs are top-level server paths no project slug may take
// (spec §3).
var ReservedSlugs = []string{"api", "status", "event-log", "jobs", "login", "logout", "staff", "static", "health-check", "settings"}

var (
	usernameRE      = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	workspaceNameRE = regexp.MustCompile(`^[-a-zA-Z0-9_]+$`)
	backendSlugRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	projectNumberRE = regexp.MustCompile(`^(?:[1-9][0-9]*|POS-20[0-9]{2}-[0-9]{4})$`)
)

// NormalizeUsername is the form usernames are stored and looked up in:
// NFKC, surrounding spaces removed.
func NormalizeUsername(username string) string {
	return norm.NFKC.String(strings.TrimSpace(username))
}

// Slugify derives a slug from a name: accents removed, lower case, every
// run of other characters than a-z and 0-9 turned into one '-', no '-' at
// either end.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r >= 'A' && r <= 'Z':
			b.WriteRune(unicode.ToLower(r))
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// CreateUser adds a user. username must match ^[A-Za-z0-9_.-]{1,64}$ once
// NFKC-normalised; email is lower-cased and must look like an address;
// fullname must not be blank; password must meet the policy, or be "" for
// a user who cannot sign in with a password (a bot using an API token);
// roles must be global roles.
func (s *Service) CreateUser(ctx context.Context, username, email, fullname, password string, roles []store.Role) (*store.User, error) {
	username = NormalizeUsername(username)
	if !usernameRE.MatchString(username) {
		return nil, haven.Errorf(haven.EINVALID, "username %q is not valid: use 1 to 64 letters, digits, '_', '.' or '-'", username)
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if err := checkEmail(email); err != nil {
		return nil, err
	}
	fullname = strings.TrimSpace(fullname)
	if fullname == "" {
		return nil, haven.Errorf(haven.EINVALID, "a full name is required: it is shown as \"Requested by\" on job requests")
	}
	if err := checkRoles(roles, false); err != nil {
		return nil, err
	}
	u := &store.User{Username: username, Email: email, Fullname: fullname, Roles: roles}
	if password != "" {
		h, err := auth.HashPassword(password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, "user.create", 0, "user:"+u.Username, map[string]string{"roles": rolesText(roles)})
	return u, nil
}

func checkEmail(email string) error {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(email) > 254 ||
		strings.IndexFunc(email, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return haven.Errorf(haven.EINVALID, "email %q is not valid: give an address such as name@example.org", email)
	}
	return nil
}

func rolesText(rs []store.Role) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, " ")
}

func (s *Service) userByName(ctx context.Context, username string) (*store.User, error) {
	u, err := s.Store.UserByUsername(ctx, NormalizeUsername(username))
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, haven.Errorf(haven.ENOTFOUND, "no user is called %q", username)
	}
	return u, err
}

// SetPassword sets a user's password (checked against the policy).
func (s *Service) SetPassword(ctx context.Context, username, password string) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	h, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	if err := s.Store.SetPasswordHash(ctx, u.ID, h); err != nil {
		return err
	}
	s.audit(ctx, "user.password_set", 0, "user:"+u.Username, nil)
	return nil
}

// SetUserRoles replaces a user's global roles.
func (s *Service) SetUserRoles(ctx context.Context, username string, roles []store.Role) error {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if err := checkRoles(roles, false); err != nil {
		return err
	}
	if err := s.Store.SetUserRoles(ctx, u.ID, roles); err != nil {
		return err
	}
	s.audit(ctx, "user.roles_set", 0, "user:"+u.Username, map[string]string{"roles": rolesText(roles), "previous": rolesText(u.Roles)})
	return nil
}

// CreateOrg adds an organisation; its slug is derived from name.
func (s *Service) CreateOrg(ctx context.Context, name, description string) (*store.Org, error) {
	name = strings.TrimSpace(name)
	slug := Slugify(name)
	if slug == "" {
		return nil, haven.Errorf(haven.EINVALID, "organisation name %q needs at least one letter or digit", name)
	}
	o := &store.Org{Name: name, Slug: slug, Description: strings.TrimSpace(description)}
	if err := s.Store.CreateOrg(ctx, o); err != nil {
		return nil, err
	}
	s.audit(ctx, "org.create", 0, "org:"+o.Slug, nil)
	return o, nil
}

// CreateProject adds a project led by the organisation orgSlug ("" for
// none). Its slug is derived from name and must not be a reserved path;
// number ("Project ID") is "" or digits without a leading zero or
// POS-20YY-NNNN.
func (s *Service) CreateProject(ctx context.Context, orgSlug, name, number string) (*store.Project, error) {
	name = strings.TrimSpace(name)
	slug := Slugify(name)
	if slug == "" {
		return nil, haven.Errorf(haven.EINVALID, "project name %q needs at least one letter or digit", name)
	}
	for _, r := range ReservedSlugs {
		if slug == r {
			return nil, haven.Errorf(haven.EINVALID, "project name %q gives the slug %q, which is a page of the server: choose another name", name, slug)
		}
	}
	number = strings.TrimSpace(number)
	if number != "" && !projectNumberRE.MatchString(number) {
		return nil, haven.Errorf(haven.EINVALID, "project number %q is not valid: use digits without a leading zero, or POS-20YY-NNNN", number)
	}
	p := &store.Project{Name: name, Slug: slug, Number: number}
	if orgSlug != "" {
		o, err := s.Store.OrgBySlug(ctx, orgSlug)
		if haven.ErrorCode(err) == haven.ENOTFOUND {
			return nil, haven.Errorf(haven.ENOTFOUND, "no organisation has the slug %q", orgSlug)
		}
		if err != nil {
			return nil, err
		}
		p.OrgID = o.ID
	}
	if err := s.Store.CreateProject(ctx, p); err != nil {
		return nil, err
	}
	s.audit(ctx, "project.create", 0, "project:"+p.Slug, map[string]string{"org": orgSlug})
	return p, nil
}

// NewWorkspace is what CreateWorkspace needs.
type NewWorkspace struct {
	Project      string // project slug
	Name         string // ^[-a-zA-Z0-9_]+$, globally unique
	Repo         string // a git URL or a local repository path
	Branch       string
	Purpose      string
	ShouldNotify bool
}

// CreateWorkspace adds a workspace. creator is the user creating it, who
// needs workspace_create on the project, or nil for an administrator's
// command (recorded as created by the system).
func (s *Service) CreateWorkspace(ctx context.Context, creator *store.User, in NewWorkspace) (*store.Workspace, error) {
	if !workspaceNameRE.MatchString(in.Name) || len(in.Name) > 200 {
		return nil, haven.Errorf(haven.EINVALID, "workspace name %q is not valid: use letters, digits, '-' and '_' only", in.Name)
	}
	repo := strings.TrimSpace(in.Repo)
	if repo == "" {
		return nil, haven.Errorf(haven.EINVALID, "a repository is required for workspace %s", in.Name)
	}
	if err := gitrepo.ValidRepo(repo); err != nil {
		return nil, err
	}
	if err := gitrepo.ValidBranch(in.Branch); err != nil {
		return nil, err
	}
	p, err := s.Store.ProjectBySlug(ctx, in.Project)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, haven.Errorf(haven.ENOTFOUND, "no project has the slug %q", in.Project)
	}
	if err != nil {
		return nil, err
	}
	if creator != nil {
		ok, err := s.Can(ctx, creator, PermWorkspaceCreate, p.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, haven.Errorf(haven.EFORBIDDEN, "You do not have permission to create workspaces in project %s", p.Name)
		}
	}
	w := &store.Workspace{
		Name: in.Name, ProjectID: p.ID, RepoURL: repo, Branch: in.Branch,
		Purpose: strings.TrimSpace(in.Purpose), ShouldNotify: in.ShouldNotify,
		CreatedBy: userID(creator), CreatedAt: s.now(),
	}
	if err := s.Store.CreateWorkspace(ctx, w); err != nil {
		return nil, err
	}
	s.audit(ctx, "workspace.create", userID(creator), "workspace:"+w.Name, map[string]string{"project": p.Slug, "repo": repo, "branch": in.Branch})
	return w, nil
}

// BackendTokens are a backend's bearer tokens in plain text. They are
// shown once; the store keeps only their hashes.
type BackendTokens struct {
	Agent   string
	Airlock string
}

// CreateBackend adds a backend with new agent and Airlock tokens. slug is
// lower case (^[a-z0-9][a-z0-9-]{0,39}$); name defaults to the slug upper-cased.
func (s *Service) CreateBackend(ctx context.Context, slug, name string) (*store.Backend, BackendTokens, error) {
	if !backendSlugRE.MatchString(slug) {
		return nil, BackendTokens{}, haven.Errorf(haven.EINVALID, "backend slug %q is not valid: use 1 to 40 lower-case letters, digits and '-', starting with a letter or digit", slug)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = strings.ToUpper(slug)
	}
	tok := BackendTokens{Agent: auth.NewToken(), Airlock: auth.NewToken()}
	b := &store.Backend{
		Slug: slug, Name: name, IsActive: true,
		AgentTokenHash: auth.HashToken(tok.Agent), AirlockTokenHash: auth.HashToken(tok.Airlock),
	}
	if err := s.Store.CreateBackend(ctx, b); err != nil {
		return nil, BackendTokens{}, err
	}
	s.audit(ctx, "backend.create", 0, "backend:"+b.Slug, nil)
	return b, tok, nil
}

// SetBackendArtificialData marks a backend as holding no patient data (a
// test or demo backend): requests to it plan cohort-extractor actions on
// dummy data, as `haven run` does.
func (s *Service) SetBackendArtificialData(ctx context.Context, slug string, artificial bool) error {
	b, err := s.backendBySlug(ctx, slug)
	if err != nil {
		return err
	}
	if err := s.Store.SetBackendArtificialData(ctx, b.ID, artificial); err != nil {
		return err
	}
	s.audit(ctx, "backend.artificial_data_set", 0, "backend:"+b.Slug, map[string]string{"artificial_data": fmt.Sprint(artificial)})
	return nil
}

// RotateBackendTokens replaces a backend's agent and Airlock tokens; the
// old ones stop working at once.
func (s *Service) RotateBackendTokens(ctx context.Context, slug string) (BackendTokens, error) {
	b, err := s.backendBySlug(ctx, slug)
	if err != nil {
		return BackendTokens{}, err
	}
	tok := BackendTokens{Agent: auth.NewToken(), Airlock: auth.NewToken()}
	if err := s.Store.SetBackendTokens(ctx, b.ID, auth.HashToken(tok.Agent), auth.HashToken(tok.Airlock)); err != nil {
		return BackendTokens{}, err
	}
	s.audit(ctx, "backend.rotate_tokens", 0, "backend:"+b.Slug, nil)
	return tok, nil
}

func (s *Service) backendBySlug(ctx context.Context, slug string) (*store.Backend, error) {
	b, err := s.Store.BackendBySlug(ctx, slug)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, haven.Errorf(haven.ENOTFOUND, "no backend has the slug %q", slug)
	}
	return b, err
}

// AddProjectMember gives a user roles on a project (replacing any they
// had; nil roles remove the membership). roles must be project roles.
func (s *Service) AddProjectMember(ctx context.Context, projectSlug, username string, roles []store.Role) error {
	if err := checkRoles(roles, true); err != nil {
		return err
	}
	p, err := s.Store.ProjectBySlug(ctx, projectSlug)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return haven.Errorf(haven.ENOTFOUND, "no project has the slug %q", projectSlug)
	}
	if err != nil {
		return err
	}
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if err := s.Store.SetProjectRoles(ctx, p.ID, u.ID, roles); err != nil {
		return err
	}
	s.audit(ctx, "project.member_roles_set", 0, "project:"+p.Slug, map[string]string{"user": u.Username, "roles": rolesText(roles)})
	return nil
}

// AddBackendMember lets a user run jobs on a backend.
func (s *Service) AddBackendMember(ctx context.Context, backendSlug, username string) error {
	b, err := s.backendBySlug(ctx, backendSlug)
	if err != nil {
		return err
	}
	u, err := s.userByName(ctx, username)
	if err != nil {
		return err
	}
	if err := s.Store.AddBackendMember(ctx, b.ID, u.ID); err != nil {
		return err
	}
	s.audit(ctx, "backend.member_add", 0, "backend:"+b.Slug, map[string]string{"user": u.Username})
	return nil
}

// CreateAPIToken gives a user a new personal access token for /api/v1,
// replacing any earlier one. It works for APITokenLifetime; its text ends
// with its expiry date ("<random>-2027-02-19") so its holder can see when
// it stops working. Only its hash is stored.
func (s *Service) CreateAPIToken(ctx context.Context, username string) (token string, expires time.Time, err error) {
	u, err := s.userByName(ctx, username)
	if err != nil {
		return "", time.Time{}, err
	}
	expires = s.now().Add(APITokenLifetime)
	token = fmt.Sprintf("%s-%s", auth.NewToken(), expires.Format(time.DateOnly))
	if err := s.Store.SetAPIToken(ctx, u.ID, auth.HashToken(token), expires); err != nil {
		return "", time.Time{}, err
	}
	s.audit(ctx, "user.api_token_create", 0, "user:"+u.Username, map[string]string{"expires": expires.Format(time.RFC3339)})
	return token, expires, nil
}
