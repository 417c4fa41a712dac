package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoOnce runs `haven demo --once --json` as a user would and checks
// the summary: the published job requests with their published job
// identifiers and final states, and the release fetched back from the job
// server.
func TestDemoOnce(t *testing.T) {
	needGit(t)
	needPython(t)
	dir := filepath.Join(t.TempDir(), "demo")
	r := runHaven(t, t.TempDir(), "demo", "--once", "--json", "--dir", dir)
	r.want(t, 0)
	var sum struct {
		Requests []struct {
			Number     int64  `json:"number"`
			Identifier string `json:"identifier"`
			Status     string `json:"status"`
			Jobs       []struct {
				Action, Identifier, State string
				StatusCode                string `json:"status_code"`
				StatusMessage             string `json:"status_message"`
			} `json:"jobs"`
		} `json:"job_requests"`
		Release struct {
			Status string `json:"status"`
			Files  []struct {
				Name     string `json:"name"`
				Verified bool   `json:"verified"`
			} `json:"files"`
		} `json:"release_request"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("the summary is not JSON: %v\n%s", err, r.stdout)
	}
	want := map[int64]struct{ id, status, jobs string }{
		4897:  {"azjnf6j7xp5hvqyt", "succeeded", "generate_notebook=succeeded"},
		9050:  {"egdoqvhx25cbvasp", "succeeded", "counts:yqceq4e2krqcxs55=succeeded freq_plots:2sd34hbf26lozxo7=succeeded"},
		10898: {"pzztw7wladpqkpqb", "failed", "test_action:6nhad5m5vkyxqf4z=failed/cancelled_by_user/Cancelled by user"},
	}
	seen := 0
	for _, jr := range sum.Requests {
		w, ok := want[jr.Number]
		if !ok {
			continue
		}
		seen++
		var jobs []string
		for _, j := range jr.Jobs {
			s := j.Action
			if jr.Number != 4897 {
				s += ":" + j.Identifier
			}
			s += "=" + j.State
			if j.State == "failed" {
				s += "/" + j.StatusCode + "/" + j.StatusMessage
			}
			jobs = append(jobs, s)
		}
		if jr.Identifier != w.id || jr.Status != w.status || strings.Join(jobs, " ") != w.jobs {
			t.Errorf("job request %d: %s %s %s\nwant %s %s %s", jr.Number, jr.Identifier, jr.Status, strings.Join(jobs, " "), w.id, w.status, w.jobs)
		}
	}
	if seen != len(want) {
		t.Fatalf("the summary has %d of the %d published job requests:\n%s", seen, len(want), r.stdout)
	}
	if sum.Release.Status != "RELEASED" || len(sum.Release.Files) != 2 || len(sum.Problems) != 0 {
		t.Fatalf("release %+v, problems %v", sum.Release, sum.Problems)
	}
	for _, f := range sum.Release.Files {
		if !f.Verified {
			t.Errorf("%s was not fetched back from the job server with its hash", f.Name)
		}
	}
	if !strings.Contains(r.stderr, "Every expected state was reached.") {
		t.Errorf("no closing line on standard error:\n%s", r.stderr)
	}
	// A second run into the same directory is refused: the demo starts
	// from scratch.
	again := runHaven(t, t.TempDir(), "demo", "--once", "--dir", dir)
	again.want(t, 1)
	if !strings.Contains(again.stderr, "is not empty") || strings.Contains(again.stderr, "goroutine") {
		t.Fatalf("second run into the same folder: %s", again.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "demo.log")); err != nil {
		t.Fatal(err)
	}
}
