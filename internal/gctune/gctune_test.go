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
