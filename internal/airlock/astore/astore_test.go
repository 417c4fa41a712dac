package astore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
)

var t0 = time.Date(2025, 3, 4, 10, 11, 12, 123456789, time.UTC)

func open(t *testing.T) (*astore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "airlock.db")
	s, err := astore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := haven.ErrorCode(err); got != code {
		t.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

func put(t *testing.T, s *astore.Store, rec *astore.Record) error {
	t.Helper()
	return s.Tx(context.Background(), func(tx *astore.Tx) error { return tx.Put(rec) })
}

func mustPut(t *testing.T, s *astore.Store, rec *astore.Record) {
	t.Helper()
	if err := put(t, s, rec); err != nil {
		t.Fatal(err)
	}
}

func simple(id, workspace, author string, st review.Status, coauthors ...string) *astore.Record {
	return &astore.Record{
		Request: &review.Request{ID: id, Workspace: workspace, Author: author, CoAuthors: coauthors, Status: st},
	}
}

// rich is a request using every part of the aggregate; its times are in
// another zone so the test shows they come back in UTC.
func rich() *astore.Record {
	zone := time.FixedZone("UTC+2", 2*3600)
	local := t0.In(zone)
	released := t0.Add(time.Hour)
	return &astore.Record{
		Request: &review.Request{
			ID: "01JABCDEF0000000000000000R", Workspace: "ws1", Author: "alice",
			CoAuthors: []string{"bob"}, FormerCoAuthors: []string{"carol"},
			Status: review.Reviewed, ReviewTurn: 3,
			SubmittedReviews: map[string]time.Time{"chk1": local, "chk2": t0.Add(time.Minute)},
			TurnReviewers:    []string{"chk1", "chk3"},
			ReturnedEarly:    true,
			LastSubmittedAt:  local.Add(-time.Hour),
			Groups: []review.Group{
				{Name: "default", Context: "counts by region", Controls: "rounded to 5", Files: []review.File{
					{Name: "output/a.csv", Type: review.Output, FailFindings: []string{"F1", "F2"}, Updated: true,
						Votes: map[string]review.FileReview{
							"chk1": {Vote: review.VoteApproved, Turn: 3, Acknowledged: []string{"F1", "F2"}, At: local},
							"chk2": {Vote: review.VoteChangesRequested, Turn: 3, At: t0},
						}},
					{Name: "output/notes.txt", Type: review.Supporting},
				}},
				{Name: "extra", Files: []review.File{{Name: "output/old.csv", Type: review.WithdrawnFile}}},
			},
			Comments: []review.Comment{
				{ID: "c1", Group: "default", Author: "chk1", Visibility: review.Private, Turn: 3, Text: "**check** row 4", At: local},
				{ID: "c2", Group: "extra", Author: "alice", Visibility: review.Public, Turn: 2, Text: "why", At: t0},
			},
		},
		Files: map[string]*astore.FileMeta{
			"output/a.csv": {Name: "output/a.csv", SHA256: "aaa", Size: 120, ModTime: local,
				Report:         json.RawMessage(`{"overall":"FAIL","findings":[{"rule_id":"F1","severity":"FAIL"}]}`),
				CheckerVersion: "1.2.0", ReleasedAt: &released, ReleasedBy: "chk1"},
			"output/notes.txt": {Name: "output/notes.txt", SHA256: "bbb", Size: 7, ModTime: t0},
			"output/old.csv":   {Name: "output/old.csv", SHA256: "ccc", Size: 9, ModTime: t0},
		},
		CreatedAt: local,
	}
}

// inUTC is what rich() should read back as.
func inUTC(rec *astore.Record) *astore.Record {
	r := rec.Request.Clone()
	r.LastSubmittedAt = r.LastSubmittedAt.UTC()
	for k, v := range r.SubmittedReviews {
		r.SubmittedReviews[k] = v.UTC()
	}
	for i := range r.Groups {
		for j := range r.Groups[i].Files {
			for k, v := range r.Groups[i].Files[j].Votes {
				v.At = v.At.UTC()
				r.Groups[i].Files[j].Votes[k] = v
			}
		}
	}
	for i := range r.Comments {
		r.Comments[i].At = r.Comments[i].At.UTC()
	}
	files := map[string]*astore.FileMeta{}
	for k, f := range rec.Files {
		c := *f
		c.ModTime = c.ModTime.UTC()
		if c.ReleasedAt != nil {
			u := c.ReleasedAt.UTC()
			c.ReleasedAt = &u
		}
		files[k] = &c
	}
	return &astore.Record{Request: r, Files: files, CreatedAt: rec.CreatedAt.UTC(), Version: rec.Version}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ name, path, msg string }{
		{"empty", "", "no file name"},
		{"memory", ":memory:", "path of a file"},
		{"missing folder", filepath.Join(t.TempDir(), "nope", "airlock.db"), "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := astore.Open(ctx, tc.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			wantCode(t, err, haven.EINVALID)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

func TestPutRequestRoundTrip(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	rec := rich()
	want := inUTC(rec)
	mustPut(t, s, rec)
	if rec.Version != 1 {
		t.Fatalf("Version after insert = %d, want 1", rec.Version)
	}
	want.Version = 1
	got, err := s.Request(ctx, rec.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("round trip differs:\ngot  %s\nwant %s", g, w)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	// The same through a transaction, and an update keeps CreatedAt.
	err = s.Tx(ctx, func(tx *astore.Tx) error {
		got, err := tx.Request(rec.Request.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("tx.Request differs: %+v", got)
		}
		got.Request.Status = review.Approved
		return tx.Put(got)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.Request(ctx, rec.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Request.Status != review.Approved || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("after update: version %d status %s created %v", got.Version, got.Request.Status, got.CreatedAt)
	}
}

func TestRequestNotFoundAndPutValidation(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	_, err := s.Request(ctx, "nope")
	wantCode(t, err, haven.ENOTFOUND)
	err = s.Tx(ctx, func(tx *astore.Tx) error { _, err := tx.Request("nope"); return err })
	wantCode(t, err, haven.ENOTFOUND)

	bad := []*astore.Record{
		nil,
		{},
		simple("", "ws", "a", review.Pending),
		simple("r1", "", "a", review.Pending),
		simple("r1", "ws", "", review.Pending),
		simple("r1", "ws", "a", "NOPE"),
		{Request: simple("r1", "ws", "a", review.Pending).Request, Files: map[string]*astore.FileMeta{"x.csv": {Name: "y.csv"}}},
		{Request: simple("r1", "ws", "a", review.Pending).Request, Files: map[string]*astore.FileMeta{"x.csv": nil}},
		{Request: simple("r1", "ws", "a", review.Pending).Request, Files: map[string]*astore.FileMeta{"x.csv": {Name: "x.csv", Report: json.RawMessage(`{`)}}},
	}
	for _, rec := range bad {
		wantCode(t, put(t, s, rec), haven.EINVALID)
	}
	if recs, err := s.Requests(ctx, astore.Filter{}); err != nil || len(recs) != 0 {
		t.Fatalf("invalid records were stored: %d, %v", len(recs), err)
	}
	// Inserting an id that exists, or updating one that does not.
	mustPut(t, s, simple("r1", "ws", "a", review.Pending))
	wantCode(t, put(t, s, simple("r1", "ws", "a", review.Pending)), haven.ECONFLICT)
	ghost := simple("r2", "ws", "b", review.Pending)
	ghost.Version = 4
	wantCode(t, put(t, s, ghost), haven.ECONFLICT)
}

func TestVersionConflict(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	mustPut(t, s, simple("r1", "ws", "alice", review.Pending))
	a, err := s.Request(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Request(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	a.Request.CoAuthors = []string{"bob"}
	mustPut(t, s, a)
	b.Request.CoAuthors = []string{"carol"}
	err = put(t, s, b)
	wantCode(t, err, haven.ECONFLICT)
	got, err := s.Request(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || !slices.Equal(got.Request.CoAuthors, []string{"bob"}) {
		t.Fatalf("stored %d %v, want version 2 with co-author bob", got.Version, got.Request.CoAuthors)
	}
}

func TestRollbackOnError(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx *astore.Tx) error {
		if err := tx.Put(simple("r1", "ws", "alice", review.Pending)); err != nil {
			return err
		}
		if err := tx.Append(event("CREATE", "alice", "ws", "r1", "0")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx returned %v, want fn's error", err)
	}
	_, err = s.Request(ctx, "r1")
	wantCode(t, err, haven.ENOTFOUND)
	if evs, err := s.Audit(ctx, astore.AuditFilter{}); err != nil || len(evs) != 0 {
		t.Fatalf("audit after rollback: %v %v", evs, err)
	}
	// A Tx kept past its function refuses to work.
	var kept *astore.Tx
	if err := s.Tx(ctx, func(tx *astore.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Request("r1"); err == nil {
		t.Fatal("a Tx used after its transaction worked")
	}
}

func TestOneActiveRequestPerAuthor(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	first := simple("r1", "ws", "alice", review.Pending, "bob")
	mustPut(t, s, first)

	err := put(t, s, simple("r2", "ws", "alice", review.Submitted))
	wantCode(t, err, haven.ECONFLICT)
	if !strings.Contains(err.Error(), "r1") || !strings.Contains(err.Error(), "ws") {
		t.Errorf("conflict message %q should name the workspace and the active request", err)
	}
	// Other workspaces, other authors, and a co-author's own request are fine.
	mustPut(t, s, simple("r3", "ws2", "alice", review.Pending))
	mustPut(t, s, simple("r4", "ws", "bob", review.Pending))
	// Inactive requests do not count.
	mustPut(t, s, simple("r5", "ws", "alice", review.Rejected))

	// Once the first is withdrawn a new one is allowed; same after release.
	first.Request.Status = review.Withdrawn
	mustPut(t, s, first)
	second := simple("r2", "ws", "alice", review.Pending)
	mustPut(t, s, second)
	wantCode(t, put(t, s, simple("r6", "ws", "alice", review.Pending)), haven.ECONFLICT)
	second.Request.Status = review.Released
	mustPut(t, s, second)
	mustPut(t, s, simple("r6", "ws", "alice", review.Returned))

	// Re-activating an old request while another is active is refused too.
	first.Request.Status = review.Pending
	wantCode(t, put(t, s, first), haven.ECONFLICT)

	active, err := s.Requests(ctx, astore.Filter{Workspace: "ws", User: "alice", Statuses: []review.Status{review.Pending, review.Submitted, review.PartiallyReviewed, review.Reviewed, review.Returned}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(active), []string{"r6"}) {
		t.Fatalf("alice's active requests in ws: %v, want [r6]", ids(active))
	}
}

func TestConcurrentUpdatesSerialise(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	mustPut(t, s, simple("r1", "ws", "alice", review.Pending))
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Tx(ctx, func(tx *astore.Tx) error {
				rec, err := tx.Request("r1")
				if err != nil {
					return err
				}
				rec.Request.Comments = append(rec.Request.Comments, review.Comment{
					ID: fmt.Sprintf("c%02d", i), Group: "default", Author: "alice", Visibility: review.Public, Text: "x", At: t0,
				})
				return tx.Put(rec)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	rec, err := s.Request(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range rec.Request.Comments {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	if len(ids) != n || len(slices.Compact(slices.Clone(ids))) != n {
		t.Fatalf("comments %v, want %d distinct", ids, n)
	}
	if rec.Version != n+1 {
		t.Fatalf("version %d, want %d", rec.Version, n+1)
	}
}

func ids(recs []*astore.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Request.ID)
	}
	return out
}

func TestActiveRequestsAndFilters(t *testing.T) {
	var now time.Time
	path := filepath.Join(t.TempDir(), "airlock.db")
	now = t0
	s, err := astore.Open(context.Background(), path, astore.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Inserted oldest first; CreatedAt comes from the clock.
	recs := []*astore.Record{
		simple("r1", "ws", "alice", review.Pending, "bob"),
		simple("r2", "ws", "bob", review.Submitted),
		simple("r3", "ws", "carol", review.Released, "alice"),
		simple("r4", "ws2", "alice", review.Returned),
		simple("r5", "ws", "dave", review.Reviewed, "erin"),
	}
	recs[4].Request.FormerCoAuthors = []string{"frank"}
	for _, r := range recs {
		now = now.Add(time.Minute)
		mustPut(t, s, r)
	}
	if !recs[0].CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("CreatedAt %v not from the clock", recs[0].CreatedAt)
	}

	err = s.Tx(ctx, func(tx *astore.Tx) error {
		for _, tc := range []struct {
			ws, user string
			want     []string
		}{
			{"ws", "alice", []string{"r1"}},     // author; r3 is co-authored but not active
			{"ws", "bob", []string{"r2", "r1"}}, // own and co-authored, newest first
			{"ws", "erin", []string{"r5"}},      // co-author only
			{"ws", "frank", nil},                // former co-author
			{"ws2", "alice", []string{"r4"}},    // RETURNED is active
			{"ws3", "alice", nil},               // no such workspace
		} {
			got, err := tx.ActiveRequests(tc.ws, tc.user)
			if err != nil {
				return err
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("ActiveRequests(%s, %s) = %v, want %v", tc.ws, tc.user, ids(got), tc.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		f    astore.Filter
		want []string
	}{
		{"all", astore.Filter{}, []string{"r5", "r4", "r3", "r2", "r1"}},
		{"workspace", astore.Filter{Workspace: "ws"}, []string{"r5", "r3", "r2", "r1"}},
		{"user", astore.Filter{User: "alice"}, []string{"r4", "r3", "r1"}},
		{"user in workspace", astore.Filter{Workspace: "ws", User: "alice"}, []string{"r3", "r1"}},
		{"statuses", astore.Filter{Statuses: []review.Status{review.Submitted, review.Reviewed}}, []string{"r5", "r2"}},
		{"reviewable by alice", astore.Filter{ReviewableBy: "alice"}, []string{"r5", "r2"}},
		{"reviewable by frank (former co-author)", astore.Filter{ReviewableBy: "frank"}, []string{"r4", "r3", "r2", "r1"}},
		{"reviewable and status", astore.Filter{ReviewableBy: "bob", Statuses: []review.Status{review.Reviewed, review.Released}}, []string{"r5", "r3"}},
		{"nothing", astore.Filter{User: "zed"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Requests(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("Requests(%+v) = %v, want %v", tc.f, ids(got), tc.want)
			}
		})
	}

	// Removing a co-author updates the index.
	recs[0].Request.CoAuthors = nil
	mustPut(t, s, recs[0])
	got, err := s.Requests(ctx, astore.Filter{User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), []string{"r2"}) {
		t.Errorf("after removing bob: %v, want [r2]", ids(got))
	}
}

func TestReleasedHashes(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	at := t0
	meta := func(name, sha string, released bool) *astore.FileMeta {
		f := &astore.FileMeta{Name: name, SHA256: sha, Size: 1, ModTime: t0}
		if released {
			f.ReleasedAt, f.ReleasedBy = &at, "chk1"
		}
		return f
	}
	r1 := simple("r1", "ws", "alice", review.Released)
	r1.Files = map[string]*astore.FileMeta{"a.csv": meta("a.csv", "h1", true), "b.txt": meta("b.txt", "h2", false)}
	r2 := simple("r2", "ws", "bob", review.Pending)
	r2.Files = map[string]*astore.FileMeta{"c.csv": meta("c.csv", "h3", false)}
	r3 := simple("r3", "other", "bob", review.Approved)
	r3.Files = map[string]*astore.FileMeta{"d.csv": meta("d.csv", "h4", true)}
	for _, r := range []*astore.Record{r1, r2, r3} {
		mustPut(t, s, r)
	}
	got, err := s.ReleasedHashes(ctx, "ws")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]bool{"h1": true}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ReleasedHashes(ws) = %v, want %v", got, want)
	}
	// Releasing r2's file adds its hash; the transaction sees it at once.
	r2.Files["c.csv"].ReleasedAt = &at
	err = s.Tx(ctx, func(tx *astore.Tx) error {
		if err := tx.Put(r2); err != nil {
			return err
		}
		got, err := tx.ReleasedHashes("ws")
		if err != nil {
			return err
		}
		if want := map[string]bool{"h1": true, "h3": true}; !reflect.DeepEqual(got, want) {
			return fmt.Errorf("in tx: %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.ReleasedHashes(ctx, "none")
	if err != nil || len(got) != 0 {
		t.Fatalf("ReleasedHashes(none) = %v, %v", got, err)
	}
}

func event(typ, user, ws, req, turn string) review.Event {
	e := review.Event{Type: review.EventType(typ), User: user, Workspace: ws, Request: req, At: t0, Extra: map[string]string{}}
	if turn != "" {
		e.Extra["review_turn"] = turn
	}
	return e
}

func TestAudit(t *testing.T) {
	s, path := open(t)
	ctx := context.Background()
	evs := []review.Event{
		event("CREATE", "alice", "ws", "r1", "0"),
		event("FILE_ADD", "alice", "ws", "r1", "0"),
		event("SUBMIT", "alice", "ws", "r1", "1"),
		event("WORKSPACE_FILE_VIEW", "bob", "ws2", "", "0"),
		event("FILE_APPROVE", "chk1", "ws", "r1", "1"),
	}
	evs[1].Path = "output/a.csv"
	evs[1].Extra["group"] = "default"
	evs[4].At = t0.In(time.FixedZone("x", -5*3600)).Add(time.Second)
	err := s.Tx(ctx, func(tx *astore.Tx) error { return tx.Append(evs...) })
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Audit(ctx, astore.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(evs)
	want[4].At = want[4].At.UTC()
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("Audit = %+v\nwant %+v", all, want)
	}
	types := func(es []review.Event) string {
		var out []string
		for _, e := range es {
			out = append(out, string(e.Type))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		f    astore.AuditFilter
		want string
	}{
		{astore.AuditFilter{Request: "r1"}, "CREATE,FILE_ADD,SUBMIT,FILE_APPROVE"},
		{astore.AuditFilter{Workspace: "ws2"}, "WORKSPACE_FILE_VIEW"},
		{astore.AuditFilter{User: "alice"}, "CREATE,FILE_ADD,SUBMIT"},
		{astore.AuditFilter{User: "alice", Limit: 2}, "FILE_ADD,SUBMIT"},
		{astore.AuditFilter{Request: "r1", User: "chk1"}, "FILE_APPROVE"},
		{astore.AuditFilter{User: "nobody"}, ""},
	} {
		got, err := s.Audit(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if types(got) != tc.want {
			t.Errorf("Audit(%+v) = %s, want %s", tc.f, types(got), tc.want)
		}
	}

	// Events without a turn, with a bad turn, or without type or user are
	// refused, and none of the batch is logged.
	for _, e := range []review.Event{
		event("SUBMIT", "alice", "ws", "r1", ""),
		event("SUBMIT", "alice", "ws", "r1", "one"),
		event("", "alice", "ws", "r1", "1"),
		event("SUBMIT", "", "ws", "r1", "1"),
	} {
		err := s.Tx(ctx, func(tx *astore.Tx) error { return tx.Append(event("EDIT", "alice", "ws", "r9", "1"), e) })
		wantCode(t, err, haven.EINVALID)
	}
	if got, _ := s.Audit(ctx, astore.AuditFilter{Request: "r9"}); len(got) != 0 {
		t.Fatalf("a refused batch was partly logged: %v", got)
	}

	// The database itself refuses changes to the log.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`UPDATE audit_log SET user = 'mallory' WHERE user = 'alice'`,
		`UPDATE audit_log SET extra = '{"review_turn":"9"}'`,
		`DELETE FROM audit_log WHERE request = 'r1'`,
		`DELETE FROM audit_log`,
	} {
		_, err := db.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_log WHERE user = 'alice'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("alice's events after tampering: %d, %v", n, err)
	}
	// A raw insert without review_turn is refused by the table too.
	if _, err := db.Exec(`INSERT INTO audit_log (type, user, workspace, request, path, extra, created_at) VALUES ('X', 'u', '', '', '', '{}', '')`); err == nil {
		t.Error("an event without review_turn was inserted directly")
	}
}

func TestSessions(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	sess := &astore.Session{
		IDHash: "h1", Username: "alice", Profile: json.RawMessage(`{"username":"alice","output_checker":false}`),
		CSRF: "tok", CreatedAt: t0, ExpiresAt: t0.Add(8 * time.Hour),
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreateSession(ctx, sess), haven.ECONFLICT)
	wantCode(t, s.CreateSession(ctx, &astore.Session{IDHash: "h2", Username: "bob", CreatedAt: t0, ExpiresAt: t0}), haven.EINVALID)
	wantCode(t, s.CreateSession(ctx, &astore.Session{Username: "bob", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}), haven.EINVALID)

	got, err := s.Session(ctx, "h1", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := *sess
	want.RefreshedAt = t0
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("Session = %+v, want %+v", got, want)
	}
	_, err = s.Session(ctx, "nope", t0)
	wantCode(t, err, haven.ENOTFOUND)

	// Refresh replaces the profile and the refresh time, not the expiry.
	later := t0.Add(15 * time.Minute)
	if err := s.RefreshSession(ctx, "h1", json.RawMessage(`{"username":"alice","output_checker":true}`), later); err != nil {
		t.Fatal(err)
	}
	got, err = s.Session(ctx, "h1", later)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Profile) != `{"username":"alice","output_checker":true}` || !got.RefreshedAt.Equal(later) || !got.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Fatalf("after refresh: %+v", got)
	}
	wantCode(t, s.RefreshSession(ctx, "nope", nil, later), haven.ENOTFOUND)

	// Expiry.
	_, err = s.Session(ctx, "h1", sess.ExpiresAt)
	wantCode(t, err, haven.ENOTFOUND)
	wantCode(t, s.RefreshSession(ctx, "h1", nil, sess.ExpiresAt.Add(time.Second)), haven.ENOTFOUND)

	// Delete, twice.
	if err := s.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Session(ctx, "h1", t0)
	wantCode(t, err, haven.ENOTFOUND)

	// Creating a session forgets expired ones.
	old := &astore.Session{IDHash: "old", Username: "bob", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, &astore.Session{IDHash: "new", Username: "bob", CreatedAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatalf("the expired session was not forgotten: %v", err)
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "airlock.db")
	s, err := astore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	rec := rich()
	want := inUTC(rec)
	mustPut(t, s, rec)
	want.Version = 1
	if err := s.Tx(ctx, func(tx *astore.Tx) error { return tx.Append(event("CREATE", "alice", "ws1", rec.Request.ID, "0")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, &astore.Session{IDHash: "h", Username: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s, err = astore.Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		got, err := s.Request(ctx, rec.Request.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after reopen: %+v", got)
		}
		if evs, err := s.Audit(ctx, astore.AuditFilter{}); err != nil || len(evs) != 1 {
			t.Fatalf("audit after reopen: %v, %v", evs, err)
		}
		if _, err := s.Session(ctx, "h", t0); err != nil {
			t.Fatal(err)
		}
		wantCode(t, put(t, s, simple("r2", "ws1", "alice", review.Pending)), haven.ECONFLICT)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var mode string
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("schema_migrations rows = %d, %v; want 1", n, err)
	}
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}
