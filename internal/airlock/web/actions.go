package web

import (
	"net/http"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/webkit"
)

// confirmField is the checkbox the irreversible actions need ticked.
const confirmField = "confirm"

// needsConfirm are the actions that cannot be undone or end the turn:
// their forms carry an "I confirm" box, and the handler refuses them
// without it, so a stray click never releases or rejects anything.
var needsConfirm = map[review.Action]string{
	review.Release:     "release the request's files",
	review.Reject:      "reject the request",
	review.Withdraw:    "withdraw the request",
	review.Return:      "return the request to its authors",
	review.ReturnEarly: "return the request early",
}

// fileActions name a file in the form field "file".
var fileActions = map[review.Action]bool{
	review.CastVote: true, review.WithdrawFile: true, review.MoveFile: true, review.UpdateFile: true,
}

// successMessages are the flash messages of the actions that went through.
var successMessages = map[review.Action]string{
	review.Submit:         "The request has been submitted for review.",
	review.Resubmit:       "The request has been resubmitted for review.",
	review.Withdraw:       "The request has been withdrawn.",
	review.ReturnEarly:    "The request has been returned early to its authors.",
	review.Return:         "The request has been returned to its authors.",
	review.Reject:         "The request has been rejected.",
	review.Release:        "The files have been released; they are being uploaded to the job server.",
	review.SubmitReview:   "Your review has been submitted.",
	review.CastVote:       "Your vote has been recorded.",
	review.ResetVotes:     "Your votes have been reset.",
	review.AddComment:     "Your comment has been added.",
	review.DeleteComment:  "The comment has been deleted.",
	review.PublishComment: "The comment is now public.",
	review.EditContext:    "The context and controls have been saved.",
	review.WithdrawFile:   "The file has been withdrawn from the request.",
	review.MoveFile:       "The file has been moved.",
	review.AddCoAuthor:    "The co-author has been added.",
	review.RemoveCoAuthor: "The co-author has been removed.",
	review.UpdateFile:     "The file has been updated with its new content; its votes have been reset and it has been checked again.",
}

// requestAction does one action on a request from a form post. Only the
// form's own input is read into review.Params; the Service fills in
// everything it decides itself (time, permissions, check results). A
// refusal is shown on the error page with the status of its code and a
// link back.
func (h *Handler) requestAction(w http.ResponseWriter, r *http.Request, u *airlock.User) {
	id, _, err := requestParams(r, false)
	if err != nil {
		h.renderError(w, r, err)
		return
	}
	if r.PathValue("action") == "request-changes" {
		h.requestChanges(w, r, u, id)
		return
	}
	a := review.Action(r.PathValue("action"))
	if _, ok := successMessages[a]; !ok {
		h.renderError(w, r, webkit.ErrNotFound)
		return
	}
	f := r.PostForm
	back := requestURL(id)
	file := strings.TrimSpace(f.Get("file"))
	if file != "" || fileActions[a] {
		if err := workspace.CheckPath(file); err != nil {
			h.renderErrorBack(w, r, err, back)
			return
		}
	}
	if what, ok := needsConfirm[a]; ok && f.Get(confirmField) != "yes" {
		h.renderErrorBack(w, r, haven.Errorf(haven.EINVALID, "Tick \"I confirm\" to %s: it cannot be undone.", what), back)
		return
	}
	ctx := r.Context()
	p := review.Params{File: file}
	switch a {
	case review.Release:
		_, err = h.svc.Release(ctx, u, id)
	case review.UpdateFile:
		_, err = h.svc.UpdateFile(ctx, u, id, file)
	default:
		switch a {
		case review.CastVote:
			p.Vote = review.Vote(f.Get("vote"))
			p.Acknowledged = f["acknowledge"]
		case review.ResetVotes:
			p.Group = f.Get("group")
		case review.AddComment:
			p.Group, p.Text = f.Get("group"), f.Get("text")
			p.Visibility = review.Visibility(f.Get("visibility"))
			if p.Visibility == "" {
				p.Visibility = review.Public
			}
		case review.DeleteComment, review.PublishComment:
			p.CommentID = f.Get("comment")
		case review.EditContext:
			p.Group, p.Context, p.Controls = f.Get("group"), f.Get("context"), f.Get("controls")
		case review.MoveFile:
			p.Group = strings.TrimSpace(f.Get("group"))
			p.FileType = review.FileType(f.Get("type"))
		case review.AddCoAuthor, review.RemoveCoAuthor:
			p.CoAuthor = strings.TrimSpace(f.Get("coauthor"))
		}
		_, err = h.svc.Act(ctx, u, id, a, p)
	}
	if file != "" && a != review.WithdrawFile {
		back = pathURL("/requests/"+pathSegment(id)+"/files/", file)
	}
	if err != nil {
		h.renderErrorBack(w, r, err, back)
		return
	}
	h.cookies.SetFlash(w, webkit.FlashSuccess, successMessages[a])
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// requestChanges is a reviewer's group shortcut: CHANGES_REQUESTED on
// every output file of the group they have not voted on, except those
// with FAIL findings, which need their acknowledgement on their pages.
func (h *Handler) requestChanges(w http.ResponseWriter, r *http.Request, u *airlock.User, id string) {
	back := requestURL(id)
	voted, skipped, err := h.svc.RequestChanges(r.Context(), u, id, r.PostForm.Get("group"))
	if err != nil {
		h.renderErrorBack(w, r, err, back)
		return
	}
	msg := "Changes requested on " + strings.Join(voted, ", ") + "."
	if len(skipped) > 0 {
		msg += " Vote on " + strings.Join(skipped, ", ") + " on its page: it has FAIL findings to acknowledge."
	}
	h.cookies.SetFlash(w, webkit.FlashSuccess, msg)
	http.Redirect(w, r, back, http.StatusSeeOther)
}
