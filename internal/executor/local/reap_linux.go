//go:build linux

package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"unsafe"
)

// pPID is waitid's idtype for "the process with this pid".
const pPID = 1

// waitProcess waits for cmd's process to exit and reaps it, calling
// beforeReap in between. The exited process is then still a zombie, so its
// pid, which is also its process group id, cannot be reused: beforeReap
// can signal the group without ever hitting an unrelated process.
func waitProcess(cmd *exec.Cmd, beforeReap func()) error {
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(cmd.Process.Pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			// On any other error cmd.Wait below reports what went wrong.
			break
		}
	}
	beforeReap()
	return cmd.Wait()
}

// procStart returns a process's start time in clock ticks since boot
// (field 22 of /proc/<pid>/stat), which tells a process from a later one
// that reused its pid.
func procStart(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read process %d start time: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may contain spaces
	// or parentheses itself: the fields after it start at the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("read process %d start time: %w", pid, errors.ErrUnsupported)
	}
	fields := bytes.Fields(data[i+1:])
	const startField = 22 - 3 // fields[0] is field 3 (state)
	if len(fields) <= startField {
		return 0, fmt.Errorf("read process %d start time: short /proc stat line", pid)
	}
	start, err := strconv.ParseUint(string(fields[startField]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read process %d start time: %w", pid, err)
	}
	return start, nil
}

// killOrphan kills the process group of a run started by an earlier
// executor (before a runner restart), but only if its leader is still the
// very process that run started. It reports whether it sent the signal.
func killOrphan(rec record) bool {
	if rec.PID <= 0 || rec.ProcStart == 0 {
		return false
	}
	start, err := procStart(rec.PID)
	if err != nil || start != rec.ProcStart {
		return false
	}
	return syscall.Kill(-rec.PID, syscall.SIGKILL) == nil
}
