package joiner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowSource reads the record batches of an Arrow IPC file (Feather v2)
// or stream. A batch is valid until the next call to next.
type arrowSource struct {
	schema *arrow.Schema
	next   func() (arrow.RecordBatch, error) // io.EOF after the last
	close  func()
}

// recovered turns a panic in the Arrow library, which some damaged files
// cause, into an error naming the file.
func recovered(rel string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%s: cannot read the Arrow data, the file may be damaged or not Feather/Arrow (%v)", rel, p)
	}
}

func openArrow(full, rel string, mem memory.Allocator) (src *arrowSource, err error) {
	defer recovered(rel, &err)
	f, err := os.Open(full)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", rel, osErr(err))
	}
	var magic [6]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %v", rel, osErr(err))
	}
	switch {
	case n == 0:
		f.Close()
		return nil, fmt.Errorf("%s: the file is empty: a Feather file needs at least its schema", rel)
	case bytes.HasPrefix(magic[:n], []byte("FEA1")):
		f.Close()
		return nil, fmt.Errorf("%s: this is a Feather version 1 file, which Haven does not read: save it as Feather version 2 (the default of pandas and pyarrow since 2020)", rel)
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		f.Close()
		return nil, fmt.Errorf("%s: this is a gzip-compressed file named as Feather: name it .csv.gz if it is a compressed CSV", rel)
	case n == 6 && string(magic[:]) == "ARROW1":
		fr, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a valid Feather/Arrow file (%v): check the file is complete", rel, err)
		}
		i := 0
		return &arrowSource{
			schema: fr.Schema(),
			next: func() (arrow.RecordBatch, error) {
				if i >= fr.NumRecords() {
					return nil, io.EOF
				}
				i++
				return fr.RecordBatch(i - 1)
			},
			close: func() { fr.Close(); f.Close() },
		}, nil
	default:
		sr, err := ipc.NewReader(f, ipc.WithAllocator(mem))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a valid Feather/Arrow file (%v): check the file is complete", rel, err)
		}
		return &arrowSource{
			schema: sr.Schema(),
			next: func() (arrow.RecordBatch, error) {
				if !sr.Next() {
					if err := sr.Err(); err != nil && !errors.Is(err, io.EOF) {
						return nil, err
					}
					return nil, io.EOF
				}
				return sr.RecordBatch(), nil
			},
			close: func() { sr.Release(); f.Close() },
		}, nil
	}
}

// readBatch reads the next batch, naming the file in errors.
func (s *arrowSource) readBatch(rel string) (rec arrow.RecordBatch, err error) {
	defer recovered(rel, &err)
	rec, err = s.next()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read a record batch (%v): the file may be damaged", rel, err)
	}
	if rec == nil {
		return nil, io.EOF
	}
	return rec, nil
}

func fieldNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

// keyFunc returns how to read patient ids from arr; ok is false for a null
// or empty id.
func keyFunc(arr arrow.Array) (func(i int) (patientKey, bool), error) {
	switch a := arr.(type) {
	case *array.Int64:
		return intKeys(a, a.Value), nil
	case *array.Int32:
		return intKeys(a, a.Value), nil
	case *array.Int16:
		return intKeys(a, a.Value), nil
	case *array.Int8:
		return intKeys(a, a.Value), nil
	case *array.Uint32:
		return intKeys(a, a.Value), nil
	case *array.Uint16:
		return intKeys(a, a.Value), nil
	case *array.Uint8:
		return intKeys(a, a.Value), nil
	case *array.Uint64:
		return func(i int) (patientKey, bool) {
			if a.IsNull(i) {
				return patientKey{}, false
			}
			v := a.Value(i)
			if v > math.MaxInt64 {
				return patientKey{s: strconv.FormatUint(v, 10)}, true
			}
			return patientKey{n: int64(v), isInt: true}, true
		}, nil
	case *array.Float64:
		return floatKeys(a, a.Value), nil
	case *array.Float32:
		return floatKeys(a, a.Value), nil
	case *array.String:
		return textKeys(a, a.Value), nil
	case *array.LargeString:
		return textKeys(a, a.Value), nil
	case *array.StringView:
		return textKeys(a, a.Value), nil
	case *array.Binary:
		return textKeys(a, a.Value), nil
	case *array.LargeBinary:
		return textKeys(a, a.Value), nil
	case *array.Dictionary:
		inner, err := keyFunc(a.Dictionary())
		if err != nil {
			return nil, err
		}
		return func(i int) (patientKey, bool) {
			if a.IsNull(i) {
				return patientKey{}, false
			}
			return inner(a.GetValueIndex(i))
		}, nil
	}
	return nil, fmt.Errorf("the %s column has type %s: patient ids must be integers or text", key, arr.DataType())
}

func intKeys[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32](a arrow.Array, value func(int) T) func(int) (patientKey, bool) {
	return func(i int) (patientKey, bool) {
		if a.IsNull(i) {
			return patientKey{}, false
		}
		return patientKey{n: int64(value(i)), isInt: true}, true
	}
}

func floatKeys[T float32 | float64](a arrow.Array, value func(int) T) func(int) (patientKey, bool) {
	return func(i int) (patientKey, bool) {
		if a.IsNull(i) {
			return patientKey{}, false
		}
		return floatKey(float64(value(i)))
	}
}

func textKeys[T string | []byte](a arrow.Array, value func(int) T) func(int) (patientKey, bool) {
	return func(i int) (patientKey, bool) {
		if a.IsNull(i) {
			return patientKey{}, false
		}
		return textKey(value(i))
	}
}

// loadArrowRHS reads an Arrow right-hand file: its patient ids into the
// index and each other column into one array.
func (j *job) loadArrowRHS(r *rhsTable, full string) (err error) {
	src, err := openArrow(full, r.rel, j.mem)
	if err != nil {
		return err
	}
	defer src.close()
	defer recovered(r.rel, &err)
	names := fieldNames(src.schema)
	pid, err := checkNames(r.rel, names)
	if err != nil {
		return err
	}
	var cols []int
	for i, f := range src.schema.Fields() {
		if i == pid {
			continue
		}
		cols = append(cols, i)
		r.names = append(r.names, f.Name)
		f.Nullable = true
		r.fields = append(r.fields, f)
	}
	chunks := make([][]arrow.Array, len(cols))
	defer func() {
		for _, cs := range chunks {
			for _, c := range cs {
				c.Release()
			}
		}
	}()
	for {
		if err := j.ctx.Err(); err != nil {
			return err
		}
		rec, err := src.readBatch(r.rel)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		kf, err := keyFunc(rec.Column(pid))
		if err != nil {
			return fmt.Errorf("%s: %v", r.rel, err)
		}
		n := int(rec.NumRows())
		if int64(r.rows)+int64(n) > maxRows {
			return fmt.Errorf("%s: more than %d rows: the right-hand file must have one row per patient", r.rel, maxRows)
		}
		for i := range n {
			row := r.rows + i
			k, ok := kf(i)
			if !ok {
				return fmt.Errorf("%s: row %d has no %s: every right-hand row must name its patient", r.rel, row+1, key)
			}
			if !k.isInt {
				k.s = strings.Clone(k.s) // the batch's memory is not ours to keep
			}
			if prev, fresh := r.index.insert(k, int32(row)); !fresh {
				return fmt.Errorf("%s: %s %s is on rows %d and %d: the right-hand file must have one row per patient; remove the repeated rows, or extract it with one row per patient",
					r.rel, key, k, prev+1, row+1)
			}
		}
		for c, i := range cols {
			a := rec.Column(i)
			a.Retain()
			chunks[c] = append(chunks[c], a)
		}
		r.rows += n
	}
	for c := range cols {
		var a arrow.Array
		if len(chunks[c]) == 0 {
			b := array.NewBuilder(j.mem, r.fields[c].Type)
			a = b.NewArray()
			b.Release()
		} else if a, err = array.Concatenate(chunks[c], j.mem); err != nil {
			return fmt.Errorf("%s: column %s: %v", r.rel, r.names[c], err)
		}
		r.arrays = append(r.arrays, a)
	}
	return nil
}

// joinArrow streams an Arrow left-hand file batch by batch, adding the
// right-hand columns of each row's patient, and writes an Arrow IPC file.
func (j *job) joinArrow(full, rel string, rhs *rhsTable, out io.Writer) (rows int64, err error) {
	src, err := openArrow(full, rel, j.mem)
	if err != nil {
		return 0, err
	}
	defer src.close()
	defer recovered(rel, &err)
	names := fieldNames(src.schema)
	pid, err := checkNames(rel, names)
	if err != nil {
		return 0, err
	}
	lhsOut, rhsOut, both, err := outputNames(rel, names, rhs)
	if err != nil {
		return 0, err
	}
	j.warnBoth(rel, rhs.rel, both)
	rfields, rarrays, err := rhs.arrowColumns(j.ctx)
	if err != nil {
		return 0, err
	}

	var fields []arrow.Field
	for i, f := range src.schema.Fields() {
		f.Name = lhsOut[i]
		fields = append(fields, f)
	}
	for i, f := range rfields {
		f.Name = rhsOut[i]
		fields = append(fields, f)
	}
	// pandas' description of the columns would no longer match them.
	var keys, vals []string
	md := src.schema.Metadata()
	for i, k := range md.Keys() {
		if k != "pandas" {
			keys = append(keys, k)
			vals = append(vals, md.Values()[i])
		}
	}
	meta := arrow.NewMetadata(keys, vals)
	schema := arrow.NewSchema(fields, &meta)
	w, err := ipc.NewFileWriter(out, ipc.WithSchema(schema), ipc.WithLZ4(), ipc.WithAllocator(j.mem))
	if err != nil {
		return 0, fmt.Errorf("%s: %v", rel, err)
	}
	closed := false
	defer func() {
		// On failure the writer still holds dictionaries: let it go. The
		// temporary file it wrote to is removed by the caller.
		if !closed {
			w.Close()
		}
	}()
	cctx := compute.WithAllocator(j.ctx, j.mem)
	for {
		if err := j.ctx.Err(); err != nil {
			return 0, err
		}
		rec, err := src.readBatch(rel)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		n := int(rec.NumRows())
		kf, err := keyFunc(rec.Column(pid))
		if err != nil {
			return 0, fmt.Errorf("%s: %v", rel, err)
		}
		ib := array.NewInt64Builder(j.mem)
		ib.Reserve(n)
		for i := range n {
			k, ok := kf(i)
			if !ok {
				ib.UnsafeAppendBoolToBitmap(false)
				continue
			}
			row, found := rhs.index.lookup(k)
			if !found {
				ib.UnsafeAppendBoolToBitmap(false)
				continue
			}
			ib.UnsafeAppend(int64(row))
		}
		idx := ib.NewInt64Array()
		ib.Release()
		cols := append([]arrow.Array(nil), rec.Columns()...)
		var taken []arrow.Array
		for c, a := range rarrays {
			t, err := compute.TakeArray(cctx, a, idx)
			if err != nil {
				idx.Release()
				releaseAll(taken)
				return 0, fmt.Errorf("%s: column %s of %s: %v", rel, rhs.names[c], rhs.rel, err)
			}
			taken = append(taken, t)
		}
		idx.Release()
		cols = append(cols, taken...)
		outRec := array.NewRecordBatch(schema, cols, int64(n))
		releaseAll(taken)
		err = w.Write(outRec)
		outRec.Release()
		if err != nil {
			if strings.Contains(err.Error(), "Dictionary replacement") {
				return 0, fmt.Errorf("%s: a dictionary (categorical) column changes from one record batch to the next, which a Feather file cannot hold: save the file again as one Feather file with pandas or pyarrow", rel)
			}
			return 0, fmt.Errorf("%s: writing the output: %v", rel, osErr(err))
		}
		rows += int64(n)
	}
	closed = true
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("%s: writing the output: %v", rel, osErr(err))
	}
	return rows, nil
}

func releaseAll(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// arrowToText writes the Arrow right-hand columns as CSV text rows, the
// way pandas writes what it read from Feather: nulls empty, booleans
// True/False, dates YYYY-MM-DD, timestamps YYYY-MM-DD when every one is
// at midnight and YYYY-MM-DD HH:MM:SS otherwise, floats as Python prints
// them.
func arrowToText(ctx context.Context, arrays []arrow.Array, rows int) (*textRows, error) {
	fmts := make([]cellFormat, len(arrays))
	for c, a := range arrays {
		f, err := formatter(a)
		if err != nil {
			return nil, err
		}
		fmts[c] = f
	}
	t := &textRows{off: make([]int, 1, rows+1), missing: bytes.Repeat([]byte{','}, len(arrays))}
	var cell []byte
	for i := range rows {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		for c, a := range arrays {
			t.buf = append(t.buf, ',')
			if a.IsNull(i) {
				continue
			}
			cell = fmts[c](cell[:0], i)
			t.buf = appendField(t.buf, cell)
		}
		t.off = append(t.off, len(t.buf))
	}
	return t, nil
}

// cellFormat appends the text of a non-null value.
type cellFormat func(dst []byte, i int) []byte

func formatter(arr arrow.Array) (cellFormat, error) {
	switch a := arr.(type) {
	case *array.Int64:
		return func(d []byte, i int) []byte { return strconv.AppendInt(d, a.Value(i), 10) }, nil
	case *array.Int32:
		return func(d []byte, i int) []byte { return strconv.AppendInt(d, int64(a.Value(i)), 10) }, nil
	case *array.Int16:
		return func(d []byte, i int) []byte { return strconv.AppendInt(d, int64(a.Value(i)), 10) }, nil
	case *array.Int8:
		return func(d []byte, i int) []byte { return strconv.AppendInt(d, int64(a.Value(i)), 10) }, nil
	case *array.Uint64:
		return func(d []byte, i int) []byte { return strconv.AppendUint(d, a.Value(i), 10) }, nil
	case *array.Uint32:
		return func(d []byte, i int) []byte { return strconv.AppendUint(d, uint64(a.Value(i)), 10) }, nil
	case *array.Uint16:
		return func(d []byte, i int) []byte { return strconv.AppendUint(d, uint64(a.Value(i)), 10) }, nil
	case *array.Uint8:
		return func(d []byte, i int) []byte { return strconv.AppendUint(d, uint64(a.Value(i)), 10) }, nil
	case *array.Float64:
		return func(d []byte, i int) []byte { return appendPyFloat(d, a.Value(i), 64) }, nil
	case *array.Float32:
		return func(d []byte, i int) []byte { return appendPyFloat(d, float64(a.Value(i)), 32) }, nil
	case *array.Float16:
		return func(d []byte, i int) []byte { return appendPyFloat(d, float64(a.Value(i).Float32()), 32) }, nil
	case *array.Boolean:
		return func(d []byte, i int) []byte {
			if a.Value(i) {
				return append(d, "True"...)
			}
			return append(d, "False"...)
		}, nil
	case *array.Date32:
		return func(d []byte, i int) []byte {
			return a.Value(i).ToTime().UTC().AppendFormat(d, time.DateOnly)
		}, nil
	case *array.Date64:
		return func(d []byte, i int) []byte {
			return a.Value(i).ToTime().UTC().AppendFormat(d, time.DateOnly)
		}, nil
	case *array.Timestamp:
		return timestampFormat(a)
	case *array.String:
		return func(d []byte, i int) []byte { return append(d, a.Value(i)...) }, nil
	case *array.LargeString:
		return func(d []byte, i int) []byte { return append(d, a.Value(i)...) }, nil
	case *array.StringView:
		return func(d []byte, i int) []byte { return append(d, a.Value(i)...) }, nil
	case *array.Binary:
		return func(d []byte, i int) []byte { return append(d, a.Value(i)...) }, nil
	case *array.LargeBinary:
		return func(d []byte, i int) []byte { return append(d, a.Value(i)...) }, nil
	case *array.Dictionary:
		dict := a.Dictionary()
		inner, err := formatter(dict)
		if err != nil {
			return nil, err
		}
		return func(d []byte, i int) []byte {
			v := a.GetValueIndex(i)
			if dict.IsNull(v) {
				return d
			}
			return inner(d, v)
		}, nil
	}
	return func(d []byte, i int) []byte { return append(d, arr.ValueStr(i)...) }, nil
}

// timestampFormat writes a timestamp column as pandas does: the date
// alone when every value of a column without a time zone is at midnight,
// otherwise date and time with the fraction of a second when any value
// has one, and the offset when the column has a time zone.
func timestampFormat(a *array.Timestamp) (cellFormat, error) {
	tt := a.DataType().(*arrow.TimestampType)
	toTime, err := tt.GetToTimeFunc()
	if err != nil {
		return nil, fmt.Errorf("column of type %s: %v", tt, err)
	}
	datesOnly, frac := tt.TimeZone == "", 0
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			continue
		}
		t := toTime(a.Value(i))
		if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
			datesOnly = false
		}
		if ns := t.Nanosecond(); ns%1000 != 0 {
			frac = 9
		} else if ns != 0 && frac < 6 {
			frac = 6
		}
	}
	layout := time.DateOnly
	if !datesOnly {
		layout = "2006-01-02 15:04:05"
		switch frac {
		case 6:
			layout += ".000000"
		case 9:
			layout += ".000000000"
		}
		if tt.TimeZone != "" {
			layout += "-07:00"
		}
	}
	return func(d []byte, i int) []byte { return toTime(a.Value(i)).AppendFormat(d, layout) }, nil
}

// appendPyFloat appends v as Python's repr writes it: "1.0", "0.5",
// "1e+16", "1.5e-05"; NaN is missing, so nothing is written.
func appendPyFloat(dst []byte, v float64, bits int) []byte {
	switch {
	case math.IsNaN(v):
		return dst
	case math.IsInf(v, 1):
		return append(dst, "inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-inf"...)
	}
	if a := math.Abs(v); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.AppendFloat(dst, v, 'e', -1, bits)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, v, 'f', -1, bits)
	if bytes.IndexByte(dst[start:], '.') < 0 {
		dst = append(dst, ".0"...)
	}
	return dst
}

// naValues are the cells pandas' read_csv reads as missing by default.
var naValues = map[string]bool{
	"": true, "#N/A": true, "#N/A N/A": true, "#NA": true, "-1.#IND": true, "-1.#QNAN": true,
	"-NaN": true, "-nan": true, "1.#IND": true, "1.#QNAN": true, "<NA>": true, "N/A": true,
	"NA": true, "NULL": true, "NaN": true, "None": true, "n/a": true, "nan": true, "null": true,
}

// textToArrow types the CSV right-hand columns for an Arrow output, as
// pandas' read_csv would: a column whose values are all whole numbers is
// int64, all numbers float64, all True/False (any case pandas accepts)
// boolean, anything else string; missing values are nulls, and a column
// with no value at all is float64.
func textToArrow(ctx context.Context, mem memory.Allocator, names []string, t *textRows, rows int) ([]arrow.Field, []arrow.Array, error) {
	ncols := len(names)
	type guess struct{ ints, floats, bools, any bool }
	gs := make([]guess, ncols)
	for c := range gs {
		gs[c] = guess{true, true, true, false}
	}
	var spans []span
	cells := func(i int) ([]byte, []span, error) {
		rec := t.row(int32(i))[1:]
		var msg string
		spans, _, msg = splitFields(rec, spans[:0])
		if msg != "" || len(spans) != ncols {
			return nil, nil, fmt.Errorf("row %d cannot be split again into its cells", i+1)
		}
		return rec, spans, nil
	}
	for i := range rows {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		rec, sp, err := cells(i)
		if err != nil {
			return nil, nil, err
		}
		for c, s := range sp {
			v := unquote(rec, s)
			if naValues[string(v)] {
				continue
			}
			g := &gs[c]
			g.any = true
			if g.ints {
				if _, ok := parseInt(v); !ok {
					g.ints = false
				}
			}
			if g.floats && !g.ints {
				if _, ok := parseFloat(v); !ok {
					g.floats = false
				}
			}
			if g.bools {
				if _, ok := parseBool(v); !ok {
					g.bools = false
				}
			}
		}
	}
	fields := make([]arrow.Field, ncols)
	builders := make([]array.Builder, ncols)
	defer func() {
		for _, b := range builders {
			b.Release()
		}
	}()
	for c, g := range gs {
		var dt arrow.DataType
		switch {
		case !g.any:
			dt = arrow.PrimitiveTypes.Float64
		case g.ints:
			dt = arrow.PrimitiveTypes.Int64
		case g.floats:
			dt = arrow.PrimitiveTypes.Float64
		case g.bools:
			dt = arrow.FixedWidthTypes.Boolean
		default:
			dt = arrow.BinaryTypes.String
		}
		fields[c] = arrow.Field{Name: names[c], Type: dt, Nullable: true}
		builders[c] = array.NewBuilder(mem, dt)
		builders[c].Reserve(rows)
	}
	for i := range rows {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		rec, sp, err := cells(i)
		if err != nil {
			return nil, nil, err
		}
		for c, s := range sp {
			v := unquote(rec, s)
			if naValues[string(v)] {
				builders[c].AppendNull()
				continue
			}
			switch b := builders[c].(type) {
			case *array.Int64Builder:
				n, _ := parseInt(v)
				b.Append(n)
			case *array.Float64Builder:
				f, _ := parseFloat(v)
				b.Append(f)
			case *array.BooleanBuilder:
				x, _ := parseBool(v)
				b.Append(x)
			case *array.StringBuilder:
				b.BinaryBuilder.Append(v)
			}
		}
	}
	arrays := make([]arrow.Array, ncols)
	for c, b := range builders {
		arrays[c] = b.NewArray()
	}
	return fields, arrays, nil
}

// parseFloat reads a decimal number as pandas does (not Go's hexadecimal
// or underscored forms).
func parseFloat(b []byte) (float64, bool) {
	s := string(b)
	if strings.ContainsAny(s, "xX_pP") {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return v, true
		}
		return 0, false
	}
	return v, true
}

func parseBool(b []byte) (bool, bool) {
	switch string(b) {
	case "True", "TRUE", "true":
		return true, true
	case "False", "FALSE", "false":
		return false, true
	}
	return false, false
}
