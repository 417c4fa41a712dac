package scrape

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

var typedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "patient_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "age", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "weight", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "dob", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "seen", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "alive", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "code", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "token", Type: arrow.BinaryTypes.String},
	{Name: "unused", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// typedRecord builds n rows and returns the identifier and free-text
// values, which must never reach the metadata.
func typedRecord(t testing.TB, n int) (arrow.RecordBatch, []string) {
	t.Helper()
	r := rand.New(rand.NewPCG(4, 2))
	b := array.NewRecordBuilder(memory.DefaultAllocator, typedSchema)
	defer b.Release()
	var secrets []string
	for i := 0; i < n; i++ {
		pid := int64(4000000000 + 17*i)
		secrets = append(secrets, strconv.FormatInt(pid, 10))
		b.Field(0).(*array.Int64Builder).Append(pid)
		if i%10 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int32Builder).Append(int32(r.IntN(90)))
		}
		b.Field(2).(*array.Float64Builder).Append(float64(40000+r.IntN(80000)) / 1000)
		b.Field(3).(*array.Date32Builder).Append(arrow.Date32(-3000 + r.IntN(20000)))
		b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp((int64(1700000000) + int64(r.IntN(86400*30))) * 1000000))
		b.Field(5).(*array.BooleanBuilder).Append(r.IntN(3) > 0)
		b.Field(6).(*array.StringBuilder).Append([]string{"North", "South", "East"}[r.IntN(3)])
		if err := b.Field(7).(*array.BinaryDictionaryBuilder).AppendString(fmt.Sprintf("C%02d", r.IntN(12))); err != nil {
			t.Fatal(err)
		}
		note := fmt.Sprintf("patient reported %d episodes of dizziness", 1000+i)
		secrets = append(secrets, note)
		b.Field(8).(*array.StringBuilder).Append(note)
		tok := fmt.Sprintf("tk%010dq", 77000000+3*i)
		secrets = append(secrets, tok)
		b.Field(9).(*array.StringBuilder).Append(tok)
		b.Field(10).AppendNull()
	}
	return b.NewRecordBatch(), secrets
}

func TestScrapeParquetAndArrow(t *testing.T) {
	rec, secrets := typedRecord(t, 3000)
	defer rec.Release()
	dir := t.TempDir()

	pq := filepath.Join(dir, "typed.parquet")
	f, err := os.Create(pq)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(typedSchema, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(1000)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	aw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(typedSchema), ipc.WithZstd())
	if err != nil {
		t.Fatal(err)
	}
	aw.Write(rec.NewSlice(0, 1234))
	aw.Write(rec.NewSlice(1234, 3000))
	aw.Close()
	ar := filepath.Join(dir, "typed2.feather")
	os.WriteFile(ar, buf.Bytes(), 0o644)

	want := map[string]string{
		"patient_id": meta.TypeIdentifier, "age": meta.TypeInteger, "weight": meta.TypeFloat, "dob": meta.TypeDate,
		"seen": meta.TypeDatetime, "alive": meta.TypeBoolean, "region": meta.TypeCategorical, "code": meta.TypeCategorical,
		"note": meta.TypeFreeText, "token": meta.TypeIdentifier, "unused": meta.TypeFloat,
	}
	res, raw := run(t, Options{Inputs: []string{pq, ar}})
	for _, table := range []string{"typed", "typed2"} {
		for name, typ := range want {
			f := field(t, res.Document, table, name)
			if f.Type != typ {
				t.Errorf("%s.%s: %s, want %s", table, name, f.Type, typ)
			}
		}
		if f := field(t, res.Document, table, "age"); len(f.Values) != 90 || f.NullN != 300 {
			t.Errorf("%s.age: %d values, null_n %d", table, len(f.Values), f.NullN)
		}
		if f := field(t, res.Document, table, "weight"); f.Continuous == nil || f.Continuous.Decimals != 3 {
			t.Errorf("%s.weight: %+v", table, f.Continuous)
		}
		if f := field(t, res.Document, table, "seen"); f.Format != LayoutDateTime || len(f.Hours) != 24 {
			t.Errorf("%s.seen: format %q, %d hours", table, f.Format, len(f.Hours))
		}
		if f := field(t, res.Document, table, "dob"); f.Format != LayoutISO || len(f.Bins) == 0 {
			t.Errorf("%s.dob: format %q, %d bins", table, f.Format, len(f.Bins))
		}
		if f := field(t, res.Document, table, "alive"); len(f.Values) != 2 || f.Values[0].V != "false" {
			t.Errorf("%s.alive: %+v", table, f.Values)
		}
		if f := field(t, res.Document, table, "code"); len(f.Values) != 12 || f.Values[0].V != "C00" {
			t.Errorf("%s.code: %+v", table, f.Values)
		}
		if f := field(t, res.Document, table, "patient_id"); f.Identifier.Kind != "integer" {
			t.Errorf("%s.patient_id: %+v", table, f.Identifier)
		}
		if f := field(t, res.Document, table, "token"); f.Identifier.Pattern != "TEST[0-9a-z]{9}" {
			t.Errorf("%s.token: %+v", table, f.Identifier)
		}
		if f := field(t, res.Document, table, "unused"); f.NullN != 3000 || f.NNonNull != 0 {
			t.Errorf("%s.unused: %+v", table, f)
		}
	}
	// Both formats give the same fields.
	a, b := res.Document.Tables[0].Fields, res.Document.Tables[1].Fields
	ja, _ := meta.Canonical(mustJSON(t, a))
	jb, _ := meta.Canonical(mustJSON(t, b))
	if !bytes.Equal(ja, jb) {
		t.Errorf("Parquet and Arrow metadata differ:\n%s\n%s", ja, jb)
	}
	for _, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Fatalf("%q leaked into the metadata", s)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	d := &meta.Document{Tables: []meta.Table{{Fields: v.([]meta.Field)}}}
	b, err := meta.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A gzip-compressed CSV scrapes like the plain file.
func TestScrapeGzip(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("sex,age\n")
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&b, "%s,%d\n", []string{"M", "F"}[i%2], i%37)
	}
	plain := filepath.Join(dir, "a.csv")
	os.WriteFile(plain, []byte(b.String()), 0o644)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(b.String()))
	w.Close()
	zipped := filepath.Join(dir, "b.csv.gz")
	os.WriteFile(zipped, gz.Bytes(), 0o644)
	res, _ := run(t, Options{Inputs: []string{plain, zipped}})
	ja := mustJSON(t, res.Document.Tables[0].Fields)
	jb := mustJSON(t, res.Document.Tables[1].Fields)
	if !bytes.Equal(ja, jb) {
		t.Errorf("gzip and plain differ:\n%s\n%s", ja, jb)
	}
}
