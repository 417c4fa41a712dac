package webkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/haven-tre/haven"
)

// WriteJSON writes v as the JSON body of a response with status: never
// cached, never sniffed, HTML characters left as they are (the body is
// served as application/json with nosniff, so messages read as sent, e.g.
// "<16Mb"). v is encoded before anything is written, so a value that
// cannot be encoded gives a clean 500.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":"internal error"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// PublicMessage is an error's message for an API answer: the Message of
// a *haven.Error without its cause (causes may be internal), else the
// error's text.
func PublicMessage(err error) string {
	var e *haven.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
