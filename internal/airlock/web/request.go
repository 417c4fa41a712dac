package web

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/render"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/disclosure"
	"github.com/haven-tre/haven/internal/webkit"
)

// validID is the form of a release request id (a ULID, or any id a
// future importer keeps): anything else is not looked up.
var validID = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)

// requestParams reads and checks the {id} and, when withPath, the
// {path...} of a request route.
func requestParams(r *http.Request, withPath bool) (id, p string, err error) {
	id = r.PathValue("id")
	if !validID.MatchString(id) {
		return "", "", haven.Errorf(haven.ENOTFOUND, "there is no release request %q that you can see", webkit.Truncate(id, 80))
	}
	if withPath {
		p = r.PathValue("path")
		if err := workspace.CheckPath(p); err != nil {
			return "", "", err
		}
	}
	return id, p, nil
}

// actionButton is one request-level action on the request page.
type actionButton struct {
	Action, Label string
	Enabled       bool
	Why           string // why it is not possible yet
	Confirm       bool   // needs the "I confirm" box ticked
	Danger        bool
}

// fileRow is one file in a group's table.
type fileRow struct {
	Name, URL     string
	Type          string
	Size          int64
	Verdict       string
	Decision      string
	DecisionShown bool
	DecisionNote  string
	MyVote        string
	Votes         []airlock.VoteView
	Changed       bool
	CanUpdate     bool
}

// groupData is one file group on the request page.
type groupData struct {
	Name, Anchor      string
	Context, Controls string
	Files             []fileRow
	Comments          []airlock.CommentView
	// CanRequestChanges: the viewer reviews the request and has output
	// files of this group left to vote on.
	CanRequestChanges bool
}

// releasedLink is a released file on the job server.
type releasedLink struct{ Name, URL string }

// requestData is the request page's view model.
type requestData struct {
	ID, URL                 string
	Workspace, WorkspaceURL string
	Author                  string
	CoAuthors               []string
	Status, StatusLabel     string
	Turn                    int
	Created, Submitted      time.Time
	Role                    string
	IsOwner                 bool // the author: manages co-authors
	Editable, Reviewing     bool
	Groups                  []groupData
	Buttons                 []actionButton
	CanComment, CanPrivate  bool
	CommentWhy              string
	BlindedNote             string
	Approved                bool
	Outputs, Uploaded       int
	Released                []releasedLink
	Activity                []airlock.ActivityItem
}

// buttons are the request-level actions of the viewer's kind in the
// request's state, each enabled when allowed or with the reason it is not.
func buttons(v *airlock.RequestView) []actionButton {
	type spec struct {
		a                      review.Action
		label                  string
		confirm, onlyIfAllowed bool
	}
	var specs []spec
	st := v.Request.Status
	switch {
	case v.IsAuthor && st == review.Pending:
		specs = []spec{{review.Submit, "Submit for review", false, false}, {review.Withdraw, "Withdraw this request", true, false}}
	case v.IsAuthor && st == review.Returned:
		specs = []spec{{review.Resubmit, "Resubmit for review", false, false}, {review.Withdraw, "Withdraw this request", true, false}}
	case v.IsReviewer && (st == review.Submitted || st == review.PartiallyReviewed):
		specs = []spec{{review.SubmitReview, "Submit review", false, false}, {review.ReturnEarly, "Return early", true, false}}
	case v.IsReviewer && st == review.Reviewed:
		specs = []spec{{review.SubmitReview, "Submit review", false, true}, {review.Release, "Release files", true, false},
			{review.Return, "Return to the authors", true, false}, {review.Reject, "Reject", true, false}}
	}
	var out []actionButton
	for _, s := range specs {
		ok := v.Can[string(s.a)]
		if !ok && s.onlyIfAllowed {
			continue
		}
		b := actionButton{Action: string(s.a), Label: s.label, Enabled: ok, Confirm: s.confirm,
			Danger: s.a == review.Reject || s.a == review.Withdraw}
		if !ok {
			b.Why = v.Why[string(s.a)]
		}
		out = append(out, b)
	}
	return out
}

func role(v *airlock.RequestView) string {
	switch {
	case v.Actor == review.ActorAuthor:
		return "author"
	case v.Actor == review.ActorCoAuthor:
		return "co-author"
	case v.IsReviewer:
		return "output checker"
	}
	return "viewer"
}

// requestPage shows a release request as the viewer may see it.
func (h *Handler) requestPage(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	id, _, err := requestParams(r, false)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	v, err := h.svc.RequestView(r.Context(), u, id)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	req := v.Request
	d := requestData{
		ID: req.ID, URL: requestURL(req.ID),
		Workspace: req.Workspace, WorkspaceURL: workspaceURL(req.Workspace),
		Author: req.Author, CoAuthors: req.CoAuthors,
		Status: string(req.Status), StatusLabel: req.Status.Label(), Turn: req.ReviewTurn,
		Created: v.Record.CreatedAt, Submitted: req.LastSubmittedAt,
		Role: role(v), IsOwner: v.Actor == review.ActorAuthor,
		Editable: v.Editable, Reviewing: v.Reviewing,
		Buttons:    buttons(v),
		CanComment: v.Can["comment"], CanPrivate: v.Can["comment-private"],
		CommentWhy:  v.Why["comment"],
		BlindedNote: review.BlindedNote,
		Approved:    req.Status == review.Approved,
		Outputs:     v.Outputs, Uploaded: v.Uploaded,
		Activity: v.Activity,
	}
	for i, g := range v.Groups {
		gd := groupData{Name: g.Name, Anchor: "group-" + strconv.Itoa(i+1), Context: g.Context, Controls: g.Controls, Comments: g.Comments}
		for _, f := range g.Files {
			row := fileRow{
				Name: f.Name, URL: pathURL("/requests/"+pathSegment(req.ID)+"/files/", f.Name),
				Type: string(f.Type), Size: f.Size, Verdict: f.Verdict,
				Decision: string(f.Decision), DecisionShown: f.DecisionShown, DecisionNote: f.DecisionNote, Votes: f.Votes,
				Changed: f.Changed, CanUpdate: f.Changed && v.Editable,
			}
			if f.MyVote != nil {
				row.MyVote = string(f.MyVote.Vote)
			} else if f.Type == review.Output && v.Reviewing && (!v.Submitted || req.Status == review.Reviewed) {
				gd.CanRequestChanges = true
			}
			gd.Files = append(gd.Files, row)
			if req.Status == review.Released && f.Type == review.Output && h.serverURL != "" {
				d.Released = append(d.Released, releasedLink{
					Name: f.Name,
					URL:  pathURL(h.serverURL+"/api/v1/releases/"+pathSegment(req.ID)+"/files/", f.Name),
				})
			}
		}
		d.Groups = append(d.Groups, gd)
	}
	h.render(w, r, http.StatusOK, "request", "Release request "+req.ID, d)
}

// findingRow is one disclosure finding as the file page lists it.
type findingRow struct {
	ID, Rule, Verdict, Location, Message, Hint string
	Fail, Acknowledged                         bool
}

// requestFileData is the request file page's view model.
type requestFileData struct {
	ID, RequestURL, Workspace string
	Name, Type, Group         string
	Size                      int64
	SHA256                    string
	StatusLabel               string
	ContentURL, FrameURL      string
	ToggleURL, DownloadURL    string
	Plain                     bool
	Sandbox                   string
	Verdict                   string
	Findings                  []findingRow
	FailIDs                   []string
	Decision                  string
	DecisionShown             bool
	Votes                     []airlock.VoteView
	MyVote                    string
	CanVote, CanReset         bool
	CanDownload               bool
	CanEdit                   bool
	// FromWorkspace: the frame shows the workspace's file, not the frozen
	// copy (the viewer is an author of the request).
	FromWorkspace bool
	Groups        []string
}

// requestFilePage shows one file of a request: its frozen content in a
// frame, the disclosure findings, and the vote or edit forms.
func (h *Handler) requestFilePage(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	id, p, err := requestParams(r, true)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	rf, err := h.svc.RequestFileInfo(r.Context(), u, id, p)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	v := rf.View
	req := v.Request
	plain := r.URL.Query().Get("plain") == "1"
	pageURL := pathURL("/requests/"+pathSegment(req.ID)+"/files/", rf.Name)
	d := requestFileData{
		ID: req.ID, RequestURL: requestURL(req.ID), Workspace: req.Workspace,
		Name: rf.Name, Type: string(rf.Type), Size: rf.Meta.Size, SHA256: rf.Meta.SHA256,
		StatusLabel: req.Status.Label(),
		ContentURL:  pathURL("/requests/"+pathSegment(req.ID)+"/content/", rf.Name),
		Plain:       plain,
		Sandbox:     render.FrameSandbox(rf.Name, plain),
		CanDownload: v.IsReviewer,
	}
	if v.IsAuthor {
		// Authors never read the frozen copy through the request: they
		// see their own output in the workspace.
		d.ContentURL = pathURL("/workspaces/"+pathSegment(req.Workspace)+"/content/", rf.Name)
		d.FromWorkspace = true
	}
	d.FrameURL = d.ContentURL
	if plain {
		d.FrameURL += "?plain=1"
		d.ToggleURL = pageURL
	} else {
		d.ToggleURL = pageURL + "?plain=1"
	}
	if d.CanDownload {
		d.DownloadURL = pathURL("/requests/"+pathSegment(req.ID)+"/download/", rf.Name)
	}
	var fv *airlock.FileView
	for _, g := range v.Groups {
		d.Groups = append(d.Groups, g.Name)
		for i := range g.Files {
			if g.Files[i].Name == rf.Name {
				fv = &g.Files[i]
				d.Group = g.Name
			}
		}
	}
	if fv != nil {
		d.Verdict, d.FailIDs = fv.Verdict, fv.FailIDs
		d.Decision, d.DecisionShown, d.Votes = string(fv.Decision), fv.DecisionShown, fv.Votes
		if fv.MyVote != nil {
			d.MyVote = string(fv.MyVote.Vote)
		}
	}
	var acked []string
	if fv != nil && fv.MyVote != nil {
		acked = fv.MyVote.Acknowledged
	}
	for _, f := range rf.Findings {
		d.Findings = append(d.Findings, findingRow{
			ID: f.ID, Rule: f.Rule, Verdict: f.Verdict.String(), Location: location(f.Finding),
			Message: f.Message, Hint: f.Hint, Fail: f.Verdict == disclosure.Fail,
			Acknowledged: slices.Contains(acked, f.ID),
		})
	}
	output := rf.Type == review.Output
	d.CanVote = v.Reviewing && output && (!v.Submitted || req.Status == review.Reviewed)
	d.CanReset = v.Reviewing && output && !v.Submitted && d.MyVote != ""
	d.CanEdit = v.Editable && rf.Type != review.WithdrawnFile
	h.render(w, r, http.StatusOK, "requestfile", rf.Name+" on request "+req.ID, d)
}

// location says where a finding is.
func location(f disclosure.Finding) string {
	col := f.Column
	if col == "" && f.Col > 0 {
		col = "column " + strconv.Itoa(f.Col)
	} else if col != "" {
		col = fmt.Sprintf("column %q", col)
	}
	switch {
	case f.Row > 0 && col != "":
		return fmt.Sprintf("row %d, %s", f.Row, col)
	case f.Row > 0:
		return fmt.Sprintf("row %d", f.Row)
	case col != "":
		return col
	}
	return "whole file"
}

// requestContent serves a request file's frozen content for the frame;
// it never changes, so it is cached by its hash.
func (h *Handler) requestContent(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	id, p, err := requestParams(r, true)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	rf, err := h.svc.RequestFile(r.Context(), u, id, p, false)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	render.Serve(w, r, render.Content{
		Name: rf.Name, Data: rf.Data, SHA256: rf.Meta.SHA256,
		Findings: airlock.CellFindings(rf.Findings),
		Plain:    r.URL.Query().Get("plain") == "1",
	})
}

// requestDownload sends a request file as an attachment: output checkers
// who are not its authors only (the Service decides).
func (h *Handler) requestDownload(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	id, p, err := requestParams(r, true)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	rf, err := h.svc.RequestFile(r.Context(), u, id, p, true)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	render.Serve(w, r, render.Content{Name: rf.Name, Data: rf.Data, SHA256: rf.Meta.SHA256, Download: true})
}
