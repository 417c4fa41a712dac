package e2e

// Browser tests of Airlock: the whole release path of `haven demo` driven
// in headless Chromium by the researcher and both output checkers, and the
// pages' security rules as a researcher meets them. They need Chromium (or
// Chrome), git and python3; without Chromium they are skipped unless
// HAVEN_REQUIRE_BROWSER=1.
//
//	HAVEN_REQUIRE_BROWSER=1 go test -race -run TestBrowserAirlock ./e2e/
//
// With -update-screenshots they also write the Airlock pages' screenshots
// used by docs/airlock.md to docs/images.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/demo"
	"github.com/haven-tre/haven/internal/disclosure"
)

// The release request the demo opens for colmandrews.
const (
	abWorkspace = "primary-care-covid-codes-research"
	abCSV       = "output/caseness/codecounts_week.csv"
	abSVG       = "output/caseness/plots.svg"
)

// abDemo is a running `haven demo` with its release request open.
type abDemo struct {
	d   *demo.Demo
	dir string
	id  string // the release request
}

// mediumDir is the demo workspace's folder in TPP's medium-privacy
// directory, which Airlock reads.
func (a *abDemo) mediumDir() string {
	return filepath.Join(a.dir, "backends", "tpp", "medium-privacy", abWorkspace)
}

// token makes an Airlock sign-in token for a demo user, as the job
// server's Airlock token page does.
func (a *abDemo) token(t *testing.T, username string) string {
	t.Helper()
	tok, err := a.d.AirlockToken(context.Background(), username)
	if err != nil {
		t.Fatalf("making an Airlock token for %s: %v", username, err)
	}
	return tok
}

// abTestLogWriter sends the demo's progress lines to the test log until the
// test has ended.
type abTestLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *abTestLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// abStartDemo runs `haven demo` (free ports, everything in a temporary
// folder) until its release request is open. It is stopped when the test
// ends; if the test failed the tail of demo.log is printed.
func abStartDemo(t *testing.T) *abDemo {
	t.Helper()
	needGit(t)
	needPython(t)
	dir := t.TempDir()
	out := &abTestLogWriter{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	d, sum, err := demo.Start(ctx, demo.Config{Dir: dir, Once: true, Out: out, Timeout: 5 * time.Minute})
	t.Cleanup(func() {
		cancel()
		if d != nil {
			d.Close()
		}
		if t.Failed() {
			t.Logf("the end of %s:\n%s", filepath.Join(dir, "demo.log"), abFileTail(filepath.Join(dir, "demo.log"), 60))
		}
		out.mu.Lock()
		out.done = true
		out.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("starting the demo: %v", err)
	}
	if sum.Release.ID == "" {
		t.Fatal("the demo opened no release request")
	}
	return &abDemo{d: d, dir: dir, id: sum.Release.ID}
}

// abFileTail is the last n lines of a file, or why it cannot be read.
func abFileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// abUserBrowser opens a tab in a new browser context of the browser ctx
// runs in: its own cookies, so each user has their own sessions.
func abUserBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a new browser context: %v", err)
	}
	return tab
}

// abLocation is the tab's address.
func abLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	return browserGet(t, ctx, "reading the abLocation", chromedp.Location())
}

// abServerSignIn signs username in to the demo's job server through its
// sign-in form and lands on next.
func abServerSignIn(t *testing.T, ctx context.Context, a *abDemo, username, next string) {
	t.Helper()
	browserRun(t, ctx, "opening the job server's sign-in page",
		chromedp.Navigate(a.d.ServerURL()+"/login/?next="+url.QueryEscape(next)),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#username"), username),
		chromedp.SendKeys(css("#password"), demo.Password),
	)
	if status := follow(t, ctx, "signing in to the job server", chromedp.Click(css(`#login-form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("signing in to the job server as %s: the page after the form answered %d", username, status)
	}
	if got, want := abLocation(t, ctx), a.d.ServerURL()+next; got != want {
		t.Fatalf("signing in to the job server as %s landed on %s, want %s (sign-in error: %q)", username, got, want, pageText(ctx, "#login-error"))
	}
}

// abAirlockSignIn signs username in to Airlock with a sign-in token and
// checks the home page greets them.
func abAirlockSignIn(t *testing.T, ctx context.Context, a *abDemo, username, token string) {
	t.Helper()
	browserRun(t, ctx, "opening Airlock's sign-in page",
		chromedp.Navigate(a.d.AirlockURL()+"/login/"),
		chromedp.WaitVisible(css("#login-form")),
		chromedp.SendKeys(css("#user"), username),
		chromedp.SendKeys(css("#token"), token),
	)
	if status := follow(t, ctx, "signing in to Airlock", chromedp.Click(css(`#login-form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("signing in to Airlock as %s: the page after the form answered %d (%s)", username, status, pageText(ctx, "main"))
	}
	if got := abLocation(t, ctx); got != a.d.AirlockURL()+"/" {
		t.Fatalf("signing in to Airlock as %s landed on %s, want the home page (sign-in error: %q)", username, got, pageText(ctx, "#login-error"))
	}
	if got := elementText(t, ctx, ".nav-user > span"); !strings.HasPrefix(got, "Signed in as ") {
		t.Fatalf("Airlock's header says %q after %s signed in, want \"Signed in as …\"", got, username)
	}
}

// abAirlockOpen opens an Airlock page by its path and checks its status.
func abAirlockOpen(t *testing.T, ctx context.Context, a *abDemo, path string, want int) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(a.d.AirlockURL()+path))
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	if int(resp.Status) != want {
		t.Fatalf("%s answered %d, want %d (page: %.300s)", path, resp.Status, want, pageText(ctx, "main"))
	}
}

// requestPath is the release request's page; filePath one file's page on it.
func (a *abDemo) requestPath() string { return "/requests/" + a.id + "/" }
func (a *abDemo) filePath(name string) string {
	return a.requestPath() + "files/" + name
}

// abStatusLabel is the request page's status label.
func abStatusLabel(t *testing.T, ctx context.Context) string {
	t.Helper()
	return strings.TrimSpace(strings.TrimPrefix(elementText(t, ctx, "#request-status .pill"), "Status:"))
}

// abFileRow is one row of a request page's files tables.
type abFileRow struct {
	Name     string   `json:"name"`
	URL      string   `json:"url"`
	Type     string   `json:"type"`
	Verdict  string   `json:"verdict"`
	Decision string   `json:"decision"`
	Votes    []string `json:"votes"`
	MyVote   string   `json:"myVote"`
}

const abFileRowsJS = `Array.from(document.querySelectorAll("table.files tbody tr")).map(tr => {
  const a = tr.cells[0].querySelector("a");
  const dec = tr.cells[4];
  const s = dec.querySelector("span");
  return {
    name: a ? a.textContent.trim() : "",
    url: a ? a.getAttribute("href") : "",
    type: tr.cells[1].textContent.trim(),
    verdict: tr.cells[3].textContent.trim(),
    decision: s ? s.textContent.trim() : dec.textContent.trim(),
    votes: Array.from(dec.querySelectorAll("ul.votes li")).map(li => li.textContent.trim()),
    myVote: tr.cells.length > 5 ? tr.cells[5].textContent.trim() : "",
  };
})`

// abFileRows reads the request page's files, by name.
func abFileRows(t *testing.T, ctx context.Context) map[string]abFileRow {
	t.Helper()
	rows := browserGet(t, ctx, "reading the request's files", chromedp.Evaluate[[]abFileRow](abFileRowsJS))
	out := map[string]abFileRow{}
	for _, r := range rows {
		out[r.Name] = r
	}
	return out
}

// abExpectedFinding is a disclosure finding as the file page lists it.
type abExpectedFinding struct {
	ID      string `json:"id"`
	Verdict string `json:"verdict"`
}

// abExpectedFindings runs the disclosure checker on the workspace's copy
// of a file (the demo froze those very bytes), as Airlock does, and
// returns its overall verdict and findings with Airlock's ids.
func abExpectedFindings(t *testing.T, a *abDemo, name string) (string, []abExpectedFinding) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.mediumDir(), filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	prof, err := disclosure.LoadProfile("opensafely")
	if err != nil {
		t.Fatal(err)
	}
	rep := disclosure.CheckFile(name, data, disclosure.Options{Profile: prof})
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var out []abExpectedFinding
	for _, f := range airlock.Findings(raw) {
		out = append(out, abExpectedFinding{ID: f.ID, Verdict: f.Verdict.String()})
	}
	return rep.Verdict.String(), out
}

// abPageFindings reads the findings table of a request file page.
func abPageFindings(t *testing.T, ctx context.Context) []abExpectedFinding {
	t.Helper()
	return browserGet(t, ctx, "reading the findings", chromedp.Evaluate[[]abExpectedFinding](
		`Array.from(document.querySelectorAll("#findings table.findings tbody tr")).map(tr =>
			({id: tr.cells[0].textContent.trim(), verdict: tr.cells[2].textContent.trim()}))`))
}

// abFrameSandbox is the content frame's sandbox attribute; ok is false when
// the frame or the attribute is missing.
func abFrameSandbox(t *testing.T, ctx context.Context) (string, bool) {
	t.Helper()
	v := browserGet(t, ctx, "reading the content frame", chromedp.Evaluate[map[string]any](
		`(() => { const f = document.querySelector("iframe#content-frame");
		   return f ? {has: f.hasAttribute("sandbox"), value: f.getAttribute("sandbox") || "", src: f.getAttribute("src")} : {}; })()`))
	has, _ := v["has"].(bool)
	value, _ := v["value"].(string)
	return value, has
}

// abCheckFilePage checks a request file page: heading, automated check,
// findings against the checker's own run, and the frame's sandbox.
func abCheckFilePage(t *testing.T, ctx context.Context, a *abDemo, name, wantSandbox string) {
	t.Helper()
	if got := elementText(t, ctx, "main h1"); got != name {
		t.Errorf("file page heading = %q, want %q", got, name)
	}
	verdict, want := abExpectedFindings(t, a, name)
	header := definitions(t, ctx, "#file-header")
	if header["Automated check"] != verdict {
		t.Errorf("%s's page shows the automated check %q, want %q (header %v)", name, header["Automated check"], verdict, header)
	}
	if header["Type"] != "OUTPUT" {
		t.Errorf("%s's page shows the type %q, want OUTPUT", name, header["Type"])
	}
	got := abPageFindings(t, ctx)
	if len(want) == 0 {
		if len(got) != 0 {
			t.Errorf("%s: the checker finds nothing, but the page lists %v", name, got)
		}
		if hint := pageText(ctx, "main > p.hint"); hint != "The automated check found nothing to report." {
			t.Errorf("%s: a file without findings says %q, want \"The automated check found nothing to report.\"", name, hint)
		}
	} else if !slices.Equal(got, want) {
		t.Errorf("%s lists the findings %v, want %v", name, got, want)
	}
	sandbox, has := abFrameSandbox(t, ctx)
	if !has || sandbox != wantSandbox {
		t.Errorf("%s's content frame: sandbox attribute present %v, value %q; want present with %q", name, has, sandbox, wantSandbox)
	}
}

// abFailIDs are the ids of a vote form's FAIL acknowledgement boxes.
func abFailIDs(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return browserGet(t, ctx, "reading the acknowledgement boxes", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#vote-form input[name="acknowledge"]')).map(e => e.value)`))
}

// abVoteApproved votes APPROVED on the open request file page, ticking
// every FAIL acknowledgement box, and checks the vote was recorded.
func abVoteApproved(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	browserRun(t, ctx, "choosing Approve", chromedp.Click(css(`#vote-form input[name="vote"][value="APPROVED"]`)))
	for _, id := range abFailIDs(t, ctx) {
		browserRun(t, ctx, "acknowledging "+id, chromedp.Click(css(`#vote-form input[name="acknowledge"][value="`+id+`"]`)))
	}
	if status := follow(t, ctx, "voting on "+name, chromedp.Click(css(`#vote-form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("voting on %s answered %d: %s", name, status, pageText(ctx, "main"))
	}
	if got := pageText(ctx, "#flash"); got != "Your vote has been recorded." {
		t.Errorf("after voting on %s the page says %q", name, got)
	}
	if got := definitions(t, ctx, "#file-header")["Your vote"]; got != "APPROVED" {
		t.Errorf("after voting on %s the page shows your vote as %q, want APPROVED", name, got)
	}
}

// abTryVoteWithoutAcknowledging votes APPROVED on the open file page with
// no FAIL finding acknowledged and checks Airlock refuses it; it reports
// false when the file has no FAIL finding to try it with.
func abTryVoteWithoutAcknowledging(t *testing.T, ctx context.Context, a *abDemo, name string) bool {
	t.Helper()
	ids := abFailIDs(t, ctx)
	if len(ids) == 0 {
		return false
	}
	browserRun(t, ctx, "choosing Approve", chromedp.Click(css(`#vote-form input[name="vote"][value="APPROVED"]`)))
	status := follow(t, ctx, "voting without acknowledging", chromedp.Click(css(`#vote-form button[type="submit"]`)))
	if status < 400 || status >= 500 {
		t.Errorf("a vote on %s acknowledging none of the FAIL findings %v answered %d, want a refusal", name, ids, status)
	}
	msg := pageText(ctx, "#error-message")
	if msg == "" || !strings.Contains(msg, ids[0]) {
		t.Errorf("the refusal of an unacknowledged vote on %s says %q; want it to name the FAIL finding %s", name, msg, ids[0])
	}
	abAirlockOpen(t, ctx, a, a.filePath(name), http.StatusOK)
	if got := definitions(t, ctx, "#file-header")["Your vote"]; got != "" {
		t.Errorf("a refused vote on %s was recorded as %q", name, got)
	}
	return true
}

// abReviewAsChecker votes APPROVED on every output of the request as the
// signed-in checker and submits the review; it checks the status label
// after.
func abReviewAsChecker(t *testing.T, ctx context.Context, a *abDemo, who, wantStatus string, tryRefusal bool) {
	t.Helper()
	abAirlockOpen(t, ctx, a, a.requestPath(), http.StatusOK)
	rows := abFileRows(t, ctx)
	tried := false
	for _, name := range []string{abCSV, abSVG} {
		row, ok := rows[name]
		if !ok {
			t.Fatalf("%s: the request page does not list %s (files: %v)", who, name, rows)
		}
		if row.MyVote != "not voted" {
			t.Errorf("%s sees their vote on %s as %q before voting, want \"not voted\"", who, name, row.MyVote)
		}
		if status := follow(t, ctx, "opening "+name, chromedp.Click(css(`table.files a[href="`+row.URL+`"]`))); status != http.StatusOK {
			t.Fatalf("%s: %s's page answered %d", who, name, status)
		}
		if tryRefusal && !tried {
			tried = abTryVoteWithoutAcknowledging(t, ctx, a, name)
		}
		abVoteApproved(t, ctx, name)
		follow(t, ctx, "going back to the request", chromedp.Click(css(`#file-header a[href="`+a.requestPath()+`"]`)))
	}
	if tryRefusal && !tried {
		t.Logf("no output of the demo's request has a FAIL finding (%s and %s), so the refusal of a vote that does not acknowledge one was not tried here", abCSV, abSVG)
	}
	for name, row := range abFileRows(t, ctx) {
		if row.MyVote != "APPROVED" {
			t.Errorf("%s's vote on %s shows as %q, want APPROVED", who, name, row.MyVote)
		}
	}
	if status := follow(t, ctx, "submitting "+who+"'s review", chromedp.Click(css(`#action-submit-review button`))); status != http.StatusOK {
		t.Fatalf("%s: submitting the review answered %d: %s", who, status, pageText(ctx, "main"))
	}
	if got := pageText(ctx, "#flash"); got != "Your review has been submitted." {
		t.Errorf("after %s's review the page says %q", who, got)
	}
	if got := abStatusLabel(t, ctx); got != wantStatus {
		t.Errorf("after %s's review the request is %q, want %q", who, got, wantStatus)
	}
}

// abHasElement reports whether the page has an element sel matches.
func abHasElement(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	return browserGet(t, ctx, "looking for "+sel, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
}

// abPageCookie is the browser's cookie called name for the address u.
func abPageCookie(t *testing.T, ctx context.Context, u, name string) *http.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatalf("reading the browser's cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	t.Fatalf("the browser has no %s cookie for %s", name, u)
	return nil
}

// abFrozen is the demo's abFrozen copy of a request file, read from
// Airlock's data directory by the hash the file page shows.
func abFrozen(t *testing.T, a *abDemo, sha string) []byte {
	t.Helper()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sha) {
		t.Fatalf("%q is not a sha256", sha)
	}
	b, err := os.ReadFile(filepath.Join(a.dir, "backends", "tpp", "airlock", "files", abWorkspace, sha))
	if err != nil {
		t.Fatalf("reading Airlock's abFrozen copy: %v", err)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sha {
		t.Fatalf("Airlock's abFrozen copy %s has the sha256 %x", sha, got)
	}
	return b
}

// TestBrowserAirlockRelease plays the demo's release request through
// Airlock's pages: the researcher gets a sign-in token from the job server,
// checks and submits the request, both output checkers approve every
// output (the second one blinded to the first one's votes until both
// reviews are in), the second releases, and the researcher opens the
// released files on the job server.
func TestBrowserAirlockRelease(t *testing.T) {
	browser := newBrowser(t, 5*time.Minute)
	a := abStartDemo(t)
	researcher := abUserBrowser(t, browser)

	// The researcher gets a token from the job server.
	abServerSignIn(t, researcher, a, "colmandrews", "/settings/airlock-token/")
	if got := elementText(t, researcher, "main h1"); got != "Airlock sign-in token" {
		t.Fatalf("the Airlock token page's heading is %q", got)
	}
	if abHasElement(t, researcher, "#token-text") {
		t.Error("the Airlock token page shows a token before one was asked for")
	}
	if status := follow(t, researcher, "making a token", chromedp.Click(css(`#airlock-token-form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("making an Airlock token answered %d: %s", status, pageText(researcher, "main"))
	}
	token := elementText(t, researcher, "#token-text")
	if !regexp.MustCompile(`^[a-z]+ [a-z]+ [a-z]+$`).MatchString(token) {
		t.Fatalf("the Airlock token page shows %q, want three words", token)
	}
	if got := elementText(t, researcher, "#token-username"); got != "colmandrews" {
		t.Errorf("the token page names the username %q, want colmandrews", got)
	}
	screenshot(t, researcher, "server-airlock-token")

	// Airlock's home page lists the request the demo opened.
	abAirlockSignIn(t, researcher, a, "colmandrews", token)
	reqLink := `section[aria-labelledby="requests-heading"] table.requests a[href="` + a.requestPath() + `"]`
	if !abHasElement(t, researcher, reqLink) {
		t.Fatalf("the researcher's home page does not list request %s: %s", a.id, pageText(researcher, "main"))
	}
	home := browserGet(t, researcher, "reading the home page's request row", chromedp.Evaluate[[]string](fmt.Sprintf(
		`Array.from(document.querySelector(%q).closest("tr").cells).map(c => c.textContent.trim().replace(/\s+/g, " "))`, reqLink)))
	if len(home) != 5 || home[1] != abWorkspace || home[2] != "colmandrews" || home[3] != "Status: Pending" {
		t.Errorf("the home page's row for the request is %q, want workspace %s, author colmandrews, Pending", home, abWorkspace)
	}
	if got := texts(t, researcher, `section[aria-labelledby="workspaces-heading"] ul.plain-list a`); !slices.Contains(got, abWorkspace) {
		t.Errorf("the researcher's workspaces are %q, want %s among them", got, abWorkspace)
	}
	screenshot(t, researcher, "airlock-home")

	// The workspace, with the CSV open.
	follow(t, researcher, "opening the workspace", chromedp.Click(css(`section[aria-labelledby="workspaces-heading"] a[href="/workspaces/`+abWorkspace+`/"]`)))
	if got := elementText(t, researcher, "main h1"); got != "Workspace "+abWorkspace {
		t.Errorf("workspace page heading = %q", got)
	}
	if got := browserGet(t, researcher, "reading the active request link", chromedp.Evaluate[string](
		`(document.querySelector("#my-active-request") || {}).textContent || ""`)); got != a.id {
		t.Errorf("the workspace page names the active request %q, want %s", got, a.id)
	}
	csvTree := "/workspaces/" + abWorkspace + "/tree/" + abCSV
	if !abHasElement(t, researcher, `a.tree-file[href="`+csvTree+`"]`) {
		t.Errorf("the workspace's tree has no link to %s", abCSV)
	}
	abAirlockOpen(t, researcher, a, csvTree, http.StatusOK)
	if got := strings.TrimPrefix(definitions(t, researcher, "#file-details dl")["Status"], "Status: "); got != "Under review" {
		t.Errorf("the CSV's status in the workspace is %q, want \"Under review\"", got)
	}
	if sandbox, has := abFrameSandbox(t, researcher); !has || sandbox != "allow-scripts" {
		t.Errorf("the workspace's CSV frame: sandbox present %v, %q; want allow-scripts", has, sandbox)
	}
	abFrameScreenshot(t, researcher, "airlock-workspace")

	// The request page.
	follow(t, researcher, "opening the request", chromedp.Click(css("#my-active-request")))
	if got := elementText(t, researcher, "main h1"); got != "Release request "+a.id {
		t.Fatalf("request page heading = %q", got)
	}
	if got := abStatusLabel(t, researcher); got != "Pending" {
		t.Errorf("the new request is %q, want Pending", got)
	}
	rows := abFileRows(t, researcher)
	for _, name := range []string{abCSV, abSVG} {
		verdict, _ := abExpectedFindings(t, a, name)
		row := rows[name]
		if row.Type != "OUTPUT" || row.Verdict != verdict {
			t.Errorf("the request lists %s as %+v, want an OUTPUT with the automated check %s", name, row, verdict)
		}
		// Before any review there is no decision, and the author never
		// sees a vote.
		if row.Decision != "not reviewed yet" || len(row.Votes) != 0 {
			t.Errorf("the author of a new request sees %s as %+v, want no decision yet and no votes", name, row)
		}
	}
	if len(rows) != 2 {
		t.Errorf("the request lists %d files, want 2: %v", len(rows), rows)
	}
	if !abHasElement(t, researcher, "#action-submit button:not([disabled])") {
		t.Error("the researcher is not offered Submit for review on a pending request with its context and controls written")
	}
	screenshot(t, researcher, "airlock-request-researcher")

	// The CSV's page: the table runs its script in a frame with no same
	// origin; the SVG gets no scripts at all.
	follow(t, researcher, "opening the CSV", chromedp.Click(css(`table.files a[href="`+rows[abCSV].URL+`"]`)))
	abCheckFilePage(t, researcher, a, abCSV, "allow-scripts")
	if abHasElement(t, researcher, "#vote-form") || abHasElement(t, researcher, "#download-link") {
		t.Error("the author is offered a vote or a download on their own request")
	}
	abFrameScreenshot(t, researcher, "airlock-file-csv")
	abAirlockOpen(t, researcher, a, rows[abSVG].URL, http.StatusOK)
	abCheckFilePage(t, researcher, a, abSVG, "")

	// Submit.
	abAirlockOpen(t, researcher, a, a.requestPath(), http.StatusOK)
	if status := follow(t, researcher, "submitting the request", chromedp.Click(css("#action-submit button"))); status != http.StatusOK {
		t.Fatalf("submitting answered %d: %s", status, pageText(researcher, "main"))
	}
	if got := pageText(researcher, "#flash"); got != "The request has been submitted for review." {
		t.Errorf("after submitting the page says %q", got)
	}
	if got := abStatusLabel(t, researcher); got != "Submitted" {
		t.Fatalf("the submitted request is %q, want Submitted", got)
	}

	// The first output checker.
	checker1 := abUserBrowser(t, browser)
	abAirlockSignIn(t, checker1, a, "checker1", a.token(t, "checker1"))
	if !abHasElement(t, checker1, reqLink) {
		t.Fatalf("checker1's home page does not offer request %s for review: %s", a.id, pageText(checker1, "main"))
	}
	abReviewAsChecker(t, checker1, a, "checker1", "One review submitted", true)
	if abHasElement(t, checker1, "#action-release") {
		t.Error("checker1 is offered Release files after only one review")
	}
	for name, row := range abFileRows(t, checker1) {
		if !slices.Equal(row.Votes, []string{"checker1: APPROVED"}) || row.Decision != "hidden until both reviews are in" {
			t.Errorf("with one review in, checker1 sees %s as %+v; want only their own vote and the decision hidden", name, row)
		}
	}

	// The second output checker, blinded until their own review is in.
	checker2 := abUserBrowser(t, browser)
	abAirlockSignIn(t, checker2, a, "checker2", a.token(t, "checker2"))
	abAirlockOpen(t, checker2, a, a.requestPath(), http.StatusOK)
	for name, row := range abFileRows(t, checker2) {
		if len(row.Votes) != 0 || row.Decision != "hidden until both reviews are in" {
			t.Errorf("before reviewing, checker2 sees checker1's decision or votes on %s: %+v", name, row)
		}
	}
	for _, row := range texts(t, checker2, "#activity table tbody tr") {
		if strings.Contains(row, "checker1") && (strings.Contains(row, "FILE_APPROVE") || strings.Contains(row, "FILE_REQUEST_CHANGES")) {
			t.Errorf("before reviewing, checker2's activity log shows checker1's vote: %q", row)
		}
	}
	abAirlockOpen(t, checker2, a, a.filePath(abCSV), http.StatusOK)
	if got := pageText(checker2, "#file-header ~ p"); strings.Contains(got, "checker1") {
		t.Errorf("before reviewing, checker2's file page shows the votes %q", got)
	}
	if _, ok := definitions(t, checker2, "#file-header")["Decision"]; ok {
		t.Error("before reviewing, checker2's file page shows the decision")
	}
	if !abHasElement(t, checker2, "#download-link") {
		t.Error("an output checker's file page has no Download link")
	}
	abReviewAsChecker(t, checker2, a, "checker2", "All reviews submitted", false)
	for name, row := range abFileRows(t, checker2) {
		slices.Sort(row.Votes)
		if want := []string{"checker1: APPROVED", "checker2: APPROVED"}; !slices.Equal(row.Votes, want) || row.Decision != "APPROVED" {
			t.Errorf("with both reviews in, %s shows decision %q and votes %q; want APPROVED and %q", name, row.Decision, row.Votes, want)
		}
	}
	if !abHasElement(t, checker2, "#action-release button:not([disabled])") {
		t.Fatalf("checker2 is not offered Release files once both approved: %s", pageText(checker2, "#request-actions"))
	}
	screenshot(t, checker2, "airlock-request-checker")

	// Release: refused without "I confirm", then done.
	if status := follow(t, checker2, "releasing without confirming", chromedp.Click(css("#action-release button"))); status != http.StatusBadRequest {
		t.Errorf("releasing without ticking \"I confirm\" answered %d, want 400", status)
	}
	abAirlockOpen(t, checker2, a, a.requestPath(), http.StatusOK)
	if got := abStatusLabel(t, checker2); got != "All reviews submitted" {
		t.Fatalf("an unconfirmed release left the request %q", got)
	}
	browserRun(t, checker2, "ticking I confirm", chromedp.Click(css(`#action-release input[name="confirm"]`)))
	if status := follow(t, checker2, "releasing", chromedp.Click(css("#action-release button"))); status != http.StatusOK {
		t.Fatalf("releasing answered %d: %s", status, pageText(checker2, "main"))
	}
	if got := pageText(checker2, "#flash"); got != "The files have been released; they are being uploaded to the job server." {
		t.Errorf("after releasing the page says %q", got)
	}
	wait, cancel := context.WithTimeout(checker2, 60*time.Second)
	defer cancel()
	waitForPage(t, wait, "the uploader to send the files", func() (bool, string) {
		got := abStatusLabel(t, wait)
		if got != "Released" && got != "Approved - files uploading" {
			t.Fatalf("after the release the request is %q", got)
		}
		return got == "Released", got + ": " + pageText(wait, "#upload-progress")
	})

	// The researcher opens the released files on the job server.
	abAirlockOpen(t, researcher, a, a.requestPath(), http.StatusOK)
	if got := abStatusLabel(t, researcher); got != "Released" {
		t.Fatalf("the researcher sees the request as %q, want Released", got)
	}
	links := browserGet(t, researcher, "reading the released files", chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Array.from(document.querySelectorAll("#released-files a")).map(a => [a.textContent.trim(), a.href]))`))
	prefix := a.d.ServerURL() + "/api/v1/releases/" + a.id + "/files/"
	if len(links) != 2 || links[abCSV] != prefix+abCSV || links[abSVG] != prefix+abSVG {
		t.Fatalf("the released files link to %v, want %s and %s under %s", links, abCSV, abSVG, prefix)
	}
	screenshot(t, researcher, "airlock-request-released")

	for _, name := range []string{abCSV, abSVG} {
		abAirlockOpen(t, researcher, a, a.filePath(name), http.StatusOK)
		want := abFrozen(t, a, definitions(t, researcher, "#file-header")["SHA-256"])

		// In the browser, signed in to the job server.
		if name == abSVG {
			resp, err := chromedp.RunResponse(researcher, chromedp.Navigate(links[name]))
			if err != nil {
				t.Fatalf("opening the released %s: %v", name, err)
			}
			if resp.Status != http.StatusOK || !strings.HasPrefix(resp.MimeType, "image/svg+xml") {
				t.Errorf("the released %s answered %d %s, want 200 image/svg+xml", name, resp.Status, resp.MimeType)
			}
			if got := browserGet(t, researcher, "reading the SVG", chromedp.Evaluate[string](`document.documentElement.localName`)); got != "svg" {
				t.Errorf("the released %s opens as a <%s> document, want <svg>", name, got)
			}
		} else {
			// The browser may save a CSV rather than show it: fetch it
			// from a job server page with the session instead.
			abAirlockOpenURL(t, researcher, a.d.ServerURL()+"/")
			got := browserGet(t, researcher, "fetching the released CSV", chromedp.Evaluate[string](fmt.Sprintf(
				`fetch(%q, {credentials: "same-origin"}).then(async r => r.status + "\n" + await r.text())`, links[name]), chromedp.EvalAwaitPromise))
			if got != "200\n"+string(want) {
				t.Errorf("the released %s fetched in the browser is %.200q, want 200 and the abFrozen copy's %d bytes", name, got, len(want))
			}
		}

		// With Go's client and the browser's job-server session.
		req, err := http.NewRequest(http.MethodGet, links[name], nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(abPageCookie(t, researcher, a.d.ServerURL()+"/", "haven_session"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
			t.Errorf("the released %s answered %d with %d bytes, want 200 and the abFrozen copy's %d bytes", name, resp.StatusCode, len(body), len(want))
		}
	}
}

// abFrameScreenshot is screenshot for a page with a content frame:
// Chromium does not paint a sandboxed frame that was below the window
// when the page loaded, so the page is loaded again in a window tall
// enough to hold the frame, then the window is put back.
func abFrameScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	browserRun(t, ctx, "making the window taller", chromedp.EmulateViewport(1280, 1800), chromedp.Reload())
	screenshot(t, ctx, name)
	browserRun(t, ctx, "putting the window back", chromedp.ResetViewport())
}

// abAirlockOpenURL opens any address in the tab and checks it answered 200.
func abAirlockOpenURL(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(u))
	if err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("%s answered %d", u, resp.Status)
	}
}

// abManifestOutputs reads the workspace's medium-privacy manifest and
// returns the names of its outputs at level.
func abManifestOutputs(t *testing.T, a *abDemo, level string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.mediumDir(), "metadata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Outputs map[string]struct {
			Level string `json:"level"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reading the manifest: %v", err)
	}
	var out []string
	for name, o := range m.Outputs {
		if o.Level == level {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestBrowserAirlockSecurity checks, as the researcher in a browser, that
// Airlock refuses the author a download of their own request's file,
// never lists or serves a highly sensitive output (even one whose file is
// in the medium-privacy folder), and shows a comment's markup as text
// with no script run.
func TestBrowserAirlockSecurity(t *testing.T) {
	browser := newBrowser(t, 3*time.Minute)
	a := abStartDemo(t)
	ctx := abUserBrowser(t, browser)
	abServerSignIn(t, ctx, a, "colmandrews", "/settings/airlock-token/")
	follow(t, ctx, "making a token", chromedp.Click(css(`#airlock-token-form button[type="submit"]`)))
	abAirlockSignIn(t, ctx, a, "colmandrews", elementText(t, ctx, "#token-text"))

	t.Run("author cannot download", func(t *testing.T) {
		for _, name := range []string{abCSV, abSVG} {
			abAirlockOpen(t, ctx, a, a.requestPath()+"download/"+name, http.StatusForbidden)
			if got := pageText(ctx, "#error-message"); got == "" {
				t.Errorf("the refused download of %s explains nothing", name)
			}
			if abHasElement(t, ctx, "table") || strings.Contains(pageText(ctx, "body"), "<svg") {
				t.Errorf("the refused download of %s shows content", name)
			}
		}
	})

	t.Run("highly sensitive outputs are never shown", func(t *testing.T) {
		high := abManifestOutputs(t, a, "highly_sensitive")
		if len(high) == 0 {
			t.Fatal("the workspace's manifest names no highly_sensitive output to check")
		}
		hidden := append([]string{"output/input.feather"}, high...)
		// A copy of each on disk where Airlock reads: it must still be
		// neither listed nor served.
		for _, name := range hidden {
			p := filepath.Join(a.mediumDir(), filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("patient_id,age\n1,42\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ws := "/workspaces/" + abWorkspace + "/"
		for _, page := range []string{ws, ws + "tree/output/", ws + "?show_out_of_date=1"} {
			abAirlockOpen(t, ctx, a, page, http.StatusOK)
			files := browserGet(t, ctx, "reading the tree", chromedp.Evaluate[[]string](
				`Array.from(document.querySelectorAll("ul.tree a")).map(a => a.getAttribute("href"))`))
			for i, f := range files {
				files[i], _, _ = strings.Cut(f, "?")
			}
			if !slices.Contains(files, ws+"tree/"+abCSV) {
				t.Errorf("%s does not list %s: %q", page, abCSV, files)
			}
			html := browserGet(t, ctx, "reading the page", chromedp.Evaluate[string](`document.documentElement.outerHTML`))
			for _, name := range hidden {
				if strings.Contains(html, name) || strings.Contains(html, filepath.Base(name)) {
					t.Errorf("%s mentions the highly sensitive %s", page, name)
				}
			}
		}
		for _, name := range hidden {
			for _, p := range []string{ws + "tree/" + name, ws + "content/" + name, ws + "content/" + name + "?plain=1"} {
				abAirlockOpen(t, ctx, a, p, http.StatusNotFound)
				if strings.Contains(pageText(ctx, "body"), "patient_id") {
					t.Errorf("%s shows the file's content", p)
				}
			}
		}
	})

	t.Run("comment markup is not run", func(t *testing.T) {
		abAirlockOpen(t, ctx, a, a.requestPath(), http.StatusOK)
		title := browserGet(t, ctx, "reading the title", chromedp.Title())
		// Markdown with raw HTML, which Airlock leaves out, and the same
		// markup in a code span, which it shows as text.
		comment := "Counts checked `<script>alert(1)</script>` <script>document.title=\"script ran\"</script> <img src=x onerror=\"document.title='onerror ran'\">"
		browserRun(t, ctx, "writing the comment", chromedp.SendKeys(css("#group-1-comment"), comment))
		if status := follow(t, ctx, "commenting", chromedp.Click(css(`#group-1-comment-form button[type="submit"]`))); status != http.StatusOK {
			t.Fatalf("commenting answered %d: %s", status, pageText(ctx, "main"))
		}
		if got := pageText(ctx, "#flash"); got != "Your comment has been added." {
			t.Errorf("after commenting the page says %q", got)
		}
		bodies := texts(t, ctx, "li.comment .comment-body")
		if len(bodies) != 1 || !strings.HasPrefix(bodies[0], "Counts checked <script>alert(1)</script>") {
			t.Fatalf("the comment shows as %q, want it to start with its text and the code span's markup as text", bodies)
		}
		if strings.Contains(bodies[0], "onerror") || strings.Contains(bodies[0], "<img") || strings.Count(bodies[0], "<script>") != 1 {
			t.Errorf("the comment shows raw HTML outside its code span: %q", bodies[0])
		}
		if n := browserGet(t, ctx, "counting elements in the comment", chromedp.Evaluate[int](
			`document.querySelectorAll(".comment-body script, .comment-body img, .comment-body [onerror]").length`)); n != 0 {
			t.Errorf("the comment made %d script or image elements", n)
		}
		if got := elementText(t, ctx, ".comment-body code"); got != "<script>alert(1)</script>" {
			t.Errorf("the comment's code span shows %q", got)
		}
		// Reload: a script run by the page would have changed the title.
		abAirlockOpen(t, ctx, a, a.requestPath(), http.StatusOK)
		if got := browserGet(t, ctx, "reading the title", chromedp.Title()); got != title {
			t.Errorf("the page's title became %q (was %q): the comment's markup ran", got, title)
		}
	})
}
