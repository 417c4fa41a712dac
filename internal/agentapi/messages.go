package agentapi

import (
	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// Fixed messages an agent sends instead of the runner's own, which may
// name files or quote logs (spec §7.7).
const (
	// MsgUnmatchedPatterns replaces the list of patterns nothing matched.
	MsgUnmatchedPatterns = "Outputs matching expected patterns were not found. See job log for details."
	// MsgExcludedSuffix follows "Completed successfully" when Level-4
	// checks kept moderately sensitive files out of the medium-privacy
	// workspace.
	MsgExcludedSuffix = ", but some file(s) marked as moderately_sensitive were excluded. See job log for details."
	// MsgExitCodePrefix starts the message of a non-zero exit that has no
	// fixed explanation; the exit code follows.
	MsgExitCodePrefix = "Job exited with an error: exit code "
	// MsgTimedOut is a job stopped at its time limit.
	MsgTimedOut = "Job exited with an error: " + "Job exceeded its time limit"
)

// templates are the messages allowed for a code besides its own fixed
// message. In a template '#' stands for a run of 1 to 20 ASCII digits:
// numbers are the only variable part of anything that leaves a backend.
var templates = buildTemplates()

func buildTemplates() map[haven.StatusCode][]string {
	t := map[haven.StatusCode][]string{
		haven.StatusSucceeded: {
			"Completed successfully" + MsgExcludedSuffix,
			"Completed successfully, but # file(s) marked as moderately_sensitive were excluded. See job log for details.",
		},
		haven.StatusUnmatchedPatterns: {MsgUnmatchedPatterns},
		haven.StatusNonzeroExit: {
			MsgExitCodePrefix + "#",
			MsgExitCodePrefix + "-#",
			MsgTimedOut,
			"Job exited with an error: " + outputs.OOMMessage(0),
			"Job exited with an error: Job ran out of memory (limit was #.#GB)",
		},
	}
	// The fixed explanations of database actions' exit codes, exactly as
	// the runner words them.
	plain := haven.StatusNonzeroExit.Message()
	for code := 1; code < 256; code++ {
		if _, msg := outputs.FinalStatus(&executor.Results{ExitCode: code}, true); msg != plain {
			t[haven.StatusNonzeroExit] = append(t[haven.StatusNonzeroExit], msg)
		}
	}
	return t
}

// AllowedMessage reports whether msg may be sent off a backend as the
// status message of code: the code's own fixed message (or "" for it), or
// one of the fixed templates for the code, where only runs of digits vary.
// Anything else (a file name, a path, a pattern, a log line, an exception)
// is refused.
func AllowedMessage(code haven.StatusCode, msg string) bool {
	if !code.Known() {
		return false
	}
	if msg == "" || msg == code.Message() {
		return true
	}
	for _, t := range templates[code] {
		if matchTemplate(t, msg) {
			return true
		}
	}
	return false
}

// maxDigits bounds a '#' run.
const maxDigits = 20

// matchTemplate reports whether s is t with each '#' replaced by 1 to 20
// ASCII digits.
func matchTemplate(t, s string) bool {
	i := 0
	for k := 0; k < len(t); k++ {
		if t[k] != '#' {
			if i >= len(s) || s[i] != t[k] {
				return false
			}
			i++
			continue
		}
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		if n == 0 || n > maxDigits {
			return false
		}
	}
	return i == len(s)
}
