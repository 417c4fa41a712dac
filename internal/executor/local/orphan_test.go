package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// TestCleanupKillsOrphan plays a runner that died while its job ran: the
// job's process group is still alive, and only the run record says so. A
// new executor reports Error, and its Cleanup kills the group.
func TestCleanupKillsOrphan(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1) on PATH")
	}
	root := t.TempDir()
	def := executor.JobDefinition{ID: "orphan", Action: "a", ScratchRoot: filepath.Join(root, "scratch")}
	if err := os.MkdirAll(outputs.ScratchDir(def), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outputs.ScratchDir(def), outputs.MarkerFile), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	start, err := procStart(cmd.Process.Pid)
	if err != nil {
		t.Skipf("cannot read process start times here (%v): orphans are never killed without that proof", err)
	}
	if err := os.Mkdir(runDir(def), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := record{PID: cmd.Process.Pid, ProcStart: start, StartedAt: time.Now().UTC()}
	if err := appendRecord(filepath.Join(runDir(def), recordFile), rec); err != nil {
		t.Fatal(err)
	}

	ex := New(Config{})
	ctx := context.Background()
	st, err := ex.Status(ctx, def)
	if err != nil || st.State != executor.Error || st.Message != lostMessage {
		t.Fatalf("Status: %s %q, %v; want error %q", st.State, st.Message, err, lostMessage)
	}
	if err := ex.Cleanup(ctx, def); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Errorf("orphan ended with %v, want killed by SIGKILL", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Cleanup did not kill the orphaned process group")
	}
	if st, err := ex.Status(ctx, def); err != nil || st.State != executor.Unknown {
		t.Errorf("Status after Cleanup: %s, %v; want unknown", st.State, err)
	}
}

// TestCleanupSparesReusedPID checks that a record whose pid now belongs to
// another process (different start time) never gets that process killed.
func TestCleanupSparesReusedPID(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep(1) on PATH")
	}
	cmd := exec.Command(sleep, "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	start, err := procStart(cmd.Process.Pid)
	if err != nil {
		t.Skipf("cannot read process start times here: %v", err)
	}
	root := t.TempDir()
	def := executor.JobDefinition{ID: "reused", Action: "a", ScratchRoot: filepath.Join(root, "scratch")}
	if err := os.MkdirAll(runDir(def), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := record{PID: cmd.Process.Pid, ProcStart: start + 1, StartedAt: time.Now().UTC()}
	if err := appendRecord(filepath.Join(runDir(def), recordFile), rec); err != nil {
		t.Fatal(err)
	}
	if err := New(Config{}).Cleanup(context.Background(), def); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
		t.Errorf("Cleanup killed a process that only shares the recorded pid: %v", err)
	}
}
