package docker

import (
	"fmt"
	"os"
	"testing"
)

// TestMain serialises this package's test runs across processes (see
// lockDaemon).
func TestMain(m *testing.M) {
	release, err := lockDaemon()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	release()
	os.Exit(code)
}
