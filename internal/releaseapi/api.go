// Package releaseapi serves the job server's side of Airlock (spec §8.1,
// §11, §13.3): the endpoints that create a release and upload its files,
// sign Airlock's users in and refresh their profiles, and record its
// status events, all authenticated with a backend's Airlock token; the
// read side that serves released files to users with release_file_view;
// and the Client Airlock calls them with.
//
// A release is created first, with each file's expected sha256 and no
// bytes; each file's bytes are uploaded afterwards, once, and stored only
// when their sha256 is the expected one. Files are stored at
// <Dir>/<workspace>/releases/<release id>/<name>, written through a
// temporary file in the same folder, flushed and linked into place, never
// overwritten, and never reached through a symbolic link.
//
// Statuses of the Airlock endpoints: 201 created; 200 already there (a
// repeated create of the same release, or a repeated upload of the same
// bytes); 400 a body or header that is not valid (a file over 16 MiB, a
// name that is not a clean relative path of an allowed type, a level
// other than moderately_sensitive); 401 {"error":"unauthorized"} for a
// missing or unknown token; 403 for an agent token, an inactive backend,
// a user who is not a member of the calling backend or lacks
// release_file_upload on the project, or a release of another backend;
// 404 an unknown workspace, release or file; 409 a release id already
// used for other files; 413 a body over 16 MiB or over its
// Content-Length; 422 bytes whose sha256 is not the expected one; 500
// when the store or the disk fails.
package releaseapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/webkit"
)

// DefaultMaxCreateBytes bounds the body of a create request.
const DefaultMaxCreateBytes = 4 << 20

// API serves the release endpoints. Set Store, Service and Dir, then call
// Register; its fields must not change once it serves requests.
type API struct {
	Store store.Store
	// Service decides permissions (release_file_upload,
	// release_file_view); nil: a Service on Store.
	Service *jobserver.Service
	// Dir is the release storage root.
	Dir    string
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// Auth finds the user of a read-side request; nil: a
	// StoreAuthenticator on Store (personal access token or session
	// cookie).
	Auth Authenticator
	// MaxCreateBytes bounds a create body (DefaultMaxCreateBytes).
	MaxCreateBytes int64

	once  sync.Once
	locks [64]sync.Mutex // uploads of one file run one at a time
}

func (a *API) init() {
	a.once.Do(func() {
		if a.Logger == nil {
			a.Logger = slog.New(slog.DiscardHandler)
		}
		if a.Now == nil {
			a.Now = time.Now
		}
		if a.Service == nil {
			a.Service = &jobserver.Service{Store: a.Store}
		}
		if a.Auth == nil {
			a.Auth = &StoreAuthenticator{Store: a.Store, Now: a.Now}
		}
		if a.MaxCreateBytes <= 0 {
			a.MaxCreateBytes = DefaultMaxCreateBytes
		}
	})
}

// Register adds the endpoints to mux: POST PathReleases, POST PathFiles
// and GET PathServe (releases), and POST PathAuthenticate, PathAuthorise
// and PathEvents (Airlock's sign-in, profile refresh and status events;
// see profile.go and events.go for their statuses, 429 among them).
func (a *API) Register(mux *http.ServeMux) {
	a.init()
	mux.HandleFunc("POST "+PathReleases, a.handleCreate)
	mux.HandleFunc("POST "+PathFiles, a.handleUpload)
	mux.HandleFunc("GET "+PathServe, a.handleServe)
	mux.HandleFunc("POST "+PathAuthenticate, a.handleAuthenticate)
	mux.HandleFunc("POST "+PathAuthorise, a.handleAuthorise)
	mux.HandleFunc("POST "+PathEvents, a.handleEvent)
}

func (a *API) now() time.Time { return a.Now().UTC() }

// lock serialises uploads of one file in this process.
func (a *API) lock(fileID string) func() {
	h := fnv.New32a()
	_, _ = io.WriteString(h, fileID)
	m := &a.locks[h.Sum32()%uint32(len(a.locks))]
	m.Lock()
	return m.Unlock
}

// httpError is an answer other than a success.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

var errUnauthorized = &httpError{status: http.StatusUnauthorized, msg: "unauthorized"}

// fail writes err as a JSON error. *haven.Error codes map to statuses;
// anything else is logged and answered 500 without its detail.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		switch haven.ErrorCode(err) {
		case haven.ENOTFOUND:
			he = errorf(http.StatusNotFound, "%s", webkit.PublicMessage(err))
		case haven.EINVALID:
			he = errorf(http.StatusBadRequest, "%s", webkit.PublicMessage(err))
		case haven.EFORBIDDEN:
			he = errorf(http.StatusForbidden, "%s", webkit.PublicMessage(err))
		case haven.ECONFLICT:
			he = errorf(http.StatusConflict, "%s", webkit.PublicMessage(err))
		default:
			if r.Context().Err() == nil {
				a.Logger.Error("release endpoint failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			he = errorf(http.StatusInternalServerError, "internal error")
		}
	}
	if he.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="haven"`)
	}
	webkit.WriteJSON(w, he.status, ErrorResponse{Error: he.msg})
}

// authenticateAirlock finds the backend of the request's airlock token:
// 401 for a missing or unknown token, 403 for the backend's agent token
// or an inactive backend.
func (a *API) authenticateAirlock(r *http.Request) (*store.Backend, error) {
	tok := auth.BearerToken(r)
	if tok == "" {
		return nil, errUnauthorized
	}
	hash := auth.HashToken(tok)
	b, err := a.Store.BackendByAirlockToken(r.Context(), hash)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		if _, aerr := a.Store.BackendByAgentToken(r.Context(), hash); aerr == nil {
			return nil, errorf(http.StatusForbidden, "forbidden: this is an agent token; the release endpoints take the backend's airlock token")
		}
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if !b.IsActive {
		return nil, errorf(http.StatusForbidden, "forbidden: backend %s is not active", b.Slug)
	}
	return b, nil
}

// decode reads a JSON body into v: at most MaxCreateBytes, one object, no
// unknown fields.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, a.MaxCreateBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = terr
			if err == nil {
				err = errors.New("it holds more than one JSON value")
			}
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", a.MaxCreateBytes)
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "request body is empty: send a JSON object")
		}
		return errorf(http.StatusBadRequest, "request body is not valid: %v", err)
	}
	return nil
}
