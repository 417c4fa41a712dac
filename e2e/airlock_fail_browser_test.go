package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/haven-tre/haven/internal/jobserver"
)

// The output the FAIL-finding scenario adds: a table with a count of 3,
// which the automated disclosure check fails.
const (
	abSmall       = "output/small_counts.csv"
	abSmallAction = `
  small_counts:
    run: python:latest python analysis/small_counts.py
    outputs:
      moderately_sensitive:
        table: output/small_counts.csv
`
	abSmallScript = `import os

os.makedirs("output", exist_ok=True)
with open("output/small_counts.csv", "w") as f:
    f.write("age_group,patients\n18-39,120\n40-64,3\n65+,85\n")
`
)

// TestBrowserAirlockFailFinding takes an output with a disclosure FAIL
// through Airlock in a real browser: the researcher adds it to their
// request from the workspace page and sees the finding before
// submitting; a checker's vote without acknowledging the finding is
// refused and names it, and the vote with the box ticked is recorded.
func TestBrowserAirlockFailFinding(t *testing.T) {
	browser := newBrowser(t, 4*time.Minute)
	a := abStartDemo(t)
	abRunSmallCounts(t, a)

	// The researcher adds the new table to the request the demo opened.
	researcher := abUserBrowser(t, browser)
	abAirlockSignIn(t, researcher, a, "colmandrews", a.token(t, "colmandrews"))
	abAirlockOpen(t, researcher, a, "/workspaces/"+abWorkspace+"/tree/"+abSmall, http.StatusOK)
	if status := follow(t, researcher, "adding "+abSmall, chromedp.Click(css(`#add-file-form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("adding %s answered %d: %s", abSmall, status, pageText(researcher, "main"))
	}
	abAirlockOpen(t, researcher, a, a.filePath(abSmall), http.StatusOK)
	ids := browserGet(t, researcher, "reading the findings", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("#findings tbody tr, #findings li")).map(e => e.textContent)`))
	if !strings.Contains(strings.Join(ids, "\n"), "FAIL") {
		t.Fatalf("the researcher does not see a FAIL finding on %s before submitting: %q\npage: %s", abSmall, ids, pageText(researcher, "main"))
	}
	abAirlockOpen(t, researcher, a, a.requestPath(), http.StatusOK)
	if status := follow(t, researcher, "submitting", chromedp.Click(css(`#action-submit button`))); status != http.StatusOK {
		t.Fatalf("submitting answered %d: %s", status, pageText(researcher, "main"))
	}
	if got := abStatusLabel(t, researcher); got != "Submitted" {
		t.Fatalf("after submitting the request is %q", got)
	}

	// checker1 must acknowledge the FAIL finding to vote on the table.
	checker := abUserBrowser(t, browser)
	abAirlockSignIn(t, checker, a, "checker1", a.token(t, "checker1"))
	abAirlockOpen(t, checker, a, a.filePath(abSmall), http.StatusOK)
	if !abTryVoteWithoutAcknowledging(t, checker, a, abSmall) {
		t.Fatalf("%s has no FAIL finding to acknowledge on its page", abSmall)
	}
	abVoteApproved(t, checker, abSmall)
	for _, name := range []string{abCSV, abSVG} {
		abAirlockOpen(t, checker, a, a.filePath(name), http.StatusOK)
		abVoteApproved(t, checker, name)
	}
	abAirlockOpen(t, checker, a, a.requestPath(), http.StatusOK)
	if status := follow(t, checker, "submitting the review", chromedp.Click(css(`#action-submit-review button`))); status != http.StatusOK {
		t.Fatalf("submitting the review answered %d: %s", status, pageText(checker, "main"))
	}
	if got := abStatusLabel(t, checker); got != "One review submitted" {
		t.Fatalf("after the review the request is %q", got)
	}
	rec, err := a.d.Airlock().Store.Request(context.Background(), a.id)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := rec.Request.File(abSmall)
	v := f.Votes["checker1"]
	if len(f.FailFindings) == 0 || strings.Join(v.Acknowledged, ",") != strings.Join(f.FailFindings, ",") {
		t.Fatalf("checker1's vote acknowledges %v; the file's FAIL findings are %v", v.Acknowledged, f.FailFindings)
	}
}

// abRunSmallCounts commits the small_counts action to the study and runs
// it on TPP, so its table lands in the workspace Airlock reads.
func abRunSmallCounts(t *testing.T, a *abDemo) {
	t.Helper()
	repo := filepath.Join(a.dir, "repos", abWorkspace)
	yaml, err := os.ReadFile(filepath.Join(repo, "project.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "project.yaml"), append(yaml, abSmallAction...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "analysis", "small_counts.py"), []byte(abSmallScript), 0o644); err != nil {
		t.Fatal(err)
	}
	commitAsResearcher(t, repo, "Count patients by age group")
	ctx := context.Background()
	res, err := a.d.Server().Service.Submit(ctx, jobserver.SubmitInput{
		User: a.d.User("colmandrews"), Workspace: abWorkspace, Backend: "tpp", Actions: []string{"small_counts"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := a.d.WaitJobRequest(wctx, res.Request.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.mediumDir(), filepath.FromSlash(abSmall))); err != nil {
		t.Fatalf("small_counts did not reach medium privacy: %v", err)
	}
}
