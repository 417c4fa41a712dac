package outputs

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// LogTimestampFormat is the timestamp at the start of every line of a
// job's output (RunInfo.Log): RFC 3339 in UTC with exactly nine fractional
// digits, as Docker writes them, so with the space after it every prefix
// is 31 characters and can be cut off by position.
const LogTimestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// LogWriter timestamps a job's output line by line, in the form RunInfo.Log
// expects: "<timestamp> <text>\n". Each line gets the time its first byte
// arrived. It is safe for concurrent use (stdout and stderr may share it).
type LogWriter struct {
	mu      sync.Mutex
	dst     io.Writer
	now     func() time.Time
	midLine bool // the last write ended inside a line
}

// NewLogWriter returns a LogWriter writing to dst with times from now.
func NewLogWriter(dst io.Writer, now func() time.Time) *LogWriter {
	return &LogWriter{dst: dst, now: now}
}

// Write timestamps and writes p; it always consumes all of p unless dst
// fails.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out bytes.Buffer
	rest := p
	for len(rest) > 0 {
		if !w.midLine {
			out.WriteString(w.now().UTC().Format(LogTimestampFormat))
			out.WriteByte(' ')
			w.midLine = true
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			out.Write(rest)
			break
		}
		out.Write(rest[:i+1])
		rest = rest[i+1:]
		w.midLine = false
	}
	if _, err := w.dst.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends an unfinished last line with a newline. It does not close dst.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.midLine {
		return nil
	}
	w.midLine = false
	_, err := w.dst.Write([]byte{'\n'})
	return err
}
