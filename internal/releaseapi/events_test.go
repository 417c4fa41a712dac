package releaseapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/store"
)

func eventBody(t *testing.T, ev Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reqID := store.NewULID(now0)
	good := Event{EventType: EventRequestReturned, Workspace: "ws-one", Request: reqID, RequestAuthor: "researcher", User: "checker",
		Updates: []EventUpdate{{Update: "comment added", Group: "tables", User: "checker"}}}

	w := f.postJSON(PathEvents, eventBody(t, good), nil)
	wantStatus(t, "event", w, 201, "")
	if got := strings.TrimSpace(w.Body.String()); got != `{"errors":[]}` {
		t.Errorf("event answer = %s, want {\"errors\":[]}", got)
	}
	evs, err := f.st.AuditEvents(ctx, "workspace:ws-one", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("audit events about ws-one = %+v, want one", evs)
	}
	e := evs[0]
	if e.Type != "airlock_request_returned" || e.UserID != f.checker.ID || e.Extra["request"] != reqID || e.Extra["backend"] != "tpp" ||
		e.Extra["request_author"] != "researcher" || e.Extra["user"] != "checker" || !strings.Contains(e.Extra["updates"], `"group":"tables"`) ||
		!e.CreatedAt.Equal(now0) {
		t.Errorf("audit event = %+v", e)
	}
	if !strings.Contains(f.logs.String(), "airlock event") || !strings.Contains(f.logs.String(), reqID) {
		t.Errorf("the event was not logged: %s", f.logs)
	}

	// An event by a user the server does not know is still recorded.
	unknown := good
	unknown.User, unknown.Updates, unknown.EventType = "someone-else", nil, EventRequestSubmitted
	wantStatus(t, "unknown acting user", f.postJSON(PathEvents, eventBody(t, unknown), nil), 201, "")

	bad := func(mod func(*Event)) string {
		ev := good
		mod(&ev)
		return eventBody(t, ev)
	}
	for _, tc := range []struct {
		name, body string
		hdr        map[string]string
		status     int
		contains   string
	}{
		{"no token", eventBody(t, good), map[string]string{"Authorization": ""}, 401, "unauthorized"},
		{"agent token", eventBody(t, good), map[string]string{"Authorization": "Bearer " + agentTok}, 403, "agent token"},
		{"no event type", bad(func(e *Event) { e.EventType = "" }), nil, 400, "event_type"},
		{"event type with spaces", bad(func(e *Event) { e.EventType = "request submitted" }), nil, 400, "event_type"},
		{"bad workspace name", bad(func(e *Event) { e.Workspace = "../x" }), nil, 400, "workspace"},
		{"unknown workspace", bad(func(e *Event) { e.Workspace = "ws-nine" }), nil, 404, "ws-nine"},
		{"request not a ULID", bad(func(e *Event) { e.Request = "42" }), nil, 400, "ULID"},
		{"no author", bad(func(e *Event) { e.RequestAuthor = "" }), nil, 400, "request_author"},
		{"no user", bad(func(e *Event) { e.User = "" }), nil, 400, "user"},
		{"empty update", bad(func(e *Event) { e.Updates = []EventUpdate{{Group: "g"}} }), nil, 400, "updates[0]"},
		{"unknown field", `{"event_type":"request_submitted","surprise":1}`, nil, 400, ""},
		{"empty body", ``, nil, 400, "empty"},
	} {
		wantStatus(t, tc.name, f.postJSON(PathEvents, tc.body, tc.hdr), tc.status, tc.contains)
	}
	if evs, _ := f.st.AuditEvents(ctx, "workspace:ws-one", 10); len(evs) != 2 {
		t.Errorf("refused events were recorded: %d audit events, want 2", len(evs))
	}
}
