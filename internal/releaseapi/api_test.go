package releaseapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/auth"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/store"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

var now0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Tokens: 43 characters, as auth.NewToken makes them.
const (
	agentTok    = "agent-token-of-backend-tpp-000000000000000A"
	airlockTok  = "airlock-token-of-backend-tpp-0000000000000B"
	airlock2Tok = "airlock-token-of-backend-emis-000000000000C"
	inactiveTok = "airlock-token-of-backend-old-0000000000000D"
	viewerPAT   = "personal-access-token-of-viewer-0000000000E"
	viewerCook  = "session-cookie-of-the-viewer-00000000000000F"
	nobodyPAT   = "personal-access-token-of-nobody-0000000000G"
)

type fixture struct {
	t       *testing.T
	st      store.Store
	api     *API
	mux     *http.ServeMux
	dir     string
	ws      *store.Workspace
	b1, b2  *store.Backend
	checker *store.User // OutputChecker, member of b1
	clock   time.Time
	clockMu sync.Mutex
	logs    *lockedBuffer
}

// lockedBuffer is a log destination handlers may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.OpenServer(ctx, filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatalf("OpenServer: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, dir: filepath.Join(t.TempDir(), "released"), clock: now0}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fixture: %s: %v", what, err)
		}
	}
	user := func(name string, roles ...store.Role) *store.User {
		u := &store.User{Username: name, Email: name + "@example.org", Fullname: name, Roles: roles, CreatedAt: now0}
		must("CreateUser "+name, st.CreateUser(ctx, u))
		return u
	}
	f.checker = user("checker", store.RoleOutputChecker)
	outsider := user("outsider", store.RoleOutputChecker) // not a member of b1
	researcher := user("researcher")                      // a developer: no release_file_upload
	viewer := user("viewer")
	nobody := user("nobody")
	org := &store.Org{Name: "Institute", Slug: "institute", CreatedAt: now0}
	must("CreateOrg", st.CreateOrg(ctx, org))
	project := &store.Project{Name: "Vaccine uptake", Slug: "vaccine-uptake", OrgID: org.ID, CreatedAt: now0}
	must("CreateProject", st.CreateProject(ctx, project))
	f.ws = &store.Workspace{Name: "ws-one", ProjectID: project.ID, RepoURL: "https://example.org/study", Branch: "main", CreatedAt: now0}
	must("CreateWorkspace", st.CreateWorkspace(ctx, f.ws))
	must("SetProjectRoles", st.SetProjectRoles(ctx, project.ID, researcher.ID, []store.Role{store.RoleProjectDeveloper}))
	must("SetProjectRoles", st.SetProjectRoles(ctx, project.ID, viewer.ID, []store.Role{store.RoleProjectCollaborator}))
	f.b1 = &store.Backend{Slug: "tpp", Name: "TPP", AgentTokenHash: auth.HashToken(agentTok), AirlockTokenHash: auth.HashToken(airlockTok), IsActive: true, CreatedAt: now0}
	must("CreateBackend", st.CreateBackend(ctx, f.b1))
	f.b2 = &store.Backend{Slug: "emis", Name: "EMIS", AirlockTokenHash: auth.HashToken(airlock2Tok), IsActive: true, CreatedAt: now0}
	must("CreateBackend", st.CreateBackend(ctx, f.b2))
	must("CreateBackend", st.CreateBackend(ctx, &store.Backend{Slug: "old", Name: "OLD", AirlockTokenHash: auth.HashToken(inactiveTok), IsActive: false, CreatedAt: now0}))
	for _, u := range []*store.User{f.checker, researcher} {
		must("AddBackendMember", st.AddBackendMember(ctx, f.b1.ID, u.ID))
	}
	must("AddBackendMember", st.AddBackendMember(ctx, f.b2.ID, outsider.ID))
	must("SetAPIToken", st.SetAPIToken(ctx, viewer.ID, auth.HashToken(viewerPAT), now0.Add(90*24*time.Hour)))
	must("SetAPIToken", st.SetAPIToken(ctx, nobody.ID, auth.HashToken(nobodyPAT), now0.Add(90*24*time.Hour)))
	must("CreateSession", st.CreateSession(ctx, &store.Session{IDHash: auth.HashToken(viewerCook), UserID: viewer.ID, CreatedAt: now0, ExpiresAt: now0.Add(time.Hour)}))

	f.logs = &lockedBuffer{}
	f.api = &API{Store: st, Service: &jobserver.Service{Store: st}, Dir: f.dir, Now: f.now,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	f.mux = http.NewServeMux()
	f.api.Register(f.mux)
	return f
}

func (f *fixture) now() time.Time {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	return f.clock
}

func (f *fixture) advance(d time.Duration) {
	f.clockMu.Lock()
	f.clock = f.clock.Add(d)
	f.clockMu.Unlock()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// request builds a request; cl is its Content-Length (-1: unknown, as a
// chunked body).
func request(method, target string, body io.Reader, cl int64, hdr map[string]string) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.ContentLength = cl
	if cl < 0 {
		r.TransferEncoding = []string{"chunked"}
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

// create POSTs a create request with the airlock token of b1 as checker.
func (f *fixture) create(req CreateRequest, hdr map[string]string) *httptest.ResponseRecorder {
	body, err := json.Marshal(req)
	if err != nil {
		f.t.Fatal(err)
	}
	h := map[string]string{"Authorization": "Bearer " + airlockTok, HeaderUser: "checker", "Content-Type": "application/json"}
	for k, v := range hdr {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return f.do(request("POST", PathReleases, bytes.NewReader(body), int64(len(body)), h))
}

// newRelease creates a release of files (name → content) and requires 201.
func (f *fixture) newRelease(files map[string]string) string {
	f.t.Helper()
	id := store.NewULID(f.now())
	req := CreateRequest{ID: id, Workspace: "ws-one", Metadata: map[string]string{"tool": "haven-airlock"}}
	for name, content := range files {
		req.Files = append(req.Files, FileSpec{Name: name, Size: int64(len(content)), SHA256: sum([]byte(content)), Mtime: now0,
			Metadata: map[string]string{"tool": "haven-airlock", "request_id": id, "level": "moderately_sensitive"}})
	}
	if w := f.create(req, nil); w.Code != http.StatusCreated {
		f.t.Fatalf("create release: %d %s", w.Code, w.Body)
	}
	return id
}

// upload POSTs body as file name of release id.
func (f *fixture) upload(id, name string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	h := map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Disposition": fmt.Sprintf("attachment; filename=%q", name)}
	for k, v := range hdr {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return f.do(request("POST", "/api/airlock/v1/releases/"+id+"/files", bytes.NewReader(body), int64(len(body)), h))
}

func wantStatus(t *testing.T, what string, w *httptest.ResponseRecorder, status int, contains string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("%s: status %d (%s), want %d", what, w.Code, strings.TrimSpace(w.Body.String()), status)
		return
	}
	if contains != "" && !strings.Contains(w.Body.String(), contains) {
		t.Errorf("%s: body %s does not contain %q", what, strings.TrimSpace(w.Body.String()), contains)
	}
	if status >= 400 {
		var e ErrorResponse
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Errorf("%s: error body %q is not {\"error\": ...}", what, w.Body.String())
		}
	}
}

func TestCreateChecks(t *testing.T) {
	f := newFixture(t)
	good := func() CreateRequest {
		return CreateRequest{ID: store.NewULID(now0), Workspace: "ws-one", Files: []FileSpec{
			{Name: "output/table.csv", Size: 12, SHA256: sum([]byte("a,b\n1,2\n")), Metadata: map[string]string{"tool": "haven-airlock"}},
		}}
	}
	withFile := func(fs FileSpec) CreateRequest {
		r := good()
		if fs.SHA256 == "" {
			fs.SHA256 = sum([]byte(fs.Name))
		}
		r.Files = []FileSpec{fs}
		return r
	}
	tests := []struct {
		name     string
		req      CreateRequest
		hdr      map[string]string
		status   int
		contains string
	}{
		// Token (401/403).
		{"no token", good(), map[string]string{"Authorization": ""}, 401, "unauthorized"},
		{"unknown token", good(), map[string]string{"Authorization": "Bearer " + strings.Repeat("x", 43)}, 401, "unauthorized"},
		{"not a bearer token", good(), map[string]string{"Authorization": "Basic " + airlockTok}, 401, "unauthorized"},
		{"agent token", good(), map[string]string{"Authorization": "Bearer " + agentTok}, 403, "agent token"},
		{"inactive backend", good(), map[string]string{"Authorization": "Bearer " + inactiveTok}, 403, "not active"},
		// User (403).
		{"no user header", good(), map[string]string{HeaderUser: ""}, 400, HeaderUser},
		{"unknown user", good(), map[string]string{HeaderUser: "mallory"}, 403, "no user"},
		{"user not a member of the backend", good(), map[string]string{HeaderUser: "outsider"}, 403, "not a member of backend tpp"},
		{"member of another backend only", good(), map[string]string{HeaderUser: "checker", "Authorization": "Bearer " + airlock2Tok}, 403, "not a member of backend emis"},
		{"member without release_file_upload", good(), map[string]string{HeaderUser: "researcher"}, 403, "release_file_upload"},
		// Sizes (400).
		{"16 MiB + 1 byte", withFile(FileSpec{Name: "output/big.csv", Size: 16<<20 + 1}), nil, 400, "File size should be <16Mb"},
		{"negative size", withFile(FileSpec{Name: "output/neg.csv", Size: -1}), nil, 400, "negative"},
		// Names and types (400).
		{"parent traversal", withFile(FileSpec{Name: "../x.csv"}), nil, 400, ".."},
		{"absolute path", withFile(FileSpec{Name: "/etc/passwd"}), nil, 400, "absolute"},
		{"traversal inside", withFile(FileSpec{Name: "a/../../b.csv"}), nil, 400, ".."},
		{"hidden file", withFile(FileSpec{Name: ".hidden.csv"}), nil, 400, "starting with '.'"},
		{"hidden folder", withFile(FileSpec{Name: "output/.git/x.csv"}), nil, 400, "starting with '.'"},
		{"executable", withFile(FileSpec{Name: "x.exe"}), nil, 400, `.exe`},
		{"no suffix", withFile(FileSpec{Name: "output/README"}), nil, 400, "cannot be released"},
		{"upper-case suffix", withFile(FileSpec{Name: "output/a.CSV"}), nil, 400, "cannot be released"},
		{"empty component", withFile(FileSpec{Name: "output//a.csv"}), nil, 400, "clean"},
		{"dot component", withFile(FileSpec{Name: "./a.csv"}), nil, 400, "clean"},
		{"backslash", withFile(FileSpec{Name: `output\..\a.csv`}), nil, 400, "backslash"},
		{"control character", withFile(FileSpec{Name: "output/a\n.csv"}), nil, 400, "control"},
		{"empty name", withFile(FileSpec{Name: ""}), nil, 400, "no name"},
		// Other input (400/404).
		{"highly sensitive file", withFile(FileSpec{Name: "output/a.csv", Metadata: map[string]string{"level": "highly_sensitive"}}), nil, 400, "highly_sensitive"},
		{"highly sensitive release", func() CreateRequest {
			r := good()
			r.Metadata = map[string]string{"level": "highly_sensitive"}
			return r
		}(), nil, 400, "highly_sensitive"},
		{"bad hash", withFile(FileSpec{Name: "output/a.csv", SHA256: strings.Repeat("A", 64)}), nil, 400, "sha256"},
		{"no files", func() CreateRequest { r := good(); r.Files = nil; return r }(), nil, 400, "at least one file"},
		{"file twice", func() CreateRequest { r := good(); r.Files = append(r.Files, r.Files[0]); return r }(), nil, 400, "twice"},
		{"id not a ULID", func() CreateRequest { r := good(); r.ID = "../../etc"; return r }(), nil, 400, "ULID"},
		{"bad workspace name", func() CreateRequest { r := good(); r.Workspace = "../ws"; return r }(), nil, 400, "workspace"},
		{"unknown workspace", func() CreateRequest { r := good(); r.Workspace = "ws-nine"; return r }(), nil, 404, "ws-nine"},
		// Boundary: exactly 16 MiB is allowed.
		{"exactly 16 MiB", withFile(FileSpec{Name: "output/max.csv", Size: 16 << 20}), nil, 201, `"output/max.csv"`},
		{"nested allowed name", withFile(FileSpec{Name: "output/sub dir/chart.svgz"}), nil, 201, ""},
	}
	for _, tc := range tests {
		tc.req.ID = store.NewULID(now0)
		if tc.name == "id not a ULID" {
			tc.req.ID = "../../etc"
		}
		w := f.create(tc.req, tc.hdr)
		wantStatus(t, tc.name, w, tc.status, tc.contains)
		if tc.status != 201 {
			if _, err := f.st.Release(context.Background(), tc.req.ID); err == nil {
				t.Errorf("%s: refused with %d but the release was stored", tc.name, w.Code)
			}
		}
	}

	// Unknown fields and bodies that are not one JSON object.
	for _, body := range []string{`{"id":"x","extra":1}`, `{}{}`, ``, `[1]`} {
		w := f.do(request("POST", PathReleases, strings.NewReader(body), int64(len(body)),
			map[string]string{"Authorization": "Bearer " + airlockTok, HeaderUser: "checker"}))
		wantStatus(t, "body "+body, w, 400, "")
	}
}

func TestCreateIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := store.NewULID(now0)
	req := CreateRequest{ID: id, Workspace: "ws-one", Files: []FileSpec{
		{Name: "output/a.csv", Size: 3, SHA256: sum([]byte("a,b")), Mtime: now0.Add(-time.Hour)},
		{Name: "output/b.png", Size: 4, SHA256: sum([]byte("\x89PNG"))},
	}}
	w := f.create(req, nil)
	wantStatus(t, "create", w, 201, "")
	if loc := w.Header().Get("Location"); loc != PathReleases+"/"+id {
		t.Errorf("Location = %q, want %s", loc, PathReleases+"/"+id)
	}
	var first Release
	if err := json.Unmarshal(w.Body.Bytes(), &first); err != nil {
		t.Fatal(err)
	}
	if first.ID != id || first.Workspace != "ws-one" || first.Backend != "tpp" || first.CreatedBy != "checker" ||
		first.Status != store.ReleaseRequested || len(first.Files) != 2 || first.Files[0].Name != "output/a.csv" ||
		first.Files[0].UploadedAt != nil || !first.CreatedAt.Equal(now0) {
		t.Errorf("created release = %+v", first)
	}
	if evs, _ := f.st.AuditEvents(ctx, "release:"+id, 10); len(evs) != 1 || evs[0].Type != "release.create" || evs[0].UserID != f.checker.ID {
		t.Errorf("audit events for the release = %+v, want one release.create by the checker", evs)
	}

	// The same release again (files in another order): 200, unchanged.
	f.advance(time.Minute)
	again := req
	again.Files = []FileSpec{req.Files[1], req.Files[0]}
	w = f.create(again, nil)
	wantStatus(t, "same release again", w, 200, "")
	var second Release
	if err := json.Unmarshal(w.Body.Bytes(), &second); err != nil {
		t.Fatal(err)
	}
	if second.Files[0].ID != first.Files[0].ID || !second.CreatedAt.Equal(now0) {
		t.Errorf("repeat answered %+v, want the original release %+v", second, first)
	}

	// Different hashes or names: 409.
	changed := req
	changed.Files = []FileSpec{req.Files[0], {Name: "output/b.png", Size: 4, SHA256: sum([]byte("other"))}}
	wantStatus(t, "another hash", f.create(changed, nil), 409, "already exists")
	renamed := req
	renamed.Files = []FileSpec{req.Files[0], {Name: "output/c.png", Size: 4, SHA256: req.Files[1].SHA256}}
	wantStatus(t, "another name", f.create(renamed, nil), 409, "already exists")
	fewer := req
	fewer.Files = req.Files[:1]
	wantStatus(t, "a file fewer", f.create(fewer, nil), 409, "already exists")
	// The same id from another backend (whose user may release there).
	if err := f.st.AddBackendMember(ctx, f.b2.ID, f.checker.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "same id, another backend", f.create(req, map[string]string{"Authorization": "Bearer " + airlock2Tok}), 409, "already exists")
	if evs, _ := f.st.AuditEvents(ctx, "release:"+id, 10); len(evs) != 1 {
		t.Errorf("%d audit events after repeats, want 1", len(evs))
	}
}

func TestUpload(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	content := []byte("group,count\na,10\nb,20\n")
	id := f.newRelease(map[string]string{"output/table.csv": string(content), "output/chart.png": "\x89PNG\r\n"})
	dest := filepath.Join(f.dir, "ws-one", "releases", id, "output", "table.csv")

	// Failures before anything is stored.
	wantStatus(t, "no token", f.upload(id, "output/table.csv", content, map[string]string{"Authorization": ""}), 401, "unauthorized")
	wantStatus(t, "agent token", f.upload(id, "output/table.csv", content, map[string]string{"Authorization": "Bearer " + agentTok}), 403, "agent token")
	wantStatus(t, "another backend's airlock token", f.upload(id, "output/table.csv", content, map[string]string{"Authorization": "Bearer " + airlock2Tok}), 403, "another backend")
	wantStatus(t, "unknown release", f.upload(store.NewULID(now0), "output/table.csv", content, nil), 404, "no release")
	wantStatus(t, "release id not a ULID", f.upload("..%2F..%2Fetc", "output/table.csv", content, nil), 404, "")
	wantStatus(t, "file not in the release", f.upload(id, "output/other.csv", content, nil), 404, "has no file")
	wantStatus(t, "traversal file name", f.upload(id, "../../table.csv", content, nil), 404, "has no file")
	wantStatus(t, "no Content-Disposition", f.upload(id, "", content, map[string]string{"Content-Disposition": ""}), 400, "Content-Disposition")
	wantStatus(t, "inline disposition", f.upload(id, "", content, map[string]string{"Content-Disposition": `inline; filename="output/table.csv"`}), 400, "Content-Disposition")

	// 16 MiB + 1 byte declared: refused before the body is read.
	big := request("POST", "/api/airlock/v1/releases/"+id+"/files", failReader{t}, 16<<20+1,
		map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Disposition": `attachment; filename="output/table.csv"`})
	wantStatus(t, "Content-Length over 16 MiB", f.do(big), 413, "")
	// A body longer than its Content-Length claims.
	longer := request("POST", "/api/airlock/v1/releases/"+id+"/files", bytes.NewReader(append(bytes.Clone(content), "x"...)), int64(len(content)),
		map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Disposition": `attachment; filename="output/table.csv"`})
	wantStatus(t, "body longer than Content-Length", f.do(longer), 413, "")
	// A chunked body over the limit.
	chunked := request("POST", "/api/airlock/v1/releases/"+id+"/files", io.LimitReader(zeros{}, 16<<20+1), -1,
		map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Disposition": `attachment; filename="output/table.csv"`})
	wantStatus(t, "chunked body over 16 MiB", f.do(chunked), 413, "")
	// A body shorter than its Content-Length.
	shorter := request("POST", "/api/airlock/v1/releases/"+id+"/files", bytes.NewReader(content[:5]), int64(len(content)),
		map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Disposition": `attachment; filename="output/table.csv"`})
	wantStatus(t, "body shorter than Content-Length", f.do(shorter), 400, "shorter")
	// Wrong bytes: 422 and nothing stored.
	wrong := bytes.Clone(content)
	wrong[0] = 'G'
	wantStatus(t, "wrong hash", f.upload(id, "output/table.csv", wrong, nil), 422, "Contents of uploaded file does not match")
	for what, path := range map[string]string{"destination": dest} {
		if _, err := os.Lstat(path); !os.IsNotExist(err) {
			t.Errorf("after refused uploads, the %s %s exists (err %v)", what, path, err)
		}
	}
	if leftovers := filesUnder(t, f.dir); len(leftovers) != 0 {
		t.Errorf("refused uploads left files behind: %v", leftovers)
	}
	if fl, _ := f.st.ReleaseFile(ctx, id, "output/table.csv"); fl.Uploaded() {
		t.Errorf("a refused upload marked the file uploaded")
	}

	// The right bytes: 201, stored, uploaded_at set.
	f.advance(time.Minute)
	w := f.upload(id, "output/table.csv", content, nil)
	wantStatus(t, "upload", w, 201, "")
	var up Upload
	if err := json.Unmarshal(w.Body.Bytes(), &up); err != nil {
		t.Fatal(err)
	}
	if up.ReleaseID != id || up.Name != "output/table.csv" || up.SHA256 != sum(content) || !up.UploadedAt.Equal(now0.Add(time.Minute)) {
		t.Errorf("upload answer = %+v", up)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("stored file = %q, %v; want %q", got, err, content)
	}
	fl, err := f.st.ReleaseFile(ctx, id, "output/table.csv")
	if err != nil || !fl.UploadedAt.Equal(now0.Add(time.Minute)) || fl.Path != "ws-one/releases/"+id+"/output/table.csv" {
		t.Errorf("stored file row = %+v, %v", fl, err)
	}
	if leftovers := filesUnder(t, f.dir); len(leftovers) != 1 {
		t.Errorf("files under the storage root = %v, want only the upload", leftovers)
	}

	// Retries: the same bytes 200; other bytes 422; the stored file is
	// never overwritten.
	f.advance(time.Minute)
	wantStatus(t, "retry with the same bytes", f.upload(id, "output/table.csv", content, nil), 200, sum(content))
	wantStatus(t, "retry with other bytes", f.upload(id, "output/table.csv", wrong, nil), 422, "Contents of uploaded file does not match")
	wantStatus(t, "retry over 16 MiB chunked", f.do(request("POST", "/api/airlock/v1/releases/"+id+"/files", io.LimitReader(zeros{}, 16<<20+1), -1,
		map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Disposition": `attachment; filename="output/table.csv"`})), 413, "")
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, content) {
		t.Errorf("stored file changed by a retry: %q", got)
	}
	if fl, _ := f.st.ReleaseFile(ctx, id, "output/table.csv"); !fl.UploadedAt.Equal(now0.Add(time.Minute)) {
		t.Errorf("a retry changed uploaded_at to %v", fl.UploadedAt)
	}
	if evs, _ := f.st.AuditEvents(ctx, "release:"+id, 10); len(evs) != 2 || evs[0].Type != "release_file.upload" {
		t.Errorf("audit events = %+v, want release.create then one release_file.upload", evs)
	}

	// A chunked body of the right bytes is accepted.
	png := []byte("\x89PNG\r\n")
	wantStatus(t, "chunked upload", f.do(request("POST", "/api/airlock/v1/releases/"+id+"/files", bytes.NewReader(png), -1,
		map[string]string{"Authorization": "Bearer " + airlockTok, "Content-Disposition": `attachment; filename="output/chart.png"`})), 201, "")
}

func TestUploadConcurrent(t *testing.T) {
	f := newFixture(t)
	content := []byte("x,y\n1,2\n")
	id := f.newRelease(map[string]string{"output/a.csv": string(content)})
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = f.upload(id, "output/a.csv", content, nil).Code })
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 200:
		default:
			t.Errorf("concurrent upload answered %d", c)
		}
	}
	if created != 1 {
		t.Errorf("%d concurrent uploads answered 201, want 1 (codes %v)", created, codes)
	}
	if leftovers := filesUnder(t, f.dir); len(leftovers) != 1 {
		t.Errorf("files under the storage root = %v, want one", leftovers)
	}
}

func TestUploadSymlinks(t *testing.T) {
	content := []byte("a\n1\n")
	for _, where := range []string{"ws-one", "ws-one/releases", "release", "output", "file"} {
		t.Run(strings.ReplaceAll(where, "/", "_"), func(t *testing.T) {
			f := newFixture(t)
			id := f.newRelease(map[string]string{"output/a.csv": string(content)})
			outside := t.TempDir()
			var link string
			switch where {
			case "release":
				link = filepath.Join(f.dir, "ws-one", "releases", id)
			case "output":
				link = filepath.Join(f.dir, "ws-one", "releases", id, "output")
			case "file":
				link = filepath.Join(f.dir, "ws-one", "releases", id, "output", "a.csv")
				outside = filepath.Join(outside, "target.csv")
				if err := os.WriteFile(outside, []byte("precious"), 0o600); err != nil {
					t.Fatal(err)
				}
			default:
				link = filepath.Join(f.dir, filepath.FromSlash(where))
			}
			if err := os.MkdirAll(filepath.Dir(link), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}
			w := f.upload(id, "output/a.csv", content, nil)
			if where == "file" {
				// A link planted where the file goes is replaced, never
				// written through.
				wantStatus(t, "upload over a planted file link", w, 201, "")
				if b, _ := os.ReadFile(outside); string(b) != "precious" {
					t.Errorf("the link's target was written: %q", b)
				}
				if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("stored file is %v, %v; want a regular file", fi, err)
				}
				return
			}
			wantStatus(t, "upload through a planted folder link", w, 500, "internal error")
			if logs := f.logs.String(); !strings.Contains(logs, "is a symbolic link; refusing to follow it") {
				t.Errorf("the failure was not logged as a refused link: %s", logs)
			}
			if leftovers := filesUnder(t, outside); len(leftovers) != 0 {
				t.Errorf("files appeared outside the storage root: %v", leftovers)
			}
			if fl, _ := f.st.ReleaseFile(context.Background(), id, "output/a.csv"); fl.Uploaded() {
				t.Errorf("the upload was recorded although it was not stored")
			}
		})
	}
}

// TestUploadOverHTTP drives the endpoints through a real server, as the
// Airlock will.
func TestUploadOverHTTP(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.mux)
	defer srv.Close()
	content := []byte("n\n1\n")
	id := f.newRelease(map[string]string{"output/a.csv": string(content)})
	post := func(body io.Reader, cl int64) int {
		t.Helper()
		req, err := http.NewRequest("POST", srv.URL+"/api/airlock/v1/releases/"+id+"/files", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = cl
		req.Header.Set("Authorization", "Bearer "+airlockTok)
		req.Header.Set("Content-Disposition", `attachment; filename="output/a.csv"`)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Chunked (no Content-Length), over the limit.
	if got := post(io.LimitReader(zeros{}, 16<<20+1), -1); got != 413 {
		t.Errorf("chunked 16 MiB + 1 over HTTP: %d, want 413", got)
	}
	if got := post(bytes.NewReader(content), int64(len(content))); got != 201 {
		t.Errorf("upload over HTTP: %d, want 201", got)
	}
	if got := post(bytes.NewReader(content), -1); got != 200 {
		t.Errorf("chunked retry over HTTP: %d, want 200", got)
	}
}

func TestServe(t *testing.T) {
	f := newFixture(t)
	csv := "a,b\n1,2\n"
	html := "<script>alert(1)</script><p>hi</p>"
	svg := `<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>`
	svgz := gz(t, svg)
	id := f.newRelease(map[string]string{"output/t.csv": csv, "output/r.html": html, "output/c.svgz": string(svgz), "output/later.txt": "x"})
	for name, b := range map[string][]byte{"output/t.csv": []byte(csv), "output/r.html": []byte(html), "output/c.svgz": svgz} {
		wantStatus(t, "upload "+name, f.upload(id, name, b, nil), 201, "")
	}
	get := func(path string, hdr map[string]string) *httptest.ResponseRecorder {
		return f.do(request("GET", path, nil, 0, hdr))
	}
	base := "/api/v1/releases/" + id + "/files/"
	viewer := map[string]string{"Authorization": "Bearer " + viewerPAT}

	wantStatus(t, "anonymous", get(base+"output/t.csv", nil), 401, "")
	wantStatus(t, "bad token", get(base+"output/t.csv", map[string]string{"Authorization": "Bearer " + strings.Repeat("z", 43)}), 401, "")
	wantStatus(t, "airlock token is not a user", get(base+"output/t.csv", map[string]string{"Authorization": "Bearer " + airlockTok}), 401, "")
	wantStatus(t, "no release_file_view", get(base+"output/t.csv", map[string]string{"Authorization": "Bearer " + nobodyPAT}), 403, "release_file_view")
	wantStatus(t, "unknown release", get("/api/v1/releases/"+store.NewULID(now0)+"/files/output/t.csv", viewer), 404, "")
	wantStatus(t, "unknown file", get(base+"output/none.csv", viewer), 404, "")
	wantStatus(t, "not uploaded yet", get(base+"output/later.txt", viewer), 404, "not been uploaded")
	wantStatus(t, "traversal", get(base+"output/..%2f..%2fserver.db", viewer), 404, "")

	for _, tc := range []struct {
		name, file, ctype, body string
		hdr                     map[string]string
	}{
		{"csv with a token", "output/t.csv", "text/csv; charset=utf-8", csv, viewer},
		{"csv with a session cookie", "output/t.csv", "text/csv; charset=utf-8", csv, map[string]string{"Cookie": SessionCookie + "=" + viewerCook}},
		{"html", "output/r.html", "text/html; charset=utf-8", html, viewer},
		{"svgz decompressed", "output/c.svgz", "image/svg+xml", svg, viewer},
	} {
		w := get(base+tc.file, tc.hdr)
		if w.Code != 200 {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
			continue
		}
		if w.Body.String() != tc.body {
			t.Errorf("%s: body %q, want %q", tc.name, w.Body, tc.body)
		}
		h := w.Header()
		for k, v := range map[string]string{
			"Content-Type":            tc.ctype,
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
			"X-Frame-Options":         "SAMEORIGIN",
			"Content-Disposition":     "",
		} {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, got, v)
			}
		}
	}

	w := get(base+"output/t.csv?download=1", viewer)
	if w.Code != 200 || w.Header().Get("Content-Disposition") != `attachment; filename=t.csv` || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Errorf("download: %d, Content-Disposition %q, Content-Type %q", w.Code, w.Header().Get("Content-Disposition"), w.Header().Get("Content-Type"))
	}
	w = get(base+"output/c.svgz?download=1", viewer)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), svgz) || w.Header().Get("Content-Type") != "application/gzip" {
		t.Errorf("svgz download: %d, %s, want the compressed bytes as application/gzip", w.Code, w.Header().Get("Content-Type"))
	}

	// Revalidation by hash.
	etag := get(base+"output/t.csv", viewer).Header().Get("ETag")
	if etag != `"`+sum([]byte(csv))+`"` {
		t.Errorf("ETag = %s, want the file's sha256", etag)
	}
	if w := get(base+"output/t.csv", map[string]string{"Authorization": "Bearer " + viewerPAT, "If-None-Match": etag}); w.Code != 304 {
		t.Errorf("If-None-Match with the ETag: %d, want 304", w.Code)
	}

	// A stored file swapped for a link is not followed.
	stored := filepath.Join(f.dir, "ws-one", "releases", id, "output", "t.csv")
	if err := os.Remove(stored); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", stored); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "stored file replaced by a link", get(base+"output/t.csv", viewer), 500, "internal error")
}

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		name      string
		body      string
		declared  int64
		limit     int64
		wantErr   error
		wantBytes int64
	}{
		{"exact", "hello", 5, 10, nil, 5},
		{"unknown length", "hello", -1, 10, nil, 5},
		{"at the limit", "0123456789", -1, 10, nil, 10},
		{"over the limit, unknown length", "0123456789x", -1, 10, errTooLarge, 11},
		{"longer than declared", "hello!", 5, 10, errTooLarge, 6},
		{"shorter than declared", "hell", 5, 10, errShort, 4},
		{"empty", "", 0, 10, nil, 0},
	} {
		sum, n, err := readBody(io.Discard, strings.NewReader(tc.body), tc.declared, tc.limit)
		if err != tc.wantErr || n != tc.wantBytes {
			t.Errorf("%s: n %d err %v, want %d %v", tc.name, n, err, tc.wantBytes, tc.wantErr)
		}
		if err == nil && sum != sumString(tc.body) {
			t.Errorf("%s: sum %s, want %s", tc.name, sum, sumString(tc.body))
		}
	}
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sumString(s string) string { return sum([]byte(s)) }

// filesUnder lists the regular files and links under dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// failReader fails the test when read.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Errorf("the body was read")
	return 0, io.EOF
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
