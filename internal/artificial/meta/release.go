package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/haven-tre/haven"
)

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

// ApprovalSchemaV1 names the approval record format.
const ApprovalSchemaV1 = "haven.artificial.approval/v1"

// Approval is the record a reviewer's sign-off leaves beside the metadata
// (META.approval.json for META.json).
type Approval struct {
	Schema         string   `json:"schema"` // haven.artificial.approval/v1
	MetadataSHA256 string   `json:"metadata_sha256"`
	Reviewer       string   `json:"reviewer"`
	ApprovedAt     string   `json:"approved_at"` // RFC 3339, UTC
	HavenVersion   string   `json:"haven_version,omitempty"`
	Acknowledged   []string `json:"acknowledged,omitempty"` // REVIEW findings the reviewer accepted
	// Thresholds are those of the review that was approved; the generator
	// reruns the checks with them.
	Thresholds *Thresholds `json:"thresholds,omitempty"`
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

// ApprovalPath returns where the approval of the metadata file at
// metadataPath is kept: X.approval.json for X.json, and PATH.approval.json
// for any other name. It is never metadataPath itself.
func ApprovalPath(metadataPath string) string {
	if base, ok := strings.CutSuffix(metadataPath, ".json"); ok {
		return base + ".approval.json"
	}
	return metadataPath + ".approval.json"
}

// OpenRelease loads the metadata file at metadataPath for the generator.
// With an approval beside it (ApprovalPath), the approval must parse, be
// for exactly these bytes (its metadata_sha256), and the automated checks,
// rerun with the approval's thresholds, must find no FAIL or ERROR and no
// REVIEW finding the reviewer did not acknowledge; the release is then
// reviewed. Without a valid approval it is an error, unless
// allowUnreviewed, when the release is unreviewed and everything
// generated from it is marked so.
//
// Errors are *haven.Error: EINVALID for anything the user can fix (no or
// stale approval, unreadable or invalid files), EINTERNAL otherwise.
func OpenRelease(metadataPath string, allowUnreviewed bool) (*Release, error) {
	doc, raw, err := loadMetadata(metadataPath)
	if err != nil {
		return nil, err
	}
	rel, err := verifyApproval(metadataPath, doc, raw)
	if err == nil {
		return rel, nil
	}
	if allowUnreviewed {
		return Unreviewed(doc, raw), nil
	}
	return nil, err
}

// loadMetadata is Load with errors the user can act on.
func loadMetadata(path string) (*Document, []byte, error) {
	doc, raw, err := Load(path)
	if err == nil {
		return doc, raw, nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, nil, &haven.Error{Code: haven.EINVALID, Message: "cannot read the metadata file", Err: err}
	}
	return nil, nil, haven.Errorf(haven.EINVALID, "%v", err)
}

func verifyApproval(path string, doc *Document, raw []byte) (*Release, error) {
	apath := ApprovalPath(path)
	araw, err := os.ReadFile(apath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, haven.Errorf(haven.EINVALID,
			"%s has not been approved: run 'haven data review %s' and approve it with --approve --reviewer NAME, or pass --unreviewed to generate anyway (the output is then marked unreviewed)",
			path, path)
	}
	if err != nil {
		return nil, &haven.Error{Code: haven.EINVALID, Message: "cannot read the approval of " + path, Err: err}
	}
	a, err := ParseApproval(apath, araw)
	if err != nil {
		return nil, haven.Errorf(haven.EINVALID, "%v", err)
	}
	sha := SHA256(raw)
	if a.MetadataSHA256 != sha {
		return nil, haven.Errorf(haven.EINVALID,
			"%s changed after it was approved by %s on %s: review and approve it again (approved sha256 %s, now %s)",
			path, a.Reviewer, approvalDate(a.ApprovedAt), a.MetadataSHA256, sha)
	}
	var opts ReviewOptions
	if t := a.Thresholds; t != nil {
		opts = ReviewOptions{MinCount: t.MinCount, RoundBase: t.RoundBase, LongValue: t.LongValue, RareCount: t.RareCount}
	}
	rep := Review(doc, opts)
	if b := rep.Blocking(); len(b) > 0 {
		return nil, haven.Errorf(haven.EINVALID,
			"%s was approved by %s on %s but now fails the review checks: %s; fix the metadata, then review and approve it again",
			path, a.Reviewer, approvalDate(a.ApprovedAt), findingList(b))
	}
	acked := map[string]bool{}
	for _, k := range a.Acknowledged {
		acked[k] = true
	}
	var missing []string
	for _, k := range rep.Acknowledgements() {
		if !acked[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, haven.Errorf(haven.EINVALID,
			"%s was approved by %s on %s, but the review checks now raise REVIEW findings the approval does not acknowledge: %s; review and approve it again",
			path, a.Reviewer, approvalDate(a.ApprovedAt), keyList(missing))
	}
	return &Release{doc: doc, sha256: sha, reviewed: true, approval: a}, nil
}

// approvalDate shows an RFC 3339 time as "2006-01-02 15:04 UTC".
func approvalDate(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// findingList names up to five findings by key.
func findingList(list []Finding) string {
	keys := make([]string, len(list))
	for i, f := range list {
		keys[i] = f.Verdict.String() + " " + f.Key()
	}
	return keyList(keys)
}

func keyList(keys []string) string {
	const show = 5
	if len(keys) <= show {
		return strings.Join(keys, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(keys[:show], "; "), len(keys)-show)
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseApproval decodes an approval record strictly; name is the file's
// name, for messages.
func ParseApproval(name string, raw []byte) (*Approval, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var a Approval
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%s: not a Haven approval record: %v (approvals are written by 'haven data review --approve')", name, jsonErr(raw, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: extra content after the approval record", name)
	}
	if a.Schema != ApprovalSchemaV1 {
		return nil, fmt.Errorf("%s: schema is %q, want %q (approvals are written by 'haven data review --approve')", name, a.Schema, ApprovalSchemaV1)
	}
	if !sha256Hex.MatchString(a.MetadataSHA256) {
		return nil, fmt.Errorf("%s: metadata_sha256 %q is not 64 lower-case hex digits", name, a.MetadataSHA256)
	}
	if strings.TrimSpace(a.Reviewer) == "" {
		return nil, fmt.Errorf("%s: the approval names no reviewer", name)
	}
	if _, err := time.Parse(time.RFC3339, a.ApprovedAt); err != nil {
		return nil, fmt.Errorf("%s: approved_at %q is not an RFC 3339 time", name, a.ApprovedAt)
	}
	return &a, nil
}
