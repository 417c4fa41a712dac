package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/gctune"
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
	out := &checkedWriter{w: stdout}
	a := &app{stdout: out, stderr: stderr, getenv: os.Getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if out.err != nil {
		// Output that did not arrive (a closed pipe, a full disk) is a
		// failure whatever the command concluded.
		fmt.Fprintf(stderr, "haven: cannot write output: %v\n", out.err)
		return exitInternal
	}
	return a.exitCode(err)
}

// checkedWriter remembers the first write error, so commands can print
// freely and Run still notices output that was lost.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// runE marks errors from a command's own work: anything not already typed
// is internal. Errors that never pass through here come from cobra's
// parsing of the command line, and are usage errors.
func runE(f func(cmd *cobra.Command, args []string) error) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := f(cmd, args)
		if err == nil {
			return nil
		}
		var ee exitError
		var he *haven.Error
		var ue usageError
		if errors.As(err, &ee) || errors.As(err, &he) || errors.As(err, &ue) {
			return err
		}
		return &haven.Error{Code: haven.EINTERNAL, Message: "internal error", Err: err}
	}
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
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetHelpCommand(a.helpCommand(root))
	root.AddCommand(
		a.checkCommand(),
		a.graphCommand(),
		a.runCommand(),
		a.statusCommand(),
		a.logsCommand(),
		a.outputsCommand(),
		a.dataCommand(),
		a.serverCommand(),
		a.agentCommand(),
		a.airlockCommand(),
		a.demoCommand(),
		a.versionCommand(),
		a.completionCommand(root),
	)
	for _, c := range root.Commands() {
		if c.RunE != nil {
			c.RunE = runE(c.RunE)
		}
		if c.Annotations[shortLived] != "" {
			c.PreRun = func(*cobra.Command, []string) { gctune.ForShortLivedCommand() }
		}
	}
	return root
}

// shortLived annotates commands that read one input and exit, for which the
// garbage collector is tuned (internal/gctune).
const shortLived = "haven/short-lived"

// helpCommand is `haven help [command]`; unlike cobra's default it treats
// an unknown topic as the usage error it is.
func (a *app) helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(_ *cobra.Command, args []string) error {
			target, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usageError{fmt.Errorf("unknown help topic %q", strings.Join(args, " "))}
			}
			return target.Help()
		},
	}
}

// completionCommand prints a shell completion script.
func (a *app) completionCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Completion prints a script that makes your shell complete haven's commands
and flags. For example, for bash:

  source <(haven completion bash)`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return usageError{err}
			}
			if err := cobra.OnlyValidArgs(cmd, args); err != nil {
				return usageError{fmt.Errorf("%v: choose bash, zsh, fish or powershell", err)}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(a.stdout, true)
			case "zsh":
				return root.GenZshCompletion(a.stdout)
			case "fish":
				return root.GenFishCompletion(a.stdout, true)
			default:
				return root.GenPowerShellCompletionWithDesc(a.stdout)
			}
		},
	}
}
