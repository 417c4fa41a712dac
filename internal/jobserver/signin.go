package jobserver

import (
	"context"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/store"
)

// Sign-in rate limit: after SignInMaxFailures failed attempts for one
// username within SignInWindow, further attempts are refused until the
// oldest failure leaves the window.
const (
	SignInMaxFailures = 10
	SignInWindow      = 15 * time.Minute
)

// Sign-in messages.
const (
	MsgBadCredentials   = "Incorrect username or password"
	MsgTooManyAttempts  = "Too many failed sign-in attempts; wait 15 minutes"
	maxTrackedUsernames = 10000
)

// SignIn checks a username and password. A wrong password and an unknown
// username take about as long (an unknown username still hashes) and both
// give EINVALID MsgBadCredentials; a username with SignInMaxFailures
// failures in SignInWindow gets EFORBIDDEN MsgTooManyAttempts without its
// password being checked. Every attempt is audited (auth.sign_in,
// auth.sign_in_failed). The limit is kept in memory, per server process.
func (s *Service) SignIn(ctx context.Context, username, password string) (*store.User, error) {
	username = NormalizeUsername(username)
	key := strings.ToLower(username)
	now := s.now()
	target := "user:" + username
	limiter := s.limiter()
	if limiter.blocked(key, now) {
		s.audit(ctx, "auth.sign_in_failed", 0, target, map[string]string{"reason": "rate_limited"})
		return nil, haven.Errorf(haven.EFORBIDDEN, MsgTooManyAttempts)
	}
	u, err := s.Store.UserByUsername(ctx, username)
	if err != nil && haven.ErrorCode(err) != haven.ENOTFOUND {
		return nil, err
	}
	if u == nil || err != nil {
		auth.CheckNoUser(password)
		limiter.fail(key, now)
		s.audit(ctx, "auth.sign_in_failed", 0, target, map[string]string{"reason": "unknown_user"})
		return nil, haven.Errorf(haven.EINVALID, MsgBadCredentials)
	}
	if !auth.CheckPassword(u.PasswordHash, password) {
		limiter.fail(key, now)
		s.audit(ctx, "auth.sign_in_failed", u.ID, target, map[string]string{"reason": "bad_password"})
		return nil, haven.Errorf(haven.EINVALID, MsgBadCredentials)
	}
	limiter.reset(key)
	s.audit(ctx, "auth.sign_in", u.ID, target, nil)
	return u, nil
}

// recent drops failures older than the window; l.mu is held.
func (l *signInLimiter) recent(key string, now time.Time) []time.Time {
	ts := l.failures[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= SignInWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = ts
	return ts
}

func (l *signInLimiter) blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(key, now)) >= SignInMaxFailures
}

func (l *signInLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) >= maxTrackedUsernames {
		// Bound memory against attempts with many made-up usernames.
		for k := range l.failures {
			l.recent(k, now)
		}
	}
	ts := append(l.recent(key, now), now)
	if len(ts) > SignInMaxFailures {
		ts = ts[len(ts)-SignInMaxFailures:]
	}
	l.failures[key] = ts
}

func (l *signInLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
