package gctune

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestForShortLivedCommand(t *testing.T) {
	t.Setenv("GOGC", "") // LookupEnv sees it as set
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	restore := ForShortLivedCommand()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the percent changed to %d", got)
	}
	restore()
}

func TestForShortLivedCommandWithoutGOGC(t *testing.T) {
	t.Setenv("GOGC", "x") // restored after the test
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	restore := ForShortLivedCommand()
	if got := debug.SetGCPercent(ShortLivedPercent); got != ShortLivedPercent {
		t.Errorf("percent %d, want %d", got, ShortLivedPercent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("restore left %d, want 100", got)
	}
}

func TestForBatchCommand(t *testing.T) {
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Setenv(k, "x")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	if availableMemory() == 0 {
		t.Skip("memory size unknown here: ForBatchCommand falls back to ForShortLivedCommand")
	}
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	restore := ForBatchCommand()
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("collector percent %d, want off (-1)", got)
	}
	limit := debug.SetMemoryLimit(-1)
	if want := int64(float64(availableMemory()) * BatchMemoryShare); limit != want {
		t.Errorf("memory limit %d, want %d", limit, want)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("restore left percent %d, want 100", got)
	}
}

func TestForBatchCommandKeepsUserSettings(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	restore := ForBatchCommand()
	defer restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOMEMLIMIT set the percent changed to %d", got)
	}
}

func TestForStreamingCommand(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set in the environment")
	}
	before := debug.SetMemoryLimit(-1)
	restore := ForStreamingCommand()
	if got := debug.SetMemoryLimit(-1); got != StreamingLimit {
		t.Errorf("memory limit %d, want %d", got, StreamingLimit)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("memory limit %d after restore, want %d", got, before)
	}
}
