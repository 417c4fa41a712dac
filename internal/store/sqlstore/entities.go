package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// Users and sign-in.

// CreateUser stores a new user, setting ID and (when zero) CreatedAt.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	roles, err := jsonText(u.Roles)
	if err != nil {
		return err
	}
	created := orNow(u.CreatedAt)
	var id int64
	err = s.write(ctx, func(w *wtx) error {
		return w.queryRow(ctx, `INSERT INTO users (username, email, fullname, password_hash, roles, api_token_hash, api_token_expires, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Username, u.Email, u.Fullname, u.PasswordHash, roles, u.APITokenHash, nanos(u.APITokenExpires), nanos(created)).Scan(&id)
	})
	if err != nil {
		return s.constraintError(err, "create user "+u.Username, func(v Violation, name string) *haven.Error {
			switch {
			case v == UniqueViolation && strings.Contains(name, "email"):
				return haven.Errorf(haven.ECONFLICT, "a user with email %s already exists", u.Email)
			case v == UniqueViolation && strings.Contains(name, "token"):
				return haven.Errorf(haven.ECONFLICT, "create user %s: that API token is already in use", u.Username)
			case v == UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "a user called %s already exists", u.Username)
			case v == CheckViolation && u.Username == "":
				return haven.Errorf(haven.EINVALID, "create user: the username is empty")
			case v == CheckViolation && u.Email == "":
				return haven.Errorf(haven.EINVALID, "create user %s: the email address is empty", u.Username)
			case v == CheckViolation:
				return haven.Errorf(haven.EINVALID, "create user %s: an API token needs an expiry time, and an expiry time a token", u.Username)
			}
			return nil
		})
	}
	u.ID, u.CreatedAt = id, created
	return nil
}

// User returns a user by id.
func (s *Store) User(ctx context.Context, id int64) (*store.User, error) {
	u, err := scanUser(s.read().queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "no user with id %d", id)
}

// UserByUsername returns a user by username.
func (s *Store) UserByUsername(ctx context.Context, username string) (*store.User, error) {
	u, err := scanUser(s.read().queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	return u, notFound(err, "no user called %s", username)
}

// SetPasswordHash replaces a user's password hash ("" disables password
// sign-in).
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, hash string) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
		return mustAffect(res, err, "set password: no user with id %d", userID)
	})
}

// SetUserRoles replaces a user's global roles.
func (s *Store) SetUserRoles(ctx context.Context, userID int64, roles []store.Role) error {
	text, err := jsonText(roles)
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE users SET roles = ? WHERE id = ?`, text, userID)
		return mustAffect(res, err, "set roles: no user with id %d", userID)
	})
}

// SetAPIToken replaces a user's personal access token hash and expiry
// ("" and the zero time remove it).
func (s *Store) SetAPIToken(ctx context.Context, userID int64, hash string, expires time.Time) error {
	if (hash == "") != expires.IsZero() {
		return haven.Errorf(haven.EINVALID, "set API token for user %d: a token needs an expiry time, and an expiry time a token", userID)
	}
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE users SET api_token_hash = ?, api_token_expires = ? WHERE id = ?`, hash, nanos(expires), userID)
		return mustAffect(res, err, "set API token: no user with id %d", userID)
	})
	return s.constraintError(err, "set API token", func(v Violation, _ string) *haven.Error {
		if v == UniqueViolation {
			return haven.Errorf(haven.ECONFLICT, "set API token for user %d: that token is already in use", userID)
		}
		return nil
	})
}

// UserByAPIToken returns the user whose token has this hash, while now is
// before the token's expiry.
func (s *Store) UserByAPIToken(ctx context.Context, hash string, now time.Time) (*store.User, error) {
	if hash == "" {
		return nil, haven.Errorf(haven.ENOTFOUND, "no user with that API token")
	}
	u, err := scanUser(s.read().queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE api_token_hash = ? AND api_token_expires > ?`, hash, now.UnixNano()))
	return u, notFound(err, "no user with that API token, or it has expired")
}

// Users returns every user, by username.
func (s *Store) Users(ctx context.Context) ([]*store.User, error) {
	out, err := queryAll(ctx, s.read(), scanUser, `SELECT `+userColumns+` FROM users ORDER BY username`)
	return out, wrap(err, "list users")
}

// CreateSession stores a signed-in browser's session.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	if ss.IDHash == "" {
		return haven.Errorf(haven.EINVALID, "create session: the session id is empty")
	}
	created := orNow(ss.CreatedAt)
	err := s.write(ctx, func(w *wtx) error {
		_, err := w.exec(ctx, `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			ss.IDHash, ss.UserID, ss.CSRFToken, nanos(created), nanos(ss.ExpiresAt))
		return err
	})
	if err != nil {
		return s.constraintError(err, "create session", func(v Violation, _ string) *haven.Error {
			switch v {
			case UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "create session: that session id is already in use")
			case ForeignKeyViolation:
				return haven.Errorf(haven.ENOTFOUND, "create session: no user with id %d", ss.UserID)
			}
			return nil
		})
	}
	ss.CreatedAt = created
	return nil
}

// Session returns a session by the hash of its id; ENOTFOUND when it is
// missing or now is after its expiry.
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (*store.Session, error) {
	var (
		ss               store.Session
		created, expires int64
	)
	err := s.read().queryRow(ctx, `SELECT id_hash, user_id, csrf_token, created_at, expires_at FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&ss.IDHash, &ss.UserID, &ss.CSRFToken, &created, &expires)
	if err != nil {
		return nil, notFound(err, "no such session")
	}
	ss.CreatedAt, ss.ExpiresAt = fromNanos(created), fromNanos(expires)
	if now.After(ss.ExpiresAt) {
		return nil, haven.Errorf(haven.ENOTFOUND, "the session has expired; sign in again")
	}
	return &ss, nil
}

// DeleteSession removes a session (signing out); a missing one is not an
// error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	return s.write(ctx, func(w *wtx) error {
		_, err := w.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return wrap(err, "delete session")
	})
}

// Organisations, projects and memberships.

// CreateOrg stores a new organisation, setting ID and (when zero)
// CreatedAt.
func (s *Store) CreateOrg(ctx context.Context, o *store.Org) error {
	created := orNow(o.CreatedAt)
	var id int64
	err := s.write(ctx, func(w *wtx) error {
		return w.queryRow(ctx, `INSERT INTO orgs (name, slug, description, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			o.Name, o.Slug, o.Description, nanos(created)).Scan(&id)
	})
	if err != nil {
		return s.constraintError(err, "create organisation "+o.Name, func(v Violation, name string) *haven.Error {
			switch {
			case v == UniqueViolation && strings.Contains(name, "slug"):
				return haven.Errorf(haven.ECONFLICT, "an organisation with slug %s already exists", o.Slug)
			case v == UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "an organisation called %s already exists", o.Name)
			case v == CheckViolation:
				return haven.Errorf(haven.EINVALID, "create organisation: the name and slug must not be empty")
			}
			return nil
		})
	}
	o.ID, o.CreatedAt = id, created
	return nil
}

// Org returns an organisation by id.
func (s *Store) Org(ctx context.Context, id int64) (*store.Org, error) {
	o, err := scanOrg(s.read().queryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE id = ?`, id))
	return o, notFound(err, "no organisation with id %d", id)
}

// OrgBySlug returns an organisation by slug.
func (s *Store) OrgBySlug(ctx context.Context, slug string) (*store.Org, error) {
	o, err := scanOrg(s.read().queryRow(ctx, `SELECT `+orgColumns+` FROM orgs WHERE slug = ?`, slug))
	return o, notFound(err, "no organisation %s", slug)
}

// AddOrgMember makes a user a member of an organisation (again is fine).
func (s *Store) AddOrgMember(ctx context.Context, orgID, userID int64) error {
	err := s.write(ctx, func(w *wtx) error {
		_, err := w.exec(ctx, `INSERT INTO org_members (org_id, user_id) VALUES (?, ?) ON CONFLICT (org_id, user_id) DO NOTHING`, orgID, userID)
		return err
	})
	return s.constraintError(err, "add organisation member", func(v Violation, _ string) *haven.Error {
		if v == ForeignKeyViolation {
			return haven.Errorf(haven.ENOTFOUND, "add organisation member: no organisation %d or no user %d", orgID, userID)
		}
		return nil
	})
}

// CreateProject stores a new project, setting ID and (when zero)
// CreatedAt.
func (s *Store) CreateProject(ctx context.Context, p *store.Project) error {
	created := orNow(p.CreatedAt)
	var id int64
	err := s.write(ctx, func(w *wtx) error {
		return w.queryRow(ctx, `INSERT INTO projects (name, slug, number, org_id, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			p.Name, p.Slug, p.Number, nullID(p.OrgID), nanos(created)).Scan(&id)
	})
	if err != nil {
		return s.constraintError(err, "create project "+p.Name, func(v Violation, name string) *haven.Error {
			switch {
			case v == UniqueViolation && strings.Contains(name, "slug"):
				return haven.Errorf(haven.ECONFLICT, "a project with slug %s already exists", p.Slug)
			case v == UniqueViolation && strings.Contains(name, "number"):
				return haven.Errorf(haven.ECONFLICT, "a project with project ID %s already exists", p.Number)
			case v == UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "a project called %s already exists", p.Name)
			case v == ForeignKeyViolation:
				return haven.Errorf(haven.ENOTFOUND, "create project %s: no organisation with id %d", p.Name, p.OrgID)
			case v == CheckViolation:
				return haven.Errorf(haven.EINVALID, "create project: the name and slug must not be empty")
			}
			return nil
		})
	}
	p.ID, p.CreatedAt = id, created
	return nil
}

// Project returns a project by id.
func (s *Store) Project(ctx context.Context, id int64) (*store.Project, error) {
	p, err := scanProject(s.read().queryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE id = ?`, id))
	return p, notFound(err, "no project with id %d", id)
}

// ProjectBySlug returns a project by slug.
func (s *Store) ProjectBySlug(ctx context.Context, slug string) (*store.Project, error) {
	p, err := scanProject(s.read().queryRow(ctx, `SELECT `+projectColumns+` FROM projects WHERE slug = ?`, slug))
	return p, notFound(err, "no project %s", slug)
}

// SetProjectRoles replaces a user's roles on a project; no roles removes
// the membership.
func (s *Store) SetProjectRoles(ctx context.Context, projectID, userID int64, roles []store.Role) error {
	text, err := jsonText(roles)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(w *wtx) error {
		if len(roles) == 0 {
			_, err := w.exec(ctx, `DELETE FROM project_members WHERE project_id = ? AND user_id = ?`, projectID, userID)
			return err
		}
		_, err := w.exec(ctx, `INSERT INTO project_members (project_id, user_id, roles) VALUES (?, ?, ?)
			ON CONFLICT (project_id, user_id) DO UPDATE SET roles = excluded.roles`, projectID, userID, text)
		return err
	})
	return s.constraintError(err, "set project roles", func(v Violation, _ string) *haven.Error {
		if v == ForeignKeyViolation {
			return haven.Errorf(haven.ENOTFOUND, "set project roles: no project %d or no user %d", projectID, userID)
		}
		return nil
	})
}

// ProjectRoles returns a user's roles on a project (nil for none).
func (s *Store) ProjectRoles(ctx context.Context, projectID, userID int64) ([]store.Role, error) {
	var text string
	err := s.read().queryRow(ctx, `SELECT roles FROM project_members WHERE project_id = ? AND user_id = ?`, projectID, userID).Scan(&text)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, wrap(err, "project roles")
	}
	var roles []store.Role
	if err := decodeList(text, &roles); err != nil {
		return nil, wrap(err, "project %d roles of user %d", projectID, userID)
	}
	return roles, nil
}

// Workspaces.

// CreateWorkspace stores a new workspace, setting ID and (when zero)
// CreatedAt.
func (s *Store) CreateWorkspace(ctx context.Context, ws *store.Workspace) error {
	created := orNow(ws.CreatedAt)
	var id int64
	err := s.write(ctx, func(w *wtx) error {
		return w.queryRow(ctx, `INSERT INTO workspaces (name, project_id, repo_url, branch, is_archived, should_notify, purpose, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			ws.Name, ws.ProjectID, ws.RepoURL, ws.Branch, ws.IsArchived, ws.ShouldNotify, ws.Purpose, nullID(ws.CreatedBy), nanos(created)).Scan(&id)
	})
	if err != nil {
		return s.constraintError(err, "create workspace "+ws.Name, func(v Violation, _ string) *haven.Error {
			switch v {
			case UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "a workspace called %s already exists; workspace names are unique across all projects", ws.Name)
			case ForeignKeyViolation:
				return haven.Errorf(haven.ENOTFOUND, "create workspace %s: no project with id %d or no user with id %d", ws.Name, ws.ProjectID, ws.CreatedBy)
			case CheckViolation:
				return haven.Errorf(haven.EINVALID, "create workspace: the name is empty")
			}
			return nil
		})
	}
	ws.ID, ws.CreatedAt = id, created
	return nil
}

// Workspace returns a workspace by id.
func (s *Store) Workspace(ctx context.Context, id int64) (*store.Workspace, error) {
	ws, err := scanWorkspace(s.read().queryRow(ctx, `SELECT `+workspaceColumns+` FROM workspaces WHERE id = ?`, id))
	return ws, notFound(err, "no workspace with id %d", id)
}

// WorkspaceByName returns a workspace by name.
func (s *Store) WorkspaceByName(ctx context.Context, name string) (*store.Workspace, error) {
	ws, err := scanWorkspace(s.read().queryRow(ctx, `SELECT `+workspaceColumns+` FROM workspaces WHERE name = ?`, name))
	return ws, notFound(err, "no workspace called %s", name)
}

// Workspaces returns a project's workspaces (every workspace for 0), by
// name.
func (s *Store) Workspaces(ctx context.Context, projectID int64) ([]*store.Workspace, error) {
	q := `SELECT ` + workspaceColumns + ` FROM workspaces ORDER BY name`
	args := []any{}
	if projectID != 0 {
		q = `SELECT ` + workspaceColumns + ` FROM workspaces WHERE project_id = ? ORDER BY name`
		args = append(args, projectID)
	}
	out, err := queryAll(ctx, s.read(), scanWorkspace, q, args...)
	return out, wrap(err, "list workspaces")
}

// SetWorkspaceArchived archives or unarchives a workspace.
func (s *Store) SetWorkspaceArchived(ctx context.Context, id int64, archived bool) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE workspaces SET is_archived = ? WHERE id = ?`, archived, id)
		return mustAffect(res, err, "archive workspace: no workspace with id %d", id)
	})
}

// Backends.

// CreateBackend stores a new backend, setting ID and (when zero)
// CreatedAt.
func (s *Store) CreateBackend(ctx context.Context, b *store.Backend) error {
	if b.AlertTimeout < 0 {
		return haven.Errorf(haven.EINVALID, "create backend %s: the alert timeout %v is negative", b.Slug, b.AlertTimeout)
	}
	created := orNow(b.CreatedAt)
	var id int64
	err := s.write(ctx, func(w *wtx) error {
		return w.queryRow(ctx, `INSERT INTO backends (slug, name, agent_token_hash, airlock_token_hash, is_active, artificial_data, is_paused, db_maintenance, alert_timeout, last_seen_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			b.Slug, b.Name, b.AgentTokenHash, b.AirlockTokenHash, b.IsActive, b.ArtificialData, b.IsPaused, b.DBMaintenance, int64(b.AlertTimeout), nanos(b.LastSeenAt), nanos(created)).Scan(&id)
	})
	if err != nil {
		return s.constraintError(err, "create backend "+b.Slug, func(v Violation, name string) *haven.Error {
			switch {
			case v == UniqueViolation && strings.Contains(name, "token"):
				return haven.Errorf(haven.ECONFLICT, "create backend %s: its token is already in use by another backend; generate a new one", b.Slug)
			case v == UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "a backend with slug %s already exists", b.Slug)
			case v == CheckViolation:
				return haven.Errorf(haven.EINVALID, "create backend: the slug is empty")
			}
			return nil
		})
	}
	b.ID, b.CreatedAt = id, created
	return nil
}

// Backend returns a backend by id.
func (s *Store) Backend(ctx context.Context, id int64) (*store.Backend, error) {
	b, err := scanBackend(s.read().queryRow(ctx, `SELECT `+backendColumns+` FROM backends WHERE id = ?`, id))
	return b, notFound(err, "no backend with id %d", id)
}

// BackendBySlug returns a backend by slug.
func (s *Store) BackendBySlug(ctx context.Context, slug string) (*store.Backend, error) {
	b, err := scanBackend(s.read().queryRow(ctx, `SELECT `+backendColumns+` FROM backends WHERE slug = ?`, slug))
	return b, notFound(err, "no backend %s", slug)
}

// BackendByAgentToken returns the backend whose agent token has this
// hash.
func (s *Store) BackendByAgentToken(ctx context.Context, tokenHash string) (*store.Backend, error) {
	if tokenHash == "" {
		return nil, haven.Errorf(haven.ENOTFOUND, "no backend with that agent token")
	}
	b, err := scanBackend(s.read().queryRow(ctx, `SELECT `+backendColumns+` FROM backends WHERE agent_token_hash = ?`, tokenHash))
	return b, notFound(err, "no backend with that agent token")
}

// BackendByAirlockToken returns the backend whose airlock token has this
// hash.
func (s *Store) BackendByAirlockToken(ctx context.Context, tokenHash string) (*store.Backend, error) {
	if tokenHash == "" {
		return nil, haven.Errorf(haven.ENOTFOUND, "no backend with that airlock token")
	}
	b, err := scanBackend(s.read().queryRow(ctx, `SELECT `+backendColumns+` FROM backends WHERE airlock_token_hash = ?`, tokenHash))
	return b, notFound(err, "no backend with that airlock token")
}

// Backends returns every backend, by slug.
func (s *Store) Backends(ctx context.Context) ([]*store.Backend, error) {
	out, err := queryAll(ctx, s.read(), scanBackend, `SELECT `+backendColumns+` FROM backends ORDER BY slug`)
	return out, wrap(err, "list backends")
}

// SetBackendTokens replaces a backend's token hashes.
func (s *Store) SetBackendTokens(ctx context.Context, id int64, agentHash, airlockHash string) error {
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE backends SET agent_token_hash = ?, airlock_token_hash = ? WHERE id = ?`, agentHash, airlockHash, id)
		return mustAffect(res, err, "set backend tokens: no backend with id %d", id)
	})
	return s.constraintError(err, "set backend tokens", func(v Violation, _ string) *haven.Error {
		if v == UniqueViolation {
			return haven.Errorf(haven.ECONFLICT, "set backend tokens: a token is already in use by another backend; generate a new one")
		}
		return nil
	})
}

// SetBackendPaused pauses or resumes a backend's queue.
func (s *Store) SetBackendPaused(ctx context.Context, id int64, paused bool) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE backends SET is_paused = ? WHERE id = ?`, paused, id)
		return mustAffect(res, err, "pause backend: no backend with id %d", id)
	})
}

// SetBackendArtificialData marks a backend as having no patient database.
func (s *Store) SetBackendArtificialData(ctx context.Context, id int64, artificial bool) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE backends SET artificial_data = ? WHERE id = ?`, artificial, id)
		return mustAffect(res, err, "set backend artificial data: no backend with id %d", id)
	})
}

// TouchBackend records an agent's poll.
func (s *Store) TouchBackend(ctx context.Context, id int64, now time.Time, dbMaintenance bool) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE backends SET last_seen_at = ?, db_maintenance = ? WHERE id = ?`, nanos(now), dbMaintenance, id)
		return mustAffect(res, err, "touch backend: no backend with id %d", id)
	})
}

// AddBackendMember lets a user run jobs on a backend (again is fine).
func (s *Store) AddBackendMember(ctx context.Context, backendID, userID int64) error {
	err := s.write(ctx, func(w *wtx) error {
		_, err := w.exec(ctx, `INSERT INTO backend_members (backend_id, user_id) VALUES (?, ?) ON CONFLICT (backend_id, user_id) DO NOTHING`, backendID, userID)
		return err
	})
	return s.constraintError(err, "add backend member", func(v Violation, _ string) *haven.Error {
		if v == ForeignKeyViolation {
			return haven.Errorf(haven.ENOTFOUND, "add backend member: no backend %d or no user %d", backendID, userID)
		}
		return nil
	})
}

// UserBackends returns the backends a user is a member of, by slug.
func (s *Store) UserBackends(ctx context.Context, userID int64) ([]*store.Backend, error) {
	out, err := queryAll(ctx, s.read(), scanBackend, `SELECT `+prefixed("b.", backendColumns)+` FROM backends b
		JOIN backend_members m ON m.backend_id = b.id WHERE m.user_id = ? ORDER BY b.slug`, userID)
	return out, wrap(err, "list backends of user %d", userID)
}

// prefixed qualifies a column list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
