package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/haven-tre/haven/internal/artificial/civil"
	"io"
	"math"
	"os"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetBatchRows is the number of rows the Parquet reader decodes at a
// time.
const parquetBatchRows = 64 * 1024

// arrowReader turns Arrow record batches (from an IPC file or stream, or
// decoded from Parquet) into Batches.
type arrowReader struct {
	r       *Reader
	read    func() (arrow.RecordBatch, error) // io.EOF after the last
	release func()
	batch   Batch
	// dict holds a dictionary column's values as text, per column.
	dict [][][]byte
}

// countingFile counts the bytes read from a file through any interface the
// Arrow and Parquet readers use.
type countingFile struct {
	f *os.File
	n *atomic.Int64
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.f.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func (c countingFile) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingFile) Seek(off int64, whence int) (int64, error) { return c.f.Seek(off, whence) }

// recovered turns a panic inside the Arrow or Parquet libraries (which some
// damaged files cause) into an error naming the file.
func recovered(path string, what string, err *error) {
	if p := recover(); p != nil {
		*err = &Error{Path: path, Msg: fmt.Sprintf("cannot read the %s file: it is damaged or not %s (%v)", what, what, p)}
	}
}

func newParquet(r *Reader, f *os.File) (a *arrowReader, err error) {
	defer recovered(r.path, "Parquet", &err)
	if r.size == 0 {
		return nil, &Error{Path: r.path, Msg: "the file is empty: a Parquet file needs at least its schema"}
	}
	pf, err := file.NewParquetReader(countingFile{f, &r.read})
	if err != nil {
		return nil, &Error{Path: r.path, Msg: fmt.Sprintf("not a valid Parquet file (%v): check the file is complete", err)}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, &Error{Path: r.path, Msg: fmt.Sprintf("cannot read the Parquet schema (%v)", err)}
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		pf.Close()
		return nil, &Error{Path: r.path, Msg: fmt.Sprintf("cannot read the Parquet file (%v)", err)}
	}
	a = &arrowReader{r: r, release: func() { rr.Release(); pf.Close() }}
	a.read = func() (arrow.RecordBatch, error) {
		if !rr.Next() {
			if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			return nil, io.EOF
		}
		return rr.RecordBatch(), nil
	}
	if err := a.setSchema(rr.Schema()); err != nil {
		a.release()
		return nil, err
	}
	return a, nil
}

func newArrow(r *Reader, f *os.File, magic []byte) (a *arrowReader, err error) {
	defer recovered(r.path, "Arrow", &err)
	cf := countingFile{f, &r.read}
	switch {
	case len(magic) == 0:
		return nil, &Error{Path: r.path, Msg: "the file is empty: an Arrow file needs at least its schema"}
	case bytes.HasPrefix(magic, []byte("FEA1")):
		return nil, &Error{Path: r.path, Msg: "this is a Feather version 1 file, which Haven does not read: save it as Feather version 2 (the default of pyarrow and pandas since 2020)"}
	case bytes.HasPrefix(magic, []byte("ARROW1")):
		fr, err := ipc.NewFileReader(cf, ipc.WithAllocator(memory.DefaultAllocator))
		if err != nil {
			return nil, &Error{Path: r.path, Msg: fmt.Sprintf("not a valid Arrow IPC file (%v): check the file is complete", err)}
		}
		a = &arrowReader{r: r, release: func() { fr.Close() }}
		a.read = func() (arrow.RecordBatch, error) { return fr.Read() }
		if err := a.setSchema(fr.Schema()); err != nil {
			fr.Close()
			return nil, err
		}
		return a, nil
	default:
		sr, err := ipc.NewReader(cf, ipc.WithAllocator(memory.DefaultAllocator))
		if err != nil {
			return nil, &Error{Path: r.path, Msg: fmt.Sprintf("not a valid Arrow IPC file or stream (%v): check the file is complete", err)}
		}
		a = &arrowReader{r: r, release: sr.Release}
		a.read = func() (arrow.RecordBatch, error) {
			if !sr.Next() {
				if err := sr.Err(); err != nil && !errors.Is(err, io.EOF) {
					return nil, err
				}
				return nil, io.EOF
			}
			return sr.RecordBatch(), nil
		}
		if err := a.setSchema(sr.Schema()); err != nil {
			sr.Release()
			return nil, err
		}
		return a, nil
	}
}

func (a *arrowReader) setSchema(s *arrow.Schema) error {
	fields := s.Fields()
	a.r.cols = make([]string, len(fields))
	a.r.kinds = make([]Kind, len(fields))
	for i, f := range fields {
		a.r.cols[i] = f.Name
		k, ok := kindOf(f.Type)
		if !ok {
			return &Error{Path: a.r.path, Msg: fmt.Sprintf("column %q has type %s: only flat columns (numbers, strings, dates, timestamps, booleans) can be read; flatten or drop it", f.Name, f.Type)}
		}
		a.r.kinds[i] = k
	}
	a.batch.Cols = make([]Column, len(fields))
	a.dict = make([][][]byte, len(fields))
	return nil
}

func kindOf(t arrow.DataType) (Kind, bool) {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return Int, true
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return Float, true
	case arrow.DATE32, arrow.DATE64:
		return Date, true
	case arrow.TIMESTAMP:
		return Datetime, true
	case arrow.BOOL:
		return Bool, true
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW, arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW,
		arrow.UINT64, arrow.DECIMAL32, arrow.DECIMAL64, arrow.DECIMAL128, arrow.DECIMAL256,
		arrow.TIME32, arrow.TIME64, arrow.DURATION, arrow.NULL, arrow.FIXED_SIZE_BINARY:
		return Text, true
	case arrow.DICTIONARY:
		dt := t.(*arrow.DictionaryType)
		_, ok := kindOf(dt.ValueType)
		return Text, ok
	}
	return Text, false
}

func (a *arrowReader) close() {
	if a.release != nil {
		a.release()
		a.release = nil
	}
}

func (a *arrowReader) next() (b *Batch, err error) {
	defer recovered(a.r.path, string(a.r.format), &err)
	for {
		rec, err := a.read()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, &Error{Path: a.r.path, Msg: fmt.Sprintf("cannot read a record batch (%v): the file may be damaged", err)}
		}
		if rec == nil {
			return nil, io.EOF
		}
		n := int(rec.NumRows())
		if n == 0 {
			continue
		}
		b := &a.batch
		b.Len = n
		for i := range b.Cols {
			a.convert(i, rec.Column(i), n)
		}
		return b, nil
	}
}

// convert fills column i of the batch from arr.
func (a *arrowReader) convert(i int, arr arrow.Array, n int) {
	c := &a.batch.Cols[i]
	c.Kind = a.r.kinds[i]
	c.Valid = nil
	if arr.NullN() > 0 {
		c.Valid = grow(c.Valid, n)
		for j := 0; j < n; j++ {
			c.Valid[j] = arr.IsValid(j)
		}
	}
	switch c.Kind {
	case Int:
		if x, ok := arr.(*array.Int64); ok {
			c.Ints = x.Int64Values()
			return
		}
		c.Ints = grow(c.Ints, n)
		switch x := arr.(type) {
		case *array.Int8:
			for j := range n {
				c.Ints[j] = int64(x.Value(j))
			}
		case *array.Int16:
			for j := range n {
				c.Ints[j] = int64(x.Value(j))
			}
		case *array.Int32:
			for j := range n {
				c.Ints[j] = int64(x.Value(j))
			}
		case *array.Uint8:
			for j := range n {
				c.Ints[j] = int64(x.Value(j))
			}
		case *array.Uint16:
			for j := range n {
				c.Ints[j] = int64(x.Value(j))
			}
		case *array.Uint32:
			for j := range n {
				c.Ints[j] = int64(x.Value(j))
			}
		}
	case Float:
		c.Floats = grow(c.Floats, n)
		switch x := arr.(type) {
		case *array.Float64:
			copy(c.Floats, x.Float64Values())
		case *array.Float32:
			for j := range n {
				c.Floats[j] = float64(x.Value(j))
			}
		case *array.Float16:
			for j := range n {
				c.Floats[j] = float64(x.Value(j).Float32())
			}
		}
		// NaN is null.
		for j, v := range c.Floats {
			if math.IsNaN(v) {
				if c.Valid == nil {
					c.Valid = grow(c.Valid, n)
					for k := range c.Valid {
						c.Valid[k] = true
					}
				}
				c.Valid[j] = false
			}
		}
	case Date:
		c.Ints = grow(c.Ints, n)
		switch x := arr.(type) {
		case *array.Date32:
			for j := range n {
				c.Ints[j] = int64(x.Value(j))
			}
		case *array.Date64:
			for j := range n {
				c.Ints[j] = civil.FloorDiv(int64(x.Value(j)), 86400000)
			}
		}
	case Datetime:
		c.Ints = grow(c.Ints, n)
		x := arr.(*array.Timestamp)
		var per int64 = 1
		switch arr.DataType().(*arrow.TimestampType).Unit {
		case arrow.Millisecond:
			per = 1000
		case arrow.Microsecond:
			per = 1000000
		case arrow.Nanosecond:
			per = 1000000000
		}
		for j := range n {
			c.Ints[j] = civil.FloorDiv(int64(x.Value(j)), per)
		}
	case Bool:
		c.Bools = grow(c.Bools, n)
		x := arr.(*array.Boolean)
		for j := range n {
			c.Bools[j] = x.Value(j)
		}
	default:
		c.Text = grow(c.Text, n)
		a.text(i, c.Text, arr, n)
	}
}

// text fills cells with the text of arr's values (empty for nulls).
func (a *arrowReader) text(col int, cells [][]byte, arr arrow.Array, n int) {
	switch x := arr.(type) {
	case *array.String:
		for j := range n {
			cells[j] = strBytes(x.Value(j))
		}
	case *array.LargeString:
		for j := range n {
			cells[j] = strBytes(x.Value(j))
		}
	case *array.StringView:
		for j := range n {
			cells[j] = strBytes(x.Value(j))
		}
	case *array.Binary:
		for j := range n {
			cells[j] = x.Value(j)
		}
	case *array.LargeBinary:
		for j := range n {
			cells[j] = x.Value(j)
		}
	case *array.BinaryView:
		for j := range n {
			cells[j] = x.Value(j)
		}
	case *array.Uint64:
		for j := range n {
			cells[j] = strconv.AppendUint(nil, x.Value(j), 10)
		}
	case *array.Decimal128:
		// Keep the scale's trailing zeros: they are the column's decimals.
		scale := x.DataType().(*arrow.Decimal128Type).Scale
		for j := range n {
			if x.IsValid(j) {
				cells[j] = []byte(x.Value(j).ToString(scale))
			} else {
				cells[j] = nil
			}
		}
	case *array.Decimal256:
		scale := x.DataType().(*arrow.Decimal256Type).Scale
		for j := range n {
			if x.IsValid(j) {
				cells[j] = []byte(x.Value(j).ToString(scale))
			} else {
				cells[j] = nil
			}
		}
	case *array.Null:
		for j := range n {
			cells[j] = nil
		}
	case *array.Dictionary:
		dict := x.Dictionary()
		dn := dict.Len()
		d := grow(a.dict[col], dn)
		a.text(col, d, dict, dn)
		a.dict[col] = d
		for j := range n {
			if x.IsValid(j) {
				cells[j] = d[x.GetValueIndex(j)]
			} else {
				cells[j] = nil
			}
		}
	default:
		for j := range n {
			if arr.IsValid(j) {
				cells[j] = []byte(arr.ValueStr(j))
			} else {
				cells[j] = nil
			}
		}
	}
}

// strBytes views a string's bytes without copying; callers never modify
// cells.
func strBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
