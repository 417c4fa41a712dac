package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/actions"
	"github.com/haven-tre/haven/internal/agent"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/docker"
	"github.com/haven-tre/haven/internal/executor/local"
	"github.com/haven-tre/haven/internal/gitrepo"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/spf13/cobra"
)

func (a *app) agentCommand() *cobra.Command {
	var (
		serverURL, backend, tokenFile, kind string
		highDir, mediumDir, stateDir        string
		maxJobs                             int
	)
	cmd := &cobra.Command{
		Use:   "agent --server URL --backend SLUG --token-file F",
		Short: "Run a backend's agent: pull jobs from the server and run them here",
		Long: `Agent runs inside a secure backend. It only calls out to the server: it
polls for work, runs each job with the same runner as 'haven run', keeps
outputs in the backend's high-privacy directory (and moderately_sensitive
ones in the medium-privacy directory), and reports states. No file name or
log line leaves the backend. It reconnects on its own when the server is
away.

Stop it with Ctrl-C: jobs not yet started go back to the queue; jobs
running are picked up again by the next agent started on the same
--state-dir.`,
		Example: `  haven agent --server https://jobs.example.org --backend tpp --token-file /etc/haven/tpp.agent-token \
      --high-privacy-dir /srv/high --medium-privacy-dir /srv/medium --state-dir /var/lib/haven-agent`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if serverURL == "" || backend == "" || tokenFile == "" {
				return usageError{fmt.Errorf("--server, --backend and --token-file are required")}
			}
			tok, err := readSecret(tokenFile, "agent token")
			if err != nil {
				return err
			}
			if tok == "" {
				return haven.Errorf(haven.EINVALID, "%s is empty: put the backend's agent token in it (haven server admin create-backend prints it)", tokenFile)
			}
			for _, d := range []*string{&highDir, &mediumDir, &stateDir} {
				if *d == "" {
					continue
				}
				abs, err := filepath.Abs(*d)
				if err != nil {
					return haven.Errorf(haven.EINVALID, "bad directory %s: %v", *d, err)
				}
				*d = abs
				if err := os.MkdirAll(abs, 0o700); err != nil {
					return haven.Errorf(haven.EINVALID, "cannot create %s: %v", abs, err)
				}
			}
			var exec executor.Executor
			switch kind {
			case executorLocal:
				exec = local.New(local.Config{Listing: outputs.NewCodeListing(), Native: actions.Native()})
			case executorDocker:
				d, err := docker.NewFromEnv(ctx, docker.Options{})
				if err != nil {
					return haven.Errorf(haven.EINVALID, "the docker executor needs a running Docker daemon: %v; start Docker, or use --executor local", err)
				}
				defer d.Close()
				exec = d
			default:
				return usageError{fmt.Errorf("unknown --executor %q: use local or docker", kind)}
			}
			log := slog.New(slog.NewJSONHandler(a.stderr, nil))
			ag, err := agent.New(ctx, agent.Config{
				ServerURL: serverURL, Backend: backend, Token: tok,
				Executor: exec, HighDir: highDir, MediumDir: mediumDir, StateDir: stateDir,
				Code:    gitrepo.New(filepath.Join(stateDir, "git")),
				MaxJobs: maxJobs, Logger: log, Now: time.Now,
			})
			if err != nil {
				return err
			}
			defer ag.Close()
			fmt.Fprintf(a.stdout, "Haven agent for backend %s polling %s\n", backend, serverURL)
			if err := ag.Run(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "the job server's URL (required)")
	f.StringVar(&backend, "backend", "", "this backend's slug (required)")
	f.StringVar(&tokenFile, "token-file", "", `file holding the backend's agent token, "-" for standard input (required)`)
	f.StringVar(&kind, "executor", executorDocker, "where jobs run: docker or local (host processes)")
	f.StringVar(&highDir, "high-privacy-dir", "high-privacy", "where workspaces' outputs land (never leaves the backend)")
	f.StringVar(&mediumDir, "medium-privacy-dir", "medium-privacy", "where moderately_sensitive outputs are copied for review")
	f.StringVar(&stateDir, "state-dir", "agent-state", "the agent's job store, code checkouts, scratch space and logs")
	f.IntVar(&maxJobs, "max-jobs", 2, "jobs run at once")
	return cmd
}
