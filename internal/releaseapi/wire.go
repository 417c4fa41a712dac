package releaseapi

import "time"

// Paths of the endpoints. PathFiles and PathServe are ServeMux patterns:
// {id} is a release id, {name...} a file's name relative to its
// workspace.
const (
	PathReleases = "/api/airlock/v1/releases"
	PathFiles    = "/api/airlock/v1/releases/{id}/files"
	PathServe    = "/api/v1/releases/{id}/files/{name...}"
)

// HeaderUser names the output checker an Airlock acts for when it creates
// a release.
const HeaderUser = "Haven-User"

// CreateRequest is the body of POST /api/airlock/v1/releases.
type CreateRequest struct {
	// ID is the Airlock release request's id, a ULID; it becomes the
	// release's id.
	ID        string `json:"id"`
	Workspace string `json:"workspace"`
	// Files are the request's output files, at least one.
	Files []FileSpec `json:"files"`
	// Metadata and Review are kept with the release as they are.
	Metadata map[string]string `json:"metadata,omitempty"`
	Review   map[string]string `json:"review,omitempty"`
}

// FileSpec is one file of a CreateRequest.
type FileSpec struct {
	// Name is the file's path relative to the workspace, with '/'
	// separators, e.g. "output/table.csv".
	Name string `json:"name"`
	// Size in bytes, at most MaxFileSize.
	Size int64 `json:"size"`
	// SHA256 is the hash the uploaded bytes must have, 64 lower-case hex
	// digits.
	SHA256 string    `json:"sha256"`
	Mtime  time.Time `json:"mtime"`
	// Metadata is kept with the file, e.g. {"tool": "haven-airlock",
	// "request_id": "…"}. A "level" other than moderately_sensitive is
	// refused.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Release is the answer to a create: the stored release (201 when it was
// created, 200 when the same release already existed).
type Release struct {
	ID             string     `json:"id"`
	Workspace      string     `json:"workspace"`
	Backend        string     `json:"backend"` // slug
	Status         string     `json:"status"`
	RequestedFiles []string   `json:"requested_files"`
	CreatedBy      string     `json:"created_by,omitempty"` // username
	CreatedAt      time.Time  `json:"created_at"`
	Files          []FileInfo `json:"files"`
}

// FileInfo is one file of a Release.
type FileInfo struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	SHA256     string     `json:"sha256"`
	Size       int64      `json:"size"`
	UploadedAt *time.Time `json:"uploaded_at,omitempty"` // absent until uploaded
}

// Upload is the answer to an upload: 201 when the bytes were stored now,
// 200 when they had been already (and the bytes sent had the same hash).
type Upload struct {
	ReleaseID  string    `json:"release_id"`
	FileID     string    `json:"file_id"`
	Name       string    `json:"name"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// ErrorResponse is the body of every answer that is not a success.
type ErrorResponse struct {
	Error string `json:"error"`
}
