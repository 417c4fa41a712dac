package expect

import (
	"fmt"
	"math"
	"time"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/rng"
)

// finish derives keys, masks and tables once the study is known to be good.
func (p *Plan) finish() {
	var extra []string
	if p.hasIndex {
		extra = append(extra, isoDate(p.index))
	}
	p.runKey = rng.RunKey(p.seed, p.sha, Algorithm, extra...)
	p.specs = append(p.specs, frame.Spec{Name: PatientID, Kind: frame.Int})
	// patient_id depends on the seed and the population size only, not on
	// the study definition or the index date: every extract of a project
	// holds the same patients, row for row, so extracts join on
	// patient_id as real ones do.
	p.ids = rng.NewPerm(10*p.n, rng.Derive(rng.RunKey(p.seed, "", Algorithm, "patients"), PatientID, "id"), 0)
	for i := range p.cols {
		col := &p.cols[i]
		col.key = rng.Derive(p.runKey, col.name, "value")
		col.mask = rng.NewPerm(p.n, rng.Derive(p.runKey, col.name, "mask"), 0)
	}
	for i := range p.cols {
		col := &p.cols[i]
		if col.maskFrom != i {
			owner := &p.cols[col.maskFrom]
			col.universal, col.m = owner.universal, owner.m
			p.info[i].IncidenceFrom = owner.name
		}
		if col.universal {
			col.m = p.n
		}
		p.info[i].Values = col.m
		if col.kind == Category {
			counts, _ := rng.Apportion(col.weights, col.m)
			col.bounds = rng.Ranges(counts)
			col.sigma = rng.NewPerm(col.m, rng.Derive(p.runKey, col.name, "category"), 0)
			for k, l := range col.labels {
				p.info[i].Categories = append(p.info[i].Categories, LabelCount{Label: l, N: counts[k]})
			}
		}
		p.specs = append(p.specs, col.spec())
	}
}

func (c *column) spec() frame.Spec {
	s := frame.Spec{Name: c.name}
	switch c.kind {
	case Date:
		s.Kind = frame.Date
		s.Layout = map[string]string{FormatDay: "2006-01-02", FormatMonth: "2006-01", FormatYear: "2006"}[c.format]
	case Int:
		s.Kind = frame.Int
	case Float:
		s.Kind, s.Decimals = frame.Float, -1
	case Bool:
		s.Kind, s.True, s.False = frame.Bool, "1", "0"
	case Category:
		s.Kind = frame.String
	}
	return s
}

// Rows is the exact number of rows the plan makes: the population size.
func (p *Plan) Rows() uint64 { return p.n }

// Specs describes the output columns: patient_id first, then the variables
// in declaration order.
func (p *Plan) Specs() []frame.Spec { return append([]frame.Spec(nil), p.specs...) }

// Columns describes what each variable's column will hold, in declaration
// order (patient_id is not included).
func (p *Plan) Columns() []ColumnInfo {
	out := make([]ColumnInfo, len(p.info))
	for i, c := range p.info {
		c.Categories = append([]LabelCount(nil), c.Categories...)
		out[i] = c
	}
	return out
}

// Today is the run's current date, as resolved once when planning.
func (p *Plan) Today() time.Time { return p.today }

// IndexDate is the index date used, and whether there is one.
func (p *Plan) IndexDate() (time.Time, bool) { return p.index, p.hasIndex }

// Seed is the seed used.
func (p *Plan) Seed() string { return p.seed }

// Fill resets b and fills it with rows [start, start+n). Every row's values
// depend only on the plan and the row's index, so any split of the rows into
// batches, in any order, gives the same rows. A plan is read-only once made:
// goroutines may fill their own batches from one plan at the same time.
// Asking for rows beyond Rows() is a programming error and panics.
func (p *Plan) Fill(b *frame.Batch, start uint64, n int) {
	if n < 0 || start > p.n || uint64(n) > p.n-start {
		panic(fmt.Sprintf("expect: Fill of rows [%d, %d) outside the population of %d rows", start, start+uint64(max(n, 0)), p.n))
	}
	b.Reset(p.specs, start, n)
	var buf [256]uint64 // permutation images of a run of rows
	ids := b.Cols[0].Ints
	for at := 0; at < n; at += len(buf) {
		run := buf[:min(len(buf), n-at)]
		p.ids.Range(start+uint64(at), run)
		for j, x := range run {
			ids[at+j] = int64(x)
		}
	}
	for ci := range p.cols {
		col := &p.cols[ci]
		owner := &p.cols[col.maskFrom]
		if col.kind == Date || col.kind == Category {
			b.SetNullable(ci + 1)
		}
		out := &b.Cols[ci+1]
		if col.universal {
			for i := 0; i < n; i++ {
				g := start + uint64(i)
				col.value(out, i, g, g)
			}
			continue
		}
		for at := 0; at < n; at += len(buf) {
			run := buf[:min(len(buf), n-at)]
			owner.mask.Range(start+uint64(at), run)
			for j, r := range run {
				i := at + j
				if r >= col.m {
					col.blank(out, i)
				} else {
					col.value(out, i, start+uint64(i), r)
				}
			}
		}
	}
}

// blank writes row i's blank: null for dates and categories, 0 otherwise.
func (c *column) blank(out *frame.Column, i int) {
	switch c.kind {
	case Date:
		out.Ints[i], out.Valid[i] = 0, false
	case Category:
		out.Strs[i], out.Valid[i] = "", false
	case Float:
		out.Floats[i] = 0
	default:
		out.Ints[i] = 0
	}
}

// value writes row i (global row g, rank r among the rows with a value).
func (c *column) value(out *frame.Column, i int, g, r uint64) {
	switch c.kind {
	case Bool:
		out.Ints[i] = 1
	case Category:
		out.Strs[i] = c.labels[rng.Find(c.bounds, c.sigma.At(r))]
	case Date:
		out.Ints[i] = c.truncate(c.date(c.key.Uint64(g, 0)))
	case Int:
		u := c.key.Uint64(g, 0)
		if c.dist == DistNormal {
			z := rng.NormalQuantile(open01(u))
			out.Ints[i] = int64(math.Trunc(c.mean + float64(c.sd*z)))
		} else {
			out.Ints[i] = c.base + int64(c.alias.Pick(u))
		}
	case Float:
		z := rng.NormalQuantile(open01(c.key.Uint64(g, 0)))
		out.Floats[i] = c.mean + float64(c.sd*z)
	}
}

// date maps 64 random bits to a day in the window [lo, hi].
func (c *column) date(u uint64) int64 {
	w := c.hi - c.lo
	if c.rate != RateExponential {
		return c.lo + int64(rng.Below(u, uint64(w)+1))
	}
	if c.mu <= 0 || w == 0 {
		return c.hi
	}
	// Inverse CDF of the exponential with mean mu truncated to
	// [0, w+1): x = -mu ln(1 - u c), c its mass; floored to whole days
	// back from hi.
	x := float64(-c.mu * rng.Log1p(-float64(rng.ToFloat(u)*c.c)))
	d := int64(x)
	if d < 0 {
		d = 0
	}
	if d > w {
		d = w
	}
	return c.hi - d
}

// truncate reduces a day to the column's precision: the first of its month
// or year.
func (c *column) truncate(day int64) int64 {
	if c.format == FormatDay || c.format == "" {
		return day
	}
	y, m, _ := fromEpochDays(day).Date()
	if c.format == FormatYear {
		m = time.January
	}
	return epochDays(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC))
}

// open01 maps 64 random bits to (0, 1): the top 53 bits plus a half.
func open01(u uint64) float64 {
	return (float64(u>>11) + 0.5) * (1.0 / (1 << 53))
}
