package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
)

// loadProject reads and checks DIR/project.yaml. A file that cannot be read
// is an error; problems inside it are in the report.
func loadProject(dir string) (*pipeline.Report, error) {
	path := filepath.Join(dir, pipeline.FileName)
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, haven.Errorf(haven.EINVALID, "%s is a file: pass the folder that holds project.yaml with --project-dir", dir)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if fi, serr := os.Stat(dir); serr != nil || !fi.IsDir() {
				return nil, haven.Errorf(haven.EINVALID, "project directory %s does not exist: pass the folder that holds project.yaml with --project-dir", dir)
			}
			return nil, haven.Errorf(haven.EINVALID, "no %s in %s: run haven in your study's folder, or pass it with --project-dir", pipeline.FileName, dir)
		}
		return nil, &haven.Error{Code: haven.EINVALID, Message: "cannot read " + path, Err: err}
	}
	return pipeline.Check(path, src), nil
}

// loadValidProject is loadProject for commands that need a valid
// pipeline: an invalid one has its errors printed and ends the command
// with exit 1, saying to fix them and run the command again.
func (a *app) loadValidProject(dir, command string) (*pipeline.Report, error) {
	r, err := loadProject(dir)
	if err != nil {
		return nil, err
	}
	if !r.Valid() {
		writeProblems(a.stderr, newColours(a.stderr, a.getenv), r.Problems.Errors())
		fmt.Fprintf(a.stderr, "\n%s is invalid: fix the errors above, then run haven %s again\n", r.File, command)
		return nil, exitError{exitInvalid}
	}
	return r, nil
}

// colours decides whether to colour output: only on a terminal, and never
// when NO_COLOR is set (https://no-color.org).
type colours struct{ on bool }

func newColours(w io.Writer, getenv func(string) string) colours {
	if getenv("NO_COLOR") != "" {
		return colours{}
	}
	if cw, ok := w.(*checkedWriter); ok {
		w = cw.w
	}
	f, ok := w.(*os.File)
	if !ok {
		return colours{}
	}
	fi, err := f.Stat()
	return colours{on: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

func (c colours) wrap(code, s string) string {
	if !c.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c colours) severity(s pipeline.Severity) string {
	if s == pipeline.SeverityError {
		return c.wrap("1;31", string(s))
	}
	return c.wrap("1;33", string(s))
}

// writeProblems prints problems one per line as FILE:LINE:COL:
// SEVERITY[RULE]: MESSAGE, with continuation lines and hints indented.
func writeProblems(w io.Writer, c colours, probs pipeline.Problems) {
	for _, p := range probs {
		msg := strings.ReplaceAll(p.Message, "\n", "\n    ")
		fmt.Fprintf(w, "%s:%d:%d: %s[%s]: %s\n", p.File, p.Line, p.Column, c.severity(p.Severity), p.Rule, msg)
		if p.Hint != "" {
			fmt.Fprintf(w, "    %s %s\n", c.wrap("36", "hint:"), p.Hint)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
