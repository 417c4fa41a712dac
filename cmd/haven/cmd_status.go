package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/store/sqlite"
	"github.com/spf13/cobra"
)

// openStore opens the local run database.
func openStore(ctx context.Context, path string) (*sqlite.DB, error) {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, &haven.Error{Code: haven.EINTERNAL, Message: "cannot open the job database " + path, Err: err}
	}
	return db, nil
}

// latestJobs returns the latest job of every action that has run in the
// project, reading the database only if there is one.
func latestJobs(ctx context.Context, projectDir string) (map[string]*haven.Job, error) {
	path := filepath.Join(projectDir, "metadata", "db.sqlite")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return map[string]*haven.Job{}, nil
	}
	db, err := openStore(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	jobs, err := db.WorkspaceJobs(ctx, filepath.Base(projectDir))
	if err != nil {
		return nil, err
	}
	latest := map[string]*haven.Job{}
	for _, j := range jobs { // oldest first
		latest[j.Action] = j
	}
	return latest, nil
}

func (a *app) statusCommand() *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the latest job of each action",
		Long: `Status lists every action of project.yaml with the state of its latest
job in this project folder: when it finished, its status and its message.`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{shortLived: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := a.loadValidProject(dir, "status")
			if err != nil {
				return err
			}
			projectDir, err := filepath.Abs(dir)
			if err != nil {
				return err
			}
			latest, err := latestJobs(cmd.Context(), projectDir)
			if err != nil {
				return err
			}
			if asJSON {
				out := []any{}
				for _, act := range r.Pipeline.Actions {
					if j := latest[act.ID]; j != nil {
						out = append(out, toJobJSON(projectDir, j))
					} else {
						out = append(out, map[string]any{"action": act.ID, "state": "not_run"})
					}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ACTION\tSTATUS\tFINISHED (UTC)\tMESSAGE")
			for _, act := range r.Pipeline.Actions {
				j := latest[act.ID]
				if j == nil {
					fmt.Fprintf(tw, "%s\tnot run\t\t\n", act.ID)
					continue
				}
				msg := j.StatusMessage
				if i := strings.IndexByte(msg, '\n'); i >= 0 {
					msg = msg[:i] + " …"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", act.ID, j.StatusCode, isoTime(j.CompletedAt), msg)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "project-dir", ".", "the folder that holds project.yaml")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the jobs as JSON")
	return cmd
}

func (a *app) logsCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "logs ACTION",
		Short: "Print the log of an action's latest job",
		Long: `Logs prints metadata/<action>.log: the output of the action's latest job
followed by its summary (status, outputs, Level-4 checks).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("logs takes one action name, got %d", len(args))}
			}
			return nil
		},
		Annotations: map[string]string{shortLived: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := loadProject(dir)
			if err != nil {
				return err
			}
			action := args[0]
			if r.Pipeline != nil && r.Pipeline.Action(action) == nil {
				return haven.Errorf(haven.EINVALID, "no action %q in %s (haven status lists the actions)", action, r.File)
			}
			path := filepath.Join(dir, "metadata", action+".log")
			b, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				return haven.Errorf(haven.EINVALID, "no log for %s yet: it has not run in this folder (run it with haven run %s)", action, action)
			}
			if err != nil {
				return &haven.Error{Code: haven.EINVALID, Message: "cannot read " + path, Err: err}
			}
			_, err = a.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "project-dir", ".", "the folder that holds project.yaml")
	return cmd
}
