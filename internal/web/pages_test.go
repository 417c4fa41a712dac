package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestListsAndPagination(t *testing.T) {
	e := newEnv(t)
	s := e.seedWorkspace("Org Two", "Busy project", "busy", "emis", "Dana Doe", "https://github.com/o/busy", "main")
	for i := range 30 {
		e.request(s, fmt.Sprintf("aaaaaaaaaaaa%04d", i), "danadoe", strings.Repeat("d", 40), "version: '3.0'\n",
			[]string{"a"}, t0.Add(time.Duration(i)*time.Minute))
	}
	c := e.client()
	logs := "/" + s.project.Slug + "/busy/logs/"
	for _, tc := range []struct {
		path       string
		rows       int
		prev, next bool
	}{
		{"/event-log/", 25, false, true},
		{"/event-log/?page=2", 5, true, false},
		{"/event-log/?page=oops", 25, false, true},
		{logs, 25, false, true},
		{logs + "?page=2&backend=emis", 5, true, false},
		{logs + "?backend=tpp", 0, false, false},
	} {
		rec := c.get(tc.path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", tc.path, rec.Code)
		}
		body := rec.Body.String()
		if got := strings.Count(body, "<tr>") - 1; max(got, 0) != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.path, got, tc.rows)
		}
		if strings.Contains(body, `rel="prev"`) != tc.prev || strings.Contains(body, `rel="next"`) != tc.next {
			t.Errorf("%s: prev/next links wrong", tc.path)
		}
	}
	// Newest first, with the requester's name and the backend.
	assertInOrder(t, pageText(c.get("/event-log/").Body.String()), "30", "busy", "EMIS", "Pending", "Dana Doe", "29")

	// The home page lists every workspace; a member sees theirs first.
	rec := c.get("/")
	assertInOrder(t, pageText(rec.Body.String()), "All workspaces", "busy", "other-team-ws", "primary-care-covid")
	rec = e.signIn("alice").get("/")
	assertInOrder(t, pageText(rec.Body.String()), "Your workspaces", "primary-care-covid", "All workspaces", "busy")

	// The project page lists its workspaces.
	rec = c.get("/" + s.project.Slug + "/")
	assertInOrder(t, pageText(rec.Body.String()), "Busy project", "Organisation", "Org Two", "Workspaces", "busy")
	if rec := c.get("/no-such-project/"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown project: %d", rec.Code)
	}
}
