// Package gctune sets the garbage collector for Haven's short-lived
// commands.
package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
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

// BatchMemoryShare is the share of the machine's memory (or of the
// cgroup's limit, when lower) up to which ForBatchCommand lets the heap
// grow before collecting.
const BatchMemoryShare = 0.5

// ForBatchCommand is for commands that build one large structure, read it
// and exit (outputs check on a 150 MB table holds about 1 GB of cells to
// the end): the collector is off until the heap nears BatchMemoryShare of
// the memory available, so it never marks the growing structure again
// and again. Without a known memory size it falls back to
// ForShortLivedCommand. A GOGC or GOMEMLIMIT of the user's own is kept.
func ForBatchCommand() (restore func()) {
	_, gogc := os.LookupEnv("GOGC")
	_, limit := os.LookupEnv("GOMEMLIMIT")
	if gogc || limit {
		return func() {}
	}
	avail := availableMemory()
	if avail == 0 {
		return ForShortLivedCommand()
	}
	oldLimit := debug.SetMemoryLimit(int64(float64(avail) * BatchMemoryShare))
	oldPercent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
}

// availableMemory is the physical memory, or the cgroup v2 memory limit
// when one is set and lower; 0 when neither is known.
func availableMemory() uint64 {
	mem := physicalMemory()
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (mem == 0 || n < mem) {
			mem = n
		}
	}
	return mem
}

// StreamingLimit is the soft memory limit of commands that stream rows
// through a bounded window (haven data generate): the collector runs
// harder as the heap nears it, so peak memory stays flat whatever the row
// count (docs/benchmarks.md).
const StreamingLimit = 100 << 20

// ForStreamingCommand sets StreamingLimit unless the user has chosen a
// GOMEMLIMIT of their own. It is a soft limit: a window that needs more
// still gets it.
func ForStreamingCommand() (restore func()) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return func() {}
	}
	old := debug.SetMemoryLimit(StreamingLimit)
	return func() { debug.SetMemoryLimit(old) }
}
