package airlock_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/airlock/workspace"
	"github.com/haven-tre/haven/internal/releaseapi"
)

// fakeServer is the job server as Airlock sees it, recording calls.
type fakeServer struct {
	mu        sync.Mutex
	profiles  map[string]*releaseapi.Profile
	created   []releaseapi.CreateRequest
	createErr error
	uploads   map[string][]byte // release/name → bytes
	failNext  int               // uploads to refuse before accepting
	events    []releaseapi.Event
}

func (f *fakeServer) Authenticate(_ context.Context, user, token string) (*releaseapi.Profile, error) {
	if token != "right token" {
		return nil, &releaseapi.APIError{Status: 403, Message: "wrong token"}
	}
	return f.Authorise(context.Background(), user)
}

func (f *fakeServer) Authorise(_ context.Context, user string) (*releaseapi.Profile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.profiles[user]
	if !ok {
		return nil, &releaseapi.APIError{Status: 403, Message: "not a member"}
	}
	return p, nil
}

func (f *fakeServer) CreateRelease(_ context.Context, checker string, req releaseapi.CreateRequest) (*releaseapi.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return nil, f.createErr
	}
	f.created = append(f.created, req)
	return &releaseapi.Release{ID: req.ID, Workspace: req.Workspace, CreatedBy: checker}, nil
}

func (f *fakeServer) Upload(_ context.Context, id, name string, data []byte) (*releaseapi.Upload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNext > 0 {
		f.failNext--
		return nil, errors.New("connection refused")
	}
	for _, c := range f.created {
		if c.ID != id {
			continue
		}
		for _, fs := range c.Files {
			if fs.Name == name {
				if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != fs.SHA256 {
					return nil, &releaseapi.APIError{Status: 422, Message: "Contents of uploaded file does not match"}
				}
				f.uploads[id+"/"+name] = data
				return &releaseapi.Upload{ReleaseID: id, Name: name}, nil
			}
		}
	}
	return nil, &releaseapi.APIError{Status: 404, Message: "no such file"}
}

func (f *fakeServer) SendEvent(_ context.Context, e releaseapi.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
	return nil
}

// fixture is a Service over a real medium-privacy workspace "ws" and a
// real Airlock database.
type fixture struct {
	t      *testing.T
	svc    *airlock.Service
	server *fakeServer
	root   string // the workspace folder
	users  map[string]*airlock.User
}

const (
	csvBody = "group,patients\nadults,120\nchildren,3\n"
	svgBody = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	medium := filepath.Join(dir, "medium")
	f := &fixture{t: t, root: filepath.Join(medium, "ws")}
	f.writeOutput("output/table.csv", csvBody, "moderately_sensitive")
	f.writeOutput("output/plot.svg", svgBody, "moderately_sensitive")
	f.writeOutput("output/input.csv", "patient_id,age\n1,40\n", "highly_sensitive")
	f.write("metadata/counts.log", "ran\n")
	st, err := astore.Open(context.Background(), filepath.Join(dir, "airlock.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := map[string]releaseapi.ProfileWorkspace{"ws": {Project: releaseapi.ProfileProject{Name: "Project", Slug: "project", Ongoing: true}}}
	f.server = &fakeServer{uploads: map[string][]byte{}, profiles: map[string]*releaseapi.Profile{
		"researcher": {Username: "researcher", Fullname: "Rae Searcher", Workspaces: ws},
		"colleague":  {Username: "colleague", Fullname: "Col League", Workspaces: ws},
		"checker1":   {Username: "checker1", OutputChecker: true},
		"checker2":   {Username: "checker2", OutputChecker: true},
		"outsider":   {Username: "outsider"},
	}}
	f.svc = &airlock.Service{
		Store: st, Workspaces: workspace.Dir{Root: medium}, FilesDir: filepath.Join(dir, "files"),
		Server: f.server, RetryEvery: time.Hour,
	}
	f.users = map[string]*airlock.User{}
	for name, p := range f.server.profiles {
		raw, _ := json.Marshal(p)
		u, err := airlock.UserFromProfile(raw)
		if err != nil {
			t.Fatal(err)
		}
		f.users[name] = u
	}
	return f
}

func (f *fixture) write(rel, body string) {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// writeOutput writes an output and records it in the manifest, as the
// agent does when a job finishes.
func (f *fixture) writeOutput(rel, body, level string) {
	f.t.Helper()
	f.write(rel, body)
	mpath := filepath.Join(f.root, "metadata", "manifest.json")
	m := map[string]any{"workspace": "ws", "repo": nil, "outputs": map[string]any{}}
	if raw, err := os.ReadFile(mpath); err == nil {
		if err := json.Unmarshal(raw, &m); err != nil {
			f.t.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte(body))
	m["outputs"].(map[string]any)[rel] = map[string]any{
		"level": level, "job_id": "j", "job_request": "r", "action": "a", "user": "u",
		"repo": nil, "commit": nil, "size": len(body), "timestamp": 1.0,
		"content_hash": hex.EncodeToString(sum[:]), "excluded": false, "message": nil,
		"row_count": nil, "col_count": nil, "out_of_date_output": false,
	}
	raw, _ := json.MarshalIndent(m, "", "  ")
	f.write("metadata/manifest.json", string(raw))
}

func (f *fixture) add(user, path string) *astore.Record {
	f.t.Helper()
	rec, err := f.svc.AddFile(context.Background(), f.users[user], airlock.AddFileInput{Workspace: "ws", Path: path})
	if err != nil {
		f.t.Fatalf("%s adds %s: %v", user, path, err)
	}
	return rec
}

func (f *fixture) act(user, id string, a review.Action, p review.Params) *astore.Record {
	f.t.Helper()
	rec, err := f.svc.Act(context.Background(), f.users[user], id, a, p)
	if err != nil {
		f.t.Fatalf("%s: %s: %v", user, a, err)
	}
	return rec
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := haven.ErrorCode(err); got != code {
		t.Fatalf("error %q has code %s, want %s", err, got, code)
	}
}

// submitted is a request by researcher with both files, submitted.
func (f *fixture) submitted() string {
	f.add("researcher", "output/table.csv")
	id := f.add("researcher", "output/plot.svg").Request.ID
	f.act("researcher", id, review.EditContext, review.Params{Group: "default", Context: "counts by age group", Controls: "rounded to 5"})
	f.act("researcher", id, review.Submit, review.Params{})
	return id
}

// approveAll has checker vote APPROVED on every output (acknowledging the
// FAIL findings) and submit their review.
func (f *fixture) approveAll(checker, id string) {
	f.t.Helper()
	v, err := f.svc.RequestView(context.Background(), f.users[checker], id)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, g := range v.Groups {
		for _, file := range g.Files {
			if file.Type == review.Output {
				f.act(checker, id, review.CastVote, review.Params{File: file.Name, Vote: review.VoteApproved, Acknowledged: file.FailIDs})
			}
		}
	}
	f.act(checker, id, review.SubmitReview, review.Params{})
}

func TestAddFileFreezesChecksAndAudits(t *testing.T) {
	f := newFixture(t)
	rec := f.add("researcher", "output/table.csv")
	r := rec.Request
	if r.Author != "researcher" || r.Status != review.Pending {
		t.Fatalf("request %+v", r)
	}
	m := rec.Files["output/table.csv"]
	sum := sha256.Sum256([]byte(csvBody))
	if m == nil || m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(csvBody)) {
		t.Fatalf("file meta %+v", m)
	}
	frozen, err := os.ReadFile(filepath.Join(f.svc.FilesDir, "ws", m.SHA256))
	if err != nil || string(frozen) != csvBody {
		t.Fatalf("frozen copy %q, %v", frozen, err)
	}
	file, _ := r.File("output/table.csv")
	if len(file.FailFindings) == 0 {
		t.Fatalf("a count of 3 should give a FAIL finding; report %s", m.Report)
	}
	fs := airlock.Findings(m.Report)
	if ids := failIDs(fs); !slices.Equal(ids, file.FailFindings) {
		t.Fatalf("stored FAIL ids %v, the request's %v", ids, file.FailFindings)
	}
	events, err := f.svc.Store.Audit(context.Background(), astore.AuditFilter{Request: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	var types []review.EventType
	for _, e := range events {
		types = append(types, e.Type)
	}
	if !slices.Equal(types, []review.EventType{review.EventCreate, review.EventFileAdd, review.EventFileChecked}) {
		t.Fatalf("audit events %v", types)
	}
	// The second file goes to the same request.
	if again := f.add("researcher", "output/plot.svg"); again.Request.ID != r.ID {
		t.Fatalf("second file went to request %s, want %s", again.Request.ID, r.ID)
	}
}

func failIDs(fs []airlock.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Verdict.String() == "FAIL" {
			out = append(out, f.ID)
		}
	}
	slices.Sort(out)
	return out
}

func TestAddFileRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		name, user, path, code string
	}{
		{"highly sensitive output", "researcher", "output/input.csv", haven.ENOTFOUND},
		{"traversal", "researcher", "../ws/output/table.csv", haven.EINVALID},
		{"absolute", "researcher", "/etc/passwd", haven.EINVALID},
		{"encoded dots", "researcher", "output/%2e%2e/table.csv", haven.ENOTFOUND},
		{"a log", "researcher", "metadata/counts.log", haven.EINVALID},
		{"missing", "researcher", "output/nothing.csv", haven.ENOTFOUND},
		{"an output checker is not an author", "checker1", "output/table.csv", haven.EFORBIDDEN},
		{"not a member", "outsider", "output/table.csv", haven.ENOTFOUND},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.AddFile(ctx, f.users[c.user], airlock.AddFileInput{Workspace: "ws", Path: c.path})
			wantCode(t, err, c.code)
		})
	}
	// A file changed on disk after its job wrote it is refused, and
	// nothing is stored.
	if err := os.WriteFile(filepath.Join(f.root, "output/plot.svg"), []byte("<svg/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.AddFile(ctx, f.users["researcher"], airlock.AddFileInput{Workspace: "ws", Path: "output/plot.svg"})
	wantCode(t, err, haven.ECONFLICT)
	recs, err := f.svc.Store.Requests(ctx, astore.Filter{Workspace: "ws"})
	if err != nil || len(recs) != 0 {
		t.Fatalf("requests after refusals: %d, %v", len(recs), err)
	}
}

func TestUpdatedFileMustBeUpdated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.submitted()
	f.approveAll("checker1", id)
	f.act("checker2", id, review.ReturnEarly, review.Params{})
	// A job writes a new version of the table.
	f.writeOutput("output/table.csv", "group,patients\nadults,120\nchildren,10\n", "moderately_sensitive")
	v, err := f.svc.Workspace(ctx, f.users["researcher"], "ws", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Statuses["output/table.csv"]; got != airlock.Updated {
		t.Fatalf("status %s, want UPDATED", got)
	}
	if got := v.Statuses["output/plot.svg"]; got != airlock.UnderReview {
		t.Fatalf("status %s, want UNDER_REVIEW", got)
	}
	_, err = f.svc.AddFile(ctx, f.users["researcher"], airlock.AddFileInput{Workspace: "ws", Path: "output/table.csv"})
	wantCode(t, err, haven.ECONFLICT)
	rec, err := f.svc.UpdateFile(ctx, f.users["researcher"], id, "output/table.csv")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := rec.Request.File("output/table.csv")
	if len(file.Votes) != 0 || !file.Updated || len(file.FailFindings) != 0 {
		t.Fatalf("updated file %+v: votes must reset and the new content has no FAIL", file)
	}
	if _, err := f.svc.UpdateFile(ctx, f.users["researcher"], id, "output/table.csv"); haven.ErrorCode(err) != haven.ECONFLICT {
		t.Fatalf("a second update of unchanged content: %v", err)
	}
	f.act("researcher", id, review.Resubmit, review.Params{})
}

func TestReleaseUploadsWithRetries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.submitted()
	// A vote must acknowledge every FAIL finding.
	_, err := f.svc.Act(ctx, f.users["checker1"], id, review.CastVote, review.Params{File: "output/table.csv", Vote: review.VoteApproved})
	wantCode(t, err, haven.EINVALID)
	if !strings.Contains(err.Error(), "acknowledge") {
		t.Fatalf("refusal %q does not ask for the acknowledgement", err)
	}
	f.approveAll("checker1", id)
	_, err = f.svc.Release(ctx, f.users["checker1"], id)
	wantCode(t, err, haven.ECONFLICT) // one review is not enough
	f.approveAll("checker2", id)

	// The server refusing the release leaves the request REVIEWED.
	f.server.createErr = &releaseapi.APIError{Status: 409, Message: "other files"}
	_, err = f.svc.Release(ctx, f.users["checker2"], id)
	wantCode(t, err, haven.ECONFLICT)
	if rec, _ := f.svc.Store.Request(ctx, id); rec.Request.Status != review.Reviewed {
		t.Fatalf("status %s after a refused release", rec.Request.Status)
	}
	f.server.createErr = nil
	// Authors can never release, even if they are output checkers.
	author := *f.users["researcher"]
	author.OutputChecker = true
	_, err = f.svc.Release(ctx, &author, id)
	wantCode(t, err, haven.EFORBIDDEN)

	rec, err := f.svc.Release(ctx, f.users["checker2"], id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Request.Status != review.Approved || len(f.server.created) != 1 {
		t.Fatalf("status %s, %d releases created", rec.Request.Status, len(f.server.created))
	}
	for _, fs := range f.server.created[0].Files {
		if fs.SHA256 != rec.Files[fs.Name].SHA256 {
			t.Fatalf("release declares %s for %s, frozen %s", fs.SHA256, fs.Name, rec.Files[fs.Name].SHA256)
		}
	}
	f.server.failNext = 1
	if err := f.svc.UploadPending(ctx); err == nil {
		t.Fatal("a failed upload must be reported")
	}
	if rec, _ := f.svc.Store.Request(ctx, id); rec.Request.Status != review.Approved {
		t.Fatalf("status %s with a file not uploaded", rec.Request.Status)
	}
	if err := f.svc.UploadPending(ctx); err != nil {
		t.Fatal(err)
	}
	rec, _ = f.svc.Store.Request(ctx, id)
	if rec.Request.Status != review.Released || len(f.server.uploads) != 2 {
		t.Fatalf("status %s, %d uploads", rec.Request.Status, len(f.server.uploads))
	}
	if got := string(f.server.uploads[id+"/output/table.csv"]); got != csvBody {
		t.Fatalf("uploaded %q", got)
	}
	events, _ := f.svc.Store.Audit(ctx, astore.AuditFilter{Request: id})
	last := events[len(events)-1]
	if last.Type != review.EventRelease || last.User != "checker2" {
		t.Fatalf("last event %s by %s, want RELEASE by checker2", last.Type, last.User)
	}
	// The released content now shows as RELEASED in the workspace.
	v, err := f.svc.Workspace(ctx, f.users["colleague"], "ws", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Statuses["output/table.csv"]; got != airlock.Released {
		t.Fatalf("status %s, want RELEASED", got)
	}
	// A released file may only come back as SUPPORTING.
	_, err = f.svc.AddFile(ctx, f.users["colleague"], airlock.AddFileInput{Workspace: "ws", Path: "output/table.csv"})
	wantCode(t, err, haven.EINVALID)
	if _, err := f.svc.AddFile(ctx, f.users["colleague"], airlock.AddFileInput{Workspace: "ws", Path: "output/table.csv", Type: review.Supporting}); err != nil {
		t.Fatal(err)
	}
}

func TestDownloadsAndBlinding(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.submitted()
	_, err := f.svc.RequestFile(ctx, f.users["researcher"], id, "output/table.csv", true)
	wantCode(t, err, haven.EFORBIDDEN)
	_, err = f.svc.RequestFile(ctx, f.users["outsider"], id, "output/table.csv", false)
	wantCode(t, err, haven.ENOTFOUND)
	rf, err := f.svc.RequestFile(ctx, f.users["checker1"], id, "output/table.csv", true)
	if err != nil || string(rf.Data) != csvBody {
		t.Fatalf("checker download %q, %v", rf.Data, err)
	}
	// The author never reads the frozen copy through the request, but
	// sees the automated findings.
	_, err = f.svc.RequestFile(ctx, f.users["researcher"], id, "output/table.csv", false)
	wantCode(t, err, haven.EFORBIDDEN)
	rf, err = f.svc.RequestFileInfo(ctx, f.users["researcher"], id, "output/table.csv")
	if err != nil || len(rf.Findings) == 0 || rf.Data != nil {
		t.Fatalf("author's file page: %d findings, %d bytes, %v", len(rf.Findings), len(rf.Data), err)
	}

	f.act("checker1", id, review.CastVote, review.Params{File: "output/plot.svg", Vote: review.VoteChangesRequested})
	f.act("checker1", id, review.AddComment, review.Params{Group: "default", Text: "label the axes", Visibility: review.Public})
	v, err := f.svc.RequestView(ctx, f.users["checker2"], id)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range v.Activity {
		if item.User == "checker1" {
			t.Fatalf("checker2 sees checker1's %s during independent review", item.Type)
		}
	}
	for _, g := range v.Groups {
		if len(g.Comments) != 0 {
			t.Fatalf("checker2 sees comments %+v", g.Comments)
		}
		for _, file := range g.Files {
			if len(file.Votes) != 0 || file.DecisionShown {
				t.Fatalf("checker2 sees votes or a decision on %s", file.Name)
			}
		}
	}
	v, _ = f.svc.RequestView(ctx, f.users["researcher"], id)
	for _, item := range v.Activity {
		if item.Type == review.EventFileRequestChanges || item.Type == review.EventRequestFileDownload {
			t.Fatalf("the author sees %s", item.Type)
		}
	}
}

func TestCoAuthors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.add("researcher", "output/table.csv").Request.ID
	_, err := f.svc.Act(ctx, f.users["researcher"], id, review.AddCoAuthor, review.Params{CoAuthor: "outsider"})
	wantCode(t, err, haven.EFORBIDDEN)
	// The caller cannot claim the co-author may author.
	_, err = f.svc.Act(ctx, f.users["researcher"], id, review.AddCoAuthor, review.Params{CoAuthor: "checker1", CoAuthorCanAuthor: true})
	wantCode(t, err, haven.EFORBIDDEN)
	f.act("researcher", id, review.AddCoAuthor, review.Params{CoAuthor: "colleague"})
	// The co-author's files go to the shared request.
	if rec := f.add("colleague", "output/plot.svg"); rec.Request.ID != id {
		t.Fatalf("co-author's file went to %s", rec.Request.ID)
	}
	_, err = f.svc.RequestFile(ctx, f.users["colleague"], id, "output/plot.svg", true)
	wantCode(t, err, haven.EFORBIDDEN)
}

func TestRequestChangesShortcutAndAddFiles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Several files at once; a refused one names what was added before it.
	rec, err := f.svc.AddFiles(ctx, f.users["researcher"], airlock.AddFileInput{Workspace: "ws"}, []string{"output/table.csv", "output/plot.svg"})
	if err != nil || len(rec.Request.OutputFiles()) != 2 {
		t.Fatalf("AddFiles: %v", err)
	}
	id := rec.Request.ID
	f.act("researcher", id, review.WithdrawFile, review.Params{File: "output/plot.svg"})
	_, err = f.svc.AddFiles(ctx, f.users["researcher"], airlock.AddFileInput{Workspace: "ws"}, []string{"output/plot.svg", "output/input.csv"})
	wantCode(t, err, haven.ENOTFOUND)
	if !strings.Contains(err.Error(), "added output/plot.svg") {
		t.Fatalf("partial AddFiles error %q does not say what was added", err)
	}
	f.act("researcher", id, review.EditContext, review.Params{Group: "default", Context: "c", Controls: "k"})

	_, _, err = f.svc.RequestChanges(ctx, f.users["checker1"], id, "default")
	wantCode(t, err, haven.ECONFLICT) // not under review yet
	f.act("researcher", id, review.Submit, review.Params{})
	_, _, err = f.svc.RequestChanges(ctx, f.users["researcher"], id, "default")
	wantCode(t, err, haven.EFORBIDDEN)
	voted, skipped, err := f.svc.RequestChanges(ctx, f.users["checker1"], id, "default")
	if err != nil {
		t.Fatal(err)
	}
	// The table has a FAIL finding, so it is left for its own page.
	if !slices.Equal(voted, []string{"output/plot.svg"}) || !slices.Equal(skipped, []string{"output/table.csv"}) {
		t.Fatalf("voted %v, skipped %v", voted, skipped)
	}
	got, _ := f.svc.Store.Request(ctx, id)
	file, _ := got.Request.File("output/plot.svg")
	if file.Votes["checker1"].Vote != review.VoteChangesRequested {
		t.Fatalf("vote %+v", file.Votes["checker1"])
	}
	_, _, err = f.svc.RequestChanges(ctx, f.users["checker1"], id, "default")
	wantCode(t, err, haven.EINVALID) // only the FAIL file is left
	_, _, err = f.svc.RequestChanges(ctx, f.users["checker1"], id, "nope")
	wantCode(t, err, haven.ENOTFOUND)
}
