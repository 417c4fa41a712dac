package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
)

// Errors the handlers raise themselves.
var (
	errNotFound      = haven.Errorf(haven.ENOTFOUND, "The page you asked for does not exist, or you do not have access to it.")
	errCSRF          = haven.Errorf(haven.EFORBIDDEN, "The form was missing its security token or it did not match; go back, reload the page and try again.")
	errSignInNeeded  = haven.Errorf(haven.EFORBIDDEN, "Sign in to do this.")
	errInternalPanic = haven.Errorf(haven.EINTERNAL, "internal error")
)

// httpStatus maps an error to its HTTP status. It is the one place
// Haven's error codes become statuses.
func httpStatus(err error) int {
	var fe *jobserver.FormError
	if errors.As(err, &fe) {
		return http.StatusBadRequest
	}
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

// userMessage is what a user is shown for err: the message of a form or
// Haven error the user can act on; never the text of an internal error
// (those are logged and shown as a reference id instead). Not-found
// errors get one generic message, so pages never reveal whether
// something exists that the user may not see.
func userMessage(err error) string {
	var fe *jobserver.FormError
	if errors.As(err, &fe) {
		return fe.Message
	}
	var he *haven.Error
	switch haven.ErrorCode(err) {
	case haven.ENOTFOUND:
		return errNotFound.Message
	case haven.EINVALID, haven.ECONFLICT, haven.EFORBIDDEN:
		if errors.As(err, &he) {
			return he.Message // never he.Err: causes may be internal
		}
	}
	return "Something went wrong on our side."
}

// errorPage is the data of the error template.
type errorPage struct {
	Status  int
	Heading string
	Message string
	Ref     string // set for internal errors
}

// renderError answers a request with err: a JSON error under /api/, the
// error page otherwise. Internal errors are logged with the request's
// reference id, which the page shows.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, err error) {
	st := state(r)
	status := httpStatus(err)
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "request failed",
			"ref", st.id, "method", r.Method, "route", st.route, "error", err)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		body := map[string]string{"error": userMessage(err)}
		var fe *jobserver.FormError
		if errors.As(err, &fe) && fe.Field != "" {
			body["field"] = fe.Field
		}
		if status >= 500 {
			body["ref"] = st.id
		}
		writeJSON(w, status, body)
		return
	}
	page := errorPage{Status: status, Message: userMessage(err)}
	switch status {
	case http.StatusNotFound:
		page.Heading = "Page not found"
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
	h.renderError(w, r, errNotFound)
}
