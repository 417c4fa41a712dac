package scrape

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// RealisticCSV writes about size bytes of an admissions-like table: a
// unique integer id, a pseudonymised key, sex, date of birth, age, BMI
// (one decimal, 8% missing), systolic pressure, a diagnosis code from a
// few hundred, an admission datetime, a method code with leading zeros,
// a length of stay and a 0/1 flag.
func RealisticCSV(w io.Writer, size int64, seed uint64) (int64, error) {
	r := rand.New(rand.NewPCG(seed, 7))
	codes := make([]string, 400)
	for i := range codes {
		codes[i] = fmt.Sprintf("%c%02d%d", 'A'+rune(i%26), i%100, i%10)
	}
	var buf []byte
	buf = append(buf, "patient_id,pseudo_key,sex,dob,age,bmi,systolic,diag,admitted,admimeth,los,emergency\n"...)
	var written int64
	for i := 0; written < size; i++ {
		buf = strconv.AppendInt(buf, int64(1000000+i), 10)
		buf = append(buf, ',')
		buf = fmt.Appendf(buf, "%016X", uint64(i)*0x9E3779B97F4A7C15)
		buf = append(buf, ',')
		buf = append(buf, "MF"[r.IntN(2)])
		buf = append(buf, ',')
		dob := int32(-15000 + r.IntN(30000))
		buf = append(buf, meta.DayString(dob)...)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(r.IntN(100)), 10)
		buf = append(buf, ',')
		if r.IntN(100) >= 8 {
			buf = strconv.AppendFloat(buf, math.Round((27+5*r.NormFloat64())*10)/10, 'f', 1, 64)
		}
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(90+r.IntN(110)), 10)
		buf = append(buf, ',')
		buf = append(buf, codes[int(math.Abs(r.NormFloat64()*80))%len(codes)]...)
		buf = append(buf, ',')
		buf = append(buf, meta.DayString(int32(17500+r.IntN(1500)))...)
		buf = fmt.Appendf(buf, "T%02d:%02d:%02d", r.IntN(24), r.IntN(60), r.IntN(60))
		buf = append(buf, ',')
		buf = append(buf, []string{"11", "12", "21", "22", "28", "31", "81"}[r.IntN(7)]...)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(r.ExpFloat64()*4), 10)
		buf = append(buf, ',')
		buf = append(buf, "01"[r.IntN(2)])
		buf = append(buf, '\n')
		if len(buf) > 1<<16 {
			n, err := w.Write(buf)
			written += int64(n)
			if err != nil {
				return written, err
			}
			buf = buf[:0]
		}
	}
	n, err := w.Write(buf)
	return written + int64(n), err
}

var benchCSV struct {
	once sync.Once
	data []byte
}

// BenchmarkScrapeCSV scrapes a generated 50 MB admissions-like CSV; the
// MB/s column is CSV input bytes per second.
func BenchmarkScrapeCSV(b *testing.B) {
	benchCSV.once.Do(func() {
		var buf bytes.Buffer
		if _, err := RealisticCSV(&buf, 50<<20, 1); err != nil {
			b.Fatal(err)
		}
		benchCSV.data = buf.Bytes()
	})
	p := filepath.Join(b.TempDir(), "apc.csv")
	if err := os.WriteFile(p, benchCSV.data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchCSV.data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), Options{Inputs: []string{p}})
		if err != nil {
			b.Fatal(err)
		}
		if res.Document.Tables[0].RowsN == 0 {
			b.Fatal("no rows")
		}
	}
}

// The benchmark's table is inferred as intended, so the benchmark measures
// every path it claims to.
func TestRealisticCSVTypes(t *testing.T) {
	var buf bytes.Buffer
	if _, err := RealisticCSV(&buf, 2<<20, 2); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "apc.csv")
	os.WriteFile(p, buf.Bytes(), 0o644)
	res, _ := run(t, Options{Inputs: []string{p}})
	want := map[string]string{
		"patient_id": "identifier", "pseudo_key": "identifier", "sex": "categorical", "dob": "date", "age": "integer",
		"bmi": "float", "systolic": "integer", "diag": "categorical", "admitted": "datetime", "admimeth": "integer",
		"los": "integer", "emergency": "boolean",
	}
	for name, typ := range want {
		if f := field(t, res.Document, "apc", name); f.Type != typ {
			t.Errorf("%s: %s, want %s", name, f.Type, typ)
		}
	}
}
