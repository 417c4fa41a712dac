package storetest

import (
	"maps"
	"slices"
	"testing"

	"github.com/haven-tre/haven/internal/store"
)

func testAudit(t *testing.T, e *env) {
	s, ctx := e.s, e.ctx
	events := []*store.AuditEvent{
		{Type: "job_request.create", UserID: e.user.ID, Target: "job_request:1", Extra: map[string]string{"backend": "tpp"}, CreatedAt: at(1)},
		{Type: "auth.sign_in_failed", Target: "user:mallory", Extra: map[string]string{"ip": "192.0.2.1"}, CreatedAt: at(2)},
		{Type: "job_request.cancel", UserID: e.user.ID, Target: "job_request:1", Extra: map[string]string{"actions": "a,b"}, CreatedAt: at(3)},
		{Type: "job.status", Target: "job_request:1", CreatedAt: at(4)},
		{Type: "backend.rotate_tokens", UserID: e.user.ID, Target: "backend:tpp", CreatedAt: at(5)},
	}
	for i, ev := range events {
		if err := s.AppendAudit(ctx, ev); err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
		if ev.ID == 0 || (i > 0 && ev.ID <= events[i-1].ID) {
			t.Errorf("AppendAudit %d set ID %d, want increasing ids", i, ev.ID)
		}
	}
	check := func(what string, got []*store.AuditEvent, want []*store.AuditEvent) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %d events, want %d", what, len(got), len(want))
			return
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.ID != w.ID || g.Type != w.Type || g.UserID != w.UserID || g.Target != w.Target || !maps.Equal(g.Extra, w.Extra) {
				t.Errorf("%s[%d] = %+v, want %+v", what, i, g, w)
			}
			wantTime(t, what+" CreatedAt", g.CreatedAt, w.CreatedAt)
		}
	}
	newest := slices.Clone(events)
	slices.Reverse(newest)

	got, err := s.AuditEvents(ctx, "", 10)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	check(`AuditEvents("", 10)`, got, newest)

	got, err = s.AuditEvents(ctx, "", 2)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	check(`AuditEvents("", 2)`, got, newest[:2])

	got, err = s.AuditEvents(ctx, "job_request:1", 10)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	check(`AuditEvents("job_request:1", 10)`, got, []*store.AuditEvent{events[3], events[2], events[0]})

	got, err = s.AuditEvents(ctx, "job_request:2", 10)
	if err != nil || len(got) != 0 {
		t.Errorf(`AuditEvents("job_request:2") = %d events, %v; want none`, len(got), err)
	}
}
