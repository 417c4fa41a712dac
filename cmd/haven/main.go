// Command haven is the Haven trusted research environment: it checks,
// plans and runs OpenSAFELY-compatible pipelines, and serves the job server,
// backend agent and output airlock.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	// HAVEN_CPUPROFILE=file writes a CPU profile of the command, for
	// performance reports (go tool pprof -top haven file).
	if path := os.Getenv("HAVEN_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code != 0 {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
}
