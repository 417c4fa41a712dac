package measures

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/haven-tre/haven/internal/actions/workspace"
)

// tempFile is an output being written: a temporary file next to its
// destination, renamed over it by commit once complete and synced, so that
// a reader never sees part of an output and a failed run leaves the old
// file (or none).
type tempFile struct {
	f   *os.File
	w   *bufio.Writer
	dst string
}

func newTempFile(dst string) (*tempFile, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return nil, errors.New("cannot create a temporary file next to it: check the directory is writable")
	}
	return &tempFile{f: f, w: bufio.NewWriterSize(f, 64<<10), dst: dst}, nil
}

func (t *tempFile) write(p []byte) error {
	_, err := t.w.Write(p)
	return err
}

func (t *tempFile) commit() error {
	err := t.w.Flush()
	if err == nil {
		err = t.f.Sync()
	}
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(t.f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(t.f.Name(), t.dst)
	}
	if err != nil {
		os.Remove(t.f.Name())
	}
	return err
}

func (t *tempFile) discard() {
	t.f.Close()
	os.Remove(t.f.Name())
}

// locateCSV finds where field col of data row row (0-based, after the
// header) starts in a CSV file: its 1-based line and byte column. The
// records reader follows encoding/csv's rules, so encoding/csv counts the
// same records.
func locateCSV(full string, gz bool, row int64, col int) (line, column int, ok bool) {
	f, err := os.Open(full)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	var src io.Reader = f
	if gz {
		z, err := gzip.NewReader(f)
		if err != nil {
			return 0, 0, false
		}
		defer z.Close()
		src = z
	}
	cr := csv.NewReader(bufio.NewReader(src))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	for i := int64(-1); i < row; i++ {
		if _, err := cr.Read(); err != nil {
			return 0, 0, false
		}
	}
	rec, err := cr.Read()
	if err != nil || col >= len(rec) {
		return 0, 0, false
	}
	line, column = cr.FieldPos(col)
	return line, column, true
}

// combine writes measure_<id>.csv: the measure's dated files in ascending
// date order, each row with its date appended. Upstream rewrites them with
// Python's csv module, whose rows end in "\r\n".
func (g *generator) combine(ctx context.Context, m *Measure, inputs []input) error {
	rel := path.Join(g.dir, "measure_"+m.ID+".csv")
	full, err := workspace.Resolve(g.o.Dir, rel)
	if err != nil {
		return err
	}
	out, err := newTempFile(full)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	defer func() {
		if out != nil {
			out.discard()
		}
	}()
	var header []string
	var first string
	var rows int64
	var line []byte
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		drel := g.datedName(m, in.date)
		dfull, err := workspace.Resolve(g.o.Dir, drel)
		if err != nil {
			return err
		}
		f, err := os.Open(dfull)
		if err != nil {
			return fmt.Errorf("%s: cannot open it to combine the dates: %v", drel, errors.Unwrap(err))
		}
		cr := csv.NewReader(bufio.NewReader(f))
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		cr.ReuseRecord = true
		h, err := cr.Read()
		if err == io.EOF {
			f.Close()
			return fmt.Errorf("%s is empty: delete it and run generate_measures again", drel)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %v", drel, err)
		}
		if header == nil {
			header = slices.Clone(h)
			first = drel
			line = appendCSVRow(line[:0], append(slices.Clone(h), "date"), "\r\n")
			if err := out.write(line); err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", rel, err)
			}
		} else if !slices.Equal(h, header) {
			f.Close()
			return fmt.Errorf("%s and %s have different headers (%s, then %s): a measure file kept by --skip-existing was made by a different definition; delete the old measure_%s_*.csv files or run without --skip-existing",
				first, drel, strings.Join(header, ","), strings.Join(h, ","), m.ID)
		}
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %v", drel, err)
			}
			line = line[:0]
			for _, field := range rec {
				line = appendCSVField(line, field)
				line = append(line, ',')
			}
			line = append(line, in.date...)
			line = append(line, '\r', '\n')
			if err := out.write(line); err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", rel, err)
			}
			rows++
		}
		f.Close()
	}
	err = out.commit()
	out = nil
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	g.written = append(g.written, rel)
	g.progress("wrote %s (%d %s, %d %s)", rel, rows, plural(rows, "row", "rows"), len(inputs), plural(int64(len(inputs)), "date", "dates"))
	return nil
}
