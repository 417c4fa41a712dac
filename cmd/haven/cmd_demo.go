package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/haven-tre/haven/internal/demo"
	"github.com/spf13/cobra"
)

func (a *app) demoCommand() *cobra.Command {
	var (
		once, asJSON              bool
		dir, serverAddr, airlockA string
		timeout                   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo [--once] [--dir DIR]",
		Short: "Run the job server, agents and Airlock together on this machine, with demo data",
		Long: `Demo starts a job server, an agent for each of two backends (TPP and
EMIS, artificial data only, jobs run as local processes) and the TPP
backend's Airlock, in one process, talking to each other over loopback
HTTP exactly as separate machines would. It creates the organisations,
projects, workspaces and users of three published job request pages,
submits their job requests with the published numbers and identifiers
(job requests 4897, 9050 and 10898, the last cancelled by its user), runs
them, and opens a release request in Airlock with a CSV and an SVG. Then
it prints the addresses and sign-in details and serves until Ctrl-C.

With --once it plays the researcher and both output checkers as well,
through to the released files on the job server, prints a summary of
every job request, job and release, and exits: 0 when every expected
state was reached, 1 otherwise.

Everything lives under --dir (default: a new temporary directory, kept and
printed). The demo needs git and python3.`,
		Example: `  haven demo
  haven demo --once --dir /tmp/haven-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := a.stdout
			if asJSON {
				out = a.stderr
			}
			sum, err := demo.Run(ctx, demo.Config{
				Dir: dir, Once: once, ServerAddr: serverAddr, AirlockAddr: airlockA,
				Out: out, Timeout: timeout,
			})
			if asJSON && sum != nil {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(sum); jerr != nil && err == nil {
					err = jerr
				}
			}
			if err != nil {
				return err
			}
			if once && !sum.OK() {
				return fmt.Errorf("the demo did not reach every expected state (see above)")
			}
			if once {
				fmt.Fprintln(out, "\nEvery expected state was reached.")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&once, "once", false, "run the whole script headless, check every state, and exit")
	f.StringVar(&dir, "dir", "", "directory for everything the demo makes (default: a new temporary directory)")
	f.StringVar(&serverAddr, "server-listen", "", "address of the job server's pages (default 127.0.0.1:8000, or any free port)")
	f.StringVar(&airlockA, "airlock-listen", "", "address of Airlock's pages (default 127.0.0.1:8001, or any free port)")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up on the jobs and the release after this long")
	f.BoolVar(&asJSON, "json", false, "with --once, print the summary as JSON on standard output (progress goes to standard error)")
	return cmd
}
