package outputs

import (
	"fmt"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
)

// FinalStatus turns what finalize found into the job's final status code
// and message (spec §22.4, the local wording): a cancelled job is
// cancelled_by_user; a job finalized after an executor failure (or nil
// results) is internal_error; a non-zero exit (or an OOM kill or a time-out, whatever
// the exit code) is nonzero_exit, "Job exited with an error" plus ": " and
// the executor's message, or for database jobs the text for a known
// database exit code; exit 0 with unmatched patterns is unmatched_patterns;
// anything else succeeded, with a suffix counting the files kept out of
// the medium-privacy workspace by the Level-4 checks.
func FinalStatus(r *executor.Results, requiresDB bool) (haven.StatusCode, string) {
	switch {
	case r == nil:
		return haven.StatusInternalError, haven.StatusInternalError.Message()
	case r.Cancelled:
		return haven.StatusCancelledByUser, haven.StatusCancelledByUser.Message()
	case r.Errored:
		return haven.StatusInternalError, haven.StatusInternalError.Message()
	case r.ExitCode != 0 || r.OOMKilled || r.TimedOut:
		msg := "Job exited with an error"
		if r.Message != "" {
			msg += ": " + r.Message
		} else if text := databaseExitText(r.ExitCode); requiresDB && text != "" {
			msg += ": " + text
		}
		return haven.StatusNonzeroExit, msg
	case len(r.UnmatchedPatterns) > 0:
		return haven.StatusUnmatchedPatterns, "No outputs found matching patterns:\n - " + strings.Join(r.UnmatchedPatterns, "\n - ")
	}
	msg := "Completed successfully"
	if n := len(r.Level4Excluded); n > 0 {
		msg += fmt.Sprintf(", but %d file(s) marked as moderately_sensitive were excluded. See job log for details.", n)
	}
	return haven.StatusSucceeded, msg
}

// databaseExitText is the user-facing meaning of the exit codes database
// actions (cohort-extractor, ehrQL) use, "" for others.
func databaseExitText(code int) string {
	switch code {
	case 2:
		return "There was a problem with the command line arguments in your ehrQL action; please confirm that it runs locally"
	case 3:
		return "A transient database error occurred, your job may run if you try it again, if it keeps failing then contact tech support"
	case 4:
		return "New data is being imported into the database, please try again in a few hours"
	case 5:
		return "Something went wrong with the database, please contact tech support"
	case 6:
		return "Your ehrQL is valid but it produced SQL which is too complex for the database to run; please contact tech-support so we can help you simplify it."
	case 10:
		return "There was a problem reading your ehrQL code; please confirm that it runs locally"
	case 11:
		return "There was a problem reading one of the supplied data files"
	case 12:
		return "You do not have the required permissions for the ehrQL you are trying to run"
	case 13:
		return "Assurance tests failed; please confirm the tests pass locally"
	case 14:
		return "Your job was making such slow progress that it was unlikely to complete successfully; please contact tech support so we can help you to simplify it."
	}
	return ""
}

// executorMessage is the executor's message about how the job ended
// (spec §22.3 with Haven decision 6), and the "Did you mean" hint.
func executorMessage(run RunInfo, opts executor.FinalizeOptions, matched int, unmatchedPatterns, unmatchedOutputs []string) (msg, hint string) {
	switch {
	case opts.Cancelled:
		return "Job cancelled by system", ""
	case opts.Error:
		return "Job errored", ""
	case run.OOMKilled:
		return OOMMessage(run.MemoryLimit), ""
	case run.TimedOut:
		return TimeoutMessage(run.Timeout), ""
	case run.ExitCode == 0 && len(unmatchedPatterns) > 0:
		msg = "\n  No outputs found matching patterns:\n - " + strings.Join(unmatchedPatterns, "\n   - ")
		if len(unmatchedOutputs) > 0 {
			hint = "\n  Did you mean to match one of these files instead?\n - " + strings.Join(unmatchedOutputs, "\n   - ")
		}
		return msg, hint
	case run.ExitCode == 0 && matched > 0:
		return "Completed successfully", ""
	case run.ExitCode == 137:
		return "Job killed by OpenSAFELY admin or memory limits", ""
	}
	return "", ""
}

// OOMMessage is the message for a job killed for running out of memory,
// with the limit in GiB to 2 decimals when it is known (limit > 0).
func OOMMessage(limit int64) string {
	if limit <= 0 {
		return "Job ran out of memory"
	}
	return fmt.Sprintf("Job ran out of memory (limit was %.2fGB)", float64(limit)/(1<<30))
}

// TimeoutMessage is the message for a job killed for running past its
// wall-clock limit, e.g. "Job exceeded its time limit of 2h".
func TimeoutMessage(limit time.Duration) string {
	if limit <= 0 {
		return "Job exceeded its time limit"
	}
	return "Job exceeded its time limit of " + FormatDuration(limit)
}

// FormatDuration writes a duration as people configure it: time.Duration's
// form without zero trailing units, so 2h0m0s is 2h, 1h30m0s is 1h30m, and
// 1m30s and 500ms stay as they are.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
