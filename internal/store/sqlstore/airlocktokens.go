package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// Airlock sign-in (spec §8.1).

// UserByEmail returns the user with this email address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := scanUser(s.read().queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	return u, notFound(err, "no user has the email address %s", email)
}

// UserProjectRoles returns a user's roles on each project they are a
// member of, by project id.
func (s *Store) UserProjectRoles(ctx context.Context, userID int64) (map[int64][]store.Role, error) {
	rows, err := s.read().query(ctx, `SELECT project_id, roles FROM project_members WHERE user_id = ?`, userID)
	if err != nil {
		return nil, wrap(err, "project roles of user %d", userID)
	}
	defer rows.Close()
	out := map[int64][]store.Role{}
	for rows.Next() {
		var (
			id    int64
			text  string
			roles []store.Role
		)
		if err := rows.Scan(&id, &text); err != nil {
			return nil, wrap(err, "project roles of user %d", userID)
		}
		if err := decodeList(text, &roles); err != nil {
			return nil, wrap(err, "project %d roles of user %d", id, userID)
		}
		if len(roles) > 0 {
			out[id] = roles
		}
	}
	return out, wrap(rows.Err(), "project roles of user %d", userID)
}

// SetAirlockLoginToken replaces a user's Airlock login token, counting
// creations against limit (see store.Store).
func (s *Store) SetAirlockLoginToken(ctx context.Context, userID int64, hash string, expires, now time.Time, limit store.RateLimit) error {
	switch {
	case hash == "":
		return haven.Errorf(haven.EINVALID, "set Airlock login token for user %d: the token hash is empty", userID)
	case !expires.After(now):
		return haven.Errorf(haven.EINVALID, "set Airlock login token for user %d: the expiry %s is not after now (%s)",
			userID, expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	err := s.write(ctx, func(w *wtx) error {
		// Make sure the row exists, so that the SELECT below locks it
		// (PostgreSQL) and two first tokens cannot both insert.
		if _, err := w.exec(ctx, `INSERT INTO airlock_login_tokens (user_id, token_hash, created_at, expires_at, used_at, window_start, window_count)
			VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (user_id) DO NOTHING`,
			userID, hash, nanos(now), nanos(expires), nanos(now), nanos(now)); err != nil {
			return err
		}
		var start, count int64
		if err := w.queryRow(ctx, `SELECT window_start, window_count FROM airlock_login_tokens WHERE user_id = ?`+w.d.ForUpdate, userID).
			Scan(&start, &count); err != nil {
			return err
		}
		windowStart := fromNanos(start)
		if !now.Before(windowStart.Add(limit.Window)) {
			windowStart, count = now.UTC(), 0
		}
		if limit.Max > 0 && count >= int64(limit.Max) {
			return &haven.Error{Code: haven.EFORBIDDEN, Err: store.ErrRateLimited, Message: fmt.Sprintf(
				"too many Airlock sign-in tokens: at most %d may be created in %s; create the next after %s",
				limit.Max, limit.Window, windowStart.Add(limit.Window).UTC().Format("2006-01-02 15:04 UTC"))}
		}
		_, err := w.exec(ctx, `UPDATE airlock_login_tokens SET token_hash = ?, created_at = ?, expires_at = ?, used_at = 0,
			window_start = ?, window_count = ? WHERE user_id = ?`,
			hash, nanos(now), nanos(expires), nanos(windowStart), count+1, userID)
		return err
	})
	return s.constraintError(err, "set Airlock login token", func(v Violation, _ string) *haven.Error {
		switch v {
		case ForeignKeyViolation:
			return haven.Errorf(haven.ENOTFOUND, "set Airlock login token: no user with id %d", userID)
		case CheckViolation:
			return haven.Errorf(haven.EINVALID, "set Airlock login token for user %d: the hash must be 64 hex digits", userID)
		}
		return nil
	})
}

// errNoAirlockToken is the answer for every token that cannot be used.
func errNoAirlockToken(userID int64) error {
	return haven.Errorf(haven.ENOTFOUND, "user %d has no unused, unexpired Airlock login token with that hash", userID)
}

// UseAirlockLoginToken consumes a user's Airlock login token (see
// store.Store).
func (s *Store) UseAirlockLoginToken(ctx context.Context, userID int64, hash string, now time.Time) error {
	if hash == "" {
		return errNoAirlockToken(userID)
	}
	err := s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE airlock_login_tokens SET used_at = ?
			WHERE user_id = ? AND token_hash = ? AND used_at = 0 AND expires_at > ?`,
			nanos(now), userID, hash, now.UnixNano())
		if err != nil {
			return wrap(err, "use Airlock login token of user %d", userID)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return wrap(err, "use Airlock login token of user %d", userID)
		}
		if n == 0 {
			return errNoAirlockToken(userID)
		}
		return nil
	})
	return wrap(err, "use Airlock login token of user %d", userID)
}
