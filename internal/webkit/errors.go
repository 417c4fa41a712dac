package webkit

import (
	"errors"
	"net/http"

	"github.com/haven-tre/haven"
)

// Errors both sites raise.
var (
	ErrNotFound = haven.Errorf(haven.ENOTFOUND, "The page you asked for does not exist, or you do not have access to it.")
	ErrCSRF     = haven.Errorf(haven.EFORBIDDEN, "The form was missing its security token or it did not match; go back, reload the page and try again.")
)

// HTTPStatus maps an error's Haven code to its HTTP status: 200 for nil,
// 500 for an internal error or one without a code.
func HTTPStatus(err error) int {
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

// UserMessage is what a user is shown for err: the message of a Haven
// error they can act on (invalid, not found, conflict, forbidden), never
// its cause, which may be internal; fallback for any other error (those
// are logged and shown with a reference instead).
func UserMessage(err error, fallback string) string {
	var he *haven.Error
	switch haven.ErrorCode(err) {
	case haven.EINVALID, haven.ECONFLICT, haven.EFORBIDDEN, haven.ENOTFOUND:
		if errors.As(err, &he) {
			return he.Message // never he.Err: causes may be internal
		}
	}
	return fallback
}

// ErrorPage is the view model of a site's error template.
type ErrorPage struct {
	Status  int
	Heading string
	Message string
	Ref     string // the request's reference, for server errors only
	Back    string // a page to go back to, when there is one
}

// NewErrorPage is the error page for status with message. notFound is
// the site's heading for a 404; ref is kept only for a server error.
func NewErrorPage(status int, message, ref, notFound string) ErrorPage {
	p := ErrorPage{Status: status, Message: message}
	switch status {
	case http.StatusNotFound:
		p.Heading = notFound
	case http.StatusForbidden:
		p.Heading = "Not allowed"
	case http.StatusBadRequest, http.StatusConflict:
		p.Heading = "That did not work"
	default:
		p.Heading = "Server error"
		p.Ref = ref
	}
	return p
}
