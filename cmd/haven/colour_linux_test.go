package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal and returns its controller and terminal
// ends, or skips the test when the system has none.
func openPTY(t *testing.T) (controller, term *os.File) {
	t.Helper()
	controller, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, controller.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		controller.Close()
		t.Skipf("unlocking the pseudo-terminal: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, controller.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		controller.Close()
		t.Skipf("naming the pseudo-terminal: %v", e)
	}
	term, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		controller.Close()
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	return controller, term
}

// runOnTerminal runs haven with stdout and stderr on a pseudo-terminal and
// returns what it printed there.
func runOnTerminal(t *testing.T, args ...string) string {
	t.Helper()
	controller, term := openPTY(t)
	defer controller.Close()
	var got bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&got, controller) // ends with EIO once term is closed
		close(done)
	}()
	Run(context.Background(), args, term, term)
	term.Close()
	<-done
	return got.String()
}

// On a terminal, problems are coloured, unless NO_COLOR is set.
func TestColourOnTerminal(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	out := runOnTerminal(t, "check", "--project-dir", threeMistakesDir)
	if !bytes.Contains([]byte(out), []byte("\x1b[1;31merror\x1b[0m")) {
		t.Errorf("check on a terminal does not colour errors:\n%q", out)
	}
	out = runOnTerminal(t, "graph", "--project-dir", threeMistakesDir)
	if !bytes.Contains([]byte(out), []byte("\x1b[1;31merror\x1b[0m")) {
		t.Errorf("graph on a terminal does not colour errors:\n%q", out)
	}

	t.Setenv("NO_COLOR", "1")
	noANSI(t, "check on a terminal with NO_COLOR", runOnTerminal(t, "check", "--project-dir", threeMistakesDir))
	noANSI(t, "graph on a terminal with NO_COLOR", runOnTerminal(t, "graph", "--project-dir", threeMistakesDir))
	noANSI(t, "check on a terminal with NO_COLOR", runOnTerminal(t, "check", "--project-dir", valveDir))
}
