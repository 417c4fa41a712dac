package releaseapi

import (
	"context"
	"net/http"
	"regexp"
	"strconv"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/policy"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

var reWorkspace = regexp.MustCompile(`^[-a-zA-Z0-9_]{1,200}$`)

func (a *API) handleCreate(w http.ResponseWriter, r *http.Request) {
	status, rel, err := a.create(w, r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", PathReleases+"/"+rel.ID)
	}
	webkit.WriteJSON(w, status, rel)
}

// create runs the checks of spec §11.1 in its table's order: token, user,
// sizes, names and types, then the release itself.
func (a *API) create(w http.ResponseWriter, r *http.Request) (int, *Release, error) {
	ctx := r.Context()
	b, err := a.authenticateAirlock(r)
	if err != nil {
		return 0, nil, err
	}
	username := r.Header.Get(HeaderUser)
	if username == "" {
		return 0, nil, errorf(http.StatusBadRequest, "send the %s header with the username of the output checker releasing the files", HeaderUser)
	}
	var req CreateRequest
	if err := a.decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	if !store.ValidULID(req.ID) {
		return 0, nil, errorf(http.StatusBadRequest, "id %q is not a release request id (a ULID: 26 upper-case Crockford base32 characters)", req.ID)
	}
	if !reWorkspace.MatchString(req.Workspace) {
		return 0, nil, errorf(http.StatusBadRequest, "workspace %q is not a workspace name (letters, digits, '-' and '_')", req.Workspace)
	}

	// The user: exists, is a member of the calling backend, and may
	// upload releases on the workspace's project.
	u, err := a.Store.UserByUsername(ctx, username)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return 0, nil, errorf(http.StatusForbidden, "forbidden: there is no user called %q on the job server", username)
	}
	if err != nil {
		return 0, nil, err
	}
	ws, err := a.Store.WorkspaceByName(ctx, req.Workspace)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return 0, nil, errorf(http.StatusNotFound, "there is no workspace called %s on the job server", req.Workspace)
	}
	if err != nil {
		return 0, nil, err
	}
	if ok, err := a.isMember(ctx, u, b); err != nil {
		return 0, nil, err
	} else if !ok {
		return 0, nil, errorf(http.StatusForbidden, "forbidden: %s is not a member of backend %s", u.Username, b.Slug)
	}
	if ok, err := a.Service.Can(ctx, u, jobserver.PermReleaseFileUpload, ws.ProjectID); err != nil {
		return 0, nil, err
	} else if !ok {
		return 0, nil, errorf(http.StatusForbidden, "forbidden: %s may not release files of workspace %s (release_file_upload is needed on its project)", u.Username, ws.Name)
	}

	// The files.
	if len(req.Files) == 0 {
		return 0, nil, errorf(http.StatusBadRequest, "a release needs at least one file")
	}
	for _, f := range req.Files {
		if f.Size > MaxFileSize {
			return 0, nil, errorf(http.StatusBadRequest, "%s: %s is %d bytes", sizeMessage, f.Name, f.Size)
		}
	}
	if err := checkLevel("release", req.Metadata); err != nil {
		return 0, nil, errorf(http.StatusBadRequest, "%v", err)
	}
	seen := map[string]bool{}
	files := make([]*store.ReleaseFile, 0, len(req.Files))
	for _, f := range req.Files {
		if err := policy.CheckName(f.Name); err != nil {
			return 0, nil, errorf(http.StatusBadRequest, "%v", err)
		}
		switch {
		case seen[f.Name]:
			return 0, nil, errorf(http.StatusBadRequest, "file %s is listed twice", f.Name)
		case f.Size < 0:
			return 0, nil, errorf(http.StatusBadRequest, "file %s: size %d is negative", f.Name, f.Size)
		case !policy.ValidSHA256(f.SHA256):
			return 0, nil, errorf(http.StatusBadRequest, "file %s: sha256 %q is not 64 lower-case hex digits", f.Name, f.SHA256)
		}
		if err := checkLevel("file "+f.Name, f.Metadata); err != nil {
			return 0, nil, errorf(http.StatusBadRequest, "%v", err)
		}
		seen[f.Name] = true
		files = append(files, &store.ReleaseFile{Name: f.Name, SHA256: f.SHA256, Size: f.Size, Mtime: f.Mtime.UTC(), Metadata: f.Metadata})
	}

	rel := &store.Release{ID: req.ID, WorkspaceID: ws.ID, BackendID: b.ID, Metadata: req.Metadata, Review: req.Review,
		CreatedBy: u.ID, CreatedAt: a.now()}
	created, err := a.Store.CreateRelease(ctx, rel, files)
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		a.Logger.Info("release created", "release", rel.ID, "workspace", ws.Name, "backend", b.Slug, "user", u.Username, "files", len(files))
		a.audit(ctx, &store.AuditEvent{Type: "release.create", UserID: u.ID, Target: "release:" + rel.ID,
			Extra: map[string]string{"workspace": ws.Name, "backend": b.Slug, "files": strconv.Itoa(len(files))}})
	}
	out, err := a.describe(ctx, rel.ID, ws, b)
	if err != nil {
		return 0, nil, err
	}
	return status, out, nil
}

// isMember reports whether u is a member of backend b.
func (a *API) isMember(ctx context.Context, u *store.User, b *store.Backend) (bool, error) {
	bs, err := a.Store.UserBackends(ctx, u.ID)
	if err != nil {
		return false, err
	}
	for _, m := range bs {
		if m.ID == b.ID {
			return true, nil
		}
	}
	return false, nil
}

// describe reads a stored release for an answer.
func (a *API) describe(ctx context.Context, id string, ws *store.Workspace, b *store.Backend) (*Release, error) {
	rel, err := a.Store.Release(ctx, id)
	if err != nil {
		return nil, err
	}
	files, err := a.Store.ReleaseFiles(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &Release{ID: rel.ID, Workspace: ws.Name, Backend: b.Slug, Status: rel.Status, RequestedFiles: rel.RequestedFiles,
		CreatedAt: rel.CreatedAt, Files: []FileInfo{}}
	if out.RequestedFiles == nil {
		out.RequestedFiles = []string{}
	}
	if rel.CreatedBy != 0 {
		if u, err := a.Store.User(ctx, rel.CreatedBy); err == nil {
			out.CreatedBy = u.Username
		} else if haven.ErrorCode(err) != haven.ENOTFOUND {
			return nil, err
		}
	}
	for _, f := range files {
		fi := FileInfo{ID: f.ID, Name: f.Name, SHA256: f.SHA256, Size: f.Size}
		if f.Uploaded() {
			t := f.UploadedAt
			fi.UploadedAt = &t
		}
		out.Files = append(out.Files, fi)
	}
	return out, nil
}

// audit appends to the audit log; a failure is logged, not returned: the
// release or upload it records has happened.
func (a *API) audit(ctx context.Context, e *store.AuditEvent) {
	e.CreatedAt = a.now()
	if err := a.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.Logger.Error("append to the audit log", "type", e.Type, "target", e.Target, "err", err)
	}
}
