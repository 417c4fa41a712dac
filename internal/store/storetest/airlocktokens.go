package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// noLimit lets a test create as many tokens as it likes.
var noLimit = store.RateLimit{}

func (e *env) setAirlockToken(u *store.User, token string, expires, now time.Time) {
	e.t.Helper()
	if err := e.s.SetAirlockLoginToken(e.ctx, u.ID, hashOf(token), expires, now, noLimit); err != nil {
		e.t.Fatalf("SetAirlockLoginToken(%s, %q): %v", u.Username, token, err)
	}
}

// testAirlockTokenUse: a token works once, before its expiry, for its
// user and hash only.
func testAirlockTokenUse(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	bob := &store.User{Username: "bob", Email: "bob@example.org", Fullname: "Bob"}
	if err := s.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "use before any token", s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("apple bread cider"), at(0)), haven.ENOTFOUND)

	e.setAirlockToken(e.user, "apple bread cider", at(3600), at(0))
	wantCode(t, "wrong hash", s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("apple bread cidre"), at(10)), haven.ENOTFOUND)
	wantCode(t, "empty hash", s.UseAirlockLoginToken(ctx, e.user.ID, "", at(10)), haven.ENOTFOUND)
	wantCode(t, "another user's id", s.UseAirlockLoginToken(ctx, bob.ID, hashOf("apple bread cider"), at(10)), haven.ENOTFOUND)
	if err := s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("apple bread cider"), at(10)); err != nil {
		t.Fatalf("first use: %v", err)
	}
	wantCode(t, "second use", s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("apple bread cider"), at(11)), haven.ENOTFOUND)

	// Expiry: usable until the instant before it, not at it.
	e.setAirlockToken(e.user, "dune eagle fern", at(3600), at(0))
	wantCode(t, "use at the expiry", s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("dune eagle fern"), at(3600)), haven.ENOTFOUND)
	wantCode(t, "use after the expiry", s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("dune eagle fern"), at(7200)), haven.ENOTFOUND)
	if err := s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("dune eagle fern"), at(3600).Add(-time.Nanosecond)); err != nil {
		t.Errorf("use a nanosecond before the expiry: %v", err)
	}

	// Bad input.
	wantCode(t, "unknown user", s.SetAirlockLoginToken(ctx, 999999, hashOf("x"), at(3600), at(0), noLimit), haven.ENOTFOUND)
	wantCode(t, "empty hash", s.SetAirlockLoginToken(ctx, e.user.ID, "", at(3600), at(0), noLimit), haven.EINVALID)
	wantCode(t, "expiry not after now", s.SetAirlockLoginToken(ctx, e.user.ID, hashOf("x"), at(0), at(0), noLimit), haven.EINVALID)
}

// testAirlockTokenReplace: a new token replaces the old one, used or not.
func testAirlockTokenReplace(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	e.setAirlockToken(e.user, "old token words", at(3600), at(0))
	e.setAirlockToken(e.user, "new token words", at(3700), at(100))
	wantCode(t, "use the replaced token", s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("old token words"), at(200)), haven.ENOTFOUND)
	if err := s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("new token words"), at(200)); err != nil {
		t.Fatalf("use the new token: %v", err)
	}
	// A token made after a used one is unused, even with the same text,
	// and has the new expiry.
	e.setAirlockToken(e.user, "new token words", at(4000), at(300))
	if err := s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("new token words"), at(3800)); err != nil {
		t.Errorf("use a token set again after its use, before its new expiry: %v", err)
	}
}

// testAirlockTokenConcurrentUse: of many simultaneous uses of one token
// exactly one succeeds.
func testAirlockTokenConcurrentUse(t *testing.T, e *env) {
	const n = 16
	e.setAirlockToken(e.user, "race track winner", at(3600), at(0))
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = e.s.UseAirlockLoginToken(e.ctx, e.user.ID, hashOf("race track winner"), at(10+i))
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch haven.ErrorCode(err) {
		case "":
			ok++
		case haven.ENOTFOUND:
		default:
			t.Errorf("use %d: %v, want success or ENOTFOUND", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent uses succeeded, want exactly 1", ok, n)
	}
}

// testAirlockTokenRateLimit: at most Max tokens per window; a refused
// creation leaves the current token alone; a new window allows more.
func testAirlockTokenRateLimit(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	limit := store.RateLimit{Max: 3, Window: time.Hour}
	for i, tok := range []string{"one", "two", "three"} {
		if err := s.SetAirlockLoginToken(ctx, e.user.ID, hashOf(tok), at(600*i+3600), at(600*i), limit); err != nil {
			t.Fatalf("token %d within the limit: %v", i+1, err)
		}
	}
	err := s.SetAirlockLoginToken(ctx, e.user.ID, hashOf("four"), at(1900+3600), at(1900), limit)
	wantCode(t, "fourth token in the window", err, haven.EFORBIDDEN)
	if !errors.Is(err, store.ErrRateLimited) {
		t.Errorf("fourth token: %v does not wrap ErrRateLimited", err)
	}
	wantCode(t, "use the refused token", s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("four"), at(1950)), haven.ENOTFOUND)
	if err := s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("three"), at(1950)); err != nil {
		t.Errorf("the last token allowed was changed by the refused one: %v", err)
	}
	// Another user has their own count.
	bob := &store.User{Username: "bob", Email: "bob@example.org", Fullname: "Bob"}
	if err := s.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAirlockLoginToken(ctx, bob.ID, hashOf("bob"), at(1960+3600), at(1960), limit); err != nil {
		t.Errorf("another user's first token: %v", err)
	}
	// The window started at 0 ends at 3600.
	wantCode(t, "a second before the window ends", s.SetAirlockLoginToken(ctx, e.user.ID, hashOf("five"), at(3599+3600), at(3599), limit), haven.EFORBIDDEN)
	if err := s.SetAirlockLoginToken(ctx, e.user.ID, hashOf("six"), at(3600+3600), at(3600), limit); err != nil {
		t.Fatalf("first token of the next window: %v", err)
	}
	if err := s.UseAirlockLoginToken(ctx, e.user.ID, hashOf("six"), at(3601)); err != nil {
		t.Errorf("use the first token of the next window: %v", err)
	}
}

// testAirlockTokenConcurrentCreate: simultaneous creations never let more
// than the limit through, including a user's very first tokens.
func testAirlockTokenConcurrentCreate(t *testing.T, e *env) {
	const n = 12
	limit := store.RateLimit{Max: 3, Window: time.Hour}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = e.s.SetAirlockLoginToken(e.ctx, e.user.ID, hashOf(fmt.Sprint("token ", i)), at(3600), at(i), limit)
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrRateLimited):
		default:
			t.Errorf("create %d: %v, want success or ErrRateLimited", i, err)
		}
	}
	if ok != limit.Max {
		t.Errorf("%d of %d concurrent creations succeeded, want %d", ok, n, limit.Max)
	}
}

// testAirlockUserLookups: users by email, and a user's project roles.
func testAirlockUserLookups(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	u, err := s.UserByEmail(ctx, "  Alice@Example.ORG ")
	if err != nil || u.ID != e.user.ID {
		t.Errorf("UserByEmail(mixed case) = %+v, %v; want alice", u, err)
	}
	_, err = s.UserByEmail(ctx, "nobody@example.org")
	wantCode(t, "UserByEmail(unknown)", err, haven.ENOTFOUND)

	roles, err := s.UserProjectRoles(ctx, e.user.ID)
	if err != nil || len(roles) != 0 {
		t.Errorf("UserProjectRoles before any membership = %v, %v; want none", roles, err)
	}
	other := &store.Project{Name: "Other", Slug: "other", OrgID: e.org.ID, CreatedAt: t0}
	if err := s.CreateProject(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProjectRoles(ctx, e.project.ID, e.user.ID, []store.Role{store.RoleProjectDeveloper}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetProjectRoles(ctx, other.ID, e.user.ID, []store.Role{store.RoleProjectCollaborator}); err != nil {
		t.Fatal(err)
	}
	roles, err = s.UserProjectRoles(ctx, e.user.ID)
	if err != nil || len(roles) != 2 || !slices.Equal(roles[e.project.ID], []store.Role{store.RoleProjectDeveloper}) ||
		!slices.Equal(roles[other.ID], []store.Role{store.RoleProjectCollaborator}) {
		t.Errorf("UserProjectRoles = %v, %v; want developer on %d and collaborator on %d", roles, err, e.project.ID, other.ID)
	}
	if err := s.SetProjectRoles(ctx, other.ID, e.user.ID, nil); err != nil {
		t.Fatal(err)
	}
	if roles, err = s.UserProjectRoles(ctx, e.user.ID); err != nil || len(roles) != 1 || roles[other.ID] != nil {
		t.Errorf("UserProjectRoles after leaving a project = %v, %v; want only %d", roles, err, e.project.ID)
	}
}
