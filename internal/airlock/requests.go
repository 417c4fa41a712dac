package airlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/policy"
	"github.com/haven-tre/haven/internal/store"
)

// DefaultGroup is the file group files go to when none is named.
const DefaultGroup = "default"

// AddFileInput names a workspace file to add to a release request.
type AddFileInput struct {
	Workspace string
	Path      string
	Group     string          // "": DefaultGroup
	Type      review.FileType // "": OUTPUT
	// RequestID picks the request when the user may edit more than one in
	// the workspace (their own and ones they co-author); "" otherwise.
	RequestID string
}

// AddFile adds a workspace output to u's active release request in the
// workspace, creating the request when u has none (spec §9.4, §9.5). The
// file is frozen first: copied into Airlock's request files, hashed, and
// refused unless the hash is the one the manifest recorded when the job
// wrote it. An OUTPUT file is checked by the automated disclosure checker
// on its frozen bytes (§9.7).
func (s *Service) AddFile(ctx context.Context, u *User, in AddFileInput) (*astore.Record, error) {
	return s.putFile(ctx, u, in, false)
}

// UpdateFile replaces a file on u's request with its new content in the
// workspace: allowed only when the file has changed on disk (UPDATED). Its
// votes are reset and the disclosure check runs again.
func (s *Service) UpdateFile(ctx context.Context, u *User, requestID, path string) (*astore.Record, error) {
	rec, err := s.record(ctx, u, requestID)
	if err != nil {
		return nil, err
	}
	return s.putFile(ctx, u, AddFileInput{Workspace: rec.Request.Workspace, Path: path, RequestID: requestID}, true)
}

func (s *Service) putFile(ctx context.Context, u *User, in AddFileInput, update bool) (*astore.Record, error) {
	if err := s.init(); err != nil {
		return nil, err
	}
	w, err := s.openWorkspace(u, in.Workspace)
	if err != nil {
		return nil, err
	}
	if err := u.CanAuthor(in.Workspace); err != nil {
		return nil, err
	}
	e, err := w.Lookup(in.Path)
	if err != nil {
		return nil, err
	}
	if e.Kind != workspace.KindOutput {
		return nil, haven.Errorf(haven.EINVALID, "%s is not an output of workspace %s (it is a %s file): only moderately_sensitive outputs can be requested for release", e.Path, in.Workspace, e.Kind)
	}
	if !policy.AllowedType(e.Path) {
		return nil, haven.Errorf(haven.EINVALID, "%s is not a file type Airlock can release; allowed types: %s", e.Path, strings.Join(pipeline.Level4FileTypes, " "))
	}
	if in.Group == "" {
		in.Group = DefaultGroup
	}
	in.Group = strings.TrimSpace(in.Group)
	if err := validGroupName(in.Group); err != nil {
		return nil, err
	}
	if in.Type == "" {
		in.Type = review.Output
	}
	frozen, err := w.Freeze(e.Path, s.requestDir(in.Workspace))
	if err != nil {
		return nil, err
	}
	data, err := workspace.ReadFrozen(s.requestDir(in.Workspace), frozen.SHA256)
	if err != nil {
		return nil, err
	}
	released, err := s.Store.ReleasedHashes(ctx, in.Workspace)
	if err != nil {
		return nil, err
	}
	var out *astore.Record
	var change statusChange
	err = s.Store.Tx(ctx, func(tx *astore.Tx) error {
		now := s.now()
		rec, created, err := s.targetRequest(tx, u, in)
		if err != nil {
			return err
		}
		var events []review.Event
		if created {
			events = append(events, review.Event{
				Type: review.EventCreate, User: u.Username, Workspace: in.Workspace, Request: rec.Request.ID,
				Extra: map[string]string{"review_turn": "0"}, At: now,
			})
		}
		p := review.Params{At: now, File: e.Path, Group: in.Group, FileType: in.Type, AlreadyReleased: released[frozen.SHA256]}
		action := review.AddFile
		if update {
			action = review.UpdateFile
			f, _ := rec.Request.File(e.Path)
			if f != nil && f.Type != review.WithdrawnFile {
				p.FileType = f.Type
			}
			if m := rec.Files[e.Path]; m != nil && m.SHA256 == frozen.SHA256 {
				return haven.Errorf(haven.ECONFLICT, "%s has not changed since it was added to the request: there is nothing to update", e.Path)
			}
		}
		meta := &astore.FileMeta{Name: e.Path, SHA256: frozen.SHA256, Size: frozen.Size, ModTime: frozen.ModTime.UTC()}
		if p.FileType == review.Output {
			meta.Report, p.FailFindings = s.check(e.Path, data)
			meta.CheckerVersion = s.CheckerVersion()
		}
		nr, evs, err := review.Apply(rec.Request, u.Username, u.OutputChecker, action, p)
		if err != nil {
			return err
		}
		events = append(events, evs...)
		if meta.Report != nil {
			events = append(events, s.checkedEvent(u.Username, nr, meta))
		}
		if rec.Files == nil {
			rec.Files = map[string]*astore.FileMeta{}
		}
		rec.Files[e.Path] = meta
		out = rec
		change, err = commit(tx, rec, nr, u.Username, events)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify(change)
	return out, nil
}

// targetRequest finds the request a file goes to: the one named, else
// u's only editable request in the workspace, else a new one.
func (s *Service) targetRequest(tx *astore.Tx, u *User, in AddFileInput) (*astore.Record, bool, error) {
	active, err := tx.ActiveRequests(in.Workspace, u.Username)
	if err != nil {
		return nil, false, err
	}
	if in.RequestID != "" {
		for _, r := range active {
			if r.Request.ID == in.RequestID {
				return r, false, nil
			}
		}
		return nil, false, haven.Errorf(haven.ENOTFOUND, "release request %s is not an active request of yours in workspace %s", in.RequestID, in.Workspace)
	}
	var own []*astore.Record
	for _, r := range active {
		if r.Request.Author == u.Username {
			own = append(own, r)
		}
	}
	switch {
	case len(active) > 1:
		ids := make([]string, len(active))
		for i, r := range active {
			ids[i] = r.Request.ID
		}
		return nil, false, haven.Errorf(haven.EINVALID, "you can edit %d release requests in workspace %s (%s): choose the one to add the file to", len(active), in.Workspace, strings.Join(ids, ", "))
	case len(active) == 1:
		return active[0], false, nil
	case len(own) == 0:
		now := s.now()
		return &astore.Record{
			Request:   &review.Request{ID: store.NewULID(now), Workspace: in.Workspace, Author: u.Username, Status: review.Pending},
			Files:     map[string]*astore.FileMeta{},
			CreatedAt: now,
		}, true, nil
	}
	return own[0], false, nil
}

// checkedEvent is the FILE_CHECKED audit event of a disclosure check.
func (s *Service) checkedEvent(user string, r *review.Request, m *astore.FileMeta) review.Event {
	verdict := ""
	if rep := Report(m.Report); rep != nil {
		verdict = rep.Verdict.String()
	}
	return review.Event{
		Type: review.EventFileChecked, User: user, Workspace: r.Workspace, Request: r.ID, Path: m.Name,
		Extra: map[string]string{
			"review_turn": strconv.Itoa(r.ReviewTurn), "verdict": verdict,
			"sha256": m.SHA256, "checker": m.CheckerVersion,
		},
		At: s.now(),
	}
}

func validGroupName(g string) error {
	switch {
	case g == "":
		return haven.Errorf(haven.EINVALID, "the file group has no name: give it one, such as %q", DefaultGroup)
	case len(g) > 100:
		return haven.Errorf(haven.EINVALID, "the file group name is %d characters long: use at most 100", len(g))
	case strings.ContainsAny(g, "\x00\r\n\t"):
		return haven.Errorf(haven.EINVALID, "the file group name %q contains control characters: use plain text", g)
	}
	return nil
}

// Act does one action on a request for u: every action except adding,
// updating and releasing files (AddFile, UpdateFile and Release do those)
// and the system's own steps. Params.At, WorkspaceMember and
// CoAuthorCanAuthor are filled in here, never taken from the caller.
func (s *Service) Act(ctx context.Context, u *User, id string, a review.Action, p review.Params) (*astore.Record, error) {
	switch a {
	case review.AddFile, review.UpdateFile, review.Release, review.ReviewSubmitted, review.FilesUploaded:
		return nil, haven.Errorf(haven.EINVALID, "%s is not done through this form", a)
	}
	if !a.Valid() {
		return nil, haven.Errorf(haven.EINVALID, "unknown action %q", a)
	}
	rec, err := s.record(ctx, u, id)
	if err != nil {
		return nil, err
	}
	ws := rec.Request.Workspace
	if isAuthorAction(a) && a != review.Withdraw && a != review.WithdrawFile {
		if err := u.CanAuthor(ws); err != nil && review.ActorOf(rec.Request, u.Username, u.OutputChecker).IsAuthor() {
			return nil, err
		}
	}
	p.WorkspaceMember = u.IsMember(ws)
	p.CoAuthorCanAuthor = false
	if a == review.AddCoAuthor {
		p.CoAuthor = strings.TrimSpace(p.CoAuthor)
		p.CoAuthorCanAuthor = s.mayAuthor(ctx, p.CoAuthor, ws)
	}
	var out *astore.Record
	var change statusChange
	err = s.Store.Tx(ctx, func(tx *astore.Tx) error {
		rec, err := tx.Request(id)
		if err != nil {
			return err
		}
		p.At = s.now()
		var meta *astore.FileMeta
		if a == review.MoveFile && p.FileType == review.Output {
			if f, _ := rec.Request.File(p.File); f != nil && f.Type != review.Output {
				if meta, err = s.recheck(rec, p.File); err != nil {
					return err
				}
				p.FailFindings = failIDs(Findings(meta.Report))
			}
		}
		nr, events, err := review.Apply(rec.Request, u.Username, u.OutputChecker, a, p)
		if err != nil {
			return err
		}
		if meta != nil {
			rec.Files[p.File] = meta
			events = append(events, s.checkedEvent(u.Username, nr, meta))
		}
		out = rec
		change, err = commit(tx, rec, nr, u.Username, events)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify(change)
	return out, nil
}

// recheck runs the disclosure check on a request file's frozen copy again
// (a SUPPORTING file becoming an OUTPUT).
func (s *Service) recheck(rec *astore.Record, name string) (*astore.FileMeta, error) {
	m := rec.Files[name]
	if m == nil {
		return nil, haven.Errorf(haven.ENOTFOUND, "%s is not on this request", name)
	}
	data, err := workspace.ReadFrozen(s.requestDir(rec.Request.Workspace), m.SHA256)
	if err != nil {
		return nil, err
	}
	c := *m
	c.Report, _ = s.check(name, data)
	c.CheckerVersion = s.CheckerVersion()
	return &c, nil
}

// failIDs are the ids of the FAIL findings.
func failIDs(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Verdict == disclosure.Fail {
			out = append(out, f.ID)
		}
	}
	return out
}

// mayAuthor asks the job server whether user may author requests in ws.
func (s *Service) mayAuthor(ctx context.Context, user, ws string) bool {
	if s.Server == nil || user == "" {
		return false
	}
	prof, err := s.Server.Authorise(ctx, user)
	if err != nil {
		return false
	}
	u, err := userFromProfile(prof)
	if err != nil {
		return false
	}
	return u.CanAuthor(ws) == nil
}

// userFromProfile converts the server's profile to a User.
func userFromProfile(p any) (*User, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var u User
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, err
	}
	if u.Username == "" {
		return nil, errors.New("the job server's profile has no username")
	}
	return &u, nil
}

// UserFromProfile decodes a profile as the job server sends it (JSON).
func UserFromProfile(raw json.RawMessage) (*User, error) {
	var u User
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, fmt.Errorf("read the job server's profile: %w", err)
	}
	if u.Username == "" {
		return nil, errors.New("the job server's profile has no username")
	}
	return &u, nil
}

// isAuthorAction reports whether a is one authors do.
func isAuthorAction(a review.Action) bool {
	switch a {
	case review.Submit, review.Resubmit, review.Withdraw, review.AddFile, review.UpdateFile,
		review.WithdrawFile, review.MoveFile, review.EditContext, review.AddCoAuthor, review.RemoveCoAuthor:
		return true
	}
	return false
}

// AddFiles adds several outputs of one workspace to u's request, one
// after another, as AddFile does for each (the multi-select of the
// workspace page). It stops at the first file that cannot be added and
// says which were added before it.
func (s *Service) AddFiles(ctx context.Context, u *User, in AddFileInput, paths []string) (*astore.Record, error) {
	if len(paths) == 0 {
		return nil, haven.Errorf(haven.EINVALID, "no file chosen: tick the files to add")
	}
	var rec *astore.Record
	var added []string
	for _, p := range paths {
		one := in
		one.Path = p
		if rec != nil {
			one.RequestID = rec.Request.ID
		}
		r, err := s.AddFile(ctx, u, one)
		if err != nil {
			if len(added) == 0 {
				return nil, err
			}
			return rec, haven.Errorf(haven.ErrorCode(err), "added %s; could not add %s: %v", strings.Join(added, ", "), p, err)
		}
		rec = r
		added = append(added, p)
	}
	return rec, nil
}

// RequestChanges is a reviewer's group shortcut (spec §10.1): a
// CHANGES_REQUESTED vote on every OUTPUT file of the group they have not
// voted on, in one transaction. A file with FAIL findings is left out,
// because a vote on it must acknowledge them one by one; those files are
// returned so the reviewer can vote on them on their pages.
func (s *Service) RequestChanges(ctx context.Context, u *User, id, group string) (voted, skipped []string, err error) {
	if _, err := s.record(ctx, u, id); err != nil {
		return nil, nil, err
	}
	err = s.Store.Tx(ctx, func(tx *astore.Tx) error {
		voted, skipped = nil, nil
		rec, err := tx.Request(id)
		if err != nil {
			return err
		}
		g := rec.Request.Group(group)
		if g == nil {
			return haven.Errorf(haven.ENOTFOUND, "the request has no filegroup %q", group)
		}
		nr := rec.Request
		if err := review.Check(nr, u.Username, u.OutputChecker, review.SubmitReview, review.Params{}); haven.ErrorCode(err) == haven.EFORBIDDEN {
			return err // not a reviewer of this request
		}
		if nr.Status.Owner() != review.OwnerReviewer {
			return haven.Errorf(haven.ECONFLICT, "the request is %s: votes are cast only while it is under review", nr.Status)
		}
		var events []review.Event
		for _, f := range g.Files {
			if f.Type != review.Output {
				continue
			}
			if _, ok := f.Votes[u.Username]; ok {
				continue
			}
			if len(f.FailFindings) > 0 {
				skipped = append(skipped, f.Name)
				continue
			}
			next, evs, err := review.Apply(nr, u.Username, u.OutputChecker, review.CastVote,
				review.Params{At: s.now(), File: f.Name, Vote: review.VoteChangesRequested})
			if err != nil {
				return err
			}
			nr, events = next, append(events, evs...)
			voted = append(voted, f.Name)
		}
		if len(voted) == 0 {
			if len(skipped) > 0 {
				return haven.Errorf(haven.EINVALID, "every file you have not voted on in filegroup %s has FAIL findings to acknowledge: vote on %s on its page", group, strings.Join(skipped, ", "))
			}
			return haven.Errorf(haven.ECONFLICT, "you have voted on every output file in filegroup %s already", group)
		}
		_, err = commit(tx, rec, nr, u.Username, events)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return voted, skipped, nil
}
