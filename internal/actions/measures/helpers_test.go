package measures

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/artificial/frame"
)

// workspaceWith makes a workspace holding files (workspace-relative path
// to contents).
func workspaceWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, dir, name, []byte(content))
	}
	return dir
}

func writeFile(t *testing.T, dir, name string, content []byte) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	if _, err := z.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fcol is one column of a Feather fixture: values as text, "null" for a
// null.
type fcol struct {
	name string
	kind frame.Kind
	vals []string
}

// writeFeather writes an Arrow IPC (Feather v2) file.
func writeFeather(t *testing.T, dir, name string, cols []fcol) {
	t.Helper()
	specs := make([]frame.Spec, len(cols))
	for i, c := range cols {
		specs[i] = frame.Spec{Name: c.name, Kind: c.kind, Decimals: -1}
	}
	n := 0
	if len(cols) > 0 {
		n = len(cols[0].vals)
	}
	var b frame.Batch
	b.Reset(specs, 0, n)
	for i, c := range cols {
		col := &b.Cols[i]
		for r, v := range c.vals {
			if v == "null" {
				if col.Valid == nil {
					b.SetNullable(i)
				}
				col.Valid[r] = false
				continue
			}
			var err error
			switch c.kind {
			case frame.Int:
				col.Ints[r], err = strconv.ParseInt(v, 10, 64)
			case frame.Float:
				col.Floats[r], err = strconv.ParseFloat(v, 64)
			case frame.Bool:
				col.Ints[r] = 0
				if v == "1" || v == "true" {
					col.Ints[r] = 1
				}
			case frame.Date:
				var d time.Time
				d, err = time.Parse(time.DateOnly, v)
				col.Ints[r] = d.Unix() / 86400
			case frame.Datetime:
				var d time.Time
				d, err = time.Parse("2006-01-02T15:04:05", v)
				col.Ints[r] = d.Unix()
			default:
				col.Strs[r] = v
			}
			if err != nil {
				t.Fatalf("%s: column %s: %v", name, c.name, err)
			}
		}
	}
	var buf bytes.Buffer
	w, err := frame.NewWriter(frame.Arrow, &buf, specs, frame.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Prepare(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, name, buf.Bytes())
}

// generate runs Generate with progress captured.
func generate(t *testing.T, o Options) ([]string, string, error) {
	t.Helper()
	var out strings.Builder
	o.Stdout = &out
	paths, err := Generate(context.Background(), o)
	return paths, out.String(), err
}

func nan() float64 { return math.NaN() }
