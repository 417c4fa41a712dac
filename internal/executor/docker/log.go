package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// lineTail is an io.Writer that keeps the last max complete lines written
// to it. Docker's timestamped log lines ("<RFC3339Nano> <text>") arrive as
// whole frames, so stdout and stderr may share one lineTail.
type lineTail struct {
	max     int
	lines   [][]byte // ring buffer
	next    int      // where the next line goes once the ring is full
	partial []byte   // an unfinished last line
}

// Write splits p into lines.
func (t *lineTail) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.partial = append(t.partial, p...)
			break
		}
		line := append(t.partial, p[:i+1]...)
		t.partial = nil
		t.add(line)
		p = p[i+1:]
	}
	return n, nil
}

// add stores one line, dropping the oldest once max are kept.
func (t *lineTail) add(line []byte) {
	if t.max <= 0 {
		return
	}
	if len(t.lines) < t.max {
		t.lines = append(t.lines, line)
		return
	}
	t.lines[t.next] = line
	t.next = (t.next + 1) % t.max
}

// Bytes returns the kept lines in order, each ending in a newline; an
// unfinished last line is completed.
func (t *lineTail) Bytes() []byte {
	if len(t.partial) > 0 {
		t.add(append(t.partial, '\n'))
		t.partial = nil
	}
	var out []byte
	for i := range t.lines {
		out = append(out, t.lines[(t.next+i)%len(t.lines)]...)
	}
	return out
}

// containerLog returns the last lines of a container's stdout and stderr,
// each "<RFC3339Nano UTC> <text>", as Docker timestamps them.
func (e *Executor) containerLog(ctx context.Context, name string) ([]byte, error) {
	rc, err := e.cli.ContainerLogs(ctx, name, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Timestamps: true,
		Tail:       strconv.Itoa(e.logTail),
	})
	if err != nil {
		return nil, fmt.Errorf("read logs of %s: %w", name, err)
	}
	defer rc.Close()
	t := &lineTail{max: e.logTail}
	// The container has no TTY, so the stream is multiplexed.
	if _, err := stdcopy.StdCopy(t, t, rc); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read logs of %s: %w", name, err)
	}
	return t.Bytes(), nil
}
