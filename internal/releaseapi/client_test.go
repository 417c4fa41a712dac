package releaseapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store"
)

// clientFixture serves the fixture's endpoints over HTTP and returns a
// Client of backend tpp's Airlock.
func clientFixture(t *testing.T) (*fixture, *Client) {
	f := signInFixture(t)
	srv := httptest.NewServer(f.mux)
	t.Cleanup(srv.Close)
	return f, &Client{BaseURL: srv.URL + "/", Token: airlockTok, Backend: "tpp", HTTP: srv.Client()}
}

// wantAPIError requires err to be an *APIError with status and haven
// code.
func wantAPIError(t *testing.T, what string, err error, status int, code, contains string) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: error %v (%T), want an *APIError", what, err, err)
		return
	}
	if ae.Status != status || haven.ErrorCode(err) != code || !strings.Contains(ae.Message, contains) {
		t.Errorf("%s: %d %q (code %q), want %d containing %q (code %q)", what, ae.Status, ae.Message, haven.ErrorCode(err), status, contains, code)
	}
}

func TestClientSignIn(t *testing.T) {
	f, c := clientFixture(t)
	ctx := context.Background()
	p, err := c.Authenticate(ctx, "researcher", f.loginToken("researcher"))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if p.Username != "researcher" || p.Workspaces["ws-one"].Project.Slug != "vaccine-uptake" || p.CopilotedWorkspaces == nil {
		t.Errorf("profile = %+v", p)
	}
	_, err = c.Authenticate(ctx, "researcher", "apple bread cider")
	wantAPIError(t, "Authenticate with a wrong token", err, 403, haven.EFORBIDDEN, "do not match")

	if p, err := c.Authorise(ctx, "checker"); err != nil || !p.OutputChecker {
		t.Errorf("Authorise(checker) = %+v, %v", p, err)
	}
	_, err = c.Authorise(ctx, "viewer")
	wantAPIError(t, "Authorise a non-member", err, 403, haven.EFORBIDDEN, "not a member")

	// A wrong airlock token is a configuration fault, not the user's.
	bad := *c
	bad.Token = strings.Repeat("z", 43)
	_, err = bad.Authorise(ctx, "checker")
	wantAPIError(t, "wrong airlock token", err, 401, haven.EINTERNAL, "unauthorized")
	if !IsAPIError(err, http.StatusUnauthorized) {
		t.Errorf("IsAPIError(%v, 401) = false", err)
	}

	err = c.SendEvent(ctx, Event{EventType: EventRequestSubmitted, Workspace: "ws-one", Request: store.NewULID(now0), RequestAuthor: "researcher", User: "researcher"})
	if err != nil {
		t.Errorf("SendEvent: %v", err)
	}
	err = c.SendEvent(ctx, Event{EventType: EventRequestSubmitted, Workspace: "ws-nine", Request: store.NewULID(now0), RequestAuthor: "researcher", User: "researcher"})
	wantAPIError(t, "SendEvent for an unknown workspace", err, 404, haven.ENOTFOUND, "ws-nine")
}

func TestClientRelease(t *testing.T) {
	f, c := clientFixture(t)
	ctx := context.Background()
	files := map[string]string{
		"output/table.csv":          "a,b\n1,2\n",
		"output/sub dir/chärt.svg":  `<svg xmlns="http://www.w3.org/2000/svg"/>`,
		`output/quote"and;semi.txt`: "text\n",
	}
	id := store.NewULID(now0)
	req := CreateRequest{ID: id, Workspace: "ws-one"}
	for name, content := range files {
		req.Files = append(req.Files, FileSpec{Name: name, Size: int64(len(content)), SHA256: sumString(content), Mtime: now0,
			Metadata: map[string]string{"tool": "haven-airlock", "request_id": id}})
	}
	rel, err := c.CreateRelease(ctx, "checker", req)
	if err != nil {
		t.Fatalf("CreateRelease: %v", err)
	}
	if rel.ID != id || rel.CreatedBy != "checker" || len(rel.Files) != len(files) {
		t.Errorf("release = %+v", rel)
	}
	if again, err := c.CreateRelease(ctx, "checker", req); err != nil || again.ID != id {
		t.Errorf("CreateRelease again = %+v, %v; want the same release", again, err)
	}
	_, err = c.CreateRelease(ctx, "researcher", CreateRequest{ID: store.NewULID(now0), Workspace: "ws-one", Files: req.Files})
	wantAPIError(t, "CreateRelease by a developer", err, 403, haven.EFORBIDDEN, "release_file_upload")
	changed := req
	changed.Files = []FileSpec{{Name: "output/other.csv", Size: 1, SHA256: sumString("x")}}
	_, err = c.CreateRelease(ctx, "checker", changed)
	wantAPIError(t, "CreateRelease with other files", err, 409, haven.ECONFLICT, "")
	big := req
	big.ID = store.NewULID(now0)
	big.Files = []FileSpec{{Name: "output/big.csv", Size: MaxFileSize + 1, SHA256: sumString("x")}}
	_, err = c.CreateRelease(ctx, "checker", big)
	wantAPIError(t, "CreateRelease of a file over 16 MiB", err, 400, haven.EINVALID, "File size should be <16Mb")

	// Wrong bytes: 422, nothing stored.
	_, err = c.Upload(ctx, id, "output/table.csv", []byte("a,b\n9,9\n"))
	wantAPIError(t, "Upload of other bytes", err, 422, haven.ECONFLICT, "Contents of uploaded file does not match")
	_, err = c.Upload(ctx, id, "output/missing.csv", []byte("x"))
	wantAPIError(t, "Upload of a file not in the release", err, 404, haven.ENOTFOUND, "missing.csv")

	for name, content := range files {
		up, err := c.Upload(ctx, id, name, []byte(content))
		if err != nil {
			t.Errorf("Upload(%q): %v", name, err)
			continue
		}
		if up.Name != name || up.SHA256 != sumString(content) || up.ReleaseID != id {
			t.Errorf("Upload(%q) = %+v", name, up)
		}
		got, err := os.ReadFile(filepath.Join(f.dir, "ws-one", "releases", id, filepath.FromSlash(name)))
		if err != nil || string(got) != content {
			t.Errorf("stored %q = %q, %v; want %q", name, got, err, content)
		}
		// A retry with the same bytes succeeds.
		if _, err := c.Upload(ctx, id, name, []byte(content)); err != nil {
			t.Errorf("Upload(%q) again: %v", name, err)
		}
	}
}

func TestClientNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := &Client{BaseURL: url, Token: airlockTok, Backend: "tpp"}
	_, err := c.Authorise(context.Background(), "checker")
	var ae *APIError
	if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), url+PathAuthorise) || !strings.Contains(err.Error(), "backend tpp") {
		t.Errorf("Authorise against a closed server: %v, want a network error naming the URL and backend", err)
	}

	// An answer that is not JSON keeps its status.
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer srv.Close()
	c.BaseURL = srv.URL
	_, err = c.Authorise(context.Background(), "checker")
	wantAPIError(t, "502 with an HTML body", err, 502, haven.EINTERNAL, "Bad Gateway")
}

func TestAPIErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{400, haven.EINVALID}, {413, haven.EINVALID},
		{403, haven.EFORBIDDEN}, {429, haven.EFORBIDDEN},
		{404, haven.ENOTFOUND},
		{409, haven.ECONFLICT}, {422, haven.ECONFLICT},
		{401, haven.EINTERNAL}, {500, haven.EINTERNAL}, {503, haven.EINTERNAL},
	} {
		err := error(&APIError{Status: tc.status, Message: "m"})
		if got := haven.ErrorCode(err); got != tc.code {
			t.Errorf("status %d: code %q, want %q", tc.status, got, tc.code)
		}
		var he *haven.Error
		if tc.code != haven.EINTERNAL && (!errors.As(err, &he) || he.Message != "m") {
			t.Errorf("status %d: the haven error does not carry the server's message", tc.status)
		}
	}
}
