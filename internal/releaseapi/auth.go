package releaseapi

import (
	"net/http"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/store"
)

// Authenticator finds the user of a read-side request.
type Authenticator interface {
	// Authenticate returns the request's user, nil for an anonymous
	// request, or an error: EFORBIDDEN for a credential that is not valid
	// or has expired (answered 401).
	Authenticate(r *http.Request) (*store.User, error)
}

// SessionCookie is the name of the web session cookie StoreAuthenticator
// reads unless told another.
const SessionCookie = auth.SessionCookie

// StoreAuthenticator authenticates like the job server's /api/v1: a
// personal access token in "Authorization: Bearer <token>" when the
// header is present, else the web session cookie. Both are looked up in
// Store by their sha256.
type StoreAuthenticator struct {
	Store  store.Store
	Now    func() time.Time // nil: time.Now
	Cookie string           // "": SessionCookie
}

var errBadCredential = haven.Errorf(haven.EFORBIDDEN, "the API token or session is not valid or has expired; sign in again or create a new personal access token")

// Authenticate implements Authenticator.
func (s *StoreAuthenticator) Authenticate(r *http.Request) (*store.User, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	ctx := r.Context()
	if r.Header.Get("Authorization") != "" {
		tok := auth.BearerToken(r)
		if tok == "" {
			return nil, errBadCredential
		}
		u, err := s.Store.UserByAPIToken(ctx, auth.HashToken(tok), now().UTC())
		if haven.ErrorCode(err) == haven.ENOTFOUND {
			return nil, errBadCredential
		}
		return u, err
	}
	name := s.Cookie
	if name == "" {
		name = SessionCookie
	}
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" || len(c.Value) > 256 {
		return nil, nil
	}
	sess, err := s.Store.Session(ctx, auth.HashToken(c.Value), now().UTC())
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, nil // signed out
	}
	if err != nil {
		return nil, err
	}
	u, err := s.Store.User(ctx, sess.UserID)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, nil
	}
	return u, err
}
