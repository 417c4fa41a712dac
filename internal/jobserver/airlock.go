package jobserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-diceware/diceware"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/store"
)

// Airlock sign-in (spec §8.1). A user asks the job server for a login
// token, types it into their backend's Airlock with their username or
// email, and the Airlock exchanges the two for the user's profile. Only
// the token's hash is stored; it works once, for AirlockTokenLifetime.
// Haven sends no email, so the notices upstream mails on creation and on
// use are audit events (airlock.login_token_create, airlock.sign_in).

// Airlock login tokens.
const (
	// AirlockTokenLifetime is how long a login token works.
	AirlockTokenLifetime = time.Hour
	// AirlockTokenWords is how many words of the EFF long word list
	// (7,776 words) a token has.
	AirlockTokenWords = 3
	// AirlockTokensPerHour bounds the tokens one user may create in an
	// hour.
	AirlockTokensPerHour = 5
	// AirlockTokenPage is the job server page where a user gets a token.
	AirlockTokenPage = "/settings/airlock-token/"
)

// Airlock sign-in messages.
const (
	MsgAirlockNoBackend = "You are not a member of any backend, so you cannot sign in to Airlock. " +
		"Ask an administrator to add you to the backend whose Airlock you need."
	MsgAirlockBadToken = "The username or email and the Airlock sign-in token do not match: a token works once, " +
		"for one hour, for the user it was made for. Get a new token on the job server's Airlock token page (" + AirlockTokenPage + ")."
	MsgAirlockTooManyAttempts = "Too many failed Airlock sign-in attempts for this user; wait 15 minutes and try again."
)

// ErrAirlockTooManyAttempts is wrapped by the error of an Airlock sign-in
// refused because the user had SignInMaxFailures failures within
// SignInWindow (answered 429).
var ErrAirlockTooManyAttempts = errors.New("too many failed Airlock sign-in attempts")

// AirlockProfile is what an Airlock knows about a signed-in user.
type AirlockProfile struct {
	Username string
	Fullname string
	// Workspaces are the workspaces, by name, the user may request
	// releases from: every workspace of every project where one of the
	// user's project roles (not a global role) grants
	// unreleased_outputs_view.
	Workspaces map[string]AirlockWorkspace
	// OutputChecker: the user has the global OutputChecker role.
	OutputChecker bool
	// ReadonlyAccess: the user holds airlock_readonly_access.
	ReadonlyAccess bool
}

// AirlockWorkspace is one workspace of an AirlockProfile.
type AirlockWorkspace struct {
	Project  AirlockProject
	Archived bool
}

// AirlockProject is the project of an AirlockWorkspace.
type AirlockProject struct {
	Name string
	Slug string
	// Ongoing is always true: Haven has no project status yet, so every
	// project may still release files.
	Ongoing bool
	Orgs    []string // the lead organisation's name; empty when none
}

// NormalizeAirlockToken is the form of a token that is hashed: lower
// case, words separated by single spaces, no surrounding space, so a
// token typed with capitals or extra spaces still works.
func NormalizeAirlockToken(token string) string {
	return strings.Join(strings.Fields(strings.ToLower(token)), " ")
}

// CreateAirlockLoginToken makes a new Airlock login token for u, replacing
// any earlier one, and returns its text (shown once; only its hash is
// kept) and expiry. EFORBIDDEN for a user who is not a member of any
// backend, or who created AirlockTokensPerHour tokens within the hour.
func (s *Service) CreateAirlockLoginToken(ctx context.Context, u *store.User) (token string, expires time.Time, err error) {
	if u == nil {
		return "", time.Time{}, haven.Errorf(haven.EFORBIDDEN, "sign in to the job server to get an Airlock sign-in token")
	}
	bs, err := s.Store.UserBackends(ctx, u.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	if len(bs) == 0 {
		return "", time.Time{}, haven.Errorf(haven.EFORBIDDEN, MsgAirlockNoBackend)
	}
	words, err := diceware.Generate(AirlockTokenWords)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("make an Airlock sign-in token: %w", err)
	}
	token = NormalizeAirlockToken(strings.Join(words, " "))
	now := s.now()
	expires = now.Add(AirlockTokenLifetime)
	limit := store.RateLimit{Max: AirlockTokensPerHour, Window: time.Hour}
	if err := s.Store.SetAirlockLoginToken(ctx, u.ID, auth.HashToken(token), expires, now, limit); err != nil {
		if errors.Is(err, store.ErrRateLimited) {
			s.audit(ctx, "airlock.login_token_refused", u.ID, "user:"+u.Username, map[string]string{"reason": "rate_limited"})
		}
		return "", time.Time{}, err
	}
	s.audit(ctx, "airlock.login_token_create", u.ID, "user:"+u.Username, map[string]string{"expires": expires.Format(time.RFC3339)})
	return token, expires, nil
}

// AirlockProfile returns the profile of the user called username for the
// Airlock of backend b: EFORBIDDEN unless the user exists and is a member
// of b. The Airlock refreshes a signed-in user's profile with it.
func (s *Service) AirlockProfile(ctx context.Context, b *store.Backend, username string) (*AirlockProfile, error) {
	u, err := s.Store.UserByUsername(ctx, NormalizeUsername(username))
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, haven.Errorf(haven.EFORBIDDEN, "there is no user called %q on the job server", username)
	}
	if err != nil {
		return nil, err
	}
	return s.airlockProfile(ctx, b, u)
}

// AuthenticateAirlock signs a user in to the Airlock of backend b: user
// is their username or email address, token the login token they got
// from the job server, which is used up. It returns the user's profile.
// EFORBIDDEN MsgAirlockBadToken for an unknown user or a wrong, used or
// expired token; EFORBIDDEN for a user who is not a member of b;
// EFORBIDDEN wrapping ErrAirlockTooManyAttempts, without the token being
// checked, once the user had SignInMaxFailures failures within
// SignInWindow. Every attempt is audited (airlock.sign_in,
// airlock.sign_in_failed); the failure count is kept in memory, per
// server process.
func (s *Service) AuthenticateAirlock(ctx context.Context, b *store.Backend, user, token string) (*AirlockProfile, error) {
	user = strings.TrimSpace(user)
	u, err := s.airlockUser(ctx, user)
	if err != nil {
		return nil, err
	}
	// Failures are counted per user, whichever name they were given by;
	// an unknown name has a count of its own.
	key := "airlock:?" + strings.ToLower(user)
	target := "user:" + user
	var uid int64
	if u != nil {
		key, target, uid = "airlock:"+strings.ToLower(u.Username), "user:"+u.Username, u.ID
	}
	extra := func(reason string) map[string]string {
		return map[string]string{"backend": b.Slug, "reason": reason}
	}
	limiter := s.limiter()
	now := s.now()
	if limiter.blocked(key, now) {
		s.audit(ctx, "airlock.sign_in_failed", uid, target, extra("rate_limited"))
		return nil, &haven.Error{Code: haven.EFORBIDDEN, Message: MsgAirlockTooManyAttempts, Err: ErrAirlockTooManyAttempts}
	}
	normal := NormalizeAirlockToken(token)
	if u == nil || normal == "" {
		limiter.fail(key, now)
		reason := "no_token"
		if u == nil {
			reason = "unknown_user"
		}
		s.audit(ctx, "airlock.sign_in_failed", uid, target, extra(reason))
		return nil, haven.Errorf(haven.EFORBIDDEN, MsgAirlockBadToken)
	}
	err = s.Store.UseAirlockLoginToken(ctx, u.ID, auth.HashToken(normal), now)
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		limiter.fail(key, now)
		s.audit(ctx, "airlock.sign_in_failed", uid, target, extra("bad_token"))
		return nil, haven.Errorf(haven.EFORBIDDEN, MsgAirlockBadToken)
	}
	if err != nil {
		return nil, err
	}
	limiter.reset(key)
	p, err := s.airlockProfile(ctx, b, u)
	if err != nil {
		s.audit(ctx, "airlock.sign_in_failed", uid, target, extra("not_a_member"))
		return nil, err
	}
	s.audit(ctx, "airlock.sign_in", uid, target, map[string]string{"backend": b.Slug})
	return p, nil
}

// airlockUser finds a user by username, or by email address when user
// holds an '@'; nil when there is none.
func (s *Service) airlockUser(ctx context.Context, user string) (*store.User, error) {
	if user == "" || len(user) > 254 {
		return nil, nil
	}
	var (
		u   *store.User
		err error
	)
	if strings.Contains(user, "@") {
		u, err = s.Store.UserByEmail(ctx, user)
	} else {
		u, err = s.Store.UserByUsername(ctx, NormalizeUsername(user))
	}
	if haven.ErrorCode(err) == haven.ENOTFOUND {
		return nil, nil
	}
	return u, err
}

// airlockProfile builds u's profile for the Airlock of b.
func (s *Service) airlockProfile(ctx context.Context, b *store.Backend, u *store.User) (*AirlockProfile, error) {
	bs, err := s.Store.UserBackends(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(bs, func(m *store.Backend) bool { return m.ID == b.ID }) {
		return nil, haven.Errorf(haven.EFORBIDDEN, "%s is not a member of backend %s, so cannot use its Airlock; ask an administrator to add them", u.Username, b.Slug)
	}
	p := &AirlockProfile{
		Username:       u.Username,
		Fullname:       u.Fullname,
		Workspaces:     map[string]AirlockWorkspace{},
		OutputChecker:  slices.Contains(u.Roles, store.RoleOutputChecker),
		ReadonlyAccess: grants(u.Roles, PermAirlockReadonlyAccess, false),
	}
	projects, err := s.Store.UserProjectRoles(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for pid, roles := range projects {
		// Project roles only: an output checker's global role lets them
		// review everywhere but makes them an author nowhere.
		if !grants(roles, PermUnreleasedOutputsView, true) {
			continue
		}
		proj, err := s.Store.Project(ctx, pid)
		if err != nil {
			return nil, err
		}
		ap := AirlockProject{Name: proj.Name, Slug: proj.Slug, Ongoing: true, Orgs: []string{}}
		if proj.OrgID != 0 {
			org, err := s.Store.Org(ctx, proj.OrgID)
			if err != nil {
				return nil, err
			}
			ap.Orgs = append(ap.Orgs, org.Name)
		}
		wss, err := s.Store.Workspaces(ctx, pid)
		if err != nil {
			return nil, err
		}
		for _, ws := range wss {
			wp := ap
			wp.Orgs = slices.Clone(ap.Orgs)
			p.Workspaces[ws.Name] = AirlockWorkspace{Project: wp, Archived: ws.IsArchived}
		}
	}
	return p, nil
}
