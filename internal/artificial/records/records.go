// Package records reads data files in column batches: CSV (optionally
// gzip-compressed), Parquet, and Arrow IPC / Feather v2. It is the only
// package of the artificial-data subsystem that reads record-level files;
// internal/artificial/scrape summarises real tables with it and the compare
// command reads generated ones. The generator never imports it.
//
// A Reader streams: memory is bounded by one batch (about a mebibyte of
// CSV, or one record batch of a Parquet or Arrow file), never by the file.
//
// CSV cells arrive as raw text (the bytes between the commas, unquoted);
// Parquet and Arrow columns arrive typed when their type is a number, date,
// timestamp or boolean, and as text otherwise.
package records

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// Format is a file format.
type Format string

// Formats, chosen by file extension.
const (
	CSV     Format = "csv"
	CSVGzip Format = "csv.gz"
	Parquet Format = "parquet"
	Arrow   Format = "arrow" // Arrow IPC file or stream; Feather v2
)

// Kind is how a column's values arrive.
type Kind uint8

// Column kinds.
const (
	// Text cells are raw bytes: every CSV column, and Parquet or Arrow
	// strings, binaries, decimals and other types without a typed form.
	Text Kind = iota
	// Int values are int64s.
	Int
	// Float values are float64s; NaN arrives as null.
	Float
	// Date values are days since 1970-01-01 in Ints.
	Date
	// Datetime values are seconds since 1970-01-01T00:00:00Z in Ints
	// (fractions of a second are floored); a timestamp's time zone is not
	// applied, since Arrow stores instants in UTC.
	Datetime
	// Bool values are in Bools.
	Bool
)

func (k Kind) String() string {
	switch k {
	case Text:
		return "text"
	case Int:
		return "integer"
	case Float:
		return "float"
	case Date:
		return "date"
	case Datetime:
		return "datetime"
	case Bool:
		return "boolean"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Column is one column of a batch. Which slice holds the values depends on
// Kind: Text, Ints (Int, Date, Datetime), Floats or Bools. Valid marks
// non-null rows; nil means every row is non-null (CSV never sets it: an
// empty cell is the empty text, and the caller decides what is null).
//
// Everything a batch holds is valid until the next call to Next, and must
// not be modified.
type Column struct {
	Kind   Kind
	Text   [][]byte
	Ints   []int64
	Floats []float64
	Bools  []bool
	Valid  []bool
}

// Null reports whether row i is null.
func (c *Column) Null(i int) bool { return c.Valid != nil && !c.Valid[i] }

// Batch is a run of consecutive rows, every column the same length.
type Batch struct {
	Len  int
	Cols []Column
}

// Error is a problem with a file's contents: where it is, what is wrong and
// how to fix it. Line is the 1-based line of a CSV file (0 when the
// problem has no line).
type Error struct {
	Path string
	Line int64
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Reader reads one file in batches.
type Reader struct {
	path   string
	format Format
	cols   []string
	kinds  []Kind
	size   int64
	read   atomic.Int64 // bytes of the file consumed, for progress
	impl   batchReader
	closer io.Closer
	done   bool
}

type batchReader interface {
	next() (*Batch, error)
}

// Extensions lists the file name endings Open accepts, for messages.
const Extensions = ".csv, .csv.gz, .gz, .parquet, .arrow, .feather"

// FormatOf returns the format a file name's extension names.
func FormatOf(path string) (Format, bool) {
	name := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(name, ".csv.gz"), strings.HasSuffix(name, ".gz"):
		return CSVGzip, true
	case strings.HasSuffix(name, ".csv"):
		return CSV, true
	case strings.HasSuffix(name, ".parquet"):
		return Parquet, true
	case strings.HasSuffix(name, ".arrow"), strings.HasSuffix(name, ".feather"):
		return Arrow, true
	}
	return "", false
}

// TableName is a file's base name without its data extensions:
// "data/patients.csv.gz" is "patients".
func TableName(path string) string {
	name := filepath.Base(path)
	lower := strings.ToLower(name)
	for _, ext := range []string{".csv.gz", ".gz", ".csv", ".parquet", ".arrow", ".feather"} {
		if strings.HasSuffix(lower, ext) {
			return name[:len(name)-len(ext)]
		}
	}
	return name
}

// Open opens path, choosing the format by its extension (a gzip stream is
// recognised by its magic bytes whatever the extension), and reads the
// header or schema.
func Open(path string) (*Reader, error) {
	format, ok := FormatOf(path)
	if !ok {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("unknown file type: name the file with one of %s", Extensions)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, &Error{Path: path, Msg: "is a directory: give a data file"}
	}
	r := &Reader{path: path, format: format, size: fi.Size(), closer: f}
	var magic [8]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	gz := n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b
	switch format {
	case CSVGzip, CSV:
		if format == CSVGzip && !gz && n > 0 {
			f.Close()
			return nil, &Error{Path: path, Msg: "the name ends in .gz but the file is not gzip-compressed: rename it to .csv or compress it with gzip"}
		}
		if gz {
			r.format = CSVGzip
		}
		if !gz && n >= 4 && bytes.Equal(magic[:4], []byte("PAR1")) {
			f.Close()
			return nil, &Error{Path: path, Msg: "this is a Parquet file named as CSV: rename it to .parquet"}
		}
		if !gz && n >= 6 && bytes.Equal(magic[:6], []byte("ARROW1")) {
			f.Close()
			return nil, &Error{Path: path, Msg: "this is an Arrow file named as CSV: rename it to .arrow"}
		}
		c, err := newCSV(r, f, gz)
		if err != nil {
			f.Close()
			return nil, err
		}
		r.impl = c
	case Parquet:
		p, err := newParquet(r, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		r.impl = p
	case Arrow:
		a, err := newArrow(r, f, magic[:n])
		if err != nil {
			f.Close()
			return nil, err
		}
		r.impl = a
	}
	return r, nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Path: path, Msg: "no such file: check the path"}
	case errors.Is(err, fs.ErrPermission):
		return &Error{Path: path, Msg: "permission denied: check that you may read the file"}
	}
	return err
}

// Path returns the file's path as given to Open.
func (r *Reader) Path() string { return r.path }

// Format returns the file's format.
func (r *Reader) Format() Format { return r.format }

// Columns returns the column names in file order. Names are as written:
// the reader does not check them for duplicates or empty names.
func (r *Reader) Columns() []string { return r.cols }

// Kinds returns how each column's values arrive; the same in every batch.
func (r *Reader) Kinds() []Kind { return r.kinds }

// Size returns the file's size in bytes.
func (r *Reader) Size() int64 { return r.size }

// Offset returns how many bytes of the file have been consumed so far. It
// may be read from another goroutine, for progress reports.
func (r *Reader) Offset() int64 {
	if n := r.read.Load(); n < r.size {
		return n
	}
	return r.size
}

// Next returns the next batch, or nil and io.EOF after the last. Data
// problems are *Error values naming the file (and for CSV the line).
func (r *Reader) Next() (*Batch, error) {
	if r.done {
		return nil, io.EOF
	}
	b, err := r.impl.next()
	if err != nil {
		r.done = true
		if err == io.EOF {
			r.read.Store(r.size)
		}
		return nil, err
	}
	return b, nil
}

// Close releases the file.
func (r *Reader) Close() error {
	r.done = true
	if c, ok := r.impl.(interface{ close() }); ok {
		c.close()
	}
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.closer = nil
	return err
}

// countingReader counts bytes read from the file, for Offset.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
