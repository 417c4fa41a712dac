package web

import (
	"errors"
	"net/http"

	"github.com/haven-tre/haven"
)

// Errors the handlers raise themselves.
var (
	errNotFound     = haven.Errorf(haven.ENOTFOUND, "The page you asked for does not exist, or you do not have access to it.")
	errCSRF         = haven.Errorf(haven.EFORBIDDEN, "The form was missing its security token or it did not match; go back, reload the page and try again.")
	errSignInNeeded = haven.Errorf(haven.EFORBIDDEN, "Sign in to Airlock to do this.")
)

// httpStatus maps an error to its HTTP status: the one place Haven's
// error codes become statuses in Airlock's pages.
func httpStatus(err error) int {
	switch haven.ErrorCode(err) {
	case "":
		return http.StatusOK
	case haven.EINVALID:
		return http.StatusBadRequest
	case haven.ENOTFOUND:
		return http.StatusNotFound
	case haven.ECONFLICT:
		return http.StatusConflict
	case haven.EFORBIDDEN:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// userMessage is what a user is shown for err: the message of an error
// they can act on, never the text of an internal one (those are logged
// and shown as a reference id instead).
func userMessage(err error) string {
	var he *haven.Error
	switch haven.ErrorCode(err) {
	case haven.EINVALID, haven.ECONFLICT, haven.EFORBIDDEN, haven.ENOTFOUND:
		if errors.As(err, &he) {
			return he.Message // never he.Err: causes may be internal
		}
	}
	return "Something went wrong on Airlock's side."
}

// errorPage is the data of the error template.
type errorPage struct {
	Status  int
	Heading string
	Message string
	Ref     string // set for internal errors
	Back    string // a page to go back to, when there is one
}

// renderError answers a request with the error page for err.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, err error) {
	h.renderErrorBack(w, r, err, "")
}

// renderErrorBack is renderError with a link back to the page the user
// came from (a form's page). Internal errors are logged with the
// request's reference id, which the page shows.
func (h *Handler) renderErrorBack(w http.ResponseWriter, r *http.Request, err error, back string) {
	st := state(r)
	status := httpStatus(err)
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "request failed", "ref", st.id, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	page := errorPage{Status: status, Message: userMessage(err), Back: back}
	switch status {
	case http.StatusNotFound:
		page.Heading = "Not found"
	case http.StatusForbidden:
		page.Heading = "Not allowed"
	case http.StatusBadRequest, http.StatusConflict:
		page.Heading = "That did not work"
	default:
		page.Heading = "Server error"
		page.Ref = st.id
	}
	h.render(w, r, status, "error", page.Heading, page)
}

// notFound answers every path no route matches.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.signedIn(w, r); !ok {
		return
	}
	h.renderError(w, r, errNotFound)
}
