package frame

import (
	"math"
	"strconv"
	"testing"
	"time"
)

func TestAppendFloatMatchesStrconv(t *testing.T) {
	for _, d := range []int{0, 1, 2, 3, 6} {
		p := math.Pow(10, float64(d))
		for _, x := range []float64{0, 1, -1, 0.5, 12.35, -0.04, 99.999, 1234567.891, 28.4, 1e15, -7.25} {
			v := math.Round(x*p) / p
			want := strconv.FormatFloat(v+0, 'f', d, 64) // negative zero is written as 0
			if got := string(AppendFloat(nil, v, d)); got != want {
				t.Errorf("AppendFloat(%v, %d) = %q, want %q", v, d, got, want)
			}
		}
	}
	if got := string(AppendFloat(nil, 0.1, -1)); got != "0.1" {
		t.Errorf("shortest form of 0.1 is %q", got)
	}
}

func TestISODates(t *testing.T) {
	for day := int64(-800000); day < 800000; day += 97 {
		want := time.Unix(day*86400, 0).UTC()
		if y := want.Year(); y >= 0 && y <= 9999 {
			if got := string(AppendISODate(nil, day)); got != want.Format("2006-01-02") {
				t.Fatalf("AppendISODate(%d) = %q, want %q", day, got, want.Format("2006-01-02"))
			}
		}
	}
}

func TestCSVQuoting(t *testing.T) {
	specs := []Spec{{Name: "s", Kind: String}, {Name: "b", Kind: Bool, True: "Y", False: "N"}, {Name: "t", Kind: Datetime}}
	var b Batch
	b.Reset(specs, 0, 3)
	b.Cols[0].Strs = []string{`a,b`, `say "hi"`, " edge"}
	b.Cols[1].Ints = []int64{1, 0, 1}
	b.Cols[2].Ints = []int64{0, 86399, -1}
	b.SetNullable(1)
	b.Cols[1].Valid[2] = false
	got := string(appendCSV(nil, specs, &b))
	want := "\"a,b\",Y,1970-01-01T00:00:00\n\"say \"\"hi\"\"\",N,1970-01-01T23:59:59\n\" edge\",,1969-12-31T23:59:59\n"
	if got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}
