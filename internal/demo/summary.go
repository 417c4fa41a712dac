package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/haven-tre/haven/internal/store"
)

// Summary is what the demo did.
type Summary struct {
	Dir        string           `json:"dir"`
	ServerURL  string           `json:"server_url"`
	AirlockURL string           `json:"airlock_url"`
	Requests   []RequestSummary `json:"job_requests"`
	Release    ReleaseSummary   `json:"release_request"`
	// Problems lists every expected state that was not reached; the demo
	// succeeded when it is empty.
	Problems []string `json:"problems"`
}

// RequestSummary is one job request and its jobs.
type RequestSummary struct {
	Number     int64        `json:"number"`
	Identifier string       `json:"identifier"`
	Workspace  string       `json:"workspace"`
	Backend    string       `json:"backend"`
	Status     string       `json:"status"`
	Published  bool         `json:"published"` // one of the published pages' requests
	Jobs       []JobSummary `json:"jobs"`
	Problems   []string     `json:"problems,omitempty"`
}

// JobSummary is one job.
type JobSummary struct {
	Action        string `json:"action"`
	Identifier    string `json:"identifier"`
	State         string `json:"state"`
	StatusCode    string `json:"status_code,omitempty"`
	StatusMessage string `json:"status_message,omitempty"`
}

// ReleaseSummary is the Airlock release request.
type ReleaseSummary struct {
	ID        string        `json:"id"`
	Workspace string        `json:"workspace"`
	Author    string        `json:"author"`
	Status    string        `json:"status"`
	Files     []ReleaseFile `json:"files"`
}

// ReleaseFile is one output on the release request.
type ReleaseFile struct {
	Name     string `json:"name"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Verdict  string `json:"automated_check"`
	Uploaded bool   `json:"uploaded"`
	// Verified: fetched back from the job server with the same sha256.
	Verified bool   `json:"verified"`
	URL      string `json:"url,omitempty"`
}

// OK reports whether every expected state was reached.
func (s *Summary) OK() bool { return len(s.AllProblems()) == 0 }

// AllProblems gathers the problems of the summary and its requests.
func (s *Summary) AllProblems() []string {
	out := append([]string(nil), s.Problems...)
	for _, r := range s.Requests {
		out = append(out, r.Problems...)
	}
	return out
}

// Print writes the summary for people.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Job requests")
	for _, r := range s.Requests {
		mark := ""
		if r.Published {
			mark = " (as published)"
		}
		fmt.Fprintf(w, "  %d  %s  %s on %s: %s%s\n", r.Number, r.Identifier, r.Workspace, strings.ToUpper(r.Backend), store.StatusLabel(r.Status), mark)
		for _, j := range r.Jobs {
			line := fmt.Sprintf("      %-36s %s  %s", j.Action, j.Identifier, j.State)
			if j.StatusCode != "" && j.StatusCode != j.State {
				line += "  " + j.StatusCode
			}
			if j.StatusMessage != "" && j.State == "failed" {
				line += ": " + j.StatusMessage
			}
			fmt.Fprintln(w, line)
		}
	}
	if s.Release.ID != "" {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Release request %s in %s by %s: %s\n", s.Release.ID, s.Release.Workspace, s.Release.Author, s.Release.Status)
		for _, f := range s.Release.Files {
			state := "not uploaded"
			if f.Uploaded {
				state = "uploaded"
			}
			if f.Verified {
				state += ", fetched back from the job server with the same sha256"
			}
			fmt.Fprintf(w, "  %-40s %8d bytes  sha256 %.12s…  automated check %s  %s\n", f.Name, f.Size, f.SHA256, f.Verdict, state)
		}
	}
	if p := s.AllProblems(); len(p) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Not as expected:")
		for _, x := range p {
			fmt.Fprintln(w, "  - "+x)
		}
	}
}

// instructions prints how to use the running demo, with a fresh Airlock
// sign-in token for each of the three people of the release.
func (d *Demo) instructions(ctx context.Context) {
	tokens := map[string]string{}
	for _, u := range []string{"colmandrews", "checker1", "checker2"} {
		if tok, _, err := d.svc.CreateAirlockLoginToken(ctx, d.users[u]); err == nil {
			tokens[u] = tok
		}
	}
	w := d.out
	fmt.Fprintf(w, `
Haven demo is running (Ctrl-C stops it).

  Job server:        %s/
  Airlock (TPP):     %s/

Sign in to the job server with any of these users; the password of all
of them is %q:
`, d.serverURL, d.airlockURL, Password)
	for _, p := range people {
		fmt.Fprintf(w, "  %-12s %s, %s\n", p.username, p.fullname, p.what)
	}
	fmt.Fprintf(w, `
Airlock signs people in with one-time tokens from the job server (its
"Airlock token" page). These are ready, each valid once for one hour:
  colmandrews  %s
  checker1     %s
  checker2     %s

Try the release of one CSV and one SVG:
  1. Airlock as colmandrews: under "Requests", open release request
     %s, read the automated disclosure findings on each
     file, then Submit.
  2. Airlock as checker1 (another browser or a private window): open the
     request, vote on both files (tick each FAIL finding you have
     checked), then Submit review. Then the same as checker2.
  3. As either checker: Release files. The files are uploaded to the job
     server; once the request shows Released, colmandrews can open them
     from the release request page.

The job requests are on the job server, %s/ (a workspace,
then a request; job request 10898 was cancelled by its user).
Started at %s UTC; everything lives in %s.
`, tokens["colmandrews"], tokens["checker1"], tokens["checker2"], dShort(d), d.serverURL, time.Now().UTC().Format("2006-01-02 15:04:05"), d.dir)
}

// dShort is the release request id the demo opened, for the instructions.
func dShort(d *Demo) string {
	recs, err := d.airlock.Store.Requests(context.Background(), astore.Filter{User: "colmandrews"})
	if err != nil || len(recs) == 0 {
		return "(see Requests)"
	}
	return recs[0].Request.ID
}
