// Package airlock is the business layer of `haven airlock`, the output
// review and release service that runs inside a secure backend next to the
// agent (spec §8–§13). It joins the pieces: the signed-in user's profile
// from the job server, the medium-privacy workspaces
// (internal/airlock/workspace), the release-request state machine
// (internal/airlock/review), Airlock's own store (internal/airlock/astore),
// the automated disclosure checker (internal/disclosure) and the job
// server's release API (internal/releaseapi).
//
// HTTP handlers call a Service; the Service decides permissions (§8.2),
// loads a request inside a write transaction, asks review.Apply for the new
// request and its audit events, and stores both before it commits. Nothing
// here trusts a caller's claim about who may do what.
package airlock

import (
	"sort"

	"github.com/haven-tre/haven"
)

// User is a signed-in Airlock user: the profile the job server returns on
// sign-in and on every refresh (spec §8.1).
type User struct {
	Username   string                     `json:"username"`
	Fullname   string                     `json:"fullname"`
	Workspaces map[string]WorkspaceAccess `json:"workspaces"`
	// Copiloted are workspaces the user supports as a copilot: they may
	// view them but not author requests there.
	Copiloted      map[string]WorkspaceAccess `json:"copiloted_workspaces"`
	OutputChecker  bool                       `json:"output_checker"`
	ReadonlyAccess bool                       `json:"readonly_access"`
}

// WorkspaceAccess is what the profile says about one workspace.
type WorkspaceAccess struct {
	Project  ProjectInfo `json:"project"`
	Archived bool        `json:"archived"`
}

// ProjectInfo names a workspace's project.
type ProjectInfo struct {
	Name    string   `json:"name"`
	Slug    string   `json:"slug,omitempty"`
	Ongoing bool     `json:"ongoing"`
	Orgs    []string `json:"orgs"`
}

// DisplayName is the user's full name, or their username.
func (u *User) DisplayName() string {
	if u.Fullname != "" {
		return u.Fullname
	}
	return u.Username
}

// CanView reports whether u may see workspace ws and its requests: output
// checkers, read-only users, and users with the workspace in their
// workspaces or copiloted workspaces (§8.2).
func (u *User) CanView(ws string) bool {
	if u == nil {
		return false
	}
	if u.OutputChecker || u.ReadonlyAccess {
		return true
	}
	_, own := u.Workspaces[ws]
	_, co := u.Copiloted[ws]
	return own || co
}

// IsMember reports whether u has a role on workspace ws (it is one of
// their workspaces, not only copiloted); it decides when they may comment.
func (u *User) IsMember(ws string) bool {
	if u == nil {
		return false
	}
	_, ok := u.Workspaces[ws]
	return ok
}

// CanAuthor returns nil when u may create and edit release requests in
// ws: the workspace is one of theirs (not only copiloted), it is not
// archived, and its project is ongoing.
func (u *User) CanAuthor(ws string) error {
	if u == nil {
		return haven.Errorf(haven.EFORBIDDEN, "sign in to Airlock first")
	}
	a, ok := u.Workspaces[ws]
	switch {
	case !ok && u.Copiloted[ws].Project.Name != "":
		return haven.Errorf(haven.EFORBIDDEN, "you copilot workspace %s: only its project's researchers can request the release of its outputs", ws)
	case !ok:
		return haven.Errorf(haven.EFORBIDDEN, "you are not a member of workspace %s's project, so you cannot request the release of its outputs; ask the project's lead to add you", ws)
	case a.Archived:
		return haven.Errorf(haven.EFORBIDDEN, "workspace %s is archived: its outputs can no longer be requested for release", ws)
	case !a.Project.Ongoing:
		return haven.Errorf(haven.EFORBIDDEN, "project %s is no longer ongoing: its outputs can no longer be requested for release", a.Project.Name)
	}
	return nil
}

// WorkspaceNames returns the workspaces in u's profile (own, then
// copiloted), sorted.
func (u *User) WorkspaceNames() (own, copiloted []string) {
	for n := range u.Workspaces {
		own = append(own, n)
	}
	for n := range u.Copiloted {
		if _, dup := u.Workspaces[n]; !dup {
			copiloted = append(copiloted, n)
		}
	}
	sort.Strings(own)
	sort.Strings(copiloted)
	return own, copiloted
}
