package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBinary builds the real haven binary, with a stamped version, and runs
// it as a user would.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "haven")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	const stamp = "v0.0.0-binarytest"
	build := exec.Command(gobin, "build", "-ldflags", "-X main.version="+stamp, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	haven := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("running haven %s: %v", strings.Join(args, " "), err)
		}
		return stdout.String(), stderr.String(), code
	}

	out, _, code := haven("--help")
	if code != 0 || !strings.Contains(out, "check") || !strings.Contains(out, "graph") {
		t.Errorf("haven --help: exit %d\n%s", code, out)
	}

	out, _, code = haven("version")
	if code != 0 || !strings.HasPrefix(out, "haven "+stamp+" (") {
		t.Errorf("haven version: exit %d, output %q, want it to start with %q", code, out, "haven "+stamp)
	}

	out, _, code = haven("version", "--json")
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 || v["version"] != stamp {
		t.Errorf("haven version --json: exit %d, %q (%v)", code, out, err)
	}

	_, errOut, code := haven("bogus")
	if code != exitUsage || !strings.Contains(errOut, `unknown command "bogus"`) {
		t.Errorf("haven bogus: exit %d, stderr %q", code, errOut)
	}

	out, _, code = haven("check", "--project-dir", filepath.Join(repoRoot(t), "examples", "flucats"))
	if code != 0 || !strings.Contains(out, "is valid") {
		t.Errorf("haven check on flucats: exit %d\n%s", code, out)
	}

	out, errOut, code = haven("check", "--project-dir", threeMistakesDir)
	if code != exitInvalid || strings.Contains(out, "\x1b") || errOut != "" {
		t.Errorf("haven check on three-mistakes: exit %d\nstdout:\n%q\nstderr:\n%s", code, out, errOut)
	}
}
