package agent

import (
	"log/slog"
	"os"
)

// debugLogger shows the agents' logs on stderr when HAVEN_TEST_LOG=1.
var debugLogger = func() *slog.Logger {
	if os.Getenv("HAVEN_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}()
