package releaseapi

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"path"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/policy"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// ContentSecurityPolicy is sent with every released file (the sandbox
// of policy.ContentSecurityPolicy).
const ContentSecurityPolicy = policy.ContentSecurityPolicy

func (a *API) handleServe(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		a.fail(w, r, err)
	}
}

// serve answers GET /api/v1/releases/{id}/files/{name...}: the bytes of
// an uploaded, unredacted file, to a user with release_file_view on the
// workspace's project. ?download=1 asks for an attachment.
func (a *API) serve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	u, err := a.Auth.Authenticate(r)
	if haven.ErrorCode(err) == haven.EFORBIDDEN {
		return errorf(http.StatusUnauthorized, "%s", webkit.PublicMessage(err))
	}
	if err != nil {
		return err
	}
	if u == nil {
		return errorf(http.StatusUnauthorized, "sign in, or send Authorization: Bearer <personal access token>, to see released files")
	}
	id, name := r.PathValue("id"), r.PathValue("name")
	if !store.ValidULID(id) {
		return errorf(http.StatusNotFound, "there is no release %q", id)
	}
	rel, err := a.Store.Release(ctx, id)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return errorf(http.StatusNotFound, "there is no release %s", id)
	}
	if err != nil {
		return err
	}
	ws, err := a.Store.Workspace(ctx, rel.WorkspaceID)
	if err != nil {
		return err
	}
	if ok, err := a.Service.Can(ctx, u, jobserver.PermReleaseFileView, ws.ProjectID); err != nil {
		return err
	} else if !ok {
		return errorf(http.StatusForbidden, "forbidden: you may not see the released files of workspace %s (release_file_view is needed on its project)", ws.Name)
	}
	if policy.CheckName(name) != nil {
		return errorf(http.StatusNotFound, "release %s has no file %q", id, name)
	}
	f, err := a.Store.ReleaseFile(ctx, id, name)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return errorf(http.StatusNotFound, "release %s has no file %q", id, name)
	}
	if err != nil {
		return err
	}
	switch {
	case f.Redacted():
		return errorf(http.StatusNotFound, "file %s of release %s was redacted", name, id)
	case !f.Uploaded():
		return errorf(http.StatusNotFound, "file %s of release %s has not been uploaded yet", name, id)
	case f.Path != storagePath(ws.Name, rel.ID, f.Name):
		return haven.Errorf(haven.EINTERNAL, "release %s file %s: stored path %q is not where released files are kept", id, name, f.Path)
	}
	file, fi, err := openStored(a.Dir, f.Path)
	if err != nil {
		return err
	}
	defer file.Close()
	if fi.Size() != f.Size {
		return haven.Errorf(haven.EINTERNAL, "release %s file %s: the stored file has %d bytes, the release says %d", id, name, fi.Size(), f.Size)
	}

	ext := policy.Suffix(f.Name)
	download := r.URL.Query().Get("download") == "1"
	var content io.ReadSeeker = file
	ctype := policy.ContentType(f.Name)
	if ext == ".svgz" {
		if download {
			ctype = "application/gzip"
		} else {
			svg, err := policy.Gunzip(file, MaxFileSize)
			if err != nil {
				return errorf(http.StatusUnprocessableEntity, "file %s of release %s cannot be shown: %v; download it instead", name, id, err)
			}
			content = bytes.NewReader(svg)
		}
	}
	if ctype == "" {
		return errorf(http.StatusNotFound, "release %s has no file %q", id, name)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", policy.ContentSecurityPolicy)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// Revalidated on every use, so a redaction takes effect at once.
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+f.SHA256+`"`)
	if download {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(f.Name)}))
	}
	http.ServeContent(w, r, "", f.UploadedAt, content)
	return nil
}
