package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/haven-tre/haven"
	"github.com/spf13/cobra"
)

// Exit codes, documented in docs/cli.md.
const (
	exitOK       = 0 // success
	exitInvalid  = 1 // invalid input (a broken project.yaml) or a failed job
	exitUsage    = 2 // the command line itself is wrong
	exitInternal = 3 // a bug or an environment failure
)

// exitError ends a command with an exit code after the command has already
// told the user what went wrong.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// app carries what every command needs; nothing reads globals.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// Run runs the haven command line with args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return a.exitCode(err)
}

func (a *app) exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var he *haven.Error
	if errors.As(err, &he) {
		fmt.Fprintf(a.stderr, "haven: %s\n", err)
		if he.Code == haven.EINTERNAL {
			return exitInternal
		}
		return exitInvalid
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "haven: %s\nRun 'haven --help' for usage.\n", err)
		return exitUsage
	}
	// Anything else comes from cobra's own parsing: unknown commands, bad
	// argument counts.
	fmt.Fprintf(a.stderr, "haven: %s\nRun 'haven --help' for usage.\n", err)
	return exitUsage
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "haven",
		Short: "Haven: run OpenSAFELY-style research pipelines safely",
		Long: `Haven is a trusted research environment. Researchers write a pipeline in
project.yaml, check it and run it against artificial data on their own
machine, then submit it to run against real data on a secure backend.

Exit codes:
  0  success
  1  invalid input (such as a broken project.yaml) or a failed job
  2  usage error (unknown command or flag)
  3  internal error`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.checkCommand(),
		a.graphCommand(),
		a.versionCommand(),
	)
	return root
}
