package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/demo"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/releaseapi"
	"github.com/haven-tre/haven/internal/store"
)

// startDemo starts the demo system (job server, two agents, Airlock) in
// this process on free ports, with its job requests run and the
// researcher's release request open. It is stopped when the test ends;
// the components' log is printed if the test failed.
func startDemo(t *testing.T) *demo.Demo {
	t.Helper()
	needGit(t)
	needPython(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	d, _, err := demo.Start(ctx, demo.Config{Dir: filepath.Join(t.TempDir(), "demo"), Once: true, Out: &out, Timeout: 5 * time.Minute})
	t.Cleanup(func() {
		cancel()
		if d != nil {
			d.Close()
			if t.Failed() {
				if log, err := os.ReadFile(filepath.Join(d.Dir(), "demo.log")); err == nil {
					t.Logf("demo log (last 8 kB):\n%s", tail(string(log), 8<<10))
				}
			}
		}
	})
	if err != nil {
		t.Fatalf("start the demo: %v\n%s", err, out.String())
	}
	return d
}

// airlockBrowser is one person's session with Airlock's pages, following
// no redirects so each answer's status can be checked.
type airlockBrowser struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func signInAirlock(t *testing.T, d *demo.Demo, user string) *airlockBrowser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &airlockBrowser{t: t, base: d.AirlockURL(), hc: &http.Client{
		Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	tok, err := d.AirlockToken(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	b.get("/login/", http.StatusOK)
	if code, body := b.post("/login/", url.Values{"user": {user}, "token": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("%s's sign-in: %d\n%s", user, code, body)
	}
	b.get("/", http.StatusOK)
	return b
}

// get fetches path, checks the status and keeps the page's CSRF token.
func (b *airlockBrowser) get(path string, want int) string {
	b.t.Helper()
	resp, err := b.hc.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.t.Fatalf("GET %s: %d, want %d\n%s", path, resp.StatusCode, want, tail(string(body), 2000))
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return string(body)
}

// post submits a form with the session's CSRF token.
func (b *airlockBrowser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.csrf)
	resp, err := b.hc.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// act posts an action on a request and checks the answer's status.
func (b *airlockBrowser) act(id, action string, form url.Values, want int) string {
	b.t.Helper()
	code, body := b.post("/requests/"+id+"/"+action, form)
	if code != want {
		b.t.Fatalf("%s on %s: %d, want %d\n%s", action, id, code, want, tail(body, 3000))
	}
	return body
}

// TestAirlockReleaseScenario takes a job's outputs to released files on
// the job server, through Airlock's pages as three people use them: a
// second reviewer is needed, the request is returned early, a file changes
// after review and is updated on the request, and the job server refuses
// bytes that are not the ones Airlock declared.
func TestAirlockReleaseScenario(t *testing.T) {
	d := startDemo(t)
	ctx := context.Background()
	al := d.Airlock()
	recs, err := al.Store.Requests(ctx, astore.Filter{User: "colmandrews"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("the demo's release request: %d, %v", len(recs), err)
	}
	id := recs[0].Request.ID
	const csv, svg = "output/caseness/codecounts_week.csv", "output/caseness/plots.svg"
	status := func() review.Status {
		rec, err := al.Store.Request(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.Request.Status
	}

	researcher := signInAirlock(t, d, "colmandrews")
	checker1 := signInAirlock(t, d, "checker1")
	checker2 := signInAirlock(t, d, "checker2")
	reqPath := "/requests/" + id + "/"

	// The researcher submits.
	page := researcher.get(reqPath, http.StatusOK)
	for _, f := range []string{csv, svg} {
		if !strings.Contains(page, f) {
			t.Fatalf("the request page does not list %s", f)
		}
	}
	researcher.act(id, "submit", nil, http.StatusSeeOther)
	if got := status(); got != review.Submitted {
		t.Fatalf("after submit: %s", got)
	}

	// checker1 approves the table, asks for changes on the chart, says
	// why, and submits a review. One review is not enough to release.
	checker1.get(reqPath, http.StatusOK)
	checker1.vote(t, d, id, csv, review.VoteApproved)
	checker1.vote(t, d, id, svg, review.VoteChangesRequested)
	checker1.act(id, "comment", url.Values{"group": {"default"}, "text": {"Please label the chart's axes."}, "visibility": {"PUBLIC"}}, http.StatusSeeOther)
	checker1.act(id, "submit-review", nil, http.StatusSeeOther)
	if got := status(); got != review.PartiallyReviewed {
		t.Fatalf("after one review: %s", got)
	}
	checker1.act(id, "release", url.Values{"confirm": {"yes"}}, http.StatusConflict)
	// The author can never review their own request.
	researcher.act(id, "vote", url.Values{"file": {csv}, "vote": {"APPROVED"}}, http.StatusForbidden)

	// checker2 returns it early: the turn's votes and comments are reset.
	checker2.get(reqPath, http.StatusOK)
	checker2.act(id, "return-early", url.Values{"confirm": {"yes"}}, http.StatusSeeOther)
	rec, err := al.Store.Request(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Request.Status != review.Returned || len(rec.Request.Comments) != 0 {
		t.Fatalf("after early return: %s with %d comments", rec.Request.Status, len(rec.Request.Comments))
	}
	for _, name := range []string{csv, svg} {
		f, _ := rec.Request.File(name)
		if v := f.Votes["checker1"]; v.Vote != review.VoteUndecided {
			t.Fatalf("checker1's vote on %s after early return: %q", name, v.Vote)
		}
	}
	oldSVG := rec.Files[svg].SHA256

	// The researcher labels the chart: a new commit and a new run of
	// freq_plots change plots.svg in the workspace.
	newSVG := rerunFreqPlots(t, d)
	if newSVG == oldSVG {
		t.Fatal("the new run did not change plots.svg")
	}
	wsPage := researcher.get("/workspaces/primary-care-covid-codes-research/", http.StatusOK)
	if !strings.Contains(wsPage, "Updated since added") {
		t.Fatalf("the workspace page does not show plots.svg as updated:\n%s", tail(wsPage, 3000))
	}
	researcher.act(id, "update-file", url.Values{"file": {svg}}, http.StatusSeeOther)
	researcher.act(id, "resubmit", nil, http.StatusSeeOther)
	rec, _ = al.Store.Request(ctx, id)
	if rec.Request.Status != review.Submitted || rec.Files[svg].SHA256 != newSVG {
		t.Fatalf("after resubmit: %s, svg %s (want %s)", rec.Request.Status, rec.Files[svg].SHA256, newSVG)
	}

	// Both checkers approve everything; checker1 releases.
	for _, c := range []*airlockBrowser{checker1, checker2} {
		c.get(reqPath, http.StatusOK)
		c.vote(t, d, id, csv, review.VoteApproved)
		c.vote(t, d, id, svg, review.VoteApproved)
		c.act(id, "submit-review", nil, http.StatusSeeOther)
	}
	if got := status(); got != review.Reviewed {
		t.Fatalf("after two reviews: %s", got)
	}
	checker1.act(id, "release", url.Values{}, http.StatusBadRequest) // no confirmation
	checker1.act(id, "release", url.Values{"confirm": {"yes"}}, http.StatusSeeOther)
	deadline := time.Now().Add(90 * time.Second)
	for status() != review.Released {
		if time.Now().After(deadline) {
			t.Fatalf("the release was not uploaded: %s", status())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The job server has exactly the frozen bytes, for project members.
	rel, err := d.Server().Store.Release(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := d.Server().Store.User(ctx, rel.CreatedBy); err != nil || u.Username != "checker1" {
		t.Fatalf("release created by %v (%v), want checker1", u, err)
	}
	rec, _ = al.Store.Request(ctx, id)
	memberTok, _, err := d.Server().Service.CreateAPIToken(ctx, "colmandrews")
	if err != nil {
		t.Fatal(err)
	}
	outsiderTok, _, err := d.Server().Service.CreateAPIToken(ctx, "simondavy")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{csv, svg} {
		code, body := fetchReleased(t, d, id, name, memberTok)
		if code != http.StatusOK || sha(body) != rec.Files[name].SHA256 {
			t.Fatalf("released %s: %d, sha256 %s, want %s", name, code, sha(body), rec.Files[name].SHA256)
		}
		if code, _ := fetchReleased(t, d, id, name, outsiderTok); code == http.StatusOK {
			t.Fatalf("a user outside the project could read released %s", name)
		}
	}

	// Bytes that are not the declared ones are refused, and a stored file
	// is never overwritten.
	client := &releaseapi.Client{BaseURL: d.ServerURL(), Token: d.AirlockBackendToken(), Backend: "tpp", HTTP: &http.Client{Timeout: 30 * time.Second}}
	_, err = client.Upload(ctx, id, csv, []byte("group,count\nforged,1000\n"))
	if !releaseapi.IsAPIError(err, http.StatusUnprocessableEntity) {
		t.Fatalf("a forged re-upload of a released file: %v, want 422", err)
	}
	if _, body := fetchReleased(t, d, id, csv, memberTok); sha(body) != rec.Files[csv].SHA256 {
		t.Fatal("the released file changed after a forged upload")
	}
	otherID := store.NewULID(time.Now())
	good := []byte("group,count\nadults,120\n")
	if _, err := client.CreateRelease(ctx, "checker2", releaseapi.CreateRequest{
		ID: otherID, Workspace: "primary-care-covid-codes-research",
		Files: []releaseapi.FileSpec{{Name: "output/other.csv", Size: int64(len(good)), SHA256: sha(good), Mtime: time.Now()}},
	}); err != nil {
		t.Fatal(err)
	}
	_, err = client.Upload(ctx, otherID, "output/other.csv", []byte("group,count\nadults,3\n\n"))
	if !releaseapi.IsAPIError(err, http.StatusUnprocessableEntity) {
		t.Fatalf("an upload with other bytes than declared: %v, want 422", err)
	}
	if code, _ := fetchReleased(t, d, otherID, "output/other.csv", memberTok); code == http.StatusOK {
		t.Fatal("the server serves a file whose upload it refused")
	}

	// The request's audit trail, oldest first, as the activity view keeps
	// it: the early-returned turn's votes and comment are hidden.
	events, err := al.Store.Audit(ctx, astore.AuditFilter{Request: id})
	if err != nil {
		t.Fatal(err)
	}
	visible := review.ActivityVisible(events)
	var types []string
	for _, e := range visible {
		switch e.Type {
		case review.EventSubmit, review.EventEarlyReturn, review.EventFileUpdate, review.EventReview,
			review.EventApprove, review.EventFileUpload, review.EventRelease:
			types = append(types, string(e.Type))
		case review.EventComment, review.EventFileRequestChanges:
			t.Fatalf("the activity view shows %s from the turn returned early", e.Type)
		}
	}
	want := []string{"SUBMIT", "EARLY_RETURN", "FILE_UPDATE", "SUBMIT", "REVIEW", "REVIEW", "APPROVE", "FILE_UPLOAD", "FILE_UPLOAD", "RELEASE"}
	if !slices.Equal(types, want) {
		t.Fatalf("activity %v\nwant %v", types, want)
	}
}

// vote casts a vote on a file's page, acknowledging every FAIL finding of
// the file as a reviewer must.
func (b *airlockBrowser) vote(t *testing.T, d *demo.Demo, id, file string, v review.Vote) {
	t.Helper()
	page := b.get("/requests/"+id+"/files/"+file, http.StatusOK)
	form := url.Values{"file": {file}, "vote": {string(v)}}
	for _, m := range regexp.MustCompile(`name="acknowledge" value="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		form.Add("acknowledge", m[1])
	}
	b.act(id, "vote", form, http.StatusSeeOther)
}

// rerunFreqPlots commits a change to the study's chart and runs
// freq_plots again on TPP; it returns the new plots.svg's hash in the
// medium-privacy manifest.
func rerunFreqPlots(t *testing.T, d *demo.Demo) string {
	t.Helper()
	ctx := context.Background()
	repo := filepath.Join(d.Dir(), "repos", "primary-care-covid-codes-research")
	script := filepath.Join(repo, "analysis", "freq_plot.py")
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), `"Patients per week (first code)"`, `"Patients per week (first code recorded)"`, 1)
	if changed == string(src) {
		t.Fatal("freq_plot.py no longer has the chart label this test changes")
	}
	if err := os.WriteFile(script, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	commitAsResearcher(t, repo, "Label the chart's axes")
	res, err := d.Server().Service.Submit(ctx, jobserver.SubmitInput{
		User: d.User("colmandrews"), Workspace: "primary-care-covid-codes-research", Backend: "tpp", Actions: []string{"freq_plots"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := d.WaitJobRequest(wctx, res.Request.ID); err != nil {
		t.Fatal(err)
	}
	jobs, _ := d.Server().Store.RequestJobs(ctx, res.Request.ID)
	if len(jobs) != 1 || jobs[0].State != "succeeded" {
		t.Fatalf("the new freq_plots run: %+v", jobs)
	}
	raw, err := os.ReadFile(filepath.Join(d.Dir(), "backends", "tpp", "medium-privacy", "primary-care-covid-codes-research", "metadata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Outputs map[string]struct {
			ContentHash string `json:"content_hash"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.Outputs["output/caseness/plots.svg"].ContentHash
}

// commitAsResearcher commits every change in a demo study's repository
// as its researcher would.
func commitAsResearcher(t *testing.T, repo, msg string) {
	t.Helper()
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-qm", msg}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
			"GIT_AUTHOR_NAME=Colm Andrews", "GIT_AUTHOR_EMAIL=colmandrews@example.org",
			"GIT_COMMITTER_NAME=Colm Andrews", "GIT_COMMITTER_EMAIL=colmandrews@example.org")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// fetchReleased fetches a released file from the job server with an API
// token.
func fetchReleased(t *testing.T, d *demo.Demo, id, name, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/releases/%s/files/%s", d.ServerURL(), id, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
