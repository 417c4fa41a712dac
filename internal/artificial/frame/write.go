package frame

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/gzip"
)

// Format is an output file format.
type Format string

// Output formats.
const (
	CSV     Format = "csv"
	CSVGz   Format = "csv.gz"
	Parquet Format = "parquet"
	Arrow   Format = "arrow"
)

// Formats lists the output formats.
var Formats = []Format{CSV, CSVGz, Parquet, Arrow}

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return CSV, nil
	case "csv.gz", "csvgz", "gz":
		return CSVGz, nil
	case "parquet":
		return Parquet, nil
	case "arrow", "feather":
		return Arrow, nil
	}
	return "", fmt.Errorf("unknown format %q: choose csv, csv.gz, parquet or arrow", s)
}

// FormatOf guesses a format from a file name, "" when it cannot.
func FormatOf(path string) Format {
	p := strings.ToLower(path)
	switch {
	case strings.HasSuffix(p, ".csv.gz"):
		return CSVGz
	case strings.HasSuffix(p, ".csv"):
		return CSV
	case strings.HasSuffix(p, ".parquet"):
		return Parquet
	case strings.HasSuffix(p, ".arrow"), strings.HasSuffix(p, ".feather"):
		return Arrow
	}
	return ""
}

// WriterOptions configure a writer.
type WriterOptions struct {
	// Header writes the CSV header row (a shard after the first has none,
	// so that shards concatenate to the whole).
	Header bool
	// Metadata is stored in Parquet and Arrow files' key-value metadata.
	Metadata map[string]string
	// Fast trades size for speed: csv.gz compressed with Huffman coding
	// only (a valid gzip stream about half the CSV's size, a third larger
	// than gzip's fastest level, and half again as fast to write), and an
	// Arrow file's columns compressed on every core. Dummy data
	// for local runs sets it; released artificial data keeps the
	// defaults, and so its bytes.
	Fast bool
}

// Writer writes batches in row order. Prepare may be called from many
// goroutines at once (it does the expensive encoding); Write is called from
// one goroutine, in row order, with what Prepare returned.
type Writer interface {
	Prepare(b *Batch) (Prepared, error)
	Write(p Prepared) error
	Close() error
}

// Prepared is an encoded batch waiting to be written.
type Prepared interface{ release() }

// NewWriter returns a writer of format f to w.
func NewWriter(f Format, w io.Writer, specs []Spec, opts WriterOptions) (Writer, error) {
	switch f {
	case CSV, CSVGz:
		t := &textWriter{w: w, specs: specs, gz: f == CSVGz, level: gzip.DefaultCompression}
		if opts.Fast {
			t.level = gzip.HuffmanOnly
		}
		if opts.Header {
			if err := t.header(); err != nil {
				return nil, err
			}
		}
		return t, nil
	case Parquet, Arrow:
		return newArrowWriter(f, w, specs, opts)
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

// textWriter writes CSV, or gzip-compressed CSV with one gzip member per
// batch (and one for the header), so members made in parallel concatenate
// to a valid file and shards to the unsharded file.
type textWriter struct {
	w     io.Writer
	specs []Spec
	gz    bool
	level int // gzip level
}

type textChunk struct{ buf *[]byte }

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func (c textChunk) release() { *c.buf = (*c.buf)[:0]; bufPool.Put(c.buf) }

func (t *textWriter) header() error {
	var line []byte
	for i, s := range t.specs {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendString(line, s.Name, true)
	}
	line = append(line, '\n')
	if t.gz {
		var buf bytes.Buffer
		if err := gzipTo(&buf, line, t.level); err != nil {
			return err
		}
		line = buf.Bytes()
	}
	_, err := t.w.Write(line)
	return err
}

// gzipTo compresses p into one gzip member with no name and a zero
// modification time, so the bytes depend on p alone.
func gzipTo(dst *bytes.Buffer, p []byte, level int) error {
	zw, err := gzip.NewWriterLevel(dst, level)
	if err != nil {
		return err
	}
	if _, err := zw.Write(p); err != nil {
		return err
	}
	return zw.Close()
}

func (t *textWriter) Prepare(b *Batch) (Prepared, error) {
	buf := bufPool.Get().(*[]byte)
	*buf = appendCSV((*buf)[:0], t.specs, b)
	if !t.gz {
		return textChunk{buf}, nil
	}
	out := bufPool.Get().(*[]byte)
	z := bytes.NewBuffer((*out)[:0])
	err := gzipTo(z, *buf, t.level)
	*out = z.Bytes()
	textChunk{buf}.release()
	if err != nil {
		return nil, err
	}
	return textChunk{out}, nil
}

func (t *textWriter) Write(p Prepared) error {
	c := p.(textChunk)
	_, err := t.w.Write(*c.buf)
	c.release()
	return err
}

func (t *textWriter) Close() error { return nil }

// arrowWriter writes Parquet (one row group per batch, zstd) or an Arrow
// IPC file (one record batch per batch, zstd).
type arrowWriter struct {
	schema *arrow.Schema
	specs  []Spec
	pq     *pqarrow.FileWriter
	ipc    *ipc.FileWriter
	mem    memory.Allocator
}

type recordChunk struct{ rec arrow.RecordBatch }

func (r recordChunk) release() { r.rec.Release() }

// CreatedBy is the fixed creator string of Parquet files, so that the
// bytes do not depend on library details beyond the pinned version.
const CreatedBy = "haven artificial data"

func newArrowWriter(f Format, w io.Writer, specs []Spec, opts WriterOptions) (*arrowWriter, error) {
	fields := make([]arrow.Field, len(specs))
	for i, s := range specs {
		fields[i] = arrow.Field{Name: s.Name, Type: ArrowType(s.Kind), Nullable: true}
	}
	var md *arrow.Metadata
	if len(opts.Metadata) > 0 {
		keys := make([]string, 0, len(opts.Metadata))
		for k := range opts.Metadata {
			keys = append(keys, k)
		}
		sortStrings(keys)
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = opts.Metadata[k]
		}
		m := arrow.NewMetadata(keys, vals)
		md = &m
	}
	aw := &arrowWriter{schema: arrow.NewSchema(fields, md), specs: specs, mem: memory.NewGoAllocator()}
	var err error
	if f == Parquet {
		props := parquet.NewWriterProperties(
			parquet.WithCompression(compress.Codecs.Zstd),
			parquet.WithCreatedBy(CreatedBy),
			parquet.WithMaxRowGroupLength(1<<40),
			parquet.WithAllocator(aw.mem),
		)
		// The Parquet writer closes its sink; the caller owns w.
		aw.pq, err = pqarrow.NewFileWriter(aw.schema, struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	} else {
		ipcOpts := []ipc.Option{ipc.WithSchema(aw.schema), ipc.WithZstd(), ipc.WithAllocator(aw.mem)}
		if opts.Fast {
			ipcOpts = append(ipcOpts, ipc.WithCompressConcurrency(runtime.GOMAXPROCS(0)))
		}
		aw.ipc, err = ipc.NewFileWriter(w, ipcOpts...)
	}
	if err != nil {
		return nil, err
	}
	return aw, nil
}

// ArrowType is the Arrow type a kind is stored as.
func ArrowType(k Kind) arrow.DataType {
	switch k {
	case Int:
		return arrow.PrimitiveTypes.Int64
	case Float:
		return arrow.PrimitiveTypes.Float64
	case Date:
		return arrow.FixedWidthTypes.Date32
	case Datetime:
		return &arrow.TimestampType{Unit: arrow.Millisecond} // Parquet has no seconds
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}

func (aw *arrowWriter) Prepare(b *Batch) (Prepared, error) {
	cols := make([]arrow.Array, len(aw.specs))
	for i, s := range aw.specs {
		cols[i] = buildArray(aw.mem, s.Kind, &b.Cols[i], b.Len)
	}
	rec := array.NewRecordBatch(aw.schema, cols, int64(b.Len))
	for _, c := range cols {
		c.Release()
	}
	return recordChunk{rec}, nil
}

func buildArray(mem memory.Allocator, k Kind, c *Column, n int) arrow.Array {
	valid := c.Valid
	// A null row's value slot is still written to Arrow buffers: make it
	// zero, not whatever the batch held before, so bytes are reproducible.
	if valid != nil {
		for i := 0; i < n; i++ {
			if valid[i] {
				continue
			}
			switch {
			case c.Ints != nil:
				c.Ints[i] = 0
			case c.Floats != nil:
				c.Floats[i] = 0
			case c.Strs != nil:
				c.Strs[i] = ""
			}
		}
	}
	switch k {
	case Int:
		bl := array.NewInt64Builder(mem)
		defer bl.Release()
		bl.AppendValues(c.Ints[:n], valid)
		return bl.NewArray()
	case Float:
		bl := array.NewFloat64Builder(mem)
		defer bl.Release()
		bl.AppendValues(c.Floats[:n], valid)
		return bl.NewArray()
	case Date:
		bl := array.NewDate32Builder(mem)
		defer bl.Release()
		bl.Reserve(n)
		for i := 0; i < n; i++ {
			if valid != nil && !valid[i] {
				bl.UnsafeAppendBoolToBitmap(false)
				continue
			}
			bl.UnsafeAppend(arrow.Date32(c.Ints[i]))
		}
		return bl.NewArray()
	case Datetime:
		bl := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond})
		defer bl.Release()
		bl.Reserve(n)
		for i := 0; i < n; i++ {
			if valid != nil && !valid[i] {
				bl.UnsafeAppendBoolToBitmap(false)
				continue
			}
			bl.UnsafeAppend(arrow.Timestamp(c.Ints[i] * 1000))
		}
		return bl.NewArray()
	case Bool:
		bl := array.NewBooleanBuilder(mem)
		defer bl.Release()
		bl.Reserve(n)
		for i := 0; i < n; i++ {
			if valid != nil && !valid[i] {
				bl.UnsafeAppendBoolToBitmap(false)
				continue
			}
			bl.UnsafeAppend(c.Ints[i] != 0)
		}
		return bl.NewArray()
	}
	bl := array.NewStringBuilder(mem)
	defer bl.Release()
	bl.AppendValues(c.Strs[:n], valid)
	return bl.NewArray()
}

func (aw *arrowWriter) Write(p Prepared) error {
	r := p.(recordChunk)
	defer r.release()
	if aw.pq != nil {
		return aw.pq.Write(r.rec)
	}
	return aw.ipc.Write(r.rec)
}

func (aw *arrowWriter) Close() error {
	if aw.pq != nil {
		return aw.pq.Close()
	}
	return aw.ipc.Close()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
