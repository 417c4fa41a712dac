package jobserver

import (
	"context"
	"slices"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// Permissions (spec §5.2).
const (
	PermAirlockReadonlyAccess        Permission = "airlock_readonly_access"
	PermApplicationManage            Permission = "application_manage"
	PermBackendManage                Permission = "backend_manage"
	PermJobCancel                    Permission = "job_cancel"
	PermJobRun                       Permission = "job_run"
	PermOrgCreate                    Permission = "org_create"
	PermProjectCreate                Permission = "project_create"
	PermProjectManage                Permission = "project_manage"
	PermProjectLinkToApplication     Permission = "project_link_to_application"
	PermReleaseFileDelete            Permission = "release_file_delete"
	PermReleaseFileUpload            Permission = "release_file_upload"
	PermReleaseFileView              Permission = "release_file_view"
	PermRepoSignOffWithOutputs       Permission = "repo_sign_off_with_outputs"
	PermSnapshotCreate               Permission = "snapshot_create"
	PermSnapshotPublish              Permission = "snapshot_publish"
	PermStaffAreaAccess              Permission = "staff_area_access"
	PermUnreleasedOutputsView        Permission = "unreleased_outputs_view"
	PermUserManage                   Permission = "user_manage"
	PermUserEditProjectRoles         Permission = "user_edit_project_roles"
	PermWorkspaceArchive             Permission = "workspace_archive"
	PermWorkspaceCreate              Permission = "workspace_create"
	PermWorkspaceToggleNotifications Permission = "workspace_toggle_notifications"
)

// AllPermissions lists every permission.
var AllPermissions = []Permission{
	PermAirlockReadonlyAccess, PermApplicationManage, PermBackendManage, PermJobCancel, PermJobRun,
	PermOrgCreate, PermProjectCreate, PermProjectManage, PermProjectLinkToApplication,
	PermReleaseFileDelete, PermReleaseFileUpload, PermReleaseFileView, PermRepoSignOffWithOutputs,
	PermSnapshotCreate, PermSnapshotPublish, PermStaffAreaAccess, PermUnreleasedOutputsView,
	PermUserManage, PermUserEditProjectRoles, PermWorkspaceArchive, PermWorkspaceCreate,
	PermWorkspaceToggleNotifications,
}

// roleInfo is what a role grants and where it may be attached.
type roleInfo struct {
	perms   []Permission
	global  bool // may be a user's global role
	project bool // may be a role on a project membership
}

var roles = map[store.Role]roleInfo{
	store.RoleProjectDeveloper: {project: true, perms: []Permission{
		PermJobCancel, PermJobRun, PermProjectManage, PermReleaseFileView, PermSnapshotCreate,
		PermUnreleasedOutputsView, PermWorkspaceArchive, PermWorkspaceCreate, PermWorkspaceToggleNotifications,
	}},
	store.RoleProjectCollaborator: {project: true, global: true, perms: []Permission{PermReleaseFileView}},
	store.RoleOutputChecker: {global: true, perms: []Permission{
		PermReleaseFileDelete, PermReleaseFileUpload, PermReleaseFileView, PermUnreleasedOutputsView,
	}},
	store.RoleOutputPublisher: {global: true, perms: []Permission{PermSnapshotPublish}},
	// Global, so job_run and job_cancel hold on every project.
	store.RoleDeploymentAdministrator: {global: true, perms: []Permission{
		PermAirlockReadonlyAccess, PermJobCancel, PermJobRun,
	}},
	store.RoleStaffAreaAdministrator: {global: true, perms: []Permission{
		PermApplicationManage, PermBackendManage, PermOrgCreate, PermProjectCreate,
		PermProjectLinkToApplication, PermRepoSignOffWithOutputs, PermStaffAreaAccess,
		PermUserEditProjectRoles, PermUserManage,
	}},
}

// AllRoles lists every role, in the store's order.
var AllRoles = []store.Role{
	store.RoleProjectDeveloper, store.RoleProjectCollaborator, store.RoleOutputChecker,
	store.RoleOutputPublisher, store.RoleDeploymentAdministrator, store.RoleStaffAreaAdministrator,
}

// RolePermissions returns the permissions a role grants (nil for an
// unknown role).
func RolePermissions(r store.Role) []Permission {
	return slices.Clone(roles[r].perms)
}

// IsGlobalRole reports whether r may be given to a user globally.
func IsGlobalRole(r store.Role) bool { return roles[r].global }

// IsProjectRole reports whether r may be given on a project membership.
func IsProjectRole(r store.Role) bool { return roles[r].project }

// checkRoles refuses unknown roles and roles that cannot be attached where
// they are going.
func checkRoles(rs []store.Role, project bool) error {
	for _, r := range rs {
		info, ok := roles[r]
		switch {
		case !ok:
			return haven.Errorf(haven.EINVALID, "unknown role %q: use one of %v", r, AllRoles)
		case project && !info.project:
			return haven.Errorf(haven.EINVALID, "%s is a global role: it cannot be given on a project", r)
		case !project && !info.global:
			return haven.Errorf(haven.EINVALID, "%s is a project role: give it on a project membership, not globally", r)
		}
	}
	return nil
}

// grants reports whether any of rs grants p, counting only roles valid
// where they are attached.
func grants(rs []store.Role, p Permission, project bool) bool {
	for _, r := range rs {
		info := roles[r]
		if (project && !info.project) || (!project && !info.global) {
			continue
		}
		if slices.Contains(info.perms, p) {
			return true
		}
	}
	return false
}

// Can reports whether u holds p on a project: the union of u's global
// roles and u's roles on that project (projectID 0: global roles only).
// A nil user (anonymous) holds nothing.
func (s *Service) Can(ctx context.Context, u *store.User, p Permission, projectID int64) (bool, error) {
	if u == nil {
		return false, nil
	}
	if grants(u.Roles, p, false) {
		return true, nil
	}
	if projectID == 0 {
		return false, nil
	}
	rs, err := s.Store.ProjectRoles(ctx, projectID, u.ID)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return grants(rs, p, true), nil
}

// Permissions returns every permission u holds on a project (projectID 0:
// global only), for pages that show or hide several controls.
func (s *Service) Permissions(ctx context.Context, u *store.User, projectID int64) (map[Permission]bool, error) {
	out := map[Permission]bool{}
	if u == nil {
		return out, nil
	}
	var projectRoles []store.Role
	if projectID != 0 {
		rs, err := s.Store.ProjectRoles(ctx, projectID, u.ID)
		if err != nil && haven.ErrorCode(err) != haven.ENOTFOUND {
			return nil, err
		}
		projectRoles = rs
	}
	for _, p := range AllPermissions {
		if grants(u.Roles, p, false) || grants(projectRoles, p, true) {
			out[p] = true
		}
	}
	return out, nil
}
