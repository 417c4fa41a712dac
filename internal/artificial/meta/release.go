package meta

// Release is metadata the generator may read: either approved by a
// reviewer (its approval record checked against the metadata's SHA-256 and
// the automated checks rerun) or explicitly unreviewed, in which case
// everything generated from it says so. Its fields are unexported so that
// nothing but this package's constructors can make one; the generator takes
// nothing else.
type Release struct {
	doc      *Document
	sha256   string
	reviewed bool
	approval *Approval
}

// Approval is the record a reviewer's sign-off leaves beside the metadata
// (META.approval.json for META.json).
type Approval struct {
	Schema         string   `json:"schema"` // haven.artificial.approval/v1
	MetadataSHA256 string   `json:"metadata_sha256"`
	Reviewer       string   `json:"reviewer"`
	ApprovedAt     string   `json:"approved_at"` // RFC 3339, UTC
	HavenVersion   string   `json:"haven_version,omitempty"`
	Acknowledged   []string `json:"acknowledged,omitempty"` // REVIEW findings the reviewer accepted
}

// Unreviewed wraps metadata that no one approved, for `generate
// --unreviewed`. raw is the metadata file's bytes.
func Unreviewed(doc *Document, raw []byte) *Release {
	return &Release{doc: doc, sha256: SHA256(raw)}
}

// Document returns the metadata. Callers must not modify it.
func (r *Release) Document() *Document { return r.doc }

// SHA256 is the hex SHA-256 of the metadata file's bytes.
func (r *Release) SHA256() string { return r.sha256 }

// Reviewed reports whether a reviewer approved the metadata.
func (r *Release) Reviewed() bool { return r.reviewed }

// Approval returns the approval record, or nil when unreviewed.
func (r *Release) Approval() *Approval { return r.approval }
