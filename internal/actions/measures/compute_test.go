package measures

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// suppress applies the rule to one column, as writeGrouped does.
func suppress(vals []float64) []float64 {
	var st stats
	for _, v := range vals {
		st.add(v)
	}
	s := decide(st)
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = s.apply(v)
	}
	return out
}

// The cases follow upstream's rule (cohortextractor/measure.py
// _suppress_column); the data are our own.
func TestSuppressionRule(t *testing.T) {
	n := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want []float64
	}{
		{"nothing small", []float64{0, 6, 100}, []float64{0, 6, 100}},
		{"one small value, no larger ones", []float64{1}, []float64{n}},
		{"values at the threshold", []float64{5, 5, 6}, []float64{n, n, 6}},
		{"zero is never blanked", []float64{0, 1}, []float64{0, n}},
		{"negative values are never blanked", []float64{-3, 2, 20}, []float64{-3, n, n}},
		{"small total over the threshold: no extra", []float64{2, 2, 2, 9}, []float64{n, n, n, 9}},
		{"small total at the threshold: next smallest blanked", []float64{2, 3, 8, 10}, []float64{n, n, n, 10}},
		{"next smallest blanked wherever it is", []float64{2, 10, 8}, []float64{n, 10, n}},
		{"every row with the next smallest value", []float64{1, 10, 10, 11}, []float64{n, n, n, 11}},
		{"small values and nothing larger", []float64{2, 2}, []float64{n, n}},
		{"fractions count as small", []float64{0.5, 7, 9}, []float64{n, n, 9}},
		{"just over the threshold is large", []float64{5.5, 1}, []float64{n, n}},
		{"NaN is left alone", []float64{n, 3, 6}, []float64{n, n, n}},
	}
	for _, tt := range tests {
		got := suppress(tt.in)
		if !slices.EqualFunc(got, tt.want, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }) {
			t.Errorf("%s: suppress(%v) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestCompute runs one measure over one CSV file (columns given as text)
// and checks the dated file byte for byte.
func TestCompute(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		measure Measure
		want    string
		notes   []string
	}{
		{
			name:    "no group_by: one row per patient, quotients",
			input:   "patient_id,fish,litres\n1,10,1\n2,20,2\n3,50,100\n",
			measure: Measure{Numerator: "fish", Denominator: "litres"},
			want:    "fish,litres,value\n10.0,1.0,10.0\n20.0,2.0,10.0\n50.0,100.0,0.5\n",
		},
		{
			name:    "one group sums its rows",
			input:   "fish,litres,colour\n10,1,gold\n20,2,gold\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", GroupBy: []string{"colour"}},
			want:    "colour,fish,litres,value\ngold,30.0,3.0,10.0\n",
		},
		{
			name:    "groups are sorted",
			input:   "fish,litres,colour\n10,2,pink\n10,1,gold\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", GroupBy: []string{"colour"}},
			want:    "colour,fish,litres,value\ngold,10.0,1.0,10.0\npink,10.0,2.0,5.0\n",
		},
		{
			name:    "text groups sort as strings; an empty cell is its own group",
			input:   "code,flag\n9,1\n10,1\n,0\nB,1\nb,0\n10,0\n",
			measure: Measure{Numerator: "flag", Denominator: "population", GroupBy: []string{"code"}},
			want:    "code,flag,population,value\n,0.0,1,0.0\n10,1.0,2,0.5\n9,1.0,1,1.0\nB,1.0,1,1.0\nb,0.0,1,0.0\n",
		},
		{
			name: "two CSV group columns: every combination, absent ones zero",
			input: "fish,litres,colour,nationality\n" +
				"10,1,gold,russian\n20,1,gold,japanese\n40,1,gold,russian\n80,1,pink,french\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", GroupBy: []string{"colour", "nationality"}},
			want: "colour,nationality,fish,litres,value\n" +
				"gold,french,0.0,0.0,\n" +
				"gold,japanese,20.0,1.0,20.0\n" +
				"gold,russian,50.0,2.0,25.0\n" +
				"pink,french,80.0,1.0,80.0\n" +
				"pink,japanese,0.0,0.0,\n" +
				"pink,russian,0.0,0.0,\n",
		},
		{
			name:    "combinations with a population denominator keep it an integer",
			input:   "sex,region,died\nF,London,1\nM,North,0\n",
			measure: Measure{Numerator: "died", Denominator: "population", GroupBy: []string{"region", "sex"}},
			want: "region,sex,died,population,value\n" +
				"London,F,1.0,1,1.0\nLondon,M,0.0,0,\nNorth,F,0.0,0,\nNorth,M,0.0,1,0.0\n",
		},
		{
			name:    "group_by population: one row, population summed",
			input:   "patient_id,died\n1,1\n2,0\n3,1\n4,1\n",
			measure: Measure{Numerator: "died", Denominator: "population", GroupBy: []string{"population"}},
			want:    "died,population,value\n3.0,4,0.75\n",
		},
		{
			name:    "group_by population with another denominator adds a population column",
			input:   "fish,litres\n1,2\n3,4\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", GroupBy: []string{"population"}},
			want:    "fish,litres,population,value\n4.0,6.0,2,0.6666666666666666\n",
		},
		{
			name:    "numerator and denominator the same column",
			input:   "x\n1\n0\n",
			measure: Measure{Numerator: "x", Denominator: "x"},
			want:    "x,value\n1.0,1.0\n0.0,\n",
		},
		{
			name:    "population over population",
			input:   "x\n1\n0\n",
			measure: Measure{Numerator: "population", Denominator: "population", GroupBy: []string{"population"}},
			want:    "population,value\n2,1.0\n",
		},
		{
			name:    "division by zero",
			input:   "n,d\n1,0\n0,0\n-2,0\n",
			measure: Measure{Numerator: "n", Denominator: "d"},
			want:    "n,d,value\n1.0,0.0,inf\n0.0,0.0,\n-2.0,0.0,-inf\n",
		},
		{
			name:    "boolean words count as 1 and 0",
			input:   "g,flag\na,True\na,False\na,true\na,TRUE\nb,FALSE\nb,false\n",
			measure: Measure{Numerator: "flag", Denominator: "population", GroupBy: []string{"g"}},
			want:    "g,flag,population,value\na,3.0,4,0.75\nb,0.0,2,0.0\n",
		},
		{
			name:    "number forms; NaN is skipped in sums",
			input:   "g,x\na,1.5\na, 2 \na,1e1\na,nan\n",
			measure: Measure{Numerator: "x", Denominator: "population", GroupBy: []string{"g"}},
			want:    "g,x,population,value\na,13.5,4,3.375\n",
		},
		{
			name:    "NaN per patient is an empty cell",
			input:   "x\nnan\n2\n",
			measure: Measure{Numerator: "x", Denominator: "population"},
			want:    "x,population,value\n,1,\n2.0,1,2.0\n",
		},
		{
			name:    "float sums are compensated as pandas does",
			input:   "g,x\na,0.1\na,0.1\na,0.1\na,0.1\na,0.1\na,0.1\na,0.1\na,0.1\na,0.1\na,0.1\n",
			measure: Measure{Numerator: "x", Denominator: "population", GroupBy: []string{"g"}},
			want:    "g,x,population,value\na,1.0,10,0.1\n",
		},
		{
			name:    "group values are quoted as Python's csv module quotes",
			input:   "g,x\n\"South, West\",1\n\"say \"\"hi\"\"\",2\n",
			measure: Measure{Numerator: "x", Denominator: "population", GroupBy: []string{"g"}},
			want:    "g,x,population,value\n\"South, West\",1.0,1,1.0\n\"say \"\"hi\"\"\",2.0,1,2.0\n",
		},
		{
			name:    "a header-only file gives a header-only result",
			input:   "g,x\n",
			measure: Measure{Numerator: "x", Denominator: "population", GroupBy: []string{"g"}},
			want:    "g,x,population,value\n",
		},
		{
			name:    "a header-only file per patient",
			input:   "g,x\n",
			measure: Measure{Numerator: "x", Denominator: "population"},
			want:    "x,population,value\n",
		},
		{
			name:    "a header-only file grouped by population",
			input:   "g,x\n",
			measure: Measure{Numerator: "x", Denominator: "population", GroupBy: []string{"population"}},
			want:    "x,population,value\n",
		},
		{
			name:    "suppression: small numerator per patient",
			input:   "fish,litres\n1,100\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n,100.0,\n",
			notes:   []string{"suppressed small numbers in column fish"},
		},
		{
			name:    "suppression: values at the threshold",
			input:   "fish,litres\n5,100\n5,100\n6,6\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n,100.0,\n,100.0,\n6.0,6.0,1.0\n",
		},
		{
			name:    "suppression after grouping",
			input:   "fish,litres,colour\n2,2,gold\n2,2,gold\n2,2,bronze\n2,2,bronze\n3,3,pink\n3,3,pink\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", GroupBy: []string{"colour"}, SmallNumberSuppression: true},
			want:    "colour,fish,litres,value\nbronze,,,\ngold,,,\npink,6.0,6.0,1.0\n",
			notes:   []string{"suppressed small numbers in column fish", "suppressed small numbers in column litres"},
		},
		{
			name:    "suppression leaves zeros",
			input:   "fish,litres\n0,100\n1,100\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n0.0,100.0,0.0\n,100.0,\n",
		},
		{
			name:    "suppression of a small denominator blanks the value",
			input:   "fish,litres\n0,4\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n0.0,,\n",
			notes:   []string{"suppressed small numbers in column litres"},
		},
		{
			name:    "suppression: small total at most 5 blanks the next smallest",
			input:   "fish,litres\n2,10\n2,10\n6,10\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n,10.0,\n,10.0,\n,10.0,\n",
			notes:   []string{"suppressed small numbers in column fish", "additional suppression in column fish"},
		},
		{
			name:    "suppression: small total over 5 blanks nothing more",
			input:   "fish,litres\n2,10\n2,10\n2,10\n2,10\n9,10\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n,10.0,\n,10.0,\n,10.0,\n,10.0,\n9.0,10.0,0.9\n",
		},
		{
			name:    "suppression: the smallest larger value, not another",
			input:   "fish,litres\n2,10\n10,10\n8,10\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n,10.0,\n10.0,10.0,1.0\n,10.0,\n",
		},
		{
			name:    "suppression: every row equal to the next smallest",
			input:   "fish,litres\n1,10\n10,10\n10,10\n",
			measure: Measure{Numerator: "fish", Denominator: "litres", SmallNumberSuppression: true},
			want:    "fish,litres,value\n,10.0,\n,10.0,\n,10.0,\n",
		},
		{
			name: "suppression turns an integer column into floats",
			input: "grp,flag\n" +
				"A,0\nA,0\nA,0\n" +
				strings.Repeat("B,1\n", 7) +
				strings.Repeat("C,1\n", 6) + "C,0\n" +
				strings.Repeat("D,1\nD,0\n", 10),
			measure: Measure{Numerator: "flag", Denominator: "population", GroupBy: []string{"grp"}, SmallNumberSuppression: true},
			want:    "grp,flag,population,value\nA,0.0,,\nB,7.0,,\nC,6.0,,\nD,10.0,20.0,0.5\n",
			notes:   []string{"suppressed small numbers in column population", "additional suppression in column population"},
		},
		{
			name:    "suppression of population per patient blanks it when there are few rows",
			input:   "x\n7\n9\n",
			measure: Measure{Numerator: "x", Denominator: "population", SmallNumberSuppression: true},
			want:    "x,population,value\n7.0,,\n9.0,,\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.measure
			m.ID = "m"
			dir := workspaceWith(t, map[string]string{"output/input_2020-01-01.csv": tt.input})
			_, progress, err := generate(t, Options{Dir: dir, Measures: []Measure{m}})
			if err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, dir, "output/measure_m_2020-01-01.csv"); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			for _, n := range tt.notes {
				if !strings.Contains(progress, n) {
					t.Errorf("progress %q does not say %q", progress, n)
				}
			}
		})
	}
}

// A column one measure sums is read as numbers everywhere in a CSV file, so
// another measure grouping by it gets float groups, sorted numerically.
func TestNumericGroupColumn(t *testing.T) {
	dir := workspaceWith(t, map[string]string{"output/input_2020-01-01.csv": "age,x\n40,1\n9,1\n100,0\n9,0\n"})
	_, _, err := generate(t, Options{Dir: dir, Measures: []Measure{
		{ID: "by_age", Numerator: "x", Denominator: "population", GroupBy: []string{"age"}},
		{ID: "age", Numerator: "age", Denominator: "population", GroupBy: []string{"population"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "age,x,population,value\n9.0,1.0,2,0.5\n40.0,1.0,1,1.0\n100.0,0.0,1,0.0\n"
	if got := readFile(t, dir, "output/measure_by_age_2020-01-01.csv"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Feather columns keep their types: integers sum to integers, an integer
// column with a null is a float column, booleans count, null keys are
// dropped, and several group columns give only the combinations present.
func TestFeatherTypes(t *testing.T) {
	dir := t.TempDir()
	writeFeather(t, dir, "output/input_2020-01-01.feather", []fcol{
		{"colour", 5, []string{"gold", "gold", "gold", "pink", "null"}},
		{"nationality", 5, []string{"russian", "japanese", "russian", "french", "french"}},
		{"fish", 0, []string{"10", "20", "40", "80", "1"}},
		{"litres", 0, []string{"1", "1", "1", "1", "1"}},
		{"flag", 4, []string{"1", "0", "1", "1", "1"}},
		{"gappy", 0, []string{"1", "null", "2", "3", "4"}},
		{"age", 0, []string{"30", "30", "null", "40", "50"}},
		{"seen", 3, []string{"2020-01-01T00:00:00", "2020-01-01T00:00:00", "2020-01-02T00:00:00", "2020-01-02T00:00:00", "null"}},
		{"at", 3, []string{"2020-01-01T10:30:00", "2020-01-01T00:00:00", "2020-01-01T00:00:00", "null", "null"}},
		{"day", 2, []string{"2020-03-01", "2020-01-01", "2020-03-01", "null", "2020-01-01"}},
		{"ok", 4, []string{"1", "1", "0", "null", "1"}},
	})
	_, _, err := generate(t, Options{Dir: dir, Measures: []Measure{
		{ID: "pairs", Numerator: "fish", Denominator: "litres", GroupBy: []string{"colour", "nationality"}},
		{ID: "flags", Numerator: "flag", Denominator: "population", GroupBy: []string{"colour"}},
		{ID: "flags_each", Numerator: "flag", Denominator: "litres"},
		{ID: "gappy", Numerator: "gappy", Denominator: "population", GroupBy: []string{"population"}},
		{ID: "by_age", Numerator: "fish", Denominator: "population", GroupBy: []string{"age"}},
		{ID: "by_seen", Numerator: "fish", Denominator: "population", GroupBy: []string{"seen"}},
		{ID: "by_at", Numerator: "fish", Denominator: "population", GroupBy: []string{"at"}},
		{ID: "by_day_ok", Numerator: "fish", Denominator: "population", GroupBy: []string{"day", "ok"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"pairs":      "colour,nationality,fish,litres,value\ngold,japanese,20,1,20.0\ngold,russian,50,2,25.0\npink,french,80,1,80.0\n",
		"flags":      "colour,flag,population,value\ngold,2,3,0.6666666666666666\npink,1,1,1.0\n",
		"flags_each": "flag,litres,value\nTrue,1,1.0\nFalse,1,0.0\nTrue,1,1.0\nTrue,1,1.0\nTrue,1,1.0\n",
		"gappy":      "gappy,population,value\n10.0,5,2.0\n",
		"by_age":     "age,fish,population,value\n30.0,30,2,15.0\n40.0,80,1,80.0\n50.0,1,1,1.0\n",
		"by_seen":    "seen,fish,population,value\n2020-01-01,30,2,15.0\n2020-01-02,120,2,60.0\n",
		"by_at":      "at,fish,population,value\n2020-01-01 00:00:00,60,2,30.0\n2020-01-01 10:30:00,10,1,10.0\n",
		"by_day_ok":  "day,ok,fish,population,value\n2020-01-01,True,21,2,10.5\n2020-03-01,False,40,1,40.0\n2020-03-01,True,10,1,10.0\n",
	}
	for id, w := range want {
		if got := readFile(t, dir, "output/measure_"+id+"_2020-01-01.csv"); got != w {
			t.Errorf("%s: got\n%s\nwant\n%s", id, got, w)
		}
	}
}

// disclosure_control blanks counts from 1 to 7, rounds the rest to 5 and
// computes value from what remains.
func TestDisclosureControl(t *testing.T) {
	var b strings.Builder
	b.WriteString("region,x\n")
	// region A: 3 of 40; B: 8 of 40; C: 23 of 41; D: 0 of 6.
	for _, g := range []struct {
		region   string
		yes, all int
	}{{"A", 3, 40}, {"B", 8, 40}, {"C", 23, 41}, {"D", 0, 6}} {
		for i := 0; i < g.all; i++ {
			x := 0
			if i < g.yes {
				x = 1
			}
			b.WriteString(g.region + "," + strconv.Itoa(x) + "\n")
		}
	}
	dir := workspaceWith(t, map[string]string{"output/input_2020-01-01.csv": b.String()})
	_, _, err := generate(t, Options{Dir: dir, Measures: []Measure{
		{ID: "m", Numerator: "x", Denominator: "population", GroupBy: []string{"region"}, DisclosureControl: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "region,x,population,value\nA,,40.0,\nB,10.0,40.0,0.25\nC,25.0,40.0,0.625\nD,0.0,,\n"
	if got := readFile(t, dir, "output/measure_m_2020-01-01.csv"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	_, _, err = generate(t, Options{Dir: dir, Measures: []Measure{{ID: "p", Numerator: "x", Denominator: "population", DisclosureControl: true}}})
	if err == nil || !strings.Contains(err.Error(), "disclosure_control needs group_by") {
		t.Errorf("per-patient disclosure control: %v", err)
	}
}
