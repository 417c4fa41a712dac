//go:build unix

package docker

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDaemon takes an exclusive lock shared by every process running these
// tests on this machine, and returns its release. Container names are
// global to the daemon and the conformance suite's job ids are fixed, so
// two `go test` runs at once would remove each other's containers.
func lockDaemon() (release func(), err error) {
	path := filepath.Join(os.TempDir(), "haven-docker-executor-tests.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open test lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}
