package haven

import (
	"errors"
	"fmt"
)

// Error codes say what kind of failure an error is, independent of where it
// happened. cmd/haven turns them into exit codes and the server into HTTP
// statuses, each in one place.
const (
	EINVALID   = "invalid"   // the user's input is wrong and they can fix it
	ENOTFOUND  = "not_found" // a named thing does not exist
	ECONFLICT  = "conflict"  // the request clashes with current state
	EFORBIDDEN = "forbidden" // the caller may not do this
	EINTERNAL  = "internal"  // a bug or an environment failure
)

// Error is an error with a code and a message meant for the user.
type Error struct {
	Code    string // one of the E* constants
	Message string // what went wrong, where, and how to fix it
	Err     error  // optional underlying cause
}

// Error returns the user-facing message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
