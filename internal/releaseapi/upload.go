package releaseapi

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/policy"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// maxDispositionLen bounds the Content-Disposition header.
const maxDispositionLen = 4096

func (a *API) handleUpload(w http.ResponseWriter, r *http.Request) {
	status, up, err := a.upload(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	webkit.WriteJSON(w, status, up)
}

// uploadError maps a failure reading or storing the body to a status.
func uploadError(err error, name string) error {
	switch {
	case errors.Is(err, errTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "the body for %s is larger than its Content-Length or than %d bytes", name, MaxFileSize)
	case errors.Is(err, errShort):
		return errorf(http.StatusBadRequest, "the body for %s is shorter than its Content-Length", name)
	case errors.Is(err, errMismatch):
		return errorf(http.StatusUnprocessableEntity, "Contents of uploaded file does not match: the sha256 of the bytes sent for %s is not the one the release holds", name)
	}
	return err
}

// upload runs the checks of spec §11.1's upload table.
func (a *API) upload(r *http.Request) (int, *Upload, error) {
	ctx := r.Context()
	b, err := a.authenticateAirlock(r)
	if err != nil {
		return 0, nil, err
	}
	if r.ContentLength > MaxFileSize {
		return 0, nil, errorf(http.StatusRequestEntityTooLarge, "Content-Length %d is larger than the %d-byte limit for a released file", r.ContentLength, MaxFileSize)
	}
	id := r.PathValue("id")
	if !store.ValidULID(id) {
		return 0, nil, errorf(http.StatusNotFound, "there is no release %q", id)
	}
	rel, err := a.Store.Release(ctx, id)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return 0, nil, errorf(http.StatusNotFound, "there is no release %s", id)
	}
	if err != nil {
		return 0, nil, err
	}
	if rel.BackendID != b.ID {
		return 0, nil, errorf(http.StatusForbidden, "forbidden: release %s belongs to another backend", id)
	}
	name, err := attachmentName(r.Header.Get("Content-Disposition"))
	if err != nil {
		return 0, nil, err
	}
	f, err := a.Store.ReleaseFile(ctx, id, name)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return 0, nil, errorf(http.StatusNotFound, "release %s has no file %q: send one of its requested files", id, name)
	}
	if err != nil {
		return 0, nil, err
	}
	if f.Redacted() {
		return 0, nil, errorf(http.StatusConflict, "file %s of release %s was redacted; it cannot be uploaded", name, id)
	}
	ws, err := a.Store.Workspace(ctx, rel.WorkspaceID)
	if err != nil {
		return 0, nil, err
	}
	if !reWorkspace.MatchString(ws.Name) || policy.CheckName(f.Name) != nil {
		// Names were checked at creation; refuse rather than build a path
		// from anything else.
		return 0, nil, haven.Errorf(haven.EINTERNAL, "release %s: workspace %q or file %q is not a safe path", id, ws.Name, f.Name)
	}

	unlock := a.lock(f.ID)
	defer unlock()
	if f, err = a.Store.ReleaseFile(ctx, id, name); err != nil { // fresh, under the lock
		return 0, nil, err
	}
	if f.Uploaded() {
		// Already stored: never overwritten. The same bytes again are a
		// success (the Airlock retried after losing the answer).
		sum, n, err := readBody(io.Discard, r.Body, r.ContentLength, MaxFileSize)
		if err != nil {
			return 0, nil, uploadError(err, name)
		}
		if sum != f.SHA256 || n != f.Size {
			return 0, nil, uploadError(errMismatch, name)
		}
		return http.StatusOK, uploadAnswer(f), nil
	}

	rel2 := storagePath(ws.Name, rel.ID, f.Name)
	n, err := saveFile(a.Dir, rel2, r.Body, r.ContentLength, MaxFileSize, f.SHA256, f.Size)
	if err != nil {
		return 0, nil, uploadError(err, name)
	}
	now := a.now()
	status := http.StatusCreated
	if err := a.Store.MarkUploaded(ctx, f.ID, rel2, now); haven.ErrorCode(err) == haven.ECONFLICT {
		// Another server replica stored the same verified bytes first.
		status = http.StatusOK
	} else if err != nil {
		return 0, nil, err
	}
	if f, err = a.Store.ReleaseFile(ctx, id, name); err != nil {
		return 0, nil, err
	}
	if status == http.StatusCreated {
		a.Logger.Info("released file uploaded", "release", id, "workspace", ws.Name, "backend", b.Slug, "file", f.Name, "bytes", n)
		a.audit(ctx, &store.AuditEvent{Type: "release_file.upload", Target: "release:" + id,
			Extra: map[string]string{"workspace": ws.Name, "backend": b.Slug, "file": f.Name, "sha256": f.SHA256}})
	}
	return status, uploadAnswer(f), nil
}

func uploadAnswer(f *store.ReleaseFile) *Upload {
	return &Upload{ReleaseID: f.ReleaseID, FileID: f.ID, Name: f.Name, SHA256: f.SHA256, Size: f.Size, UploadedAt: f.UploadedAt}
}

// attachmentName is the filename of `Content-Disposition: attachment;
// filename="<name>"`.
func attachmentName(h string) (string, error) {
	if h == "" {
		return "", errorf(http.StatusBadRequest, `send the file's name in a Content-Disposition: attachment; filename="<name>" header`)
	}
	if len(h) > maxDispositionLen {
		return "", errorf(http.StatusBadRequest, "the Content-Disposition header is longer than %d bytes", maxDispositionLen)
	}
	disp, params, err := mime.ParseMediaType(h)
	if err != nil || disp != "attachment" || params["filename"] == "" {
		return "", errorf(http.StatusBadRequest, `the Content-Disposition header %q is not valid: send attachment; filename="<name>"`, h)
	}
	return params["filename"], nil
}
