package web

import (
	"net/http"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/webkit"
)

// Errors the handlers raise themselves.
var (
	errSignInNeeded = haven.Errorf(haven.EFORBIDDEN, "Sign in to Airlock to do this.")
)

// userMessage is what a user is shown for err: the message of an error
// they can act on, never the text of an internal one (those are logged
// and shown as a reference id instead).
func userMessage(err error) string {
	return webkit.UserMessage(err, "Something went wrong on Airlock's side.")
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
	status := webkit.HTTPStatus(err)
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "request failed", "ref", st.id, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	page := webkit.NewErrorPage(status, userMessage(err), st.id, "Not found")
	page.Back = back
	h.render(w, r, status, "error", page.Heading, page)
}

// notFound answers every path no route matches.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.signedIn(w, r); !ok {
		return
	}
	h.renderError(w, r, webkit.ErrNotFound)
}
