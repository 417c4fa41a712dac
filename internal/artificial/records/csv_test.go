package records

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// readAllFrom reads every row of a CSV reader as strings.
func readAll(t testing.TB, r *Reader) [][]string {
	t.Helper()
	rows, err := collect(r)
	if err != nil {
		t.Fatalf("reading %s: %v", r.Path(), err)
	}
	return rows
}

func collect(r *Reader) ([][]string, error) {
	var rows [][]string
	for {
		b, err := r.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		for i := 0; i < b.Len; i++ {
			row := make([]string, len(b.Cols))
			for j := range b.Cols {
				row[j] = string(b.Cols[j].Text[i])
			}
			rows = append(rows, row)
		}
	}
}

// openSized reads data with a given buffer size.
func openSized(t testing.TB, data string, size int) (*Reader, error) {
	t.Helper()
	r := &Reader{path: "t.csv", format: CSV}
	c, err := newCSVSize(r, strings.NewReader(data), false, size)
	if err != nil {
		return nil, err
	}
	r.impl = c
	return r, nil
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCSVValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		cols []string
		rows [][]string
	}{
		{"plain", "a,b\n1,2\n3,4\n", []string{"a", "b"}, [][]string{{"1", "2"}, {"3", "4"}}},
		{"no final newline", "a,b\n1,2\n3,4", []string{"a", "b"}, [][]string{{"1", "2"}, {"3", "4"}}},
		{"crlf", "a,b\r\n1,2\r\n3,4\r\n", []string{"a", "b"}, [][]string{{"1", "2"}, {"3", "4"}}},
		{"trailing cr at eof", "a,b\n1,2\r", []string{"a", "b"}, [][]string{{"1", "2"}}},
		{"empty cells", "a,b,c\n,,\n1,,\n", []string{"a", "b", "c"}, [][]string{{"", "", ""}, {"1", "", ""}}},
		{"blank lines skipped", "a,b\n\n1,2\n\r\n\n3,4\n\n", []string{"a", "b"}, [][]string{{"1", "2"}, {"3", "4"}}},
		{"quoted comma", "a,b\n\"x, y\",2\n", []string{"a", "b"}, [][]string{{"x, y", "2"}}},
		{"escaped quote", "a,b\n\"say \"\"hi\"\"\",2\n", []string{"a", "b"}, [][]string{{`say "hi"`, "2"}}},
		{"quoted newline", "a,b\n\"line1\nline2\",2\n3,4\n", []string{"a", "b"}, [][]string{{"line1\nline2", "2"}, {"3", "4"}}},
		{"quoted crlf becomes lf", "a,b\r\n\"l1\r\nl2\",2\r\n", []string{"a", "b"}, [][]string{{"l1\nl2", "2"}}},
		{"quoted empty", "a,b\n\"\",\"\"\n", []string{"a", "b"}, [][]string{{"", ""}}},
		{"quoted last at eof", "a,b\n1,\"2\"", []string{"a", "b"}, [][]string{{"1", "2"}}},
		{"quoted header", "\"a,1\",b\n1,2\n", []string{"a,1", "b"}, [][]string{{"1", "2"}}},
		{"bom", "\xef\xbb\xbfa,b\n1,2\n", []string{"a", "b"}, [][]string{{"1", "2"}}},
		{"header only", "a,b\n", []string{"a", "b"}, nil},
		{"header only no newline", "a,b", []string{"a", "b"}, nil},
		{"one column with spaces", "name\n  x  \n", []string{"name"}, [][]string{{"  x  "}}},
		{"utf-8", "naïve,日本\né,語\n", []string{"naïve", "日本"}, [][]string{{"é", "語"}}},
		{"lone cr inside", "a,b\nx\ry,2\n", []string{"a", "b"}, [][]string{{"x\ry", "2"}}},
	} {
		for _, size := range []int{4, 7, 64, bufSize} {
			r, err := openSized(t, tc.in, size)
			if err != nil {
				t.Fatalf("%s (buffer %d): %v", tc.name, size, err)
			}
			if !reflect.DeepEqual(r.Columns(), tc.cols) {
				t.Errorf("%s (buffer %d): columns %q, want %q", tc.name, size, r.Columns(), tc.cols)
			}
			rows := readAll(t, r)
			if !reflect.DeepEqual(rows, tc.rows) {
				t.Errorf("%s (buffer %d): rows %q, want %q", tc.name, size, rows, tc.rows)
			}
		}
	}
}

func TestCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		line int64
		want string // a part of the message
	}{
		{"empty", "", 0, "the file is empty: a CSV needs a header row"},
		{"only blank lines", "\n\r\n\n", 0, "the file is empty"},
		{"ragged short", "a,b,c\n1,2,3\n4,5\n", 3, "row 2 has 2 fields, the header has 3"},
		{"ragged long", "a,b\n1,2\n\n3,4,5\n", 4, "row 2 has 3 fields, the header has 2"},
		{"ragged after quoted newline", "a,b\n\"x\ny\",2\n1\n", 4, "row 2 has 1 field, the header has 2"},
		{"bare quote", "a,b\n1,x\"y\n", 2, `a quote (") inside the unquoted value in column 2 ("b")`},
		{"bare quote in header", "a,b\"\n", 1, `a quote (") inside the unquoted value in column 2`},
		{"extraneous quote", "a,b\n\"x\"y,2\n", 2, `has characters after its closing quote`},
		{"unclosed quote", "a,b\n1,2\n3,\"abc\n", 3, `a quoted value in column 2 ("b") is never closed`},
		{"unclosed quote later line", "a,b\n1,2\n3,\"abc\ndef\n\n", 3, `is never closed`},
		{"invalid utf-8", "a,b\n1,2\n3,caf\xe9\n", 3, "byte 6 of the line (0xE9) is not valid UTF-8"},
		{"invalid utf-8 in quoted", "a,b\n\"x\n\xff\",2\n", 3, "byte 1 of the line (0xFF) is not valid UTF-8"},
		{"invalid utf-8 in header", "a,\xc3\n", 1, "not valid UTF-8"},
	} {
		for _, size := range []int{5, bufSize} {
			r, err := openSized(t, tc.in, size)
			if err == nil {
				_, err = collect(r)
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Errorf("%s (buffer %d): error %v, want a *records.Error", tc.name, size, err)
				continue
			}
			if re.Line != tc.line || !strings.Contains(re.Error(), tc.want) {
				t.Errorf("%s (buffer %d): error %q (line %d), want line %d and %q", tc.name, size, re.Error(), re.Line, tc.line, tc.want)
			}
			if tc.line > 0 && !strings.HasPrefix(re.Error(), "t.csv:") {
				t.Errorf("%s: error %q does not start with file:line", tc.name, re.Error())
			}
		}
	}
}

func TestCSVRowLongerThanBuffer(t *testing.T) {
	long := strings.Repeat("x", 5000)
	in := "a,b\n" + long + ",\"" + long + "\n" + long + "\"\n1,2\n"
	r, err := openSized(t, in, 16)
	if err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, r)
	want := [][]string{{long, long + "\n" + long}, {"1", "2"}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("long rows read wrongly: %d rows", len(rows))
	}
}

func TestOpenFormats(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("a,b\n1,2\n"))
	w.Close()
	// Two gzip members, as the generator writes one per shard.
	w = gzip.NewWriter(&gz)
	w.Write([]byte("3,4\n"))
	w.Close()

	p := writeFile(t, "x.csv.gz", gz.Bytes())
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Format() != CSVGzip {
		t.Errorf("format %q", r.Format())
	}
	if rows := readAll(t, r); !reflect.DeepEqual(rows, [][]string{{"1", "2"}, {"3", "4"}}) {
		t.Errorf("gzip rows %q", rows)
	}
	if r.Offset() != r.Size() {
		t.Errorf("offset %d after the end, size %d", r.Offset(), r.Size())
	}

	// gzip content under a .csv name is still read.
	p2 := writeFile(t, "y.csv", gz.Bytes())
	r2, err := Open(p2)
	if err != nil {
		t.Fatal(err)
	}
	if rows := readAll(t, r2); len(rows) != 2 {
		t.Errorf("sniffed gzip: %q", rows)
	}
	r2.Close()

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"x.gz", []byte("a,b\n"), "not gzip-compressed"},
		{"x.txt", []byte("a,b\n"), "unknown file type"},
		{"x.csv", []byte("PAR1xxxxPAR1"), "Parquet file named as CSV"},
		{"x.csv.gz", append([]byte{0x1f, 0x8b}, []byte("garbage")...), "not a valid gzip file"},
		{"x.parquet", []byte("not parquet at all"), "Parquet"},
		{"x.parquet", nil, "empty"},
		{"x.arrow", []byte("FEA1xxxxxxxxxxxxxx"), "Feather version 1"},
		{"x.arrow", []byte("ARROW1\x00\x00garbage"), "Arrow"},
		{"x.feather", nil, "empty"},
		{"x.csv", nil, "empty"},
	} {
		p := writeFile(t, tc.name, tc.data)
		r, err := Open(p)
		if err == nil {
			_, err = collect(r)
			r.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want %q", tc.name, tc.data, err, tc.want)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.csv")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestTableName(t *testing.T) {
	for in, want := range map[string]string{
		"data/patients.csv.gz":  "patients",
		"patients.CSV":          "patients",
		"/x/events.parquet":     "events",
		"a.b.feather":           "a.b",
		"out.arrow":             "out",
		"weird.gz":              "weird",
		"noext":                 "noext",
		"dir.with.dots/t.csv":   "t",
		"hes_apc_2021.csv.gz":   "hes_apc_2021",
		"hes_apc_2021.csv.GZ":   "hes_apc_2021",
		"patients.parquet.csv":  "patients.parquet",
		"./rel/path/x.feather":  "x",
		"C.parquet":             "C",
		"table.with.csv.inside": "table.with.csv.inside",
	} {
		if got := TableName(in); got != want {
			t.Errorf("TableName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReader checks the chunked reader against encoding/csv: on every
// UTF-8 input both accept, they give the same header and rows; when
// encoding/csv rejects an input (a quote error or a ragged row), so does
// the reader. The buffer size varies so records straddle refills.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a,b\r\n\"x\r\ny\",2\r\n", "a\n\n\nb\n", "a,b\n\"\"\"\",\"\"\n", "a,b\n1,\"2\"",
		"a,b\n1,x\"y\n", "a\n\"abc", "a,b\n1\n", "a\r\n\r\n", "\"a\"\r", "a,b\n\"x\"y,2\n", "x\n\r\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		if !utf8.Valid(data) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			return
		}
		want, werr := stdCSV(data)
		r, err := openSized(t, string(data), 1+int(size)%64)
		var got [][]string
		if err == nil {
			got, err = collect(r)
			got = append([][]string{r.Columns()}, got...)
		}
		if werr != nil || len(want) == 0 {
			if err == nil {
				t.Fatalf("encoding/csv: %v (records %q); the reader accepted %q as %q", werr, want, data, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("encoding/csv read %q as %q; the reader failed: %v", data, want, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %q:\nencoding/csv %q\nreader       %q", data, want, got)
		}
	})
}

func stdCSV(data []byte) ([][]string, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	var out [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}
