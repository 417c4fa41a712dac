package frame

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/haven-tre/haven/internal/artificial/civil"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ReadBlocks reads a Parquet or Arrow file written by this package and
// calls fn with each row group or record batch as a Batch, with the specs
// and key-value metadata of the file. It is how shards are merged; it is
// not a general reader of other people's files.
func ReadBlocks(path string, f Format, fn func(specs []Spec, md map[string]string, b *Batch) error) error {
	mem := memory.NewGoAllocator()
	switch f {
	case Parquet:
		pf, err := file.OpenParquetFile(path, false)
		if err != nil {
			return fmt.Errorf("%s: not a readable Parquet file: %v", path, err)
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 30}, mem)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		schema, err := fr.Schema()
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		specs, md, err := specsOf(schema)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		var b Batch
		all := make([]int, len(specs))
		for i := range all {
			all[i] = i
		}
		for rg := 0; rg < pf.NumRowGroups(); rg++ {
			tbl, err := fr.ReadRowGroups(context.Background(), all, []int{rg})
			if err != nil {
				return fmt.Errorf("%s: row group %d: %v", path, rg, err)
			}
			err = tableToBatch(tbl, specs, &b)
			tbl.Release()
			if err != nil {
				return fmt.Errorf("%s: row group %d: %v", path, rg, err)
			}
			if err := fn(specs, md, &b); err != nil {
				return err
			}
		}
		return nil
	case Arrow:
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		r, err := ipc.NewFileReader(fh, ipc.WithAllocator(mem))
		if err != nil {
			return fmt.Errorf("%s: not a readable Arrow IPC file: %v", path, err)
		}
		defer r.Close()
		specs, md, err := specsOf(r.Schema())
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		var b Batch
		for i := 0; i < r.NumRecords(); i++ {
			rec, err := r.RecordBatch(i)
			if err != nil {
				return fmt.Errorf("%s: record batch %d: %v", path, i, err)
			}
			b.Reset(specs, 0, int(rec.NumRows()))
			for c := range specs {
				if err := arrayToColumn(rec.Column(c), specs[c].Kind, &b.Cols[c]); err != nil {
					rec.Release()
					return fmt.Errorf("%s: column %s: %v", path, specs[c].Name, err)
				}
			}
			rec.Release()
			if err := fn(specs, md, &b); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%s: format %q has no blocks to read", path, f)
}

func specsOf(s *arrow.Schema) ([]Spec, map[string]string, error) {
	specs := make([]Spec, s.NumFields())
	for i, f := range s.Fields() {
		var k Kind
		switch f.Type.ID() {
		case arrow.INT64:
			k = Int
		case arrow.FLOAT64:
			k = Float
		case arrow.DATE32:
			k = Date
		case arrow.TIMESTAMP:
			k = Datetime
		case arrow.BOOL:
			k = Bool
		case arrow.STRING:
			k = String
		default:
			return nil, nil, fmt.Errorf("column %s has type %s, which Haven does not write", f.Name, f.Type)
		}
		specs[i] = Spec{Name: f.Name, Kind: k, Decimals: -1}
	}
	md := map[string]string{}
	m := s.Metadata()
	for i, k := range m.Keys() {
		if k == "ARROW:schema" {
			continue
		}
		md[k] = m.Values()[i]
	}
	return specs, md, nil
}

func tableToBatch(tbl arrow.Table, specs []Spec, b *Batch) error {
	b.Reset(specs, 0, int(tbl.NumRows()))
	for c := range specs {
		ch := tbl.Column(c).Data()
		var arr arrow.Array
		if len(ch.Chunks()) == 1 {
			arr = ch.Chunk(0)
			arr.Retain()
		} else {
			var err error
			if arr, err = array.Concatenate(ch.Chunks(), memory.NewGoAllocator()); err != nil {
				return err
			}
		}
		err := arrayToColumn(arr, specs[c].Kind, &b.Cols[c])
		arr.Release()
		if err != nil {
			return fmt.Errorf("column %s: %v", specs[c].Name, err)
		}
	}
	return nil
}

// arrayToColumn copies an Arrow array into a column (already sized).
func arrayToColumn(a arrow.Array, k Kind, c *Column) error {
	n := a.Len()
	if a.NullN() > 0 {
		c.Valid = grow(c.vbuf, n)
		c.vbuf = c.Valid
		for i := 0; i < n; i++ {
			c.Valid[i] = a.IsValid(i)
		}
	}
	switch v := a.(type) {
	case *array.Int64:
		copy(c.Ints, v.Int64Values())
	case *array.Float64:
		copy(c.Floats, v.Float64Values())
	case *array.Date32:
		for i, d := range v.Date32Values() {
			c.Ints[i] = int64(d)
		}
	case *array.Timestamp:
		per := int64(1)
		switch v.DataType().(*arrow.TimestampType).Unit {
		case arrow.Millisecond:
			per = 1000
		case arrow.Microsecond:
			per = 1000000
		case arrow.Nanosecond:
			per = 1000000000
		}
		for i, d := range v.TimestampValues() {
			c.Ints[i] = civil.FloorDiv(int64(d), per)
		}
	case *array.Boolean:
		for i := 0; i < n; i++ {
			if v.Value(i) {
				c.Ints[i] = 1
			} else {
				c.Ints[i] = 0
			}
		}
	case *array.String:
		for i := 0; i < n; i++ {
			if v.IsValid(i) {
				c.Strs[i] = v.Value(i)
			} else {
				c.Strs[i] = ""
			}
		}
	default:
		return fmt.Errorf("unexpected array type %s for %s", a.DataType(), k)
	}
	return nil
}

// Merge joins shard files, in order, into one file identical to the one an
// unsharded run would have written. CSV and gzip-compressed CSV parts are
// concatenated (only the first may have a header); Parquet and Arrow parts
// are read block by block and written again under one footer.
func Merge(dst io.Writer, f Format, parts []string) error {
	if len(parts) == 0 {
		return fmt.Errorf("no parts to merge")
	}
	switch f {
	case CSV, CSVGz:
		var header []byte
		for i, p := range parts {
			fh, err := os.Open(p)
			if err != nil {
				return err
			}
			if f == CSV {
				first, _ := bufio.NewReader(fh).ReadBytes('\n')
				if i == 0 {
					header = first
				} else if len(first) > 0 && bytes.Equal(first, header) {
					fh.Close()
					return fmt.Errorf("%s starts with the header row: only the first shard (--shard 0/N) has one; give the parts in shard order", p)
				}
				if _, err := fh.Seek(0, io.SeekStart); err != nil {
					fh.Close()
					return err
				}
			}
			_, err = io.Copy(dst, fh)
			fh.Close()
			if err != nil {
				return err
			}
		}
		return nil
	case Parquet, Arrow:
		var w Writer
		var first []Spec
		for _, p := range parts {
			err := ReadBlocks(p, f, func(specs []Spec, md map[string]string, b *Batch) error {
				if w == nil {
					var err error
					if w, err = NewWriter(f, dst, specs, WriterOptions{Metadata: md}); err != nil {
						return err
					}
					first = specs
				} else if !sameSpecs(first, specs) {
					return fmt.Errorf("%s has other columns than %s: parts must come from one generate command", p, parts[0])
				}
				pr, err := w.Prepare(b)
				if err != nil {
					return err
				}
				return w.Write(pr)
			})
			if err != nil {
				return err
			}
		}
		if w == nil {
			return fmt.Errorf("%s has no rows to merge", parts[0])
		}
		return w.Close()
	}
	return fmt.Errorf("unknown format %q", f)
}

func sameSpecs(a, b []Spec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Kind != b[i].Kind {
			return false
		}
	}
	return true
}
