package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/haven-tre/haven"
	airlockapp "github.com/haven-tre/haven/internal/airlock/app"
	"github.com/haven-tre/haven/internal/airlock/astore"
	"github.com/spf13/cobra"
)

func (a *app) airlockCommand() *cobra.Command {
	var (
		listen, serverURL, publicURL, backend, tokenFile string
		mediumDir, dataDir                               string
		secure                                           bool
	)
	cmd := &cobra.Command{
		Use:   "airlock --server URL --backend SLUG --token-file F --medium-privacy-dir DIR",
		Short: "Run a backend's Airlock: review moderately sensitive outputs and release them",
		Long: `Airlock runs inside a secure backend next to the agent. Researchers browse
their workspaces' moderately_sensitive outputs (never highly_sensitive
ones), put files in a release request with their context and disclosure
controls, and submit it. Two output checkers who are not its authors each
review it independently, with the automated disclosure findings beside
every file; once both approve, a checker releases the files, and Airlock
uploads them to the job server, which keeps only bytes with the hashes
Airlock declared.

Airlock listens only on the backend's network (--listen) and calls only
the job server (--server) with the backend's Airlock token. People sign in
with their username and a one-time token from the job server's "Airlock
token" page.`,
		Example: `  haven airlock --server https://jobs.example.org --backend tpp --token-file /etc/haven/tpp.airlock-token \
      --medium-privacy-dir /srv/medium --data-dir /var/lib/haven-airlock --listen 10.0.0.5:8001`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if serverURL == "" || backend == "" || tokenFile == "" {
				return usageError{fmt.Errorf("--server, --backend and --token-file are required")}
			}
			tok, err := readSecret(tokenFile, "Airlock token")
			if err != nil {
				return err
			}
			if tok == "" {
				return haven.Errorf(haven.EINVALID, "%s is empty: put the backend's Airlock token in it (haven server admin create-backend prints it)", tokenFile)
			}
			medium, err := filepath.Abs(mediumDir)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "bad --medium-privacy-dir %s: %v", mediumDir, err)
			}
			log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			al, err := airlockapp.New(ctx, airlockapp.Config{
				DataDir: dataDir, MediumPrivacyDir: medium,
				ServerURL: serverURL, PublicServerURL: publicURL, Backend: backend, Token: tok,
				SecureCookies: secure, Logger: log,
			})
			if err != nil {
				return err
			}
			defer al.Close()
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "cannot listen on %s: %v; choose another address with --listen", listen, err)
			}
			fmt.Fprintf(a.stdout, "Haven Airlock for backend %s on http://%s/ (job server %s)\n", backend, l.Addr(), serverURL)
			return al.Serve(ctx, l)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8001", "address to serve the pages on (the backend's network only)")
	f.StringVar(&serverURL, "server", "", "the job server's URL (required)")
	f.StringVar(&publicURL, "public-server-url", "", "the job server's URL as users' browsers reach it, for links (default --server)")
	f.StringVar(&backend, "backend", "", "this backend's slug (required)")
	f.StringVar(&tokenFile, "token-file", "", `file holding the backend's Airlock token, "-" for standard input (required)`)
	f.StringVar(&mediumDir, "medium-privacy-dir", "medium-privacy", "the agent's medium-privacy directory: the workspaces to review")
	f.StringVar(&dataDir, "data-dir", "airlock-data", "Airlock's database and the frozen copies of request files")
	f.BoolVar(&secure, "secure-cookies", false, "mark session cookies Secure (set it whenever users reach Airlock over HTTPS)")
	cmd.AddCommand(a.airlockAuditCommand())
	return cmd
}

// airlockAuditCommand prints Airlock's audit log (spec §13.1).
func (a *app) airlockAuditCommand() *cobra.Command {
	var (
		dataDir, user, ws, request string
		limit                      int
		asJSON                     bool
	)
	cmd := &cobra.Command{
		Use:   "audit [--user U] [--workspace W] [--request ID] [--limit N] [--json]",
		Short: "Print Airlock's audit log: every view, download, vote, comment and status change",
		Long: `Audit prints Airlock's append-only audit log, oldest first, filtered by
user, workspace and release request (filters combine). Each line is the
time (UTC), the event, the user, the workspace, the request, the file and
the event's details, among them the review turn. It reads the database
under --data-dir and changes nothing; Airlock may be running.`,
		Example: `  haven airlock audit --data-dir /var/lib/haven-airlock --request 01M7Z3CQDFD2AM8BP05XB0X9XH
  haven airlock audit --data-dir /var/lib/haven-airlock --user checker1 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file := filepath.Join(dataDir, "airlock.db")
			if _, err := os.Stat(file); err != nil {
				return haven.Errorf(haven.EINVALID, "there is no Airlock database at %s: give the --data-dir haven airlock runs with", file)
			}
			st, err := astore.Open(cmd.Context(), file)
			if err != nil {
				return err
			}
			defer st.Close()
			events, err := st.Audit(cmd.Context(), astore.AuditFilter{User: user, Workspace: ws, Request: request, Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				type jsonEvent struct {
					Type      string            `json:"type"`
					User      string            `json:"user"`
					Workspace string            `json:"workspace"`
					Request   string            `json:"request,omitempty"`
					Path      string            `json:"path,omitempty"`
					Extra     map[string]string `json:"extra"`
					CreatedAt time.Time         `json:"created_at"`
				}
				out := make([]jsonEvent, 0, len(events))
				for _, e := range events {
					out = append(out, jsonEvent{string(e.Type), e.User, e.Workspace, e.Request, e.Path, e.Extra, e.At.UTC()})
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			if len(events) == 0 {
				fmt.Fprintln(a.stderr, "No audit events match.")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME (UTC)\tEVENT\tUSER\tWORKSPACE\tREQUEST\tFILE\tDETAILS")
			for _, e := range events {
				var details []string
				for _, k := range slices.Sorted(maps.Keys(e.Extra)) {
					details = append(details, k+"="+e.Extra[k])
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Type, e.User, e.Workspace,
					dash(e.Request), dash(e.Path), strings.Join(details, " "))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "airlock-data", "Airlock's data directory")
	f.StringVar(&user, "user", "", "only events by this user")
	f.StringVar(&ws, "workspace", "", "only events in this workspace")
	f.StringVar(&request, "request", "", "only events of this release request")
	f.IntVar(&limit, "limit", 0, "only the latest N events (0: all)")
	f.BoolVar(&asJSON, "json", false, "print the events as a JSON array")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
