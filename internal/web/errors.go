package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/webkit"
)

// Errors the handlers raise themselves.
var (
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
	return webkit.HTTPStatus(err)
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
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return webkit.ErrNotFound.Message
	}
	return webkit.UserMessage(err, "Something went wrong on our side.")
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
		webkit.WriteJSON(w, status, body)
		return
	}
	page := webkit.NewErrorPage(status, userMessage(err), st.id, "Page not found")
	h.render(w, r, status, "error", page.Heading, page)
}

// notFound answers every path no route matches.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, webkit.ErrNotFound)
}
