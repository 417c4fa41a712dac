package outputs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS flushes the file system that holds dir to disk: everything
// written there, by any process, is durable when it returns. A runner that
// set JobDefinition.DeferSync calls it before it stops, so one flush stands
// for the per-file flushes its jobs' Finalize left out.
func SyncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("flush the file system of %s: %w", dir, err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil && !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("flush the file system of %s: %w", dir, err)
	}
	return nil
}
