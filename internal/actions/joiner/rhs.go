package joiner

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rhsTable is the right-hand file in memory, one row per patient, in the
// forms the left-hand files need: text rows for CSV outputs, Arrow arrays
// for Arrow outputs. Either form is made from the other when a left-hand
// file of the other format needs it.
type rhsTable struct {
	rel      string
	format   format
	names    []string // columns other than patient_id, in file order
	rawNames [][]byte // the same names as written in a CSV header
	index    *keyIndex
	rows     int
	mem      memory.Allocator

	text *textRows
	// fields and arrays are the Arrow columns other than patient_id, one
	// array per column holding every row.
	fields []arrow.Field
	arrays []arrow.Array
}

// textRows holds, per right-hand row, the CSV text appended to a matching
// left-hand line: a comma and the cell for every column other than
// patient_id.
type textRows struct {
	buf     []byte
	off     []int // row i is buf[off[i]:off[i+1]]
	missing []byte
}

func (t *textRows) row(i int32) []byte { return t.buf[t.off[i]:t.off[i+1]] }

func (r *rhsTable) release() {
	for _, a := range r.arrays {
		a.Release()
	}
	r.arrays = nil
}

// loadRHS reads the right-hand file into memory.
func (j *job) loadRHS(full, rel string, f format, needText, needArrow bool) (*rhsTable, error) {
	r := &rhsTable{rel: rel, format: f, index: newKeyIndex(), mem: j.mem}
	var err error
	if f.isCSV() {
		err = j.loadCSVRHS(r, full)
	} else {
		err = j.loadArrowRHS(r, full)
	}
	if err != nil {
		r.release()
		return nil, err
	}
	if needText {
		if _, err := r.textRows(j.ctx); err != nil {
			r.release()
			return nil, err
		}
	}
	if needArrow {
		if _, _, err := r.arrowColumns(j.ctx); err != nil {
			r.release()
			return nil, err
		}
	}
	return r, nil
}

// loadCSVRHS reads a CSV right-hand file as text rows.
func (j *job) loadCSVRHS(r *rhsTable, full string) error {
	cr, err := openCSV(full, r.rel, r.format == formatCSVGz)
	if err != nil {
		return err
	}
	defer cr.close()
	hrec, hspans, names, err := cr.header()
	if err != nil {
		return err
	}
	pid, err := checkNames(r.rel, names)
	if err != nil {
		return err
	}
	for i, n := range names {
		if i == pid {
			continue
		}
		r.names = append(r.names, n)
		r.rawNames = append(r.rawNames, hrec[hspans[i].start:hspans[i].end])
	}
	t := &textRows{off: []int{0}, missing: bytes.Repeat([]byte{','}, len(r.names))}
	ncols := len(names)
	for {
		if r.rows%4096 == 0 {
			if err := j.ctx.Err(); err != nil {
				return err
			}
		}
		rec, line, err := cr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		spans, err := cr.split(rec, line)
		if err != nil {
			return err
		}
		if len(spans) != ncols {
			return fmt.Errorf("%s:%d: the row has %d %s, the header has %d: every row needs one value per column (quote values that contain commas)",
				r.rel, line, len(spans), plural(int64(len(spans)), "field", "fields"), ncols)
		}
		k, ok := textKey(unquote(rec, spans[pid]))
		if !ok {
			return fmt.Errorf("%s:%d: the row has no %s: every right-hand row must name its patient", r.rel, line, key)
		}
		if r.rows >= maxRows {
			return fmt.Errorf("%s: more than %d rows: the right-hand file must have one row per patient", r.rel, maxRows)
		}
		if prev, fresh := r.index.insert(k, int32(r.rows)); !fresh {
			return duplicateCSV(full, r.rel, r.format == formatCSVGz, k, int(prev), line)
		}
		for i, s := range spans {
			if i == pid {
				continue
			}
			t.buf = append(t.buf, ',')
			t.buf = append(t.buf, rec[s.start:s.end]...)
		}
		t.off = append(t.off, len(t.buf))
		r.rows++
	}
	r.text = t
	return nil
}

// maxRows bounds the right-hand rows (they are numbered with int32).
const maxRows = 1<<31 - 1

// duplicateCSV is the error for a patient id on two rows of a CSV
// right-hand file: it reads the file again to find the first row's line.
func duplicateCSV(full, rel string, gz bool, k patientKey, firstRow int, line int64) error {
	where := ""
	if cr, err := openCSV(full, rel, gz); err == nil {
		if _, _, _, err := cr.header(); err == nil {
			for i := 0; i <= firstRow; i++ {
				_, ln, err := cr.next()
				if err != nil {
					break
				}
				if i == firstRow {
					where = fmt.Sprintf(" (first on line %d)", ln)
				}
			}
		}
		cr.close()
	}
	return fmt.Errorf("%s:%d: %s %s appears again%s: the right-hand file must have one row per patient; remove the repeated rows, or extract it with one row per patient",
		rel, line, key, k, where)
}

// textRows returns the right-hand rows as CSV text, making them from the
// Arrow columns the first time.
func (r *rhsTable) textRows(ctx context.Context) (*textRows, error) {
	if r.text != nil {
		return r.text, nil
	}
	t, err := arrowToText(ctx, r.arrays, r.rows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.rel, err)
	}
	r.text = t
	return t, nil
}

// arrowColumns returns the right-hand columns as Arrow arrays, typing the
// CSV text the first time.
func (r *rhsTable) arrowColumns(ctx context.Context) ([]arrow.Field, []arrow.Array, error) {
	if r.arrays != nil || len(r.names) == 0 {
		return r.fields, r.arrays, nil
	}
	fields, arrays, err := textToArrow(ctx, r.mem, r.names, r.text, r.rows)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.rel, err)
	}
	r.fields, r.arrays = fields, arrays
	return fields, arrays, nil
}
