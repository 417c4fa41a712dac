package gen

import (
	"fmt"
	"github.com/haven-tre/haven/internal/artificial/civil"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

// derivedCol computes one derived column from columns already filled.
type derivedCol struct {
	out  int // output column index
	kind string
	from int
	at   int
	args []int
	d    meta.Derived
	// band
	labels []string
	edges  []float64
	// count
	exclude map[string]bool
	// kinds of the inputs
	fromDT, atDT bool
	argSpecs     []frame.Spec
}

// MaxAge caps derived ages, in whole years.
const MaxAge = 120

func (g *Generator) derive(d meta.Derived) (derivedCol, error) {
	dc := derivedCol{kind: d.Kind, d: d, from: -1, at: -1}
	if d.Name == "" {
		return dc, fmt.Errorf("a derived field needs a name")
	}
	if _, dup := g.index[d.Name]; dup {
		return dc, fmt.Errorf("%s is already a field: a derived field is computed, not scraped (remove it from one of them)", d.Name)
	}
	col := func(name, role string, kinds ...frame.Kind) (int, error) {
		if name == "" {
			return -1, fmt.Errorf("%q needs %s", d.Kind, role)
		}
		i, ok := g.index[name]
		if !ok {
			return -1, fmt.Errorf("%s %s is not a field of the table (derived fields may use fields and earlier derived fields)", role, name)
		}
		for _, k := range kinds {
			if g.specs[i].Kind == k {
				return i, nil
			}
		}
		return -1, fmt.Errorf("%s %s is a %s field, which %q cannot use", role, name, g.specs[i].Kind, d.Kind)
	}
	spec := frame.Spec{Name: d.Name, Decimals: -1}
	var err error
	switch d.Kind {
	case meta.DerivedAge:
		spec.Kind = frame.Int
		if dc.from, err = col(d.From, "from (the date of birth)", frame.Date, frame.Datetime); err != nil {
			return dc, err
		}
		if dc.at, err = col(d.At, "at (the event date)", frame.Date, frame.Datetime); err != nil {
			return dc, err
		}
		dc.fromDT = g.specs[dc.from].Kind == frame.Datetime
		dc.atDT = g.specs[dc.at].Kind == frame.Datetime
	case meta.DerivedBand:
		spec.Kind = frame.String
		if dc.from, err = col(d.From, "from", frame.Int, frame.Float); err != nil {
			return dc, err
		}
		if len(d.Edges) < 1 {
			return dc, fmt.Errorf("band needs edges, such as [0, 18, 65]")
		}
		for i := 1; i < len(d.Edges); i++ {
			if d.Edges[i] <= d.Edges[i-1] {
				return dc, fmt.Errorf("band edges must increase: %v comes after %v", d.Edges[i], d.Edges[i-1])
			}
		}
		dc.edges = d.Edges
		if len(d.Labels) > 0 {
			if len(d.Labels) != len(d.Edges) {
				return dc, fmt.Errorf("band has %d edges but %d labels: give one label per edge (the last band is open)", len(d.Edges), len(d.Labels))
			}
			dc.labels = d.Labels
		} else {
			for i, e := range d.Edges {
				if i+1 < len(d.Edges) {
					dc.labels = append(dc.labels, fmt.Sprintf("%s-%s", num(e), num(d.Edges[i+1]-1)))
				} else {
					dc.labels = append(dc.labels, num(e)+"+")
				}
			}
		}
	case meta.DerivedTruncate:
		spec.Kind = frame.String
		if dc.from, err = col(d.From, "from", frame.String); err != nil {
			return dc, err
		}
		if d.Length < 1 {
			return dc, fmt.Errorf("truncate needs a length of at least 1 (3 gives ICD-10 3-character codes)")
		}
	case meta.DerivedConcat, meta.DerivedCount:
		spec.Kind = frame.String
		if d.Kind == meta.DerivedCount {
			spec.Kind = frame.Int
		}
		if len(d.Fields) == 0 {
			return dc, fmt.Errorf("%s needs fields", d.Kind)
		}
		for _, f := range d.Fields {
			i, err := col(f, "field", frame.String, frame.Int, frame.Float, frame.Date, frame.Bool, frame.Datetime)
			if err != nil {
				return dc, err
			}
			dc.args = append(dc.args, i)
			dc.argSpecs = append(dc.argSpecs, g.specs[i])
		}
		dc.exclude = map[string]bool{}
		for _, x := range d.Exclude {
			dc.exclude[x] = true
		}
	default:
		return dc, fmt.Errorf("unknown kind %q: use age, band, truncate, concat or count", d.Kind)
	}
	dc.out = len(g.specs)
	g.add(spec, nil)
	return dc, nil
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (dc *derivedCol) fill(b *frame.Batch, n int) error {
	out := &b.Cols[dc.out]
	out.Valid = validity(out, n)
	switch dc.kind {
	case meta.DerivedAge:
		from, at := &b.Cols[dc.from], &b.Cols[dc.at]
		for r := 0; r < n; r++ {
			if from.Null(r) || at.Null(r) {
				out.Valid[r] = false
				continue
			}
			age := wholeYears(dayOf(from.Ints[r], dc.fromDT), dayOf(at.Ints[r], dc.atDT))
			if age < 0 {
				out.Valid[r] = false // an event before birth has no age
				continue
			}
			out.Ints[r] = min(age, MaxAge)
		}
	case meta.DerivedBand:
		from := &b.Cols[dc.from]
		for r := 0; r < n; r++ {
			if from.Null(r) {
				out.Valid[r] = false
				out.Strs[r] = ""
				continue
			}
			var x float64
			if from.Floats != nil {
				x = from.Floats[r]
			} else {
				x = float64(from.Ints[r])
			}
			k := -1
			for i, e := range dc.edges {
				if x >= e {
					k = i
				}
			}
			if k < 0 {
				out.Valid[r] = false
				out.Strs[r] = ""
				continue
			}
			out.Strs[r] = dc.labels[k]
		}
	case meta.DerivedTruncate:
		from := &b.Cols[dc.from]
		for r := 0; r < n; r++ {
			if from.Null(r) {
				out.Valid[r] = false
				out.Strs[r] = ""
				continue
			}
			s := from.Strs[r]
			if len(s) > dc.d.Length {
				s = s[:dc.d.Length]
			}
			out.Strs[r] = s
		}
	case meta.DerivedConcat:
		var sb strings.Builder
		var text []byte
		for r := 0; r < n; r++ {
			sb.Reset()
			some := false
			for j, i := range dc.args {
				c := &b.Cols[i]
				if c.Null(r) {
					continue
				}
				if some {
					sb.WriteString(dc.d.Sep)
				}
				text = frame.AppendText(text[:0], &dc.argSpecs[j], c, r, false)
				sb.Write(text)
				some = true
			}
			if !some {
				out.Valid[r] = false
				out.Strs[r] = ""
				continue
			}
			out.Strs[r] = sb.String()
		}
	case meta.DerivedCount:
		var text []byte
		for r := 0; r < n; r++ {
			var k int64
			for j, i := range dc.args {
				c := &b.Cols[i]
				if c.Null(r) {
					continue
				}
				if len(dc.exclude) > 0 {
					text = frame.AppendText(text[:0], &dc.argSpecs[j], c, r, false)
					if dc.exclude[string(text)] {
						continue
					}
				}
				k++
			}
			out.Ints[r] = k
		}
	}
	return nil
}

// dayOf returns a date's or datetime's day number.
func dayOf(v int64, datetime bool) int64 {
	if datetime {
		return civil.FloorDiv(v, 86400)
	}
	return v
}

// wholeYears is the age in completed years on day at of someone born on
// day born.
func wholeYears(born, at int64) int64 {
	by, bm, bd := civil.CivilFromDays(born)
	ay, am, ad := civil.CivilFromDays(at)
	age := ay - by
	if am < bm || (am == bm && ad < bd) {
		age--
	}
	return age
}
