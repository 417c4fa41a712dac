package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/haven-tre/haven"
)

// ConfirmLen is how many leading hex digits of the metadata's SHA-256
// --confirm must give.
const ConfirmLen = 12

// ApproveOptions are a reviewer's approval of one metadata file.
type ApproveOptions struct {
	// Reviewer names the person approving; required, not blank.
	Reviewer string
	// Confirm, when not empty, must be the first 12 hex digits of the
	// metadata file's SHA-256: a guard that the reviewer approves the file
	// they meant to.
	Confirm string
	// HavenVersion is recorded in the approval.
	HavenVersion string
	// Now is the approval time; zero means the current time. It is
	// recorded in UTC.
	Now time.Time
}

// CheckReviewer reports whether name can be recorded as a reviewer: not
// blank, at most 200 characters, no control characters.
func CheckReviewer(name string) error {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return haven.Errorf(haven.EINVALID, "the reviewer's name is blank: pass --reviewer with the name of the person approving")
	case !utf8.ValidString(n) || strings.IndexFunc(n, unicode.IsControl) >= 0:
		return haven.Errorf(haven.EINVALID, "the reviewer's name %q holds control characters: give a plain name", n)
	case utf8.RuneCountInString(n) > 200:
		return haven.Errorf(haven.EINVALID, "the reviewer's name is %d characters long: give at most 200", utf8.RuneCountInString(n))
	}
	return nil
}

// CheckConfirm compares confirm with the first 12 hex digits of sha256;
// name is the metadata file's name, for messages.
func CheckConfirm(name, confirm, sha256 string) error {
	want := sha256[:min(ConfirmLen, len(sha256))]
	c := strings.ToLower(strings.TrimSpace(confirm))
	if len(c) != ConfirmLen || strings.Trim(c, "0123456789abcdef") != "" {
		return haven.Errorf(haven.EINVALID, "--confirm %q is not %d hex digits: pass the first %d hex digits of the sha256 of %s (%s)",
			confirm, ConfirmLen, ConfirmLen, name, want)
	}
	if c != want {
		return haven.Errorf(haven.EINVALID, "--confirm %s does not match %s, whose sha256 begins %s: check that this is the file you reviewed, then pass --confirm %s",
			c, name, want, want)
	}
	return nil
}

// NewApproval returns the approval of the metadata file at metadataPath
// whose bytes are raw and whose review is rep, after checking the reviewer
// and the confirmation. It refuses (EINVALID, naming the findings) while
// rep has any FAIL or ERROR finding; the REVIEW findings become the
// approval's acknowledgements. Nothing is written.
func NewApproval(metadataPath string, raw []byte, rep *ReviewReport, opts ApproveOptions) (*Approval, error) {
	if err := CheckReviewer(opts.Reviewer); err != nil {
		return nil, err
	}
	sha := SHA256(raw)
	if opts.Confirm != "" {
		if err := CheckConfirm(metadataPath, opts.Confirm, sha); err != nil {
			return nil, err
		}
	}
	if b := rep.Blocking(); len(b) > 0 {
		return nil, haven.Errorf(haven.EINVALID,
			"cannot approve %s: the review found %d FAIL and %d ERROR findings (%s): fix the metadata and review it again",
			metadataPath, rep.Counts.Fail, rep.Counts.Error, findingList(b))
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	th := rep.Thresholds
	return &Approval{
		Schema:         ApprovalSchemaV1,
		MetadataSHA256: sha,
		Reviewer:       strings.TrimSpace(opts.Reviewer),
		ApprovedAt:     now.UTC().Format(time.RFC3339),
		HavenVersion:   opts.HavenVersion,
		Acknowledged:   rep.Acknowledgements(),
		Thresholds:     &th,
	}, nil
}

// WriteApproval writes a beside the metadata file at metadataPath
// (ApprovalPath), atomically, and returns the approval's path.
func WriteApproval(metadataPath string, a *Approval) (string, error) {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return "", err
	}
	p := ApprovalPath(metadataPath)
	if err := WriteAtomic(p, append(b, '\n')); err != nil {
		return "", fmt.Errorf("write the approval %s: %w", p, err)
	}
	return p, nil
}

// Approve reviews the metadata file at metadataPath with ropts and, when
// the review allows it, writes its approval. It returns the approval and
// the report (the report also on refusal, when the review ran).
func Approve(metadataPath string, ropts ReviewOptions, opts ApproveOptions) (*Approval, *ReviewReport, error) {
	doc, raw, err := loadMetadata(metadataPath)
	if err != nil {
		return nil, nil, err
	}
	rep := Review(doc, ropts)
	rep.Metadata, rep.MetadataSHA256 = metadataPath, SHA256(raw)
	a, err := NewApproval(metadataPath, raw, rep, opts)
	if err != nil {
		return nil, rep, err
	}
	if _, err := WriteApproval(metadataPath, a); err != nil {
		return nil, rep, &haven.Error{Code: haven.EINTERNAL, Message: "cannot record the approval", Err: err}
	}
	rep.Approval = a
	return a, rep, nil
}

// DescribeApproval says, for a person, what the approval beside the
// metadata file at metadataPath (whose bytes are raw) is worth: approved
// by whom and when, stale (for other bytes), or unreadable. ok is false
// when there is no approval.
func DescribeApproval(metadataPath string, raw []byte) (desc string, ok bool) {
	apath := ApprovalPath(metadataPath)
	araw, err := os.ReadFile(apath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	if err != nil {
		return fmt.Sprintf("%s cannot be read: %v", apath, err), true
	}
	a, err := ParseApproval(apath, araw)
	if err != nil {
		return err.Error(), true
	}
	if a.MetadataSHA256 != SHA256(raw) {
		return fmt.Sprintf("%s approves an earlier version of %s (by %s on %s): it no longer counts; approve again",
			apath, metadataPath, a.Reviewer, approvalDate(a.ApprovedAt)), true
	}
	return fmt.Sprintf("approved by %s on %s (%s)", a.Reviewer, approvalDate(a.ApprovedAt), apath), true
}
