package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/haven-tre/haven/internal/outputs"
)

// maxLogLine is the longest line kept whole; a longer one is split.
const maxLogLine = 64 << 10

// jobLog writes a job's output to its log file, one line at a time, each
// prefixed with its time in outputs.LogTimestampFormat and a space. Several streams (stdout, stderr) may share it.
type jobLog struct {
	now func() time.Time

	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	stamp []byte
	err   error // the first write error; writing goes on so the job never blocks
}

func newJobLog(f *os.File, now func() time.Time) *jobLog {
	return &jobLog{now: now, f: f, w: bufio.NewWriterSize(f, 32<<10)}
}

// line writes one line; l.mu must be held.
func (l *jobLog) line(text []byte) {
	l.stamp = l.now().UTC().AppendFormat(l.stamp[:0], outputs.LogTimestampFormat)
	l.stamp = append(l.stamp, ' ')
	l.write(l.stamp)
	l.write(text)
	l.write([]byte{'\n'})
}

func (l *jobLog) write(b []byte) {
	if _, err := l.w.Write(b); err != nil && l.err == nil {
		l.err = err
	}
}

// flush pushes buffered lines to the file; l.mu must be held.
func (l *jobLog) flush() {
	if err := l.w.Flush(); err != nil && l.err == nil {
		l.err = err
	}
}

// stream returns a writer that turns what it is given into whole log lines.
func (l *jobLog) stream() *logStream { return &logStream{log: l} }

// Close flushes and closes the file, reporting the first error seen.
func (l *jobLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flush()
	err := l.f.Close()
	if l.err != nil {
		return fmt.Errorf("write job log %s: %w", l.f.Name(), l.err)
	}
	if err != nil {
		return fmt.Errorf("close job log: %w", err)
	}
	return nil
}

// logStream is one output stream of a job. It holds back a partial line
// until its newline arrives, so streams sharing a log never split each
// other's lines.
type logStream struct {
	log     *jobLog
	partial []byte
}

var _ io.WriteCloser = (*logStream)(nil)

// Write logs every complete line in p and keeps the rest for later. It
// never fails: a log that cannot be written must not stall the job.
func (s *logStream) Write(p []byte) (int, error) {
	n := len(p)
	l := s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.partial = append(s.partial, p...)
			if len(s.partial) >= maxLogLine {
				l.line(s.partial)
				s.partial = s.partial[:0]
			}
			break
		}
		if len(s.partial) > 0 {
			s.partial = append(s.partial, p[:i]...)
			l.line(s.partial)
			s.partial = s.partial[:0]
		} else {
			l.line(p[:i])
		}
		p = p[i+1:]
	}
	l.flush()
	return n, nil
}

// Close logs a final line that had no newline.
func (s *logStream) Close() error {
	l := s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(s.partial) > 0 {
		l.line(s.partial)
		s.partial = nil
	}
	l.flush()
	return nil
}

// maxLogBytes bounds the log read for finalize, which keeps only the last
// outputs.MaxLogLines lines anyway.
const maxLogBytes = 64 << 20

// readLogTail returns the end of a job log: at most outputs.MaxLogLines lines and
// maxLogBytes bytes, always starting at a line boundary. A missing log is
// empty (the job never ran).
func readLogTail(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read job log: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read job log: %w", err)
	}
	offset := max(info.Size()-maxLogBytes, 0)
	data := make([]byte, info.Size()-offset)
	if _, err := f.ReadAt(data, offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read job log %s: %w", path, err)
	}
	if offset > 0 {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	// Keep the last outputs.MaxLogLines lines.
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	lines := 0
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			lines++
			if lines == outputs.MaxLogLines {
				return data[i+1:], nil
			}
		}
	}
	return data, nil
}
