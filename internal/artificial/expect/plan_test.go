package expect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
)

// m is shorthand for expectation maps in tests.
type m = map[string]any

func mustPlan(t testing.TB, s Study, o Options) *Plan {
	t.Helper()
	if o.Today.IsZero() {
		o.Today = day("2024-01-15")
	}
	p, err := NewPlan(s, o)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	return p
}

// table is a filled plan: one frame.Column per output column, all rows.
type table struct {
	specs []frame.Spec
	cols  []frame.Column
}

// fillAll fills every row in one batch.
func fillAll(p *Plan) table {
	var b frame.Batch
	p.Fill(&b, 0, int(p.Rows()))
	return table{specs: p.Specs(), cols: b.Cols}
}

func (tb table) col(t testing.TB, name string) frame.Column {
	t.Helper()
	for i, s := range tb.specs {
		if s.Name == name {
			return tb.cols[i]
		}
	}
	t.Fatalf("no column %q", name)
	return frame.Column{}
}

// cell renders one value, "null" for nulls.
func cell(s frame.Spec, c *frame.Column, i int) string {
	if c.Null(i) {
		return "null"
	}
	switch s.Kind {
	case frame.Float:
		return fmt.Sprint(c.Floats[i])
	case frame.String:
		return c.Strs[i]
	case frame.Date:
		return isoDate(fromEpochDays(c.Ints[i]))
	}
	return fmt.Sprint(c.Ints[i])
}

// rowsOf renders batch b as lines, one per row.
func rowsOf(specs []frame.Spec, b *frame.Batch) []string {
	out := make([]string, b.Len)
	for i := 0; i < b.Len; i++ {
		parts := make([]string, len(specs))
		for j, s := range specs {
			parts[j] = cell(s, &b.Cols[j], i)
		}
		out[i] = strings.Join(parts, ",")
	}
	return out
}

// mixedStudy has one column of every kind and distribution.
func mixedStudy(n int) Study {
	return Study{
		PopulationSize: n,
		IndexDate:      "2021-06-01",
		DefaultExpectations: m{
			"date":      m{"earliest": "1990-01-01", "latest": "index_date"},
			"rate":      "uniform",
			"incidence": 0.5,
		},
		Variables: []Variable{
			{Name: "sex", Kind: Category, Categories: []string{"F", "M", "U"}, Expectations: m{"rate": "universal", "category": m{"ratios": m{"F": 0.49, "M": 0.49, "U": 0.02}}}},
			{Name: "age", Kind: Int, Expectations: m{"rate": "universal", "int": m{"distribution": "population_ages"}}},
			{Name: "bmi", Kind: Float, Expectations: m{"incidence": 0.8, "float": m{"distribution": "normal", "mean": 28, "stddev": 8}}},
			{Name: "asthma", Kind: Bool, Expectations: m{"incidence": 0.1}},
			{Name: "admitted", Kind: Date, Expectations: m{"rate": "exponential_increase", "incidence": 0.3, "date": m{"earliest": "index_date - 5 years"}}},
			{Name: "admissions", Kind: Int, IncidenceFrom: "admitted", Expectations: m{"int": m{"distribution": "poisson", "mean": 2}}},
			{Name: "sbp", Kind: Int, Expectations: m{"int": m{"distribution": "normal", "mean": 130, "stddev": 15}}},
			{Name: "diagnosed", Kind: Date, DateFormat: FormatMonth, Between: [2]string{"2000-01-01", ""}},
			{Name: "region", Kind: Category, Expectations: m{"incidence": 0.95, "category": m{"ratios": m{"North": 0.3, "Midlands": 0.3, "South": 0.4}}}},
		},
	}
}

// Spec 12.6: population_size 1000 with incidence 0.2 gives exactly 200
// values, all inside the window, also when between narrows it to 10 days.
func TestExactIncidence(t *testing.T) {
	for _, between := range [][2]string{{"", ""}, {"2020-06-01", "2020-06-10"}, {"index_date - 30 days", "index_date - 21 days"}} {
		s := Study{
			PopulationSize: 1000,
			IndexDate:      "2020-07-01",
			Variables: []Variable{
				{Name: "d", Kind: Date, Between: between, Expectations: m{"incidence": 0.2, "date": m{"earliest": "2010-01-01", "latest": "2020-12-31"}}},
				{Name: "i", Kind: Int, Expectations: m{"incidence": 0.2, "int": m{"distribution": "normal", "mean": 1000, "stddev": 1}}},
				{Name: "f", Kind: Float, Expectations: m{"incidence": 0.2, "float": m{"distribution": "normal", "mean": 1000, "stddev": 1}}},
				{Name: "b", Kind: Bool, Expectations: m{"incidence": 0.2}},
				{Name: "c", Kind: Category, Expectations: m{"incidence": 0.2, "category": m{"ratios": m{"x": 1}}}},
			},
		}
		p := mustPlan(t, s, Options{})
		tb := fillAll(p)
		lo, hi := day("2010-01-01"), day("2020-12-31")
		if between[0] != "" {
			lo, hi = day("2020-06-01"), day("2020-06-10")
		}
		d := tb.col(t, "d")
		values := 0
		for i := range d.Ints {
			if d.Null(i) {
				continue
			}
			values++
			got := fromEpochDays(d.Ints[i])
			if got.Before(lo) || got.After(hi) {
				t.Fatalf("between %v: date %s outside [%s, %s]", between, isoDate(got), isoDate(lo), isoDate(hi))
			}
		}
		if values != 200 {
			t.Errorf("between %v: %d dates, want exactly 200", between, values)
		}
		count := func(name string, has func(i int) bool) {
			n := 0
			for i := 0; i < 1000; i++ {
				if has(i) {
					n++
				}
			}
			if n != 200 {
				t.Errorf("column %s: %d values, want exactly 200", name, n)
			}
		}
		ic, fc, bc, cc := tb.col(t, "i"), tb.col(t, "f"), tb.col(t, "b"), tb.col(t, "c")
		count("i", func(i int) bool { return ic.Ints[i] != 0 })
		count("f", func(i int) bool { return fc.Floats[i] != 0 })
		count("b", func(i int) bool { return bc.Ints[i] == 1 })
		count("c", func(i int) bool { return !cc.Null(i) && cc.Strs[i] == "x" })
		for i := 0; i < 1000; i++ {
			if bc.Ints[i] != 0 && bc.Ints[i] != 1 {
				t.Fatalf("bool row %d is %d", i, bc.Ints[i])
			}
			if cc.Null(i) != (cc.Strs[i] == "") {
				t.Fatalf("category row %d: null %v but value %q", i, cc.Null(i), cc.Strs[i])
			}
		}
		for _, ci := range p.Columns() {
			if ci.Values != 200 {
				t.Errorf("ColumnInfo %s: %d values, want 200", ci.Name, ci.Values)
			}
		}
	}
}

func TestIncidenceCounts(t *testing.T) {
	cases := []struct {
		share float64
		n     uint64
		want  uint64
	}{
		{0.2, 1000, 200},
		{0.3, 10, 3}, // upstream's float arithmetic gives 4 here
		{0.25, 10, 3},
		{0.7, 10, 7},
		{1, 7, 7},
		{0.001, 1, 1},
		{0.5, 0, 0},
		{1e-9, 1_000_000_000_000, 1000},
		{0.1, 3, 1},
		{0.9999999, 1000, 1000},
	}
	for _, c := range cases {
		if got := ceilShare(c.share, c.n); got != c.want {
			t.Errorf("ceilShare(%v, %d) = %d, want %d", c.share, c.n, got, c.want)
		}
	}
}

func dateStudy(n int, rate string, earliest, latest string, between [2]string) Study {
	return Study{PopulationSize: n, Variables: []Variable{{
		Name: "d", Kind: Date, Between: between,
		Expectations: m{"rate": rate, "incidence": 1, "date": m{"earliest": earliest, "latest": latest}},
	}}}
}

func TestExponentialIncreaseClustersTowardLatest(t *testing.T) {
	const n = 100000
	p := mustPlan(t, dateStudy(n, RateExponential, "2000-01-01", "2019-12-31", [2]string{}), Options{})
	d := fillAll(p).col(t, "d")
	latest := epochDays(day("2019-12-31"))
	w := float64(latest - epochDays(day("2000-01-01")))
	var sum float64
	lastTenth := 0
	for i := range d.Ints {
		off := float64(latest - d.Ints[i])
		if off < 0 || off > w {
			t.Fatalf("offset %v outside [0, %v]", off, w)
		}
		sum += off
		if off < w/10 {
			lastTenth++
		}
	}
	mean := sum / n
	// Floors of an exponential with mean 0.1 w, truncated at ten means:
	// about 0.1 w - 0.5 (less a hair for the truncation).
	if want := 0.1*w - 0.5; math.Abs(mean-want) > 0.02*want {
		t.Errorf("mean offset from latest %.1f days, want about %.1f", mean, want)
	}
	// 1 - e^-1 of the mass lies within one mean of latest.
	if share := float64(lastTenth) / n; math.Abs(share-(1-math.Exp(-1))) > 0.01 {
		t.Errorf("%.3f of dates in the last tenth of the window, want about 0.632", share)
	}
}

// Truncation to between keeps the exponential's shape counted back from the
// window's end (memorylessness): within [lo, hi] the density still rises
// toward hi, and every date stays inside.
func TestExponentialTruncatedByBetween(t *testing.T) {
	const n = 50000
	p := mustPlan(t, dateStudy(n, RateExponential, "2000-01-01", "2019-12-31", [2]string{"2010-01-01", "2010-12-31"}), Options{})
	d := fillAll(p).col(t, "d")
	lo, hi := epochDays(day("2010-01-01")), epochDays(day("2010-12-31"))
	firstHalf := 0
	for _, v := range d.Ints {
		if v < lo || v > hi {
			t.Fatalf("date %s outside the between window", isoDate(fromEpochDays(v)))
		}
		if v-lo < (hi-lo+1)/2 {
			firstHalf++
		}
	}
	// mean 730.4 days: P(offset >= 182.5) / P(offset < 365) = (e^-0.25 - e^-0.5)/(1 - e^-0.5)
	want := (math.Exp(-182.5/730.4) - math.Exp(-365.0/730.4)) / (1 - math.Exp(-365.0/730.4))
	if got := float64(firstHalf) / n; math.Abs(got-want) > 0.01 {
		t.Errorf("%.3f of dates in the window's first half, want about %.3f", got, want)
	}
}

func TestUniformCoversClosedWindow(t *testing.T) {
	for _, rate := range []string{RateUniform, RateUniversal} {
		const n = 11000
		p := mustPlan(t, dateStudy(n, rate, "2020-03-01", "2020-03-11", [2]string{}), Options{})
		d := fillAll(p).col(t, "d")
		counts := map[string]int{}
		for i, v := range d.Ints {
			if d.Null(i) {
				t.Fatalf("%s: null date with incidence 1", rate)
			}
			counts[isoDate(fromEpochDays(v))]++
		}
		if len(counts) != 11 {
			t.Errorf("%s: %d distinct days, want all 11 of the closed window: %v", rate, len(counts), counts)
		}
		for dd, c := range counts {
			if dd < "2020-03-01" || dd > "2020-03-11" {
				t.Errorf("%s: %s outside the window", rate, dd)
			}
			if c < 850 || c > 1150 {
				t.Errorf("%s: day %s has %d of %d, want about 1000", rate, dd, c, n)
			}
		}
	}
	// A one-day window gives that day for every rate.
	for _, rate := range rates {
		p := mustPlan(t, dateStudy(50, rate, "2020-03-01", "2020-03-01", [2]string{}), Options{})
		for _, v := range fillAll(p).col(t, "d").Ints {
			if isoDate(fromEpochDays(v)) != "2020-03-01" {
				t.Fatalf("%s: one-day window gave %s", rate, isoDate(fromEpochDays(v)))
			}
		}
	}
}

func TestCategoryRatiosExact(t *testing.T) {
	s := Study{PopulationSize: 1000, Variables: []Variable{
		{Name: "c", Kind: Category, Categories: []string{"A", "B", "C", "D"},
			Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"A": 0.5, "B": 0.3, "C": 0.2}}}},
		{Name: "thirds", Kind: Category, Expectations: m{"rate": "universal", "category": m{"ratios": m{"x": 1.0 / 3, "y": 1.0 / 3, "z": 1.0 / 3}}}},
		{Name: "ints", Kind: Category, Expectations: m{"rate": "universal", "category": m{"ratios": map[any]any{1: 0.25, 0: 0.75}}}},
	}}
	p := mustPlan(t, s, Options{})
	tb := fillAll(p)
	check := func(name string, want map[string]int) {
		c := tb.col(t, name)
		got := map[string]int{}
		for i := range c.Strs {
			if c.Null(i) {
				got["null"]++
			} else {
				got[c.Strs[i]]++
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: counts %v, want %v", name, got, want)
		}
	}
	check("c", map[string]int{"A": 250, "B": 150, "C": 100, "null": 500})
	check("thirds", map[string]int{"x": 334, "y": 333, "z": 333})
	check("ints", map[string]int{"0": 750, "1": 250})
	info := p.Columns()
	if got := fmt.Sprint(info[0].Categories); got != "[{A 250} {B 150} {C 100}]" {
		t.Errorf("ColumnInfo categories %s", got)
	}
	// Labels are not laid out in blocks: the first 100 rows hold a mix.
	c := tb.col(t, "c")
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		seen[cell(frame.Spec{Kind: frame.String}, &c, i)] = true
	}
	if len(seen) < 4 {
		t.Errorf("first 100 rows hold only %v", seen)
	}
}

func TestPopulationAges(t *testing.T) {
	const n = 100000
	s := Study{PopulationSize: n, Variables: []Variable{{Name: "age", Kind: Int, Expectations: m{"rate": "universal", "int": m{"distribution": "population_ages"}}}}}
	ages := fillAll(mustPlan(t, s, Options{})).col(t, "age").Ints
	var sum float64
	children, over65, over100 := 0, 0, 0
	for _, a := range ages {
		if a < 0 || a > MaxAge {
			t.Fatalf("age %d outside 0-%d", a, MaxAge)
		}
		sum += float64(a)
		switch {
		case a < 18:
			children++
		case a >= 100:
			over100++
			over65++
		case a >= 65:
			over65++
		}
	}
	// UK mid-2018: mean age about 40, about 21% under 18, about 18% 65
	// and over, about 0.02% 100 and over.
	if mean := sum / n; mean < 38.5 || mean > 41.5 {
		t.Errorf("mean age %.2f, want about 40", mean)
	}
	if c := float64(children) / n; c < 0.20 || c > 0.23 {
		t.Errorf("%.3f under 18, want about 0.21", c)
	}
	if o := float64(over65) / n; o < 0.17 || o > 0.20 {
		t.Errorf("%.3f aged 65 and over, want about 0.18", o)
	}
	if over100 > 100 {
		t.Errorf("%d of %d aged 100 and over, want about 20", over100, n)
	}
	var total int64
	for _, b := range ukAgeBands {
		total += b.thousands
	}
	if total < 66000 || total > 66900 {
		t.Errorf("band total %d thousand, want the UK's mid-2018 66.4 million", total)
	}
	w := ageWeights()
	if w[0] != w[4] || w[100] != w[109] || w[0] != 3914*504 || w[100] != 14*252 {
		t.Errorf("bands are not spread evenly: %d %d %d %d", w[0], w[4], w[100], w[109])
	}
}

func moments(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)-1))
}

func TestPoisson(t *testing.T) {
	const n = 100000
	for _, mean := range []float64{0, 0.5, 3, 40, 1000} {
		s := Study{PopulationSize: n, Variables: []Variable{{Name: "k", Kind: Int, Expectations: m{"rate": "universal", "int": m{"distribution": "poisson", "mean": mean}}}}}
		ks := fillAll(mustPlan(t, s, Options{})).col(t, "k").Ints
		xs := make([]float64, n)
		for i, k := range ks {
			if k < 0 {
				t.Fatalf("mean %v: negative count %d", mean, k)
			}
			xs[i] = float64(k)
		}
		got, sd := moments(xs)
		// Standard error of the mean is sqrt(mean/n); allow five of them.
		if tol := 5*math.Sqrt(mean/n) + 1e-9; math.Abs(got-mean) > tol {
			t.Errorf("poisson mean %v: sample mean %.4f (tolerance %.4f)", mean, got, tol)
		}
		if math.Abs(sd*sd-mean) > 0.05*mean+1e-9 {
			t.Errorf("poisson mean %v: sample variance %.4f", mean, sd*sd)
		}
	}
}

func TestNormals(t *testing.T) {
	const n = 100000
	s := Study{PopulationSize: n, Variables: []Variable{
		{Name: "f", Kind: Float, Expectations: m{"rate": "universal", "float": m{"distribution": "normal", "mean": 28, "stddev": 8}}},
		{Name: "i", Kind: Int, Expectations: m{"rate": "universal", "int": m{"distribution": "normal", "mean": 50.0, "stddev": 10}}},
		{Name: "z", Kind: Int, Expectations: m{"rate": "universal", "int": m{"distribution": "normal", "mean": 0, "stddev": 3}}},
		{Name: "c", Kind: Int, Expectations: m{"rate": "universal", "int": m{"distribution": "normal", "mean": -7.9, "stddev": 0}}},
	}}
	tb := fillAll(mustPlan(t, s, Options{}))
	fs := tb.col(t, "f").Floats
	mean, sd := moments(fs)
	if math.Abs(mean-28) > 0.1 || math.Abs(sd-8) > 0.1 {
		t.Errorf("float normal: mean %.3f sd %.3f, want 28 and 8", mean, sd)
	}
	toF := func(is []int64) []float64 {
		out := make([]float64, len(is))
		for i, v := range is {
			out[i] = float64(v)
		}
		return out
	}
	// Truncation toward zero takes about half a unit off a positive mean.
	mean, sd = moments(toF(tb.col(t, "i").Ints))
	if math.Abs(mean-49.5) > 0.15 || math.Abs(sd-10) > 0.15 {
		t.Errorf("int normal: mean %.3f sd %.3f, want about 49.5 and 10", mean, sd)
	}
	neg := 0
	zs := tb.col(t, "z").Ints
	for _, v := range zs {
		if v < 0 {
			neg++
		}
	}
	mean, _ = moments(toF(zs))
	if math.Abs(mean) > 0.05 || neg < n/3 {
		t.Errorf("int normal around 0: mean %.3f, %d negatives (truncation toward zero keeps negatives)", mean, neg)
	}
	for _, v := range tb.col(t, "c").Ints {
		if v != -7 {
			t.Fatalf("stddev 0, mean -7.9: got %d, want -7 (toward zero)", v)
		}
	}
}

func TestPatientIDs(t *testing.T) {
	const n = 20000
	p := mustPlan(t, Study{PopulationSize: n}, Options{})
	ids := fillAll(p).col(t, PatientID).Ints
	seen := make(map[int64]bool, n)
	var maxID int64
	for _, id := range ids {
		if id < 0 || id >= 10*n {
			t.Fatalf("patient_id %d outside [0, %d)", id, 10*n)
		}
		if seen[id] {
			t.Fatalf("patient_id %d repeats", id)
		}
		seen[id] = true
		maxID = max(maxID, id)
	}
	if maxID < 9*n {
		t.Errorf("largest id %d: ids do not spread over [0, 10N)", maxID)
	}
	if specs := p.Specs(); len(specs) != 1 || specs[0].Name != PatientID || specs[0].Kind != frame.Int {
		t.Errorf("specs %+v", specs)
	}
}

// Filling [0, N) at once equals filling uneven batches in shuffled order.
func TestFillIsIndependentOfBatching(t *testing.T) {
	const n = 5003
	p := mustPlan(t, mixedStudy(n), Options{Seed: "batches"})
	var whole frame.Batch
	p.Fill(&whole, 0, n)
	want := rowsOf(p.Specs(), &whole)

	var cuts []uint64
	r := rand.New(rand.NewPCG(1, 2))
	for at := uint64(0); at < n; {
		cuts = append(cuts, at)
		at += uint64(1 + r.IntN(700))
	}
	r.Shuffle(len(cuts), func(i, j int) { cuts[i], cuts[j] = cuts[j], cuts[i] })
	got := make([]string, n)
	var b frame.Batch // reused across batches, as a worker would
	for _, start := range cuts {
		end := uint64(n)
		for _, c := range cuts {
			if c > start && c < end {
				end = c
			}
		}
		p.Fill(&b, start, int(end-start))
		if b.Start != start || b.Len != int(end-start) {
			t.Fatalf("batch reports [%d, +%d), want [%d, +%d)", b.Start, b.Len, start, end-start)
		}
		copy(got[start:end], rowsOf(p.Specs(), &b))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d: batched %q, whole %q", i, got[i], want[i])
		}
	}
	// An empty batch is fine too.
	p.Fill(&b, n, 0)
	if b.Len != 0 {
		t.Fatalf("empty batch has %d rows", b.Len)
	}
}

// One plan fills batches from several goroutines at once (run with -race).
func TestConcurrentFill(t *testing.T) {
	const n, parts = 4000, 4
	p := mustPlan(t, mixedStudy(n), Options{})
	var whole frame.Batch
	p.Fill(&whole, 0, n)
	want := rowsOf(p.Specs(), &whole)
	got := make([][]string, parts)
	var wg sync.WaitGroup
	for k := 0; k < parts; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b frame.Batch
			p.Fill(&b, uint64(k*n/parts), n/parts)
			got[k] = rowsOf(p.Specs(), &b)
		}()
	}
	wg.Wait()
	for k := range got {
		for j, row := range got[k] {
			if row != want[k*n/parts+j] {
				t.Fatalf("goroutine %d row %d: %q, want %q", k, j, row, want[k*n/parts+j])
			}
		}
	}
}

func TestSeedsAndRunKey(t *testing.T) {
	const n = 300
	fp := func(o Options, s Study) string {
		var b frame.Batch
		p := mustPlan(t, s, o)
		p.Fill(&b, 0, n)
		return strings.Join(rowsOf(p.Specs(), &b), "\n")
	}
	base := fp(Options{}, mixedStudy(n))
	if again := fp(Options{}, mixedStudy(n)); again != base {
		t.Fatal("the same seed gives different values")
	}
	if fp(Options{Seed: DefaultSeed}, mixedStudy(n)) != base {
		t.Error("the empty seed is not the default seed")
	}
	for name, o := range map[string]Options{
		"seed":       {Seed: "other"},
		"definition": {DefinitionSHA256: "abc"},
		"index date": {IndexDate: day("2021-06-02")},
	} {
		other := fp(o, mixedStudy(n))
		if other == base {
			t.Errorf("a different %s gives the same values", name)
		}
		// Every column changes, not just one.
		a, b := strings.Split(base, "\n"), strings.Split(other, "\n")
		for col := range mixedStudy(n).Variables {
			same := 0
			for i := range a {
				if strings.Split(a[i], ",")[col+1] == strings.Split(b[i], ",")[col+1] {
					same++
				}
			}
			if same == len(a) {
				t.Errorf("a different %s leaves column %d unchanged", name, col+1)
			}
		}
	}
	// The index date override equals a study with that index date.
	s := mixedStudy(n)
	s.IndexDate = "2021-06-02"
	if fp(Options{IndexDate: day("2021-06-02")}, mixedStudy(n)) != fp(Options{}, s) {
		t.Error("Options.IndexDate differs from the same study index date")
	}
}

// The output of a fixed plan is pinned: if this changes, the generator's
// values changed, and Algorithm must be bumped.
func TestGolden(t *testing.T) {
	p := mustPlan(t, mixedStudy(2000), Options{Seed: "golden", DefinitionSHA256: "0123", Today: day("2024-01-15")})
	var b frame.Batch
	p.Fill(&b, 0, 2000)
	h := sha256.Sum256([]byte(strings.Join(rowsOf(p.Specs(), &b), "\n")))
	const want = "d96314300a85eff218be6c5afa778f7c98b9de0961c137c1f7d7bfa47e1577f3"
	if got := hex.EncodeToString(h[:]); got != want {
		t.Errorf("output hash %s, want %s (if the change is intended, bump Algorithm from %s)", got, want, Algorithm)
	}
}

func TestIncidenceFromSharesBlanks(t *testing.T) {
	p := mustPlan(t, mixedStudy(3000), Options{})
	tb := fillAll(p)
	d, k := tb.col(t, "admitted"), tb.col(t, "admissions")
	values := 0
	for i := range d.Ints {
		if d.Null(i) {
			if k.Ints[i] != 0 {
				t.Fatalf("row %d: no date but count %d", i, k.Ints[i])
			}
		} else {
			values++
		}
	}
	if values != 900 {
		t.Errorf("%d dates, want 900", values)
	}
	info := p.Columns()[5]
	if info.IncidenceFrom != "admitted" || info.Values != 900 {
		t.Errorf("ColumnInfo %+v", info)
	}
}

func TestDateFormatsAndSpecs(t *testing.T) {
	s := Study{PopulationSize: 500, Variables: []Variable{
		{Name: "day", Kind: Date, Expectations: m{"rate": "uniform", "incidence": 1, "date": m{"earliest": "2019-01-01", "latest": "2020-12-31"}}},
		{Name: "month", Kind: Date, DateFormat: FormatMonth, Expectations: m{"rate": "uniform", "incidence": 1, "date": m{"earliest": "2019-01-01", "latest": "2020-12-31"}}},
		{Name: "year", Kind: Date, DateFormat: FormatYear, Expectations: m{"rate": "uniform", "incidence": 1, "date": m{"earliest": "2019-01-01", "latest": "2020-12-31"}}},
		{Name: "flag", Kind: Bool, Expectations: m{"incidence": 0.5}},
		{Name: "n", Kind: Int, Expectations: m{"incidence": 0.5, "int": m{"distribution": "poisson", "mean": 1}}},
		{Name: "x", Kind: Float, Expectations: m{"incidence": 0.5, "float": m{"distribution": "normal", "mean": 1, "stddev": 1}}},
		{Name: "cat", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"a": 1}}}},
	}}
	p := mustPlan(t, s, Options{})
	want := []frame.Spec{
		{Name: PatientID, Kind: frame.Int},
		{Name: "day", Kind: frame.Date, Layout: "2006-01-02"},
		{Name: "month", Kind: frame.Date, Layout: "2006-01"},
		{Name: "year", Kind: frame.Date, Layout: "2006"},
		{Name: "flag", Kind: frame.Bool, True: "1", False: "0"},
		{Name: "n", Kind: frame.Int},
		{Name: "x", Kind: frame.Float, Decimals: -1},
		{Name: "cat", Kind: frame.String},
	}
	if got := p.Specs(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("specs\n got %+v\nwant %+v", got, want)
	}
	tb := fillAll(p)
	days := 0
	for _, v := range tb.col(t, "month").Ints {
		if fromEpochDays(v).Day() != 1 {
			t.Fatalf("month precision: %s is not a first of the month", isoDate(fromEpochDays(v)))
		}
	}
	years := map[string]bool{}
	for _, v := range tb.col(t, "year").Ints {
		d := fromEpochDays(v)
		if d.Day() != 1 || d.Month() != 1 {
			t.Fatalf("year precision: %s is not 1 January", isoDate(d))
		}
		years[isoDate(d)] = true
	}
	for _, v := range tb.col(t, "day").Ints {
		if fromEpochDays(v).Day() != 1 {
			days++
		}
	}
	if len(years) != 2 || days < 400 {
		t.Errorf("years %v, %d day-precision dates not on the 1st", years, days)
	}
	if specs := p.Specs(); &specs[0] == &p.Specs()[0] {
		t.Error("Specs returns the plan's own slice")
	}
}

func TestUniversalIgnoresIncidence(t *testing.T) {
	s := Study{PopulationSize: 400, DefaultExpectations: m{"incidence": 0.1, "date": m{"earliest": "2020-01-01", "latest": "2020-12-31"}}, Variables: []Variable{
		{Name: "b", Kind: Bool, Expectations: m{"rate": "universal"}},
		{Name: "d", Kind: Date, Expectations: m{"rate": "universal"}},
		{Name: "i", Kind: Int, Expectations: m{"rate": "universal", "int": m{"distribution": "normal", "mean": 100, "stddev": 1}}},
	}}
	tb := fillAll(mustPlan(t, s, Options{}))
	b, d, in := tb.col(t, "b"), tb.col(t, "d"), tb.col(t, "i")
	for i := 0; i < 400; i++ {
		if b.Ints[i] != 1 || d.Null(i) || in.Ints[i] == 0 {
			t.Fatalf("row %d blank under rate: universal", i)
		}
	}
}

func TestEmptyPopulation(t *testing.T) {
	p := mustPlan(t, Study{PopulationSize: 0, Variables: []Variable{{Name: "c", Kind: Category, Expectations: m{"incidence": 0.5, "category": m{"ratios": m{"a": 1}}}}}}, Options{})
	var b frame.Batch
	p.Fill(&b, 0, 0)
	if p.Rows() != 0 || b.Len != 0 || len(b.Cols) != 2 {
		t.Fatalf("rows %d, batch %d rows, %d columns", p.Rows(), b.Len, len(b.Cols))
	}
}

func TestFillOutOfRangePanics(t *testing.T) {
	p := mustPlan(t, Study{PopulationSize: 10}, Options{})
	for _, r := range [][2]int{{5, 6}, {11, 0}, {0, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Fill(%d, %d) of 10 rows did not panic", r[0], r[1])
				}
			}()
			var b frame.Batch
			p.Fill(&b, uint64(r[0]), r[1])
		}()
	}
}

func TestPlanAccessors(t *testing.T) {
	p := mustPlan(t, Study{PopulationSize: 3, IndexDate: "2020-02-02"}, Options{Today: day("2024-03-04")})
	if idx, ok := p.IndexDate(); !ok || isoDate(idx) != "2020-02-02" {
		t.Errorf("index date %v %v", idx, ok)
	}
	if isoDate(p.Today()) != "2024-03-04" || p.Seed() != DefaultSeed || p.Rows() != 3 {
		t.Errorf("today %v seed %q rows %d", p.Today(), p.Seed(), p.Rows())
	}
	p2, err := NewPlan(Study{PopulationSize: 1}, Options{})
	if err != nil || p2.Today().IsZero() {
		t.Errorf("zero Today is not resolved: %v %v", p2.Today(), err)
	}
	if _, ok := p2.IndexDate(); ok {
		t.Error("a study without an index date reports one")
	}
}
