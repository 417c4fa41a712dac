package web

import (
	"net/http"
	"time"

	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
)

// requestRow is one release request in a list.
type requestRow struct {
	ID, URL      string
	Workspace    string
	WorkspaceURL string
	Author       string
	CoAuthors    []string
	Status       string // the status code, for its badge's class
	StatusLabel  string
	Created      time.Time
}

func newRequestRow(rec *astore.Record) requestRow {
	r := rec.Request
	return requestRow{
		ID: r.ID, URL: requestURL(r.ID),
		Workspace: r.Workspace, WorkspaceURL: workspaceURL(r.Workspace),
		Author: r.Author, CoAuthors: r.CoAuthors,
		Status: string(r.Status), StatusLabel: r.Status.Label(),
		Created: rec.CreatedAt,
	}
}

func requestRows(recs []*astore.Record) []requestRow {
	out := make([]requestRow, 0, len(recs))
	for _, rec := range recs {
		out = append(out, newRequestRow(rec))
	}
	return out
}

func requestURL(id string) string { return "/requests/" + pathSegment(id) + "/" }

func workspaceURL(ws string) string { return "/workspaces/" + pathSegment(ws) + "/" }

// workspaceRow is one workspace in a list.
type workspaceRow struct {
	airlock.WorkspaceSummary
	URL string
}

// homeData is the home page's view model.
type homeData struct {
	Mine, Copiloted, Others []workspaceRow
	OthersHeading           string
	MyRequests              []requestRow
	Checker                 bool
	ToReview, Done          []requestRow
}

// home lists the user's workspaces and release requests.
func (h *Handler) home(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	ctx := r.Context()
	wss, err := h.svc.WorkspaceList(ctx, u)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	lists, err := h.svc.Requests(ctx, u)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	d := homeData{Checker: u.OutputChecker, OthersHeading: "All workspaces"}
	for _, ws := range wss {
		row := workspaceRow{WorkspaceSummary: ws, URL: workspaceURL(ws.Name)}
		switch ws.Role {
		case "member":
			d.Mine = append(d.Mine, row)
		case "copilot":
			d.Copiloted = append(d.Copiloted, row)
		default:
			d.Others = append(d.Others, row)
		}
	}
	d.MyRequests = requestRows(lists.Mine)
	d.ToReview = requestRows(lists.ToReview)
	d.Done = requestRows(lists.Done)
	h.render(w, r, http.StatusOK, "home", "Airlock", d)
}
