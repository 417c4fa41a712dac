package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/haven-tre/haven/internal/airlock"
	"github.com/haven-tre/haven/internal/airlock/review"
	"github.com/haven-tre/haven/internal/releaseapi"
)

// The release request the demo opens: the two outputs of job request
// 9050, a table and the chart drawn from it.
const (
	releaseWorkspace = "primary-care-covid-codes-research"
	releaseCSV       = "output/caseness/codecounts_week.csv"
	releaseSVG       = "output/caseness/plots.svg"
	releaseContext   = "Weekly counts of COVID-19 related codes recorded in primary care, by code group (codecounts_week.csv), and the chart drawn from that table (plots.svg). Population: every patient registered at a practice on the TPP backend in the study period; each count is a number of patients with the code recorded in that week."
	releaseControls  = "Counts from 1 to 7 are redacted, and every other count is rounded to the nearest 5 (analysis/disclosure.py); the chart is drawn from the controlled counts only. Zero is kept."
)

// airlockUser signs user in to Airlock as a person would: a one-time
// token from the job server, exchanged by Airlock for the user's profile.
func (d *Demo) airlockUser(ctx context.Context, username string) (*airlock.User, error) {
	tok, _, err := d.svc.CreateAirlockLoginToken(ctx, d.users[username])
	if err != nil {
		return nil, fmt.Errorf("make an Airlock sign-in token for %s: %w", username, err)
	}
	c := &releaseapi.Client{BaseURL: d.serverURL, Token: d.tokens["tpp"].Airlock, Backend: "tpp", HTTP: &http.Client{Timeout: 30 * time.Second}}
	prof, err := c.Authenticate(ctx, username, tok)
	if err != nil {
		return nil, fmt.Errorf("sign %s in to Airlock: %w", username, err)
	}
	raw, err := json.Marshal(prof)
	if err != nil {
		return nil, err
	}
	return airlock.UserFromProfile(raw)
}

// openRelease opens the researcher's release request with the CSV and the
// SVG in one file group, its context and controls written.
func (d *Demo) openRelease(ctx context.Context) (ReleaseSummary, error) {
	rs := ReleaseSummary{Workspace: releaseWorkspace}
	u, err := d.airlockUser(ctx, "colmandrews")
	if err != nil {
		return rs, err
	}
	svc := d.airlock.Service
	var id string
	for _, f := range []string{releaseCSV, releaseSVG} {
		rec, err := svc.AddFile(ctx, u, airlock.AddFileInput{Workspace: releaseWorkspace, Path: f})
		if err != nil {
			return rs, fmt.Errorf("add %s to a release request: %w", f, err)
		}
		id = rec.Request.ID
	}
	if _, err := svc.Act(ctx, u, id, review.EditContext, review.Params{Group: airlock.DefaultGroup, Context: releaseContext, Controls: releaseControls}); err != nil {
		return rs, fmt.Errorf("write the request's context and controls: %w", err)
	}
	rs.ID = id
	d.say("Opened release request %s in Airlock with %s and %s.", id, releaseCSV, releaseSVG)
	return d.releaseSummary(ctx, rs)
}

// Review plays the rest of the release: the researcher submits, both
// output checkers approve every output (acknowledging each FAIL finding
// of the automated checks) and submit their reviews, the first checker
// releases, and the uploader sends the files to the job server. It then
// checks the server has the very bytes Airlock froze.
func (d *Demo) Review(ctx context.Context, sum *Summary) error {
	svc := d.airlock.Service
	id := sum.Release.ID
	researcher, err := d.airlockUser(ctx, "colmandrews")
	if err != nil {
		return err
	}
	if _, err := svc.Act(ctx, researcher, id, review.Submit, review.Params{}); err != nil {
		return fmt.Errorf("submit the release request: %w", err)
	}
	var first *airlock.User
	for _, name := range []string{"checker1", "checker2"} {
		c, err := d.airlockUser(ctx, name)
		if err != nil {
			return err
		}
		if first == nil {
			first = c
		}
		v, err := svc.RequestView(ctx, c, id)
		if err != nil {
			return err
		}
		for _, g := range v.Groups {
			for _, f := range g.Files {
				if f.Type != review.Output {
					continue
				}
				if _, err := svc.Act(ctx, c, id, review.CastVote, review.Params{File: f.Name, Vote: review.VoteApproved, Acknowledged: f.FailIDs}); err != nil {
					return fmt.Errorf("%s's vote on %s: %w", name, f.Name, err)
				}
			}
		}
		if _, err := svc.Act(ctx, c, id, review.SubmitReview, review.Params{}); err != nil {
			return fmt.Errorf("%s's review: %w", name, err)
		}
	}
	if _, err := svc.Release(ctx, first, id); err != nil {
		return fmt.Errorf("release the files: %w", err)
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		rec, err := d.airlock.Store.Request(ctx, id)
		if err != nil {
			return err
		}
		if rec.Request.Status == review.Released {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the release was not uploaded in time (request %s is %s): %w", id, rec.Request.Status, ctx.Err())
		case <-t.C:
		}
	}
	rs, err := d.releaseSummary(ctx, sum.Release)
	sum.Release = rs
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rs.Status != string(review.Released) {
		sum.Problems = append(sum.Problems, fmt.Sprintf("release request %s is %s, not RELEASED", id, rs.Status))
	}
	return d.checkReleased(ctx, sum)
}

// checkReleased fetches each released file from the job server as a
// project member would and compares it with Airlock's frozen copy.
func (d *Demo) checkReleased(ctx context.Context, sum *Summary) error {
	tok, _, err := d.svc.CreateAPIToken(ctx, "colmandrews")
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	for i, f := range sum.Release.Files {
		u := d.serverURL + "/api/v1/releases/" + url.PathEscape(sum.Release.ID) + "/files/" + escapePath(f.Name)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		sumb := sha256.Sum256(body)
		got := hex.EncodeToString(sumb[:])
		switch {
		case resp.StatusCode != http.StatusOK:
			sum.Problems = append(sum.Problems, fmt.Sprintf("the job server answered %d for released file %s", resp.StatusCode, f.Name))
		case got != f.SHA256:
			sum.Problems = append(sum.Problems, fmt.Sprintf("released file %s on the job server has sha256 %s, not %s", f.Name, got, f.SHA256))
		default:
			sum.Release.Files[i].Verified = true
			sum.Release.Files[i].URL = u
		}
	}
	return nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// releaseSummary describes the release request as Airlock has it.
func (d *Demo) releaseSummary(ctx context.Context, rs ReleaseSummary) (ReleaseSummary, error) {
	rec, err := d.airlock.Store.Request(ctx, rs.ID)
	if err != nil {
		return rs, err
	}
	rs.Status = string(rec.Request.Status)
	rs.Author = rec.Request.Author
	verified := map[string]ReleaseFile{}
	for _, f := range rs.Files {
		verified[f.Name] = f
	}
	rs.Files = nil
	for _, name := range rec.Request.OutputFiles() {
		f := verified[name]
		f.Name = name
		if m := rec.Files[name]; m != nil {
			f.SHA256, f.Size = m.SHA256, m.Size
			f.Uploaded = m.UploadedAt != nil
			if rep := airlock.Report(m.Report); rep != nil {
				f.Verdict = rep.Verdict.String()
			}
		}
		rs.Files = append(rs.Files, f)
	}
	return rs, nil
}
