package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/policy"
	"github.com/haven-tre/haven/internal/store"
)

// Releases (spec §2.7, §11).

const releaseColumns = `id, workspace_id, backend_id, status, requested_files, metadata, review, created_by, created_at`

func scanRelease(sc scanner) (*store.Release, error) {
	var (
		r                       store.Release
		requested, meta, review string
		by                      sql.NullInt64
		created                 int64
	)
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &r.BackendID, &r.Status, &requested, &meta, &review, &by, &created); err != nil {
		return nil, err
	}
	if err := decodeList(requested, &r.RequestedFiles); err != nil {
		return nil, fmt.Errorf("release %s: requested files: %w", r.ID, err)
	}
	if err := decodeMap(meta, &r.Metadata); err != nil {
		return nil, fmt.Errorf("release %s: metadata: %w", r.ID, err)
	}
	if err := decodeMap(review, &r.Review); err != nil {
		return nil, fmt.Errorf("release %s: review: %w", r.ID, err)
	}
	r.CreatedBy, r.CreatedAt = by.Int64, fromNanos(created)
	return &r, nil
}

const releaseFileColumns = `id, release_id, workspace_id, name, path, filehash, size, mtime, metadata,
	created_by, created_at, uploaded_at, deleted_by, deleted_at`

func scanReleaseFile(sc scanner) (*store.ReleaseFile, error) {
	var (
		f                                   store.ReleaseFile
		meta                                string
		by, deletedBy                       sql.NullInt64
		mtime, created, uploaded, deletedAt int64
	)
	if err := sc.Scan(&f.ID, &f.ReleaseID, &f.WorkspaceID, &f.Name, &f.Path, &f.SHA256, &f.Size, &mtime, &meta,
		&by, &created, &uploaded, &deletedBy, &deletedAt); err != nil {
		return nil, err
	}
	if err := decodeMap(meta, &f.Metadata); err != nil {
		return nil, fmt.Errorf("release file %s: metadata: %w", f.ID, err)
	}
	f.Mtime, f.CreatedAt, f.UploadedAt, f.DeletedAt = fromNanos(mtime), fromNanos(created), fromNanos(uploaded), fromNanos(deletedAt)
	f.CreatedBy, f.DeletedBy = by.Int64, deletedBy.Int64
	return &f, nil
}

// checkRelease refuses a release or file the schema would refuse, with a
// message naming the value.
func checkRelease(r *store.Release, files []*store.ReleaseFile) error {
	if !store.ValidULID(r.ID) {
		return haven.Errorf(haven.EINVALID, "create release: id %q is not a ULID (26 upper-case Crockford base32 characters)", r.ID)
	}
	switch r.Status {
	case "", store.ReleaseRequested, store.ReleaseApproved, store.ReleaseRejected:
	default:
		return haven.Errorf(haven.EINVALID, "create release %s: status %q is not one of %s, %s, %s", r.ID, r.Status,
			store.ReleaseRequested, store.ReleaseApproved, store.ReleaseRejected)
	}
	seen := map[string]bool{}
	for _, f := range files {
		switch {
		case f == nil:
			return haven.Errorf(haven.EINVALID, "create release %s: a file is nil", r.ID)
		case f.Name == "":
			return haven.Errorf(haven.EINVALID, "create release %s: a file has no name", r.ID)
		case seen[f.Name]:
			return haven.Errorf(haven.EINVALID, "create release %s: file %s is listed twice", r.ID, f.Name)
		case !policy.ValidSHA256(f.SHA256):
			return haven.Errorf(haven.EINVALID, "create release %s: file %s: sha256 %q is not 64 lower-case hex digits", r.ID, f.Name, f.SHA256)
		case f.Size < 0:
			return haven.Errorf(haven.EINVALID, "create release %s: file %s: size %d is negative", r.ID, f.Name, f.Size)
		}
		seen[f.Name] = true
	}
	return nil
}

// sameRelease reports whether a stored release and its files are the
// release being created again: same workspace, backend, and file names
// with the same hashes and sizes.
func sameRelease(old *store.Release, oldFiles []*store.ReleaseFile, r *store.Release, files []*store.ReleaseFile) bool {
	if old.WorkspaceID != r.WorkspaceID || old.BackendID != r.BackendID || len(oldFiles) != len(files) {
		return false
	}
	want := map[string]*store.ReleaseFile{}
	for _, f := range oldFiles {
		want[f.Name] = f
	}
	for _, f := range files {
		o, ok := want[f.Name]
		if !ok || o.SHA256 != f.SHA256 || o.Size != f.Size {
			return false
		}
	}
	return true
}

// CreateRelease stores a release and its files, or finds the same release
// already stored (see store.Store).
func (s *Store) CreateRelease(ctx context.Context, r *store.Release, files []*store.ReleaseFile) (bool, error) {
	if err := checkRelease(r, files); err != nil {
		return false, err
	}
	created := orNow(r.CreatedAt)
	status := r.Status
	if status == "" {
		status = store.ReleaseRequested
	}
	requested := r.RequestedFiles
	if requested == nil {
		for _, f := range files {
			requested = append(requested, f.Name)
		}
	}
	requestedText, err := jsonText(requested)
	if err != nil {
		return false, err
	}
	meta, err := jsonText(r.Metadata)
	if err != nil {
		return false, err
	}
	review, err := jsonText(r.Review)
	if err != nil {
		return false, err
	}
	fileMeta := make([]string, len(files))
	for i, f := range files {
		if fileMeta[i], err = jsonText(f.Metadata); err != nil {
			return false, err
		}
	}
	ids := make([]string, len(files))
	for i := range files {
		ids[i] = store.NewULID(created)
	}
	var made bool
	attempt := func() error {
		return s.write(ctx, func(w *wtx) error {
			made = false
			old, err := scanRelease(w.queryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = ?`+w.d.ForUpdate, r.ID))
			switch {
			case err == nil:
				oldFiles, err := queryAll(ctx, w.conn, scanReleaseFile, `SELECT `+releaseFileColumns+` FROM release_files WHERE release_id = ? ORDER BY name`, r.ID)
				if err != nil {
					return wrap(err, "create release %s: read the stored release", r.ID)
				}
				if !sameRelease(old, oldFiles, r, files) {
					return haven.Errorf(haven.ECONFLICT, "release %s already exists with a different workspace, backend or set of files and hashes; a release cannot be changed", r.ID)
				}
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return wrap(err, "create release %s", r.ID)
			}
			if _, err := w.exec(ctx, `INSERT INTO releases (`+releaseColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.ID, r.WorkspaceID, r.BackendID, status, requestedText, meta, review, nullID(r.CreatedBy), nanos(created)); err != nil {
				return err
			}
			for i, f := range files {
				if _, err := w.exec(ctx, `INSERT INTO release_files (id, release_id, workspace_id, name, filehash, size, mtime, metadata, created_by, created_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					ids[i], r.ID, r.WorkspaceID, f.Name, f.SHA256, f.Size, nanos(f.Mtime), fileMeta[i], nullID(r.CreatedBy), nanos(created)); err != nil {
					return err
				}
			}
			made = true
			return nil
		})
	}
	err = attempt()
	if err != nil && s.d.Classify != nil {
		// Two identical creates raced past each other's SELECT: the
		// loser's insert hit the primary key. Run it again to compare.
		if v, name := s.d.Classify(err); v == UniqueViolation && strings.Contains(name, "releases") && !strings.Contains(name, "release_files") {
			err = attempt()
		}
	}
	if err != nil {
		return false, s.constraintError(err, "create release "+r.ID, func(v Violation, _ string) *haven.Error {
			switch v {
			case ForeignKeyViolation:
				return haven.Errorf(haven.ENOTFOUND, "create release %s: no workspace with id %d, no backend with id %d or no user with id %d",
					r.ID, r.WorkspaceID, r.BackendID, r.CreatedBy)
			case UniqueViolation:
				return haven.Errorf(haven.ECONFLICT, "create release %s: it already exists", r.ID)
			}
			return nil
		})
	}
	if !made {
		return false, nil
	}
	r.CreatedAt, r.Status, r.RequestedFiles = created, status, requested
	for i, f := range files {
		f.ID, f.ReleaseID, f.WorkspaceID, f.CreatedBy, f.CreatedAt = ids[i], r.ID, r.WorkspaceID, r.CreatedBy, created
		f.Path, f.UploadedAt = "", time.Time{}
	}
	return true, nil
}

// Release returns a release by id.
func (s *Store) Release(ctx context.Context, id string) (*store.Release, error) {
	r, err := scanRelease(s.read().queryRow(ctx, `SELECT `+releaseColumns+` FROM releases WHERE id = ?`, id))
	return r, notFound(err, "no release with id %s", id)
}

// WorkspaceReleases lists a workspace's releases, newest first.
func (s *Store) WorkspaceReleases(ctx context.Context, workspaceID int64) ([]*store.Release, error) {
	out, err := queryAll(ctx, s.read(), scanRelease, `SELECT `+releaseColumns+` FROM releases WHERE workspace_id = ? ORDER BY created_at DESC, id DESC`, workspaceID)
	return out, wrap(err, "list releases of workspace %d", workspaceID)
}

// ReleaseFiles lists a release's files by name.
func (s *Store) ReleaseFiles(ctx context.Context, releaseID string) ([]*store.ReleaseFile, error) {
	out, err := queryAll(ctx, s.read(), scanReleaseFile, `SELECT `+releaseFileColumns+` FROM release_files WHERE release_id = ? ORDER BY name`, releaseID)
	if err != nil {
		return nil, wrap(err, "list files of release %s", releaseID)
	}
	// Sort in Go too: the databases' collations may differ.
	slices.SortFunc(out, func(a, b *store.ReleaseFile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ReleaseFile returns a release's file by name.
func (s *Store) ReleaseFile(ctx context.Context, releaseID, name string) (*store.ReleaseFile, error) {
	f, err := scanReleaseFile(s.read().queryRow(ctx, `SELECT `+releaseFileColumns+` FROM release_files WHERE release_id = ? AND name = ?`, releaseID, name))
	return f, notFound(err, "release %s has no file %s", releaseID, name)
}

// MarkUploaded records a file's storage path and upload time, once.
func (s *Store) MarkUploaded(ctx context.Context, fileID, storagePath string, now time.Time) error {
	if storagePath == "" {
		return haven.Errorf(haven.EINVALID, "mark release file %s uploaded: the storage path is empty", fileID)
	}
	now = orNow(now)
	return s.write(ctx, func(w *wtx) error {
		var uploaded int64
		err := w.queryRow(ctx, `SELECT uploaded_at FROM release_files WHERE id = ?`+w.d.ForUpdate, fileID).Scan(&uploaded)
		if err != nil {
			return notFound(err, "mark uploaded: no release file with id %s", fileID)
		}
		if uploaded != 0 {
			return haven.Errorf(haven.ECONFLICT, "release file %s was already uploaded at %s; a released file is never replaced",
				fileID, fromNanos(uploaded).Format(time.RFC3339))
		}
		res, err := w.exec(ctx, `UPDATE release_files SET path = ?, uploaded_at = ? WHERE id = ? AND uploaded_at = 0`, storagePath, nanos(now), fileID)
		return mustAffect(res, err, "mark uploaded: no release file with id %s", fileID)
	})
}

// WorkspaceReleasedFiles lists a workspace's uploaded, unredacted files.
func (s *Store) WorkspaceReleasedFiles(ctx context.Context, workspaceID int64) ([]*store.ReleaseFile, error) {
	out, err := queryAll(ctx, s.read(), scanReleaseFile, `SELECT `+releaseFileColumns+` FROM release_files
		WHERE workspace_id = ? AND uploaded_at <> 0 AND deleted_at = 0 ORDER BY name, uploaded_at`, workspaceID)
	if err != nil {
		return nil, wrap(err, "list released files of workspace %d", workspaceID)
	}
	slices.SortStableFunc(out, func(a, b *store.ReleaseFile) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.UploadedAt.Compare(b.UploadedAt)
	})
	return out, nil
}
