package astore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/haven-tre/haven"
)

// Session is one signed-in Airlock user. The web layer keeps only the
// cookie value; the store keys sessions by its hash.
type Session struct {
	IDHash   string
	Username string
	// Profile is the user's profile as the server last returned it.
	Profile     json.RawMessage
	CSRF        string
	CreatedAt   time.Time
	RefreshedAt time.Time // when Profile was last fetched from the server
	ExpiresAt   time.Time
}

// CreateSession stores a new session (ECONFLICT when one with the same
// hash exists) and forgets sessions that expired before its CreatedAt. A
// zero RefreshedAt is set to CreatedAt.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	if err := validSession(sess); err != nil {
		return err
	}
	if sess.RefreshedAt.IsZero() {
		sess.RefreshedAt = sess.CreatedAt
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create Airlock session: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, formatTime(sess.CreatedAt)); err != nil {
		return fmt.Errorf("create Airlock session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, username, profile, csrf, created_at, refreshed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sess.IDHash, sess.Username, string(sess.Profile), sess.CSRF,
		formatTime(sess.CreatedAt), formatTime(sess.RefreshedAt), formatTime(sess.ExpiresAt)); err != nil {
		if uniqueViolation(err) {
			return haven.Errorf(haven.ECONFLICT, "create Airlock session for %s: a session with this id already exists; sign in again to get a new one", sess.Username)
		}
		return fmt.Errorf("create Airlock session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create Airlock session: %w", err)
	}
	return nil
}

func validSession(sess *Session) error {
	switch {
	case sess == nil:
		return haven.Errorf(haven.EINVALID, "create Airlock session: no session given")
	case sess.IDHash == "":
		return haven.Errorf(haven.EINVALID, "create Airlock session for %s: the session has no id hash", sess.Username)
	case sess.Username == "":
		return haven.Errorf(haven.EINVALID, "create Airlock session: the session has no user name")
	case sess.CreatedAt.IsZero() || !sess.ExpiresAt.After(sess.CreatedAt):
		return haven.Errorf(haven.EINVALID, "create Airlock session for %s: it must expire (%s) after it is created (%s)", sess.Username, sess.ExpiresAt, sess.CreatedAt)
	case len(sess.Profile) > 0 && !json.Valid(sess.Profile):
		return haven.Errorf(haven.EINVALID, "create Airlock session for %s: the profile is not valid JSON", sess.Username)
	}
	return nil
}

// Session returns the session with this id hash; ENOTFOUND when there is
// none or it expired at or before now.
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (*Session, error) {
	var (
		sess                      = Session{IDHash: idHash}
		profile                   string
		created, refreshed, until string
	)
	err := s.r.QueryRowContext(ctx, `SELECT username, profile, csrf, created_at, refreshed_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`,
		idHash, formatTime(now)).Scan(&sess.Username, &profile, &sess.CSRF, &created, &refreshed, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, haven.Errorf(haven.ENOTFOUND, "Airlock session not found or expired; sign in again")
	}
	if err != nil {
		return nil, fmt.Errorf("load Airlock session: %w", err)
	}
	if profile != "" {
		sess.Profile = json.RawMessage(profile)
	}
	for _, t := range []struct {
		dst *time.Time
		s   string
	}{{&sess.CreatedAt, created}, {&sess.RefreshedAt, refreshed}, {&sess.ExpiresAt, until}} {
		if *t.dst, err = parseTime(t.s); err != nil {
			return nil, fmt.Errorf("load Airlock session: %w", err)
		}
	}
	return &sess, nil
}

// RefreshSession stores the profile the server returned at now. The
// expiry does not move. ENOTFOUND when the session is missing or expired.
func (s *Store) RefreshSession(ctx context.Context, idHash string, profile json.RawMessage, now time.Time) error {
	if len(profile) > 0 && !json.Valid(profile) {
		return haven.Errorf(haven.EINVALID, "refresh Airlock session: the profile is not valid JSON")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET profile = ?, refreshed_at = ? WHERE id_hash = ? AND expires_at > ?`,
		string(profile), formatTime(now), idHash, formatTime(now))
	if err != nil {
		return fmt.Errorf("refresh Airlock session: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("refresh Airlock session: %w", err)
	}
	if n == 0 {
		return haven.Errorf(haven.ENOTFOUND, "Airlock session not found or expired; sign in again")
	}
	return nil
}

// DeleteSession forgets the session (signing out). Deleting a session that
// does not exist is not an error, so signing out twice is harmless.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete Airlock session: %w", err)
	}
	return nil
}
