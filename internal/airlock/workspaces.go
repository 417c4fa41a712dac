package airlock

import (
	"context"
	"slices"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/policy"
)

// FileStatus is a workspace file's status relative to the viewer's
// requests and the workspace's releases (spec §8.3).
type FileStatus string

// Workspace file statuses.
const (
	// Unreleased: on no request of the viewer, never released.
	Unreleased FileStatus = "UNRELEASED"
	// UnderReview: on the viewer's active request with the same content.
	UnderReview FileStatus = "UNDER_REVIEW"
	// Updated: on the viewer's active request, but the file on disk has
	// changed since it was added; it must be updated on the request.
	Updated FileStatus = "UPDATED"
	// Released: this content has been released from the workspace.
	Released FileStatus = "RELEASED"
	// Withdrawn: withdrawn from the viewer's active request.
	Withdrawn FileStatus = "WITHDRAWN"
	// Invalid: not a file type Airlock can release.
	Invalid FileStatus = "INVALID"
)

// Label is the status as the pages show it.
func (s FileStatus) Label() string {
	switch s {
	case Unreleased:
		return "Unreleased"
	case UnderReview:
		return "Under review"
	case Updated:
		return "Updated since added"
	case Released:
		return "Released"
	case Withdrawn:
		return "Withdrawn"
	case Invalid:
		return "Not a releasable file type"
	}
	return string(s)
}

// WorkspaceSummary is one line of the workspaces page.
type WorkspaceSummary struct {
	Name     string
	Project  string
	Archived bool
	// Role: "member" (the user's own), "copilot", or "checker"/"readonly"
	// for workspaces seen through a global role.
	Role string
}

// WorkspaceList lists the workspaces present in this backend that u may see:
// their own and copiloted ones first, then (for output checkers and
// read-only users) every other.
func (s *Service) WorkspaceList(ctx context.Context, u *User) ([]WorkspaceSummary, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	names, err := s.Workspaces.Names()
	if err != nil {
		return nil, err
	}
	var own, other []WorkspaceSummary
	for _, n := range names {
		switch {
		case u.IsMember(n):
			a := u.Workspaces[n]
			own = append(own, WorkspaceSummary{Name: n, Project: a.Project.Name, Archived: a.Archived, Role: "member"})
		case u.Copiloted[n].Project.Name != "":
			a := u.Copiloted[n]
			own = append(own, WorkspaceSummary{Name: n, Project: a.Project.Name, Archived: a.Archived, Role: "copilot"})
		case u.OutputChecker:
			other = append(other, WorkspaceSummary{Name: n, Role: "checker"})
		case u.ReadonlyAccess:
			other = append(other, WorkspaceSummary{Name: n, Role: "readonly"})
		}
	}
	return append(own, other...), nil
}

// WorkspaceView is a workspace as its pages show it.
type WorkspaceView struct {
	Workspace *workspace.Workspace
	Tree      *workspace.Node
	// Statuses maps each output in the tree to its status for the viewer.
	Statuses map[string]FileStatus
	// Editable are the viewer's requests in this workspace that files can
	// be added to (active, in an author state), newest first.
	Editable []*astore.Record
	// Active is every active request of the viewer in this workspace.
	Active []*astore.Record
	// CanAuthor is nil when the viewer may add files to a request here,
	// else why not.
	CanAuthor error
}

// Workspace opens workspace ws for u, with every output's status.
func (s *Service) Workspace(ctx context.Context, u *User, ws string, showOutOfDate bool) (*WorkspaceView, error) {
	w, err := s.openWorkspace(u, ws)
	if err != nil {
		return nil, err
	}
	v := &WorkspaceView{Workspace: w, Tree: w.Tree(showOutOfDate), CanAuthor: u.CanAuthor(ws)}
	active, err := s.Store.Requests(ctx, astore.Filter{Workspace: ws, User: u.Username, Statuses: activeStatuses()})
	if err != nil {
		return nil, err
	}
	v.Active = active
	for _, rec := range active {
		if rec.Request.Status.Owner() == review.OwnerAuthor {
			v.Editable = append(v.Editable, rec)
		}
	}
	released, err := s.Store.ReleasedHashes(ctx, ws)
	if err != nil {
		return nil, err
	}
	v.Statuses = map[string]FileStatus{}
	var walk func(n *workspace.Node)
	walk = func(n *workspace.Node) {
		if n.Entry != nil && n.Entry.Kind == workspace.KindOutput {
			v.Statuses[n.Path] = fileStatus(n.Entry, active, released)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(v.Tree)
	return v, nil
}

// FileStatus returns the status of one workspace output for u.
func (s *Service) FileStatus(ctx context.Context, u *User, ws string, e *workspace.Entry) (FileStatus, error) {
	active, err := s.Store.Requests(ctx, astore.Filter{Workspace: ws, User: u.Username, Statuses: activeStatuses()})
	if err != nil {
		return "", err
	}
	released, err := s.Store.ReleasedHashes(ctx, ws)
	if err != nil {
		return "", err
	}
	return fileStatus(e, active, released), nil
}

// fileStatus decides an output's status from the viewer's active
// requests and the hashes released from the workspace.
func fileStatus(e *workspace.Entry, active []*astore.Record, released map[string]bool) FileStatus {
	if !policy.AllowedType(e.Path) {
		return Invalid
	}
	for _, rec := range active {
		f, _ := rec.Request.File(e.Path)
		if f == nil {
			continue
		}
		if f.Type == review.WithdrawnFile {
			return Withdrawn
		}
		if m := rec.Files[e.Path]; m != nil && m.SHA256 != e.ContentHash {
			return Updated
		}
		return UnderReview
	}
	if released[e.ContentHash] {
		return Released
	}
	return Unreleased
}

func activeStatuses() []review.Status {
	var out []review.Status
	for _, st := range review.Statuses() {
		if st.Active() {
			out = append(out, st)
		}
	}
	return out
}

// openWorkspace opens ws when u may see it. A workspace u may not see is
// reported as missing, so its existence is not revealed.
func (s *Service) openWorkspace(u *User, ws string) (*workspace.Workspace, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	if !u.CanView(ws) {
		return nil, haven.Errorf(haven.ENOTFOUND, "there is no workspace %q on this backend that you can see", ws)
	}
	return s.Workspaces.Open(ws)
}

// WorkspaceFile returns the bytes of a file in u's view of workspace ws
// (an output, the note of an excluded output, or a metadata file such as
// a log) and logs the view.
func (s *Service) WorkspaceFile(ctx context.Context, u *User, ws, path string) ([]byte, *workspace.Entry, error) {
	w, err := s.openWorkspace(u, ws)
	if err != nil {
		return nil, nil, err
	}
	data, e, err := w.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	err = s.Store.Tx(ctx, func(tx *astore.Tx) error {
		return tx.Append(review.Event{
			Type: review.EventWorkspaceFileView, User: u.Username, Workspace: ws, Path: e.Path,
			Extra: map[string]string{"review_turn": "0"}, At: s.now(),
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return data, e, nil
}

// WorkspaceEntry looks up one entry of u's view of ws without reading it.
func (s *Service) WorkspaceEntry(u *User, ws, path string) (*workspace.Entry, error) {
	w, err := s.openWorkspace(u, ws)
	if err != nil {
		return nil, err
	}
	return w.Lookup(path)
}

// editableFor returns u's requests in ws that files can be added to.
func editableFor(active []*astore.Record) []*astore.Record {
	return slices.DeleteFunc(slices.Clone(active), func(r *astore.Record) bool {
		return r.Request.Status.Owner() != review.OwnerAuthor
	})
}
