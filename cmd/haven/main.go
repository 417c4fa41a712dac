// Command haven is the Haven trusted research environment: it checks,
// plans and runs OpenSAFELY-compatible pipelines, and serves the job server,
// backend agent and output airlock.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
