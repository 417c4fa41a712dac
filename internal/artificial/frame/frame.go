// Package frame holds generated data in column batches and writes them as
// CSV, gzip-compressed CSV, Parquet or Arrow IPC. Both generators (metadata
// mode in internal/artificial/gen, expectations mode in
// internal/artificial/expect) fill batches; the writers never see where the
// values came from.
package frame

import "fmt"

// Kind is a column's value kind.
type Kind int

// Column kinds. Dates are days since 1970-01-01, datetimes seconds since
// 1970-01-01T00:00:00Z, both in Ints; booleans are 0 or 1 in Ints.
const (
	Int Kind = iota
	Float
	Date
	Datetime
	Bool
	String
)

func (k Kind) String() string {
	switch k {
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
	case String:
		return "string"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Spec describes one output column.
type Spec struct {
	Name string
	Kind Kind
	// Decimals is the number of decimal places a Float is written with in
	// text formats; -1 writes Go's shortest round-trip form.
	Decimals int
	// Layout is the Go time layout a Date or Datetime is written with in
	// text formats; "" means ISO 8601 ("2006-01-02", "2006-01-02T15:04:05").
	Layout string
	// True and False are how a Bool is written in text formats; "" means
	// "1" and "0".
	True, False string
	// Plain promises that no String value needs CSV quoting (no comma,
	// quote, line break or edge space), so the writer need not look.
	Plain bool
}

// Column is one column of a batch. Exactly one of Ints, Floats and Strs is
// used, by Kind. Valid marks non-null rows; nil means every row is set.
type Column struct {
	Ints   []int64
	Floats []float64
	Strs   []string
	Valid  []bool
	vbuf   []bool // Valid's storage, kept across Reset
}

// Null reports whether row i is null.
func (c *Column) Null(i int) bool { return c.Valid != nil && !c.Valid[i] }

// Batch is a run of consecutive rows: rows [Start, Start+Len) of the
// output, all columns the same length.
type Batch struct {
	Start uint64
	Len   int
	Cols  []Column
}

// Reset sizes every column of b for n rows of the given specs, reusing
// storage.
func (b *Batch) Reset(specs []Spec, start uint64, n int) {
	b.Start, b.Len = start, n
	if cap(b.Cols) < len(specs) {
		b.Cols = make([]Column, len(specs))
	}
	b.Cols = b.Cols[:len(specs)]
	for i, s := range specs {
		c := &b.Cols[i]
		switch s.Kind {
		case Float:
			c.Floats = grow(c.Floats, n)
		case String:
			c.Strs = grow(c.Strs, n)
		default:
			c.Ints = grow(c.Ints, n)
		}
		if c.Valid != nil {
			c.vbuf = c.Valid
		}
		c.Valid = nil
	}
}

// SetNullable gives column i a validity vector with every row valid.
func (b *Batch) SetNullable(i int) {
	c := &b.Cols[i]
	c.Valid = grow(c.vbuf, b.Len)
	c.vbuf = c.Valid
	for j := range c.Valid {
		c.Valid[j] = true
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
