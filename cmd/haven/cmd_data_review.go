package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command is built.
func (a *app) dataReviewCommand() *cobra.Command {
	return &cobra.Command{Use: "review", RunE: func(*cobra.Command, []string) error { return errors.New("not built") }}
}
