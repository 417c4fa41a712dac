package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/server"
	"github.com/haven-tre/haven/internal/store"
	"github.com/spf13/cobra"
)

// serverOptions are the flags every server command shares: where the
// database is.
type serverOptions struct {
	dataDir     string
	databaseURL string
}

func (o *serverOptions) bind(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.dataDir, "data-dir", defaultServerDataDir(), "directory for the server's SQLite database and caches (env HAVEN_DATA_DIR)")
	f.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (postgres://…) to use instead of SQLite (env HAVEN_DATABASE_URL)")
}

// defaultServerDataDir is HAVEN_DATA_DIR, else ./haven-data.
func defaultServerDataDir() string {
	if d := os.Getenv("HAVEN_DATA_DIR"); d != "" {
		return d
	}
	return "haven-data"
}

func (o *serverOptions) config(a *app) server.Config {
	url := o.databaseURL
	if url == "" {
		url = a.getenv("HAVEN_DATABASE_URL")
	}
	return server.Config{DataDir: o.dataDir, DatabaseURL: url}
}

func (a *app) serverCommand() *cobra.Command {
	var o serverOptions
	var listen string
	var secure bool
	var tune server.Config
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the job server: web pages, JSON API and the agents' endpoints",
		Long: `Server runs Haven's job server. Researchers use its web pages to run their
workspaces' actions on secure backends; an agent inside each backend pulls
the work over outbound HTTPS and reports back.

With no flags it keeps everything in a SQLite file under ./haven-data,
created and migrated on first start. Use --database-url for PostgreSQL.

Create the first users, projects, workspaces and backend tokens with
'haven server admin'.`,
		Example: `  haven server --listen 127.0.0.1:8000 --data-dir /var/lib/haven
  haven server admin create-user alice --email alice@example.org --fullname "Alice Smith" --password-file pw.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			cfg := o.config(a)
			cfg.Logger, cfg.SecureCookies = log, secure
			cfg.Hold, cfg.TTL, cfg.ReapEvery, cfg.RecoveryDeadline = tune.Hold, tune.TTL, tune.ReapEvery, tune.RecoveryDeadline
			st, where, err := server.OpenStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			srv, err := server.New(cfg, st)
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return haven.Errorf(haven.EINVALID, "cannot listen on %s: %v; choose another address with --listen", listen, err)
			}
			fmt.Fprintf(a.stdout, "Haven server listening on http://%s (database: %s)\n", l.Addr(), where)
			log.Info("server started", "listen", l.Addr().String(), "database", where)
			return srv.Serve(ctx, l)
		},
	}
	o.bind(cmd)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8000", "address to listen on")
	cmd.Flags().BoolVar(&secure, "secure-cookies", false, "mark session cookies Secure (set it when users reach the server over HTTPS)")
	cmd.Flags().DurationVar(&tune.Hold, "poll-hold", 0, "how long an agent's poll waits for work before 204 (default 25s)")
	cmd.Flags().DurationVar(&tune.TTL, "lease-ttl", 0, "how long a claimed job's lease lasts unless extended (default 1m30s)")
	cmd.Flags().DurationVar(&tune.ReapEvery, "reap-every", 0, "how often expired leases are handled (default 10s)")
	cmd.Flags().DurationVar(&tune.RecoveryDeadline, "recovery-deadline", 0, "how long a job whose agent vanished waits to be recovered before it fails (default 30m)")
	cmd.AddCommand(a.serverAdminCommand(&o))
	return cmd
}

// withService opens the store and a Service for an admin command.
func (a *app) withService(ctx context.Context, o *serverOptions, f func(*jobserver.Service) error) error {
	cfg := o.config(a)
	st, _, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(cfg, st)
	if err != nil {
		return err
	}
	return f(srv.Service)
}

// readSecret reads a password from a file ("-" for standard input),
// without its trailing newline.
func readSecret(path, what string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = readAllStdin()
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", haven.Errorf(haven.EINVALID, "cannot read the %s from %s: %v", what, path, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

var readAllStdin = func() ([]byte, error) { return io.ReadAll(os.Stdin) }

func parseRoles(s string) []store.Role {
	var out []store.Role
	for _, r := range strings.Split(s, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, store.Role(r))
		}
	}
	return out
}

func (a *app) serverAdminCommand(o *serverOptions) *cobra.Command {
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Create users, organisations, projects, workspaces and backends",
		Long: `Admin changes the job server's database directly. Run it on the server's
machine with the same --data-dir or --database-url as the server; the
server may be running.`,
		Args: cobra.NoArgs,
	}
	run := func(f func(ctx context.Context, s *jobserver.Service, args []string) error) func(*cobra.Command, []string) error {
		return runE(func(cmd *cobra.Command, args []string) error {
			return a.withService(cmd.Context(), o, func(s *jobserver.Service) error { return f(cmd.Context(), s, args) })
		})
	}

	var email, fullname, passwordFile, roles string
	createUser := &cobra.Command{
		Use:   "create-user USERNAME --email E --fullname NAME --password-file F [--roles R,…]",
		Short: "Add a user who signs in with a password",
		Long: `Create-user adds a user. The password is read from --password-file ("-" for
standard input) so it never appears in the process list; it needs at least
10 characters. --roles gives global roles: OutputChecker, OutputPublisher,
DeploymentAdministrator, StaffAreaAdministrator.`,
		Args: exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			pw, err := readSecret(passwordFile, "password")
			if err != nil {
				return err
			}
			u, err := s.CreateUser(ctx, args[0], email, fullname, pw, parseRoles(roles))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Created user %s (%s)\n", u.Username, u.Fullname)
			return nil
		}),
	}
	createUser.Flags().StringVar(&email, "email", "", "email address (required)")
	createUser.Flags().StringVar(&fullname, "fullname", "", "full name, shown as \"Requested by\" (required)")
	createUser.Flags().StringVar(&passwordFile, "password-file", "", `file holding the password, "-" for standard input (required)`)
	createUser.Flags().StringVar(&roles, "roles", "", "comma-separated global roles")
	for _, f := range []string{"email", "fullname", "password-file"} {
		createUser.MarkFlagRequired(f)
	}

	var description string
	createOrg := &cobra.Command{
		Use:   "create-org NAME",
		Short: "Add an organisation",
		Args:  exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			org, err := s.CreateOrg(ctx, args[0], description)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Created organisation %s (slug %s)\n", org.Name, org.Slug)
			return nil
		}),
	}
	createOrg.Flags().StringVar(&description, "description", "", "description")

	var org, number string
	createProject := &cobra.Command{
		Use:   "create-project NAME --org ORG",
		Short: "Add a project led by an organisation",
		Args:  exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			p, err := s.CreateProject(ctx, org, args[0], number)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Created project %s (slug %s)\n", p.Name, p.Slug)
			return nil
		}),
	}
	createProject.Flags().StringVar(&org, "org", "", "the lead organisation's slug (required)")
	createProject.Flags().StringVar(&number, "number", "", "project number shown as \"Project ID\"")
	createProject.MarkFlagRequired("org")

	var nw jobserver.NewWorkspace
	createWorkspace := &cobra.Command{
		Use:   "create-workspace NAME --project P --repo URL-OR-PATH --branch B",
		Short: "Add a workspace: a study repository and branch jobs run from",
		Args:  exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			nw.Name = args[0]
			if nw.Repo != "" && !strings.Contains(nw.Repo, "://") {
				// A local repository path is stored absolute, so the
				// server finds it whatever directory it starts in.
				if abs, err := filepath.Abs(nw.Repo); err == nil {
					nw.Repo = abs
				}
			}
			w, err := s.CreateWorkspace(ctx, nil, nw)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Created workspace %s (repo %s, branch %s)\n", w.Name, w.RepoURL, w.Branch)
			return nil
		}),
	}
	createWorkspace.Flags().StringVar(&nw.Project, "project", "", "the project's slug (required)")
	createWorkspace.Flags().StringVar(&nw.Repo, "repo", "", "git URL or local repository path (required)")
	createWorkspace.Flags().StringVar(&nw.Branch, "branch", "main", "branch jobs run from")
	createWorkspace.Flags().StringVar(&nw.Purpose, "purpose", "", "what the workspace is for")
	createWorkspace.MarkFlagRequired("project")
	createWorkspace.MarkFlagRequired("repo")

	var backendName, tokenDir string
	var artificial bool
	writeTokens := func(slug string, t jobserver.BackendTokens) error {
		if tokenDir == "" {
			fmt.Fprintf(a.stdout, "Agent token:   %s\nAirlock token: %s\nThese are shown once; the server keeps only their hashes.\n", t.Agent, t.Airlock)
			return nil
		}
		if err := os.MkdirAll(tokenDir, 0o700); err != nil {
			return haven.Errorf(haven.EINVALID, "cannot create %s: %v", tokenDir, err)
		}
		for name, tok := range map[string]string{slug + ".agent-token": t.Agent, slug + ".airlock-token": t.Airlock} {
			p := filepath.Join(tokenDir, name)
			if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
				return haven.Errorf(haven.EINVALID, "cannot write %s: %v", p, err)
			}
			fmt.Fprintf(a.stdout, "Wrote %s\n", p)
		}
		return nil
	}
	createBackend := &cobra.Command{
		Use:   "create-backend SLUG [--name NAME] [--token-dir DIR]",
		Short: "Add a backend and print (or write) its agent and Airlock tokens",
		Long: `Create-backend adds a secure backend. Its agent and Airlock tokens are
shown once; with --token-dir they are written to DIR/<slug>.agent-token and
DIR/<slug>.airlock-token (mode 0600) instead of printed.`,
		Args: exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			b, t, err := s.CreateBackend(ctx, args[0], backendName)
			if err != nil {
				return err
			}
			if artificial {
				if err := s.SetBackendArtificialData(ctx, b.Slug, true); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "Created backend %s (artificial data: cohort-extractor actions run on dummy data)\n", b.Slug)
			} else {
				fmt.Fprintf(a.stdout, "Created backend %s\n", b.Slug)
			}
			return writeTokens(b.Slug, t)
		}),
	}
	createBackend.Flags().StringVar(&backendName, "name", "", "display name (default: the slug upper-cased)")
	createBackend.Flags().BoolVar(&artificial, "artificial-data", false, "the backend has no patient database: cohort-extractor actions generate dummy data, as haven run does")
	createBackend.Flags().StringVar(&tokenDir, "token-dir", "", "write the tokens to files in this directory instead of printing them")
	rotate := &cobra.Command{
		Use:   "rotate-backend-tokens SLUG [--token-dir DIR]",
		Short: "Replace a backend's agent and Airlock tokens",
		Args:  exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			t, err := s.RotateBackendTokens(ctx, args[0])
			if err != nil {
				return err
			}
			return writeTokens(args[0], t)
		}),
	}
	rotate.Flags().StringVar(&tokenDir, "token-dir", "", "write the tokens to files in this directory instead of printing them")

	var project, projectRoles string
	addMember := &cobra.Command{
		Use:   "add-project-member USERNAME --project P [--roles ProjectDeveloper]",
		Short: "Give a user roles on a project",
		Args:  exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			if err := s.AddProjectMember(ctx, project, args[0], parseRoles(projectRoles)); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s is a member of %s (%s)\n", args[0], project, projectRoles)
			return nil
		}),
	}
	addMember.Flags().StringVar(&project, "project", "", "the project's slug (required)")
	addMember.Flags().StringVar(&projectRoles, "roles", string(store.RoleProjectDeveloper), "comma-separated project roles: ProjectDeveloper, ProjectCollaborator")
	addMember.MarkFlagRequired("project")

	var backend string
	addBackendMember := &cobra.Command{
		Use:   "add-backend-member USERNAME --backend SLUG",
		Short: "Let a user run jobs on a backend",
		Args:  exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			if err := s.AddBackendMember(ctx, backend, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s may run jobs on %s\n", args[0], backend)
			return nil
		}),
	}
	addBackendMember.Flags().StringVar(&backend, "backend", "", "the backend's slug (required)")
	addBackendMember.MarkFlagRequired("backend")

	apiToken := &cobra.Command{
		Use:   "create-api-token USERNAME",
		Short: "Make a personal access token for the JSON API (valid 90 days)",
		Args:  exactArgs(1),
		RunE: run(func(ctx context.Context, s *jobserver.Service, args []string) error {
			tok, exp, err := s.CreateAPIToken(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s\n", tok)
			fmt.Fprintf(a.stderr, "Token for %s, valid until %s UTC; it is shown once.\n", args[0], exp.UTC().Format("2006-01-02 15:04"))
			return nil
		}),
	}

	admin.AddCommand(createUser, createOrg, createProject, createWorkspace, createBackend, rotate, addMember, addBackendMember, apiToken)
	return admin
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
