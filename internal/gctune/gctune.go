// Package gctune sets the garbage collector for Haven's short-lived
// commands.
package gctune

import (
	"os"
	"runtime/debug"
)

// ShortLivedPercent is the GOGC value for commands that read one input, work
// on it for a few hundred milliseconds and exit (check, graph). Parsing a
// large project.yaml builds a tree that stays live to the end; with the
// default of 100 the collector marks that tree again and again while it
// grows. 400 trades a few tens of megabytes of peak heap on the largest
// projects for about a fifth of the time (docs/benchmarks.md).
const ShortLivedPercent = 400

// ForShortLivedCommand applies ShortLivedPercent unless the user has chosen
// a GOGC of their own. It returns a function that restores the previous
// setting.
func ForShortLivedCommand() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	old := debug.SetGCPercent(ShortLivedPercent)
	return func() { debug.SetGCPercent(old) }
}
