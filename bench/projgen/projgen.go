// Package projgen writes synthetic project.yaml files for Haven's
// benchmarks. Each file is a valid version-5 project: every action runs a
// pinned image (python:v2) with its own command line, writes one
// moderately_sensitive .csv output with its own file name, and lists what it
// needs in a flow sequence (`needs: [a, b]`). Output is deterministic: the
// same shape and size always give the same bytes.
package projgen

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// The shapes of the needs graph.
const (
	// Chain is a0 <- a1 <- … <- a(n-1): every action needs the one before it.
	Chain = "chain"
	// FanOutIn is root -> a1 … a(n-2) -> sink, the layout of
	// shared/baselines/dag-gen.py: every middle action needs root and sink
	// needs every middle action.
	FanOutIn = "fan"
)

// Shapes lists the shapes Generate knows, in a fixed order.
var Shapes = []string{Chain, FanOutIn}

// Write writes a project of n actions in the given shape to w.
func Write(w io.Writer, shape string, n int) error {
	bw := bufio.NewWriter(w)
	if _, err := io.WriteString(bw, "version: '5.0'\n\nactions:\n"); err != nil {
		return err
	}
	switch shape {
	case Chain:
		if n < 1 {
			return fmt.Errorf("projgen: a chain needs at least 1 action, got %d", n)
		}
		for i := 0; i < n; i++ {
			var needs []string
			if i > 0 {
				needs = []string{chainName(i - 1)}
			}
			writeAction(bw, chainName(i), needs)
		}
	case FanOutIn:
		if n < 3 {
			return fmt.Errorf("projgen: a fan-out/fan-in project needs at least 3 actions, got %d", n)
		}
		writeAction(bw, "root", nil)
		mids := make([]string, 0, n-2)
		for i := 1; i <= n-2; i++ {
			name := fmt.Sprintf("a%d", i)
			mids = append(mids, name)
			writeAction(bw, name, []string{"root"})
		}
		writeAction(bw, "sink", mids)
	default:
		return fmt.Errorf("projgen: unknown shape %q (want %q or %q)", shape, Chain, FanOutIn)
	}
	return bw.Flush()
}

// Generate returns a project of n actions in the given shape.
func Generate(shape string, n int) ([]byte, error) {
	var b bytes.Buffer
	if err := Write(&b, shape, n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func chainName(i int) string { return fmt.Sprintf("step_%05d", i) }

// writeAction writes one action. Errors are left to the caller's Flush,
// which reports the first write error of a bufio.Writer.
func writeAction(w *bufio.Writer, name string, needs []string) {
	fmt.Fprintf(w, "  %s:\n", name)
	fmt.Fprintf(w, "    run: python:v2 python analysis/%s.py --output output/%s.csv\n", name, name)
	if len(needs) > 0 {
		w.WriteString("    needs: [")
		for i, n := range needs {
			if i > 0 {
				w.WriteString(", ")
			}
			w.WriteString(n)
		}
		w.WriteString("]\n")
	}
	fmt.Fprintf(w, "    outputs:\n      moderately_sensitive:\n        table: output/%s.csv\n\n", name)
}
