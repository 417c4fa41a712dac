package agent

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/store"
)

var reDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// redact turns a recorded job state into the update the server may see:
// the code, a message from the fixed table (the runner's own message only
// when it already is one), booleans, the exit code and timestamps. res are
// the finalize results when known; cancelled says the user cancelled the
// job, so a failure while stopping it is reported as the cancellation it
// is. ok is false for codes an agent does not report.
func redact(j *haven.Job, res *executor.Results, cancelled bool) (u agentapi.Update, ok bool) {
	code := j.StatusCode
	msg := j.StatusMessage
	if cancelled && code.IsFinal() && code != haven.StatusSucceeded && code != haven.StatusCancelledByUser {
		code, msg = haven.StatusCancelledByUser, haven.StatusCancelledByUser.Message()
	}
	if !store.AgentMayReport(code) {
		return agentapi.Update{}, false
	}
	unmatched := code == haven.StatusUnmatchedPatterns || (res != nil && len(res.UnmatchedPatterns) > 0)
	excluded := res != nil && len(res.Level4Excluded) > 0
	if code == haven.StatusSucceeded && strings.Contains(msg, "were excluded") {
		excluded = true
	}
	if !agentapi.AllowedMessage(code, msg) {
		msg = fixedMessage(code, j, res, excluded)
	}
	if msg == "" || !agentapi.AllowedMessage(code, msg) { // never send what the server would refuse
		msg = code.Message()
	}
	u = agentapi.Update{
		TimestampNS:          j.StatusCodeUpdatedAt,
		StatusCode:           string(code),
		StatusMessage:        msg,
		HasUnmatchedPatterns: unmatched,
		HasExcludedFiles:     excluded,
	}
	if u.TimestampNS == 0 {
		u.TimestampNS = time.Now().UnixNano()
	}
	if !j.StartedAt.IsZero() {
		t := j.StartedAt.UTC()
		u.StartedAt = &t
	}
	if code.IsFinal() {
		if !j.CompletedAt.IsZero() {
			t := j.CompletedAt.UTC()
			u.CompletedAt = &t
		}
		if j.ExitCode != nil {
			e := *j.ExitCode
			u.ExitCode = &e
		}
	}
	if res != nil && reDigest.MatchString(res.ImageID) {
		u.ImageDigest = res.ImageID
	}
	return u, true
}

// fixedMessage is the message from the fixed table that stands for what
// the runner said about a job.
func fixedMessage(code haven.StatusCode, j *haven.Job, res *executor.Results, excluded bool) string {
	switch code {
	case haven.StatusUnmatchedPatterns:
		return agentapi.MsgUnmatchedPatterns
	case haven.StatusSucceeded:
		if excluded {
			return code.Message() + agentapi.MsgExcludedSuffix
		}
	case haven.StatusNonzeroExit:
		switch {
		case res != nil && res.TimedOut:
			return agentapi.MsgTimedOut
		case res != nil && res.OOMKilled:
			return "Job exited with an error: Job ran out of memory"
		case j.ExitCode != nil:
			return agentapi.MsgExitCodePrefix + strconv.Itoa(*j.ExitCode)
		}
	}
	return code.Message()
}
