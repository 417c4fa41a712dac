package scrape

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/records"
)

func TestIsNull(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "NA": true, "NULL": true, "null": true, "NaN": true,
		"na": false, "N/A": false, " ": false, "0": false, "Null": false, "nan": false,
	} {
		if got := isNull([]byte(s)); got != want {
			t.Errorf("isNull(%q) = %v", s, got)
		}
	}
}

func TestBoolPair(t *testing.T) {
	for _, tc := range []struct {
		tokens []string
		want   bool
	}{
		{[]string{"0", "1"}, true}, {[]string{"1"}, true}, {[]string{"true", "false"}, true},
		{[]string{"TRUE", "FALSE"}, true}, {[]string{"True"}, true}, {[]string{"T", "F"}, true},
		{[]string{"Y", "N"}, true}, {[]string{"yes", "no"}, true},
		{[]string{"true", "FALSE"}, false}, {[]string{"Y", "no"}, false}, {[]string{"1", "2"}, false},
		{[]string{"0", "1", "2"}, false}, {nil, false}, {[]string{"yes", "YES"}, false},
	} {
		if got := boolPair(tc.tokens) >= 0; got != tc.want {
			t.Errorf("boolPair(%q) = %v", tc.tokens, got)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for _, tc := range []struct {
		in    string
		v     float64
		isInt bool
		dec   int
		ok    bool
	}{
		{"0", 0, true, 0, true},
		{"-0", 0, true, 0, true},
		{"42", 42, true, 0, true},
		{"-17", -17, true, 0, true},
		{"9223372036854775807", 9223372036854775807, true, 0, true},
		{"9223372036854775808", 9223372036854775808, false, 0, true},
		{"1.50", 1.5, false, 2, true},
		{"-0.001", -0.001, false, 3, true},
		{"0.1", 0.1, false, 1, true},
		{"123456789.123456", 123456789.123456, false, 6, true},
		{"1e5", 1e5, false, 0, true},
		{"1.5e-3", 0.0015, false, 4, true},
		{"2.5E+2", 250, false, 0, true},
		{"007", 0, false, 0, false},
		{"+5", 0, false, 0, false},
		{".5", 0, false, 0, false},
		{"5.", 0, false, 0, false},
		{"1,000", 0, false, 0, false},
		{" 1", 0, false, 0, false},
		{"1 ", 0, false, 0, false},
		{"-", 0, false, 0, false},
		{"1e", 0, false, 0, false},
		{"inf", 0, false, 0, false},
		{"NaN", 0, false, 0, false},
		{"1e999", 0, false, 0, false},
		{"0x10", 0, false, 0, false},
		{"", 0, false, 0, false},
	} {
		v, isInt, dec, ok := parseNumber([]byte(tc.in))
		if ok != tc.ok || (ok && (v != tc.v || isInt != tc.isInt || dec != tc.dec)) {
			t.Errorf("parseNumber(%q) = %v, %v, %d, %v; want %v, %v, %d, %v", tc.in, v, isInt, dec, ok, tc.v, tc.isInt, tc.dec, tc.ok)
		}
	}
}

// The fast decimal path agrees with strconv on random decimals.
func TestParseNumberMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	for i := 0; i < 200000; i++ {
		d := r.IntN(9)
		x := (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(12)))
		s := strconv.FormatFloat(x, 'f', d, 64)
		v, _, dec, ok := parseNumber([]byte(s))
		want, _ := strconv.ParseFloat(s, 64)
		if !ok || v != want || (d > 0 && dec != d) {
			t.Fatalf("parseNumber(%q) = %v (dec %d, ok %v), strconv %v", s, v, dec, ok, want)
		}
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"1", "-1.25", "1e10", "007", "9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, isInt, _, ok := parseNumber([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || want != v {
			t.Fatalf("parseNumber(%q) = %v, strconv %v %v", s, v, want, err)
		}
		if isInt {
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				t.Fatalf("%q is an integer but ParseInt fails: %v", s, err)
			}
		}
	})
}

func TestParseDate(t *testing.T) {
	day := func(s string) int32 { d, _ := meta.ParseDay(s); return d }
	for _, tc := range []struct {
		in     string
		layout dateLayout
		day    int32
		hour   int
		frac   bool
		ok     bool
	}{
		{"2020-02-29", dateLayout{base: LayoutISO}, day("2020-02-29"), 0, false, true},
		{"2021-02-29", dateLayout{base: LayoutISO}, 0, 0, false, false},
		{"29/02/2020", dateLayout{base: LayoutDMY}, day("2020-02-29"), 0, false, true},
		{"02/29/2020", dateLayout{base: LayoutDMY}, 0, 0, false, false},
		{"20200229", dateLayout{base: LayoutCompact}, day("2020-02-29"), 0, false, true},
		{"20201301", dateLayout{base: LayoutCompact}, 0, 0, false, false},
		{"2020-01-02T13:04:05", dateLayout{base: LayoutDateTime}, day("2020-01-02"), 13, false, true},
		{"2020-01-02 23:59:59.123", dateLayout{base: LayoutSpaced}, day("2020-01-02"), 23, true, true},
		{"2020-01-02T13:04:05Z", dateLayout{base: LayoutDateTime, z: true}, day("2020-01-02"), 13, false, true},
		{"2020-01-02T13:04:05", dateLayout{base: LayoutDateTime, z: true}, 0, 0, false, false},
		{"2020-01-02T24:00:00", dateLayout{base: LayoutDateTime}, 0, 0, false, false},
		{"2020-01-02T10:00:00.", dateLayout{base: LayoutDateTime}, 0, 0, false, false},
		{"2020-01-02T10:00:00+01:00", dateLayout{base: LayoutDateTime}, 0, 0, false, false},
		{"0000-01-01", dateLayout{base: LayoutISO}, 0, 0, false, false},
	} {
		d, h, frac, ok := parseDate(tc.layout, []byte(tc.in))
		if ok != tc.ok || (ok && (d != tc.day || h != tc.hour || frac != tc.frac)) {
			t.Errorf("parseDate(%+v, %q) = %d, %d, %v, %v", tc.layout, tc.in, d, h, frac, ok)
		}
	}
	if l, ok := detectLayout([]byte("20200101"), false); ok {
		t.Errorf("8 digits detected as %+v without a date-like name", l)
	}
	if got := (dateLayout{base: LayoutSpaced, z: true}).format(true); got != "2006-01-02 15:04:05.999999999Z" {
		t.Errorf("format %q", got)
	}
}

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{[]string{"AB123456", "CD654321", "EF0"}, "TEST[0-9A-Z]{8}"}, // at least 10^12 values
		{[]string{"0123456789", "9876543210"}, "TEST[0-9]{12}"},
		{[]string{"abc-def-ghi"}, "TEST[a-z]{9}"},
		{[]string{"x"}, "TEST[a-z]{9}"},
		{[]string{"---"}, "TEST[0-9A-Z]{8}"},
		{[]string{"AB12345678901234"}, "TEST[0-9A-Z]{12}"}, // longer sources keep their length
		{nil, "TEST[0-9A-Z]{12}"},
		{[]string{"4f1a9c0e-11aa-4bbb-8ccc-0123456789ab"}, "TEST[0-9a-z]{32}"},
	} {
		var s shapeAcc
		for _, v := range tc.values {
			s.add([]byte(v), 1)
		}
		if got := s.pattern(); got != tc.want {
			t.Errorf("pattern of %q = %q, want %q", tc.values, got, tc.want)
		}
	}
}

// The sketch's percentiles stay within 0.1 percentile points of the exact
// ranks on a column with far more distinct values than the exact cap.
func TestSketchAccuracy(t *testing.T) {
	defer func(c int) { ExactCap = c }(ExactCap)
	ExactCap = 20000
	r := rand.New(rand.NewPCG(11, 12))
	const n = 1500000
	acc := newNumAcc(false)
	var all []float64
	for i := 0; i < n; i++ {
		// Lognormal with heavy ties at round numbers.
		v := math.Round(math.Exp(r.NormFloat64())*1e5) / 100
		if i%10 == 0 {
			v = float64(r.IntN(50))
		}
		all = append(all, v)
		acc.add(v, false, 2, 1)
	}
	if acc.sk == nil {
		t.Fatal("the column was not sketched")
	}
	slices.Sort(all)
	ps := make([]int, 0, 98)
	for p := 2; p <= 99; p++ {
		ps = append(ps, p)
	}
	got := acc.percentiles(ps)
	for i, p := range ps {
		// The true rank interval of the returned value.
		lo, _ := slices.BinarySearch(all, got[i])
		hi := lo
		for hi < n && all[hi] == got[i] {
			hi++
		}
		target := float64(p) / 100 * n
		var dist float64
		switch {
		case target < float64(lo):
			dist = float64(lo) - target
		case target > float64(hi):
			dist = target - float64(hi)
		}
		if dist/n > 0.001 {
			t.Errorf("p%d: value %v has ranks %d..%d, %.4f%% from the target", p, got[i], lo, hi, 100*dist/n)
		}
	}
	if d := acc.distinct(); d < 100000 {
		t.Errorf("distinct estimate %d", d)
	}
}

func TestExactPercentiles(t *testing.T) {
	acc := newNumAcc(false)
	for v := 1; v <= 200; v++ {
		acc.add(float64(v), true, 0, 1)
	}
	got := acc.percentiles([]int{1, 25, 50, 99, 100})
	want := []float64{2, 50, 100, 198, 200}
	if !slices.Equal(got, want) {
		t.Errorf("percentiles %v, want %v", got, want)
	}
}

func TestHLL(t *testing.T) {
	for _, n := range []int{10, 1000, 50000, 1000000} {
		h := newHLL()
		for i := 0; i < n; i++ {
			h.add(hashBytes([]byte("id" + strconv.Itoa(i))))
			h.add(hashBytes([]byte("id" + strconv.Itoa(i/2)))) // repeats
		}
		e := h.estimate()
		if math.Abs(float64(e)-float64(n))/float64(n) > 0.03 {
			t.Errorf("n=%d: estimate %d", n, e)
		}
	}
}

// A fixed-layout date column in overflow skips the shape and distinct
// count; when a non-date arrives they are rebuilt exactly.
func TestOverflowUndefer(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	var vals [][]byte
	for i := 0; i < 3000; i++ {
		d := int32(-5000 + r.IntN(20000))
		y, m, dd := meta.CivilFromDays(d)
		vals = append(vals, []byte(strconv.Itoa(dd/10)+strconv.Itoa(dd%10)+"/"+strconv.Itoa(m/10)+strconv.Itoa(m%10)+"/"+strconv.Itoa(y)))
	}
	vals = append(vals, []byte("unknown"))
	deferred := &overflow{hll: newHLL(), numOK: true, num: newNumAcc(false), dateOK: true, layout: dateLayout{base: LayoutDMY}, dates: newDateAcc()}
	direct := &overflow{hll: newHLL()}
	for _, v := range vals {
		deferred.addN(v, 2)
		direct.addN(v, 2)
	}
	if deferred.dateOK || deferred.deferred != 0 {
		t.Fatal("the date candidate survived a non-date")
	}
	if deferred.shape.class != direct.shape.class || deferred.shape.short != direct.shape.short || deferred.shape.values != direct.shape.values {
		t.Errorf("shapes differ:\n%+v\n%+v", deferred.shape, direct.shape)
	}
	if deferred.hll.reg != direct.hll.reg {
		t.Error("distinct counters differ")
	}
}

// An identifier column's integers skip the shape until a non-integer
// arrives; the rebuilt shape equals the one taken value by value.
func TestIdentifierUndefer(t *testing.T) {
	vals := []string{"123", "-45", "7", "1234567890123", "-0", "AB12", "990"}
	c := newColumn("ref", 0, roleID)
	var direct shapeAcc
	for _, v := range vals {
		direct.add([]byte(v), 1)
	}
	for _, v := range vals {
		col := recordsText(v)
		c.add(&col, 1)
	}
	if c.id.allInt {
		t.Fatal("still all integers")
	}
	if c.id.shape.class != direct.class || c.id.shape.short != direct.short || c.id.shape.values != direct.values {
		t.Errorf("shapes differ:\n%+v\n%+v", c.id.shape, direct)
	}
}

func recordsText(v string) records.Column {
	return records.Column{Kind: records.Text, Text: [][]byte{[]byte(v)}}
}
