package artificial_test

// The acceptance test of `haven data`: a realistic hospital-episode table
// goes through scrape -> review and approval -> generate -> compare, and
// the generated rows are checked against the source for what disclosure
// control promises: the metadata holds no identifier, every count obeys
// k and base, each field's distribution survives up to what disclosure
// control removed, and no generated row matches a source row on its
// quasi-identifiers more often than chance.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/artificial/compare"
	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/gen"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/records"
	"github.com/haven-tre/haven/internal/artificial/scrape"
)

// Codes of the fixture's categorical fields, most common first.
var (
	sexes      = []string{"F", "M", "9"}
	sexWeights = []float64{0.51, 0.48, 0.01}
	ethnicity  = []string{"A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "Z"}
	admimeths  = []string{"11", "12", "13", "21", "22", "23", "24", "28", "2A", "31"}
	// rareAdmimeth appears in only a handful of rows: below k, so
	// suppressed.
	rareAdmimeth = "2D"
)

// source is what the test keeps of the real table: the quasi-identifiers
// of every row, counts per value of the categorical fields, and samples of
// the identifiers.
type source struct {
	rows      int
	qi        []uint64 // packed quasi-identifiers, sorted, distinct
	counts    map[string]map[string]int64
	nulls     map[string]int64
	los, bmi  []float64
	epikeys   []string // every 100th
	nhsNumber []string // every 100th
}

// qiKey packs sex, date of birth, ethnicity, admission date and
// admission method into one number; ok is false for a value not in the
// code lists (never for the source; possible for generated rows).
func qiKey(sex, dob, eth, admi, meth string) (uint64, bool) {
	s := slices.Index(sexes, sex)
	e := slices.Index(ethnicity, eth)
	m := slices.Index(admimeths, meth)
	if meth == rareAdmimeth {
		m = len(admimeths)
	}
	d, err1 := meta.ParseDay(dob)
	a, err2 := meta.ParseDay(admi)
	if s < 0 || e < 0 || m < 0 || err1 != nil || err2 != nil {
		return 0, false
	}
	return uint64(s) | uint64(e)<<2 | uint64(m)<<6 | uint64(uint32(d))<<12 | uint64(uint32(a))<<44, true
}

// nhsNumber makes a ten-digit NHS number with a valid check digit.
func nhsNumber(r *rand.Rand) string {
	for {
		nine := strconv.Itoa(100000000 + r.IntN(900000000))
		if c, ok := meta.NHSCheckDigit(nine); ok {
			return nine + strconv.Itoa(c)
		}
	}
}

// epikeyOf writes episode key number i: "EP" and ten digits.
func epikeyOf(i int) string {
	b := []byte("EP0000000000")
	for k := len(b) - 1; k >= 2 && i > 0; k-- {
		b[k] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}

// pick draws an index by weight.
func pick(r *rand.Rand, w []float64) int {
	u := r.Float64()
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// writeSource writes rows hospital episodes to path: patients with about
// three episodes each (a long-tailed count), per-patient sex, ethnicity,
// date of birth and NHS number, and per-episode dates, codes and
// measurements.
func writeSource(t testing.TB, path string, rows int) *source {
	t.Helper()
	r := rand.New(rand.NewPCG(2024, 11))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("epikey,patient_id,nhs_number,sex,ethnicity,date_of_birth,admidate,disdate,admimeth,diag_4_01,los,bmi,died\n")
	src := &source{rows: rows, counts: map[string]map[string]int64{}, nulls: map[string]int64{}}
	cSex, cEth, cMeth, cDiag, cDied := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	src.counts = map[string]map[string]int64{"sex": cSex, "ethnicity": cEth, "admimeth": cMeth, "diag_4_01": cDiag, "died": cDied}
	// Diagnoses: 800 ICD-10-like codes with Zipf weights, and 20 more
	// that occur one to four times in the whole table.
	var diags []string
	var diagW []float64
	var sum float64
	for k := range 800 {
		diags = append(diags, fmt.Sprintf("%c%02d%d", 'A'+k%25, (k/25)%100, k%10))
		x := 1 / math.Pow(float64(k+1), 1.1)
		diagW = append(diagW, x)
		sum += x
	}
	for k := range diagW {
		diagW[k] /= sum
	}
	rareDiag := map[int]string{}
	for k := range 20 {
		for n := 0; n <= k%4; n++ {
			rareDiag[r.IntN(rows)] = fmt.Sprintf("Z9%d%d", k/10, k%10)
		}
	}
	rareMeth := map[int]bool{}
	for range 3 {
		rareMeth[r.IntN(rows)] = true
	}
	ethW := make([]float64, len(ethnicity))
	sum = 0
	for i := range ethW {
		ethW[i] = 1 / float64(i+1)
		sum += ethW[i]
	}
	for i := range ethW {
		ethW[i] /= sum
	}
	methW := []float64{0.35, 0.15, 0.05, 0.25, 0.08, 0.05, 0.03, 0.02, 0.019, 0.001}
	epiPerm := r.Perm(rows) // epikeys: distinct, in no particular order
	start2018 := int(meta.DaysFromCivil(2018, 1, 1))
	end2023 := int(meta.DaysFromCivil(2023, 12, 31))
	birthEnd := int(meta.DaysFromCivil(2020, 12, 31))
	var qi []uint64
	row, patient := 0, 0
	var buf []byte
	for row < rows {
		patient++
		pid := 1000000 + patient*7 + r.IntN(7)
		nhs := nhsNumber(r)
		sex := sexes[pick(r, sexWeights)]
		eth := ethnicity[pick(r, ethW)]
		// Ages skew old: the older of two uniform ages, up to 100.
		age := math.Max(r.Float64(), r.Float64()) * 100
		dob := birthEnd - int(age*365.25) - r.IntN(365)
		dob = max(dob, int(meta.DaysFromCivil(1920, 1, 1)))
		// Episodes per patient: 1 + a long tail, mean about 3.
		episodes := 1 + int(math.Floor(math.Pow(r.Float64(), 3)*9))
		if r.IntN(100) == 0 {
			episodes += r.IntN(40)
		}
		for e := 0; e < episodes && row < rows; e++ {
			admi := start2018 + r.IntN(end2023-start2018+1)
			admi = max(admi, dob)
			los := 0
			if r.Float64() > 0.3 {
				los = int(math.Exp(r.NormFloat64()*1.0 + 1.2))
			}
			meth := admimeths[pick(r, methW)]
			if rareMeth[row] {
				meth = rareAdmimeth
			}
			diag := diags[pick(r, diagW)]
			if d, ok := rareDiag[row]; ok {
				diag = d
			}
			died := "0"
			if r.Float64() < 0.03 {
				died = "1"
			}
			epikey := epikeyOf(epiPerm[row])
			dobText, admiText := meta.DayString(int32(dob)), meta.DayString(int32(admi))
			buf = append(buf[:0], epikey...)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(pid), 10)
			for _, v := range []string{nhs, sex, eth, dobText, admiText} {
				buf = append(buf, ',')
				buf = append(buf, v...)
			}
			buf = append(buf, ',')
			if r.Float64() < 0.03 {
				src.nulls["disdate"]++ // still in hospital
			} else {
				buf = append(buf, meta.DayString(int32(admi+los))...)
			}
			for _, v := range []string{meth, diag} {
				buf = append(buf, ',')
				buf = append(buf, v...)
			}
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(los), 10)
			buf = append(buf, ',')
			if r.Float64() < 0.2 {
				src.nulls["bmi"]++
			} else {
				bmi := math.Round(math.Min(math.Max(27+5*r.NormFloat64(), 12), 70)*10) / 10
				buf = strconv.AppendFloat(buf, bmi, 'f', 1, 64)
				src.bmi = append(src.bmi, bmi)
			}
			buf = append(buf, ',')
			buf = append(buf, died...)
			buf = append(buf, '\n')
			w.Write(buf)

			src.los = append(src.los, float64(los))
			cSex[sex]++
			cEth[eth]++
			cMeth[meth]++
			cDiag[diag]++
			cDied[died]++
			k, _ := qiKey(sex, dobText, eth, admiText, meth)
			qi = append(qi, k)
			if row%100 == 0 {
				src.epikeys = append(src.epikeys, epikey)
				src.nhsNumber = append(src.nhsNumber, nhs)
			}
			row++
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(qi)
	src.qi = slices.Compact(qi)
	return src
}

func TestRoundTrip(t *testing.T) {
	rows := 1_000_000
	if testing.Short() {
		rows = 200_000
	}
	ctx := context.Background()
	dir := t.TempDir()
	clock := time.Now()
	lap := func(what string) {
		t.Logf("%s: %.1f s", what, time.Since(clock).Seconds())
		clock = time.Now()
	}

	input := filepath.Join(dir, "episodes.csv")
	src := writeSource(t, input, rows)
	lap(fmt.Sprintf("wrote %d source rows", rows))

	// 1. Scrape.
	res, err := scrape.Run(ctx, scrape.Options{
		Inputs:        []string{input},
		IDColumns:     []string{"nhs_number"},
		Relationships: []scrape.Relationship{{Parent: "patient_id", Child: "epikey"}},
		Dataset:       "hes",
		Now:           func() time.Time { return time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	metaPath := filepath.Join(dir, "episodes.json")
	raw, err := meta.WriteFile(metaPath, res.Document)
	if err != nil {
		t.Fatal(err)
	}
	doc := res.Document
	lap(fmt.Sprintf("scraped (%d bytes of metadata)", len(raw)))
	table := doc.Table("episodes")
	if table == nil {
		t.Fatalf("the metadata has no table episodes: %+v", doc.Tables)
	}
	wantTypes := map[string]string{
		"epikey": meta.TypeIdentifier, "patient_id": meta.TypeIdentifier, "nhs_number": meta.TypeIdentifier,
		"sex": meta.TypeCategorical, "ethnicity": meta.TypeCategorical, "date_of_birth": meta.TypeDate,
		"admidate": meta.TypeDate, "disdate": meta.TypeDate, "admimeth": meta.TypeCategorical,
		"diag_4_01": meta.TypeCategorical, "los": meta.TypeInteger, "bmi": meta.TypeFloat, "died": meta.TypeBoolean,
	}
	for name, typ := range wantTypes {
		if f := table.Field(name); f == nil || f.Type != typ {
			t.Errorf("field %s: %+v, want type %s", name, f, typ)
		}
	}

	// The metadata holds no identifier value, every count obeys k and
	// base, and the values seen fewer than k times are gone.
	checkNoIdentifiers(t, raw, src)
	checkCounts(t, doc)
	if n := src.counts["admimeth"][rareAdmimeth]; n < 1 || n >= doc.SDC.MinCount {
		t.Fatalf("the fixture has %d rows of admimeth %s, want 1 to k-1", n, rareAdmimeth)
	}
	for _, v := range table.Field("admimeth").Values {
		if v.V == rareAdmimeth {
			t.Errorf("admimeth %s, in %d rows, was released", v.V, src.counts["admimeth"][v.V])
		}
	}
	for _, v := range table.Field("diag_4_01").Values {
		if strings.HasPrefix(v.V, "Z9") {
			t.Errorf("diagnosis %s, in %d rows, was released", v.V, src.counts["diag_4_01"][v.V])
		}
	}

	// 2. Review passes (no FAIL or ERROR) and a reviewer approves.
	if _, rep, err := meta.Approve(metaPath, meta.ReviewOptions{}, meta.ApproveOptions{Reviewer: "A. Checker"}); err != nil {
		var b strings.Builder
		if rep != nil {
			rep.WriteText(&b)
		}
		t.Fatalf("approve: %v\n%s", err, b.String())
	}
	rel, err := meta.OpenRelease(metaPath, false)
	if err != nil || !rel.Reviewed() {
		t.Fatalf("open the approved release: %v", err)
	}
	lap("reviewed and approved")

	// 3. Generate as many rows as the source had.
	output := filepath.Join(dir, "generated.csv")
	m, err := gen.Generate(ctx, rel, gen.RunOptions{Options: gen.Options{Rows: uint64(rows), Seed: "roundtrip"}, Output: output, Format: frame.CSV})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Reviewed || m.Reviewer != "A. Checker" || m.Rows != uint64(rows) {
		t.Errorf("manifest: reviewed %v by %q, %d rows", m.Reviewed, m.Reviewer, m.Rows)
	}
	lap(fmt.Sprintf("generated %d rows", rows))

	// 4. Compare: every field is close to the metadata at the default
	// thresholds. The generator meets the released counts exactly, so
	// the distance to the metadata is all but zero; what disclosure
	// control removed lies between the metadata and the source, and is
	// bounded below.
	rep, err := compare.Compare(doc, "", output, compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Close {
		var b strings.Builder
		rep.WriteText(&b)
		t.Errorf("compare: %s\n%s", rep.Verdict, b.String())
	}
	lap("compared")

	gotRows := readGenerated(t, output)
	lap("read the generated rows")

	// 5. Against the source: each categorical field's TVD is within the
	// bound the metadata implies.
	for field, counts := range src.counts {
		f := table.Field(field)
		bound := suppressionBound(f, doc.SDC, uint64(rows))
		d := tvdOf(counts, gotRows.counts[field])
		t.Logf("%s: TVD(generated, source) %.5f, bound %.5f (%d values kept)", field, d, bound, len(f.Values))
		if d > bound {
			t.Errorf("%s: TVD between generated and source shares %.5f exceeds the bound %.5f the metadata implies", field, d, bound)
		}
	}
	for _, c := range []struct {
		name     string
		src, got []float64
	}{{"los", src.los, gotRows.los}, {"bmi", src.bmi, gotRows.bmi}} {
		f := table.Field(c.name)
		bound := percentileBound(f.Continuous)
		d := ks(c.src, c.got)
		t.Logf("%s: KS(generated, source) %.5f, bound %.5f (step %d)", c.name, d, bound, f.Continuous.Step)
		if d > bound {
			t.Errorf("%s: KS between generated and source %.5f exceeds the bound %.5f the cut-points imply", c.name, d, bound)
		}
	}

	// 6. Quasi-identifiers: generated rows match source rows no more
	// than independent draws from the released marginals would.
	matches, expected := qiMatches(src, gotRows)
	t.Logf("quasi-identifier matches: %d, expected by chance %.1f", matches, expected)
	if float64(matches) > 3*expected+10 {
		t.Errorf("%d generated rows match a source row on sex, date of birth, ethnicity, admission date and method; independent draws from the marginals predict %.1f", matches, expected)
	}
	lap("checked against the source")
}

// checkNoIdentifiers looks for samples of the source's epikeys and NHS
// numbers anywhere in the metadata's bytes.
func checkNoIdentifiers(t *testing.T, raw []byte, src *source) {
	t.Helper()
	for _, ids := range [][]string{src.epikeys, src.nhsNumber} {
		set := map[string]bool{}
		for _, id := range ids {
			set[id] = true
		}
		l := len(ids[0])
		for i := 0; i+l <= len(raw); i++ {
			if set[string(raw[i:i+l])] {
				t.Errorf("the metadata holds the source identifier %s at byte %d", raw[i:i+l], i)
			}
		}
	}
}

// checkCounts checks every released count: at least k and a multiple of
// base.
func checkCounts(t *testing.T, d *meta.Document) {
	t.Helper()
	k, base := d.SDC.MinCount, d.SDC.RoundBase
	check := func(where string, n int64) {
		if n < k || n%base != 0 {
			t.Errorf("%s: count %d breaks k=%d, base=%d", where, n, k, base)
		}
	}
	for _, tb := range d.Tables {
		check(tb.Name+".rows_n", tb.RowsN)
		for _, f := range tb.Fields {
			at := tb.Name + "." + f.Name
			for _, n := range []int64{f.NullN, f.NNonNull} {
				if n != 0 {
					check(at+" null_n/n_nonnull", n)
				}
			}
			for _, v := range f.Values {
				check(at+"["+v.V+"]", v.N)
			}
			for _, v := range f.Hours {
				check(at+" hour "+v.V, v.N)
			}
			for _, b := range f.Bins {
				check(at+" bin "+b.Start, b.N)
			}
			if f.Text != nil {
				for _, v := range f.Text.Lengths {
					check(at+" length "+v.V, v.N)
				}
			}
		}
		for _, r := range tb.Relationships {
			for _, b := range r.Cardinalities {
				check(tb.Name+" cardinality "+strconv.Itoa(b.Min), b.N)
			}
		}
	}
}

// suppressionBound bounds the TVD between the generated shares of a
// frequency table and the source's, from the metadata alone.
//
// Let c_v be the source's raw counts over C non-null rows, and m_v the
// released counts (c_v rounded to base when c_v >= k, dropped otherwise)
// summing to M over K released values. The generator apportions its rows
// exactly to m_v/M, to within one row per value, so
//
//	TVD(gen, src) <= TVD(m/M, c/C) + K/(2N)
//	TVD(m/M, c/C) <= (|C-M| + sum_v |m_v - c_v|) / (2C)
//	              <= (C - M + 2R) / C,
//
// since sum_v |m_v - c_v| = D + R and |C - M| <= D + R, where D, the
// dropped mass, is at most C - M + R, and R, the rounding of the kept
// values, is at most K*floor(base/2). C is n_nonnull, itself rounded, so
// the bound takes it floor(base/2) high.
func suppressionBound(f *meta.Field, sdc meta.SDC, n uint64) float64 {
	half := float64(sdc.RoundBase / 2)
	var mass float64
	for _, v := range f.Values {
		mass += float64(v.N)
	}
	k := float64(len(f.Values))
	c := float64(f.NNonNull) + half
	r := k * half
	return (c-mass+2*r)/c + k/(2*float64(n))
}

// percentileBound bounds the KS distance between generated and source
// values of a continuous field from its cut-points: at each cut-point the
// source CDF is at the cut-point's percentile (to within the rank
// rounding of nearest-rank percentiles, 1/n), while the generator, which
// without bounds puts the tail mass (below the first and above the last
// cut-point) into the interior bins in proportion, is off by at most that
// tail mass; between cut-points each CDF rises by at most one bin, a
// step. So KS <= tail + step, plus the rounding of values to decimals,
// which moves at most one more bin's worth of mass across a value.
func percentileBound(c *meta.Continuous) float64 {
	first, last := float64(c.Step), float64(100-c.Step)
	if c.Step == 1 {
		first = 2
	}
	tail := 0.0
	if c.Bounds == nil {
		tail = first + (100 - last)
	}
	return (tail + 2*float64(c.Step)) / 100
}

// generated is what the test reads back from the generated file.
type generated struct {
	counts   map[string]map[string]int64
	los, bmi []float64
	qi       []uint64 // per row; 0 with ok false when a code is unknown
	qiOK     []bool
	// marginals of the quasi-identifiers, per value
	sex, eth, meth, dob, admi map[string]int64
}

func readGenerated(t *testing.T, path string) *generated {
	t.Helper()
	r, err := records.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	col := map[string]int{}
	for i, c := range r.Columns() {
		col[c] = i
	}
	g := &generated{counts: map[string]map[string]int64{},
		sex: map[string]int64{}, eth: map[string]int64{}, meth: map[string]int64{}, dob: map[string]int64{}, admi: map[string]int64{}}
	cats := []string{"sex", "ethnicity", "admimeth", "diag_4_01", "died"}
	for _, c := range cats {
		g.counts[c] = map[string]int64{}
	}
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		text := func(name string) [][]byte { return b.Cols[col[name]].Text }
		catCols := make([][][]byte, len(cats))
		for j, c := range cats {
			catCols[j] = text(c)
		}
		los, bmi := text("los"), text("bmi")
		sexes, dobs, eths, admis, meths := text("sex"), text("date_of_birth"), text("ethnicity"), text("admidate"), text("admimeth")
		for i := 0; i < b.Len; i++ {
			for j, c := range cats {
				if v := catCols[j][i]; len(v) > 0 {
					g.counts[c][string(v)]++
				}
			}
			if v := los[i]; len(v) > 0 {
				x, _ := strconv.ParseFloat(string(v), 64)
				g.los = append(g.los, x)
			}
			if v := bmi[i]; len(v) > 0 {
				x, _ := strconv.ParseFloat(string(v), 64)
				g.bmi = append(g.bmi, x)
			}
			g.sex[string(sexes[i])]++
			g.dob[string(dobs[i])]++
			g.eth[string(eths[i])]++
			g.admi[string(admis[i])]++
			g.meth[string(meths[i])]++
			k, ok := qiKey(string(sexes[i]), string(dobs[i]), string(eths[i]), string(admis[i]), string(meths[i]))
			g.qi = append(g.qi, k)
			g.qiOK = append(g.qiOK, ok)
		}
	}
	return g
}

// tvdOf is the total variation distance between two sets of counts.
func tvdOf(a, b map[string]int64) float64 {
	var ta, tb float64
	for _, n := range a {
		ta += float64(n)
	}
	for _, n := range b {
		tb += float64(n)
	}
	var sum float64
	for v, n := range a {
		sum += math.Abs(float64(n)/ta - float64(b[v])/tb)
	}
	for v, n := range b {
		if _, ok := a[v]; !ok {
			sum += float64(n) / tb
		}
	}
	return sum / 2
}

// ks is the two-sample Kolmogorov-Smirnov distance.
func ks(a, b []float64) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	var d float64
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var x float64
		switch {
		case j >= len(b) || i < len(a) && a[i] <= b[j]:
			x = a[i]
		default:
			x = b[j]
		}
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/float64(len(a))-float64(j)/float64(len(b))))
	}
	return d
}

// qiMatches counts generated rows whose quasi-identifiers equal a source
// row's, and the number expected if each generated row drew each field
// independently from the generated marginals (which is how the generator
// works): the expected count is N times the sum, over the distinct source
// combinations, of the product of the generated shares of their values.
func qiMatches(src *source, g *generated) (matches int64, expected float64) {
	for i, k := range g.qi {
		if !g.qiOK[i] {
			continue
		}
		if _, found := slices.BinarySearch(src.qi, k); found {
			matches++
		}
	}
	n := float64(len(g.qi))
	share := func(m map[string]int64, v string) float64 { return float64(m[v]) / n }
	meths := append(slices.Clone(admimeths), rareAdmimeth)
	for _, k := range src.qi {
		sex := sexes[k&3]
		eth := ethnicity[k>>2&15]
		meth := meths[k>>6&63]
		dob := meta.DayString(int32(uint32(k >> 12)))
		admi := meta.DayString(int32(uint32(k >> 44)))
		expected += share(g.sex, sex) * share(g.eth, eth) * share(g.meth, meth) * share(g.dob, dob) * share(g.admi, admi)
	}
	return matches, expected * n
}
