//go:build unix && !linux

package local

import (
	"errors"
	"os/exec"
)

// waitProcess reaps cmd's process, then calls beforeReap. Without Linux's
// waitid(WNOWAIT) the process is reaped first, so there is a tiny window in
// which its process group id could be reused before beforeReap signals it.
func waitProcess(cmd *exec.Cmd, beforeReap func()) error {
	err := cmd.Wait()
	beforeReap()
	return err
}

// procStart is unavailable without /proc: an orphan's identity cannot be
// checked.
func procStart(int) (uint64, error) { return 0, errors.ErrUnsupported }

// killOrphan never signals without proof the process is the job's own.
func killOrphan(record) bool { return false }
