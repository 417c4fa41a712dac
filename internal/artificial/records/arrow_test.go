package records

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

var fixtureSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "age", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "bmi", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "dob", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "seen", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "sex", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "code", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "big", Type: arrow.PrimitiveTypes.Uint64},
}, nil)

// fixtureRecord builds n rows; every seventh row is null where the column
// allows it.
func fixtureRecord(t testing.TB, n int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, fixtureSchema)
	defer b.Release()
	for i := 0; i < n; i++ {
		null := i%7 == 3
		b.Field(0).(*array.Int64Builder).Append(int64(1000 + i))
		if null {
			for f := 1; f <= 8; f++ {
				b.Field(f).AppendNull()
			}
		} else {
			b.Field(1).(*array.Int32Builder).Append(int32(i % 90))
			if i%11 == 5 {
				b.Field(2).(*array.Float64Builder).Append(math.NaN())
			} else {
				b.Field(2).(*array.Float64Builder).Append(20 + float64(i)/8)
			}
			b.Field(3).(*array.Date32Builder).Append(arrow.Date32(18000 + i))
			b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(1600000000000) + int64(i)*3600500))
			b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
			b.Field(6).(*array.StringBuilder).Append([]string{"F", "M"}[i%2])
			if err := b.Field(7).(*array.BinaryDictionaryBuilder).AppendString([]string{"A01", "B02", "C03"}[i%3]); err != nil {
				t.Fatal(err)
			}
			b.Field(8).(*array.Decimal128Builder).Append(decimal128.FromI64(int64(i*137 - 50)))
		}
		b.Field(9).(*array.Uint64Builder).Append(uint64(1)<<63 + uint64(i))
	}
	return b.NewRecordBatch()
}

// want renders the fixture's row i as the reader should deliver it.
func wantRow(i int) []string {
	if i%7 == 3 {
		return []string{strconv.Itoa(1000 + i), "null", "null", "null", "null", "null", "null", "null", "null", strconv.FormatUint(uint64(1)<<63+uint64(i), 10)}
	}
	bmi := "null"
	if i%11 != 5 {
		bmi = strconv.FormatFloat(20+float64(i)/8, 'g', -1, 64)
	}
	ms := int64(1600000000000) + int64(i)*3600500
	return []string{
		strconv.Itoa(1000 + i), strconv.Itoa(i % 90), bmi, strconv.Itoa(18000 + i), strconv.FormatInt(ms/1000, 10),
		strconv.FormatBool(i%2 == 0), []string{"F", "M"}[i%2], []string{"A01", "B02", "C03"}[i%3],
		decimal128.FromI64(int64(i*137 - 50)).ToString(2), strconv.FormatUint(uint64(1)<<63+uint64(i), 10),
	}
}

func render(c *Column, i int) string {
	if c.Null(i) {
		return "null"
	}
	switch c.Kind {
	case Int, Date, Datetime:
		return strconv.FormatInt(c.Ints[i], 10)
	case Float:
		return strconv.FormatFloat(c.Floats[i], 'g', -1, 64)
	case Bool:
		return strconv.FormatBool(c.Bools[i])
	}
	return string(c.Text[i])
}

func writeParquet(t testing.TB, path string, rec arrow.RecordBatch, rowGroup int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(rowGroup))
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeArrow(t testing.TB, path string, rec arrow.RecordBatch, stream bool) {
	t.Helper()
	var buf bytes.Buffer
	// Two batches, so the reader crosses a batch boundary.
	half := rec.NumRows() / 2
	parts := []arrow.RecordBatch{rec.NewSlice(0, half), rec.NewSlice(half, rec.NumRows())}
	if stream {
		w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithZstd())
		for _, p := range parts {
			if err := w.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
	} else {
		w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(rec.Schema()), ipc.WithZstd())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if err := w.Write(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestArrowAndParquet(t *testing.T) {
	const n = 300
	rec := fixtureRecord(t, n)
	defer rec.Release()
	dir := t.TempDir()
	files := map[string]func(string){
		"t.parquet": func(p string) { writeParquet(t, p, rec, 128) },
		"t.arrow":   func(p string) { writeArrow(t, p, rec, false) },
		"t.feather": func(p string) { writeArrow(t, p, rec, false) },
		"s.arrow":   func(p string) { writeArrow(t, p, rec, true) },
	}
	wantKinds := []Kind{Int, Int, Float, Date, Datetime, Bool, Text, Text, Text, Text}
	for name, write := range files {
		p := filepath.Join(dir, name)
		write(p)
		r, err := Open(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantCols := []string{"id", "age", "bmi", "dob", "seen", "flag", "sex", "code", "amount", "big"}
		if !reflect.DeepEqual(r.Columns(), wantCols) {
			t.Errorf("%s: columns %q", name, r.Columns())
		}
		if !reflect.DeepEqual(r.Kinds(), wantKinds) {
			t.Errorf("%s: kinds %v, want %v", name, r.Kinds(), wantKinds)
		}
		row := 0
		for {
			b, err := r.Next()
			if err != nil {
				break
			}
			for i := 0; i < b.Len; i++ {
				got := make([]string, len(b.Cols))
				for j := range b.Cols {
					got[j] = render(&b.Cols[j], i)
				}
				if want := wantRow(row); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s row %d:\ngot  %q\nwant %q", name, row, got, want)
				}
				row++
			}
		}
		if row != n {
			t.Errorf("%s: %d rows, want %d", name, row, n)
		}
		if r.Offset() != r.Size() {
			t.Errorf("%s: offset %d, size %d", name, r.Offset(), r.Size())
		}
		r.Close()
	}
}

// A nested column is refused with its name and type.
func TestArrowNestedColumn(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "xs", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	lb := b.Field(0).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "n.arrow")
	writeArrow(t, p, rec, false)
	_, err := Open(p)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`column "xs" has type list`)) {
		t.Fatalf("error %v, want the nested column named", err)
	}
}

// Truncated binary files give errors, never panics.
func TestTruncatedBinaryFiles(t *testing.T) {
	rec := fixtureRecord(t, 200)
	defer rec.Release()
	dir := t.TempDir()
	for _, name := range []string{"t.parquet", "t.arrow", "s.arrow"} {
		p := filepath.Join(dir, name)
		switch name {
		case "t.parquet":
			writeParquet(t, p, rec, 64)
		case "t.arrow":
			writeArrow(t, p, rec, false)
		default:
			writeArrow(t, p, rec, true)
		}
		full, _ := os.ReadFile(p)
		for _, cut := range []int{8, len(full) / 3, len(full) / 2, len(full) - 9} {
			q := filepath.Join(dir, "cut_"+strconv.Itoa(cut)+"_"+name)
			os.WriteFile(q, full[:cut], 0o644)
			r, err := Open(q)
			if err == nil {
				for err == nil {
					_, err = r.Next()
				}
				r.Close()
			}
			// Reaching here without a panic is the test; an error is
			// expected for most cuts, and must name the file.
			if err != nil && err.Error() != "EOF" && !bytes.Contains([]byte(err.Error()), []byte(q)) {
				t.Errorf("%s: error %q does not name the file", q, err)
			}
		}
	}
}
