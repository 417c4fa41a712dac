package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/spf13/cobra"
)

func (a *app) graphCommand() *cobra.Command {
	var dir, format string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the pipeline's action graph",
		Long: `Graph prints the actions of project.yaml and the needs between them, as
text (the order actions can run in), Graphviz dot or a Mermaid flowchart.
An invalid project prints its problems instead and exits 1.`,
		Example: `  haven graph
  haven graph --format dot | dot -Tsvg > pipeline.svg
  haven graph --format mermaid --project-dir examples/flucats`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{shortLived: "yes"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(pipeline.GraphFormats, format) {
				return usageError{fmt.Errorf("unknown --format %q: use one of %s", format, strings.Join(pipeline.GraphFormats, ", "))}
			}
			r, err := a.loadValidProject(dir, "graph")
			if err != nil {
				return err
			}
			if len(r.Pipeline.Actions) == 0 {
				fmt.Fprintf(a.stderr, "haven: %s has no actions to draw\n", r.File)
				return nil
			}
			return r.Pipeline.Render(a.stdout, format)
		},
	}
	cmd.Flags().StringVar(&dir, "project-dir", ".", "the folder that holds project.yaml")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, dot or mermaid")
	return cmd
}
