// Command serverload is the job server's load benchmark harness, run by
// bench/server.sh:
//
//	serverload seed  --data-dir DIR | --database-url URL  [--jobs 100000] [--workspaces 200]
//	serverload serve --data-dir DIR | --database-url URL  [--listen 127.0.0.1:8000] [--hold 0]
//	serverload hello [--listen 127.0.0.1:8001]
//
// seed fills an empty job server database with an organisation, a project,
// workspaces, a backend, a user and a history of finished job requests
// (10 jobs each, every job in a final state with realistic timestamps),
// prints the URL of one job request page and writes the backend's agent
// token to a file.
//
// serve runs the real job server (internal/server) over that database.
// Its --hold is how long an agent's poll waits for work; the default, 0,
// makes a poll with nothing to claim answer 204 at once (see serveCommand).
//
// hello is the ceiling: a minimal net/http handler answering every
// request with a short text body.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: serverload <command> [flags]

commands:
  seed    fill an empty job server database with a history of job requests
  serve   run the job server (internal/server) for the load benchmark
  hello   run a minimal net/http hello-world server (the ceiling)

Run 'serverload <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(os.Stderr, "serverload: %v\n", err)
		}
		os.Exit(2)
	}
}

// errUsage is returned after a usage message was printed.
var errUsage = errors.New("usage")

// run runs one command; main and the tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "seed":
		return seedCommand(ctx, args[1:], stdout, stderr)
	case "serve":
		return serveCommand(ctx, args[1:], stdout, stderr)
	case "hello":
		return helloCommand(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "serverload: unknown command %q\n\n%s", args[0], usage)
	return errUsage
}
