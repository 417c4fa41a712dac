// Package gen generates artificial rows from released metadata. Its only
// input is a *meta.Release: it cannot read a table, a database or a record
// file, and a test keeps it from depending on any package that can.
//
// Every value is a pure function of (run key, field, row): the run key is
// derived from the seed, the metadata's SHA-256 and the algorithm version.
// Exact counts come from keyed permutations of the rows (a row takes the
// value whose share of [0, N) holds its image), so null rates and
// frequency tables are met exactly, not just on average. Any block of rows
// can be generated on its own, on any machine, in any order.
package gen

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/rng"
)

// Algorithm names the sampling algorithm. Any change to what a seed
// produces must change it.
const Algorithm = "haven-gen/1"

// DefaultSeed is used when no seed is given.
const DefaultSeed = "haven"

// DefaultIDPrefix is the reserved prefix of generated string identifiers.
const DefaultIDPrefix = "TEST"

// Options configure a generator.
type Options struct {
	Table    string      // table to generate; may be empty when there is one
	Rows     uint64      // rows to generate, exactly
	Seed     string      // DefaultSeed when empty
	Rules    *meta.Rules // extra postprocessing rules, applied after the metadata's own
	IDPrefix string      // DefaultIDPrefix when empty
}

// Generator makes the rows of one table. It is safe for concurrent Fill
// calls.
type Generator struct {
	rel     *meta.Release
	table   *meta.Table
	rows    uint64
	run     []byte
	specs   []frame.Spec
	cols    []column
	index   map[string]int
	seqs    [][]int
	derived []derivedCol
	ent     *entities
	notes   []string
}

// column fills one output column for rows [start, start+n).
type column interface {
	fill(c *frame.Column, start uint64, n int, ent []uint64)
}

// New compiles a generator for one table of the release.
func New(rel *meta.Release, o Options) (*Generator, error) {
	doc := rel.Document()
	if o.Seed == "" {
		o.Seed = DefaultSeed
	}
	if o.IDPrefix == "" {
		o.IDPrefix = DefaultIDPrefix
	}
	var t *meta.Table
	switch {
	case o.Table != "":
		if t = doc.Table(o.Table); t == nil {
			return nil, fmt.Errorf("the metadata has no table %q: it has %s", o.Table, tableNames(doc))
		}
	case len(doc.Tables) == 1:
		t = &doc.Tables[0]
	case len(doc.Tables) == 0:
		return nil, fmt.Errorf("the metadata has no tables")
	default:
		return nil, fmt.Errorf("the metadata has %d tables (%s): choose one with --table", len(doc.Tables), tableNames(doc))
	}
	g := &Generator{
		rel:   rel,
		table: t,
		rows:  o.Rows,
		run:   rng.RunKey(o.Seed, rel.SHA256(), Algorithm),
		index: map[string]int{},
	}
	rules := mergeRules(t.Postprocess, o.Rules)
	idRules := map[string]meta.IdentifierSpec{}
	for _, r := range rules.Identifiers {
		if r.Field == "" {
			return nil, fmt.Errorf("an identifier rule has no field: give the column it generates")
		}
		idRules[r.Field] = r.IdentifierSpec
	}
	if len(t.Relationships) > 0 {
		r := t.Relationships[0]
		ent, err := newEntities(g.key(t.Name, r.Parent, "cardinality"), r)
		if err != nil {
			return nil, fmt.Errorf("table %s: relationship %s: %v", t.Name, r.Parent, err)
		}
		g.ent = ent
	}
	for i := range t.Fields {
		f := &t.Fields[i]
		if _, dup := g.index[f.Name]; dup {
			return nil, fmt.Errorf("table %s: field %s appears twice", t.Name, f.Name)
		}
		var spec frame.Spec
		var col column
		var err error
		if id, ok := idRules[f.Name]; ok {
			delete(idRules, f.Name)
			spec, col, err = g.identifier(f.Name, id, o.IDPrefix)
		} else {
			spec, col, err = g.field(f, o.IDPrefix)
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: field %s: %v", t.Name, f.Name, err)
		}
		g.add(spec, col)
	}
	// Identifier rules for fields the metadata lacks add columns.
	for _, r := range rules.Identifiers {
		if _, ok := idRules[r.Field]; !ok {
			continue
		}
		spec, col, err := g.identifier(r.Field, r.IdentifierSpec, o.IDPrefix)
		if err != nil {
			return nil, fmt.Errorf("table %s: identifier rule %s: %v", t.Name, r.Field, err)
		}
		g.add(spec, col)
	}
	for _, seq := range rules.Sequences {
		idx, err := g.sequence(seq)
		if err != nil {
			return nil, fmt.Errorf("table %s: sequence %s: %v", t.Name, strings.Join(seq, ", "), err)
		}
		g.seqs = append(g.seqs, idx)
	}
	for _, d := range rules.Derived {
		dc, err := g.derive(d)
		if err != nil {
			return nil, fmt.Errorf("table %s: derived field %s: %v", t.Name, d.Name, err)
		}
		g.derived = append(g.derived, dc)
	}
	return g, nil
}

func tableNames(d *meta.Document) string {
	var n []string
	for _, t := range d.Tables {
		n = append(n, t.Name)
	}
	return strings.Join(n, ", ")
}

func mergeRules(a, b *meta.Rules) meta.Rules {
	var r meta.Rules
	for _, x := range []*meta.Rules{a, b} {
		if x == nil {
			continue
		}
		r.Identifiers = append(r.Identifiers, x.Identifiers...)
		r.Sequences = append(r.Sequences, x.Sequences...)
		r.Derived = append(r.Derived, x.Derived...)
	}
	return r
}

func (g *Generator) add(s frame.Spec, c column) {
	g.index[s.Name] = len(g.specs)
	g.specs = append(g.specs, s)
	g.cols = append(g.cols, c)
}

// key derives the Philox key of one purpose of one field.
func (g *Generator) key(table, field, purpose string) rng.Key {
	return rng.Derive(g.run, table, field, purpose)
}

// Specs returns the output columns.
func (g *Generator) Specs() []frame.Spec { return g.specs }

// Rows is the number of rows the generator makes.
func (g *Generator) Rows() uint64 { return g.rows }

// Table is the name of the table generated.
func (g *Generator) Table() string { return g.table.Name }

// Notes lists fields generated with less than the metadata hoped for (a
// field whose every entry was suppressed is written empty).
func (g *Generator) Notes() []string { return g.notes }

// Fill sets rows [start, start+n) of b (already Reset to Specs).
func (g *Generator) Fill(b *frame.Batch, start uint64, n int) error {
	var ent []uint64
	if g.ent != nil {
		ent = g.ent.fill(start, n)
	}
	for i, c := range g.cols {
		if c != nil { // derived columns are filled below
			c.fill(&b.Cols[i], start, n, ent)
		}
	}
	for _, s := range g.seqs {
		sortSequence(b, s, n)
	}
	for _, d := range g.derived {
		if err := d.fill(b, n); err != nil {
			return err
		}
	}
	return nil
}

// field compiles the sampler of one metadata field.
func (g *Generator) field(f *meta.Field, prefix string) (frame.Spec, column, error) {
	t := g.table
	spec := frame.Spec{Name: f.Name, Decimals: -1}
	if f.Type == meta.TypeIdentifier {
		if f.Identifier == nil {
			return spec, nil, fmt.Errorf("an identifier field needs an identifier spec (kind, pattern, scope)")
		}
		return g.identifier(f.Name, *f.Identifier, prefix)
	}
	ex, err := g.exact(f)
	if err != nil {
		return spec, nil, err
	}
	draw := g.key(t.Name, f.Name, "draw")
	switch f.Type {
	case meta.TypeCategorical, meta.TypeBoolean, meta.TypeInteger, meta.TypeFloat:
		if len(f.Values) > 0 || f.Continuous == nil {
			return g.discrete(f, ex)
		}
		return g.continuous(f, ex, draw)
	case meta.TypeDate, meta.TypeDatetime:
		return g.dates(f, ex, draw)
	case meta.TypeFreeText:
		spec.Kind = frame.String
		return spec, newText(f, ex, draw), nil
	}
	return spec, nil, fmt.Errorf("unknown type %q: use one of %s", f.Type, strings.Join(meta.Types, ", "))
}

// exact is the exact-count part of a field: a permutation of the rows
// whose image picks null or one of the weighted entries.
type exact struct {
	perm  rng.Perm
	nulls uint64   // rows [0, nulls) of the image are null
	upper []uint64 // cumulative entry counts after the nulls
	shift uint     // guide bucket of x is x >> shift
	guide []int32  // first entry that can hold each bucket
}

// index builds the guide table that makes find constant time on average.
func (e *exact) index() {
	if len(e.upper) == 0 {
		return
	}
	total := e.upper[len(e.upper)-1]
	for total>>e.shift > 4096 {
		e.shift++
	}
	e.guide = make([]int32, total>>e.shift+1)
	k := 0
	for j := range e.guide {
		lo := uint64(j) << e.shift
		for k < len(e.upper)-1 && e.upper[k] <= lo {
			k++
		}
		e.guide[j] = int32(k)
	}
}

// find returns the entry whose range holds x (below the total).
func (e *exact) find(x uint64) int {
	k := int(e.guide[x>>e.shift])
	for e.upper[k] <= x {
		k++
	}
	return k
}

// pick returns the entry of global row g, or -1 for null.
func (e *exact) pick(g uint64) int {
	p := e.perm.At(g)
	if p < e.nulls {
		return -1
	}
	return e.find(p - e.nulls)
}

var scratch = sync.Pool{New: func() any { return new([]uint64) }}

var pickPool = sync.Pool{New: func() any { return new([]int32) }}

// picked is the picks and ranks of a run of rows, in pooled storage.
type picked struct {
	k   *[]int32
	pos *[]uint64
}

// picksOf returns the picks of rows [start, start+n); give them back with
// release.
func (e *exact) picksOf(start uint64, n int) picked {
	p := picked{pickPool.Get().(*[]int32), scratch.Get().(*[]uint64)}
	if cap(*p.k) < n {
		*p.k = make([]int32, n)
	}
	if cap(*p.pos) < n {
		*p.pos = make([]uint64, n)
	}
	*p.k, *p.pos = (*p.k)[:n], (*p.pos)[:n]
	e.picks(start, *p.k, *p.pos)
	return p
}

func (p picked) release() { pickPool.Put(p.k); scratch.Put(p.pos) }

// picks sets out[j] to the entry of row start+j, or -1 for null, and
// pos[j] to the row's rank among the rows of its entry: a number in
// [0, count of the entry), every rank taken exactly once over the whole
// output, which spreads values evenly inside date and cut-point bins.
func (e *exact) picks(start uint64, out []int32, pos []uint64) {
	if e.upper == nil {
		for j := range out {
			out[j] = -1
		}
		return
	}
	e.perm.Range(start, pos)
	for j, p := range pos {
		if p < e.nulls {
			out[j] = -1
			continue
		}
		x := p - e.nulls
		k := e.find(x)
		out[j] = int32(k)
		if k > 0 {
			x -= e.upper[k-1]
		}
		pos[j] = x
	}
}

// count is the number of rows entry k gets.
func (e *exact) count(k int32) uint64 {
	if k == 0 {
		return e.upper[0]
	}
	return e.upper[k] - e.upper[k-1]
}

// exact apportions the rows between null and the field's entries (values,
// date bins or cut-point bins, whichever it has).
func (g *Generator) exact(f *meta.Field) (*exact, error) {
	var weights []int64
	switch {
	case len(f.Values) > 0:
		for _, v := range f.Values {
			weights = append(weights, v.N)
		}
	case len(f.Bins) > 0:
		for _, b := range f.Bins {
			weights = append(weights, b.N)
		}
	case f.Continuous != nil:
		weights = continuousMasses(f.Continuous)
	case f.Text != nil:
		weights = []int64{1} // lengths are drawn per row
	}
	e := &exact{perm: rng.NewPerm(g.rows, g.key(g.table.Name, f.Name, "exact"), 0)}
	rows := g.table.RowsN
	nullN := f.NullN
	if nullN > rows {
		rows = nullN
	}
	var total int64
	for _, w := range weights {
		total += w
	}
	if total == 0 {
		// Nothing survived disclosure control: the field is all null.
		e.nulls = g.rows
		if f.NNonNull > 0 || rows > nullN {
			g.notes = append(g.notes, fmt.Sprintf("%s.%s: no value survived disclosure control, so the field is written empty", g.table.Name, f.Name))
		}
		return e, nil
	}
	if nullN > 0 {
		split, err := rng.Apportion([]int64{nullN, rows - nullN}, g.rows)
		if err != nil {
			return nil, err
		}
		e.nulls = split[0]
	}
	counts, err := rng.Apportion(weights, g.rows-e.nulls)
	if err != nil {
		return nil, err
	}
	e.upper = rng.Ranges(counts)
	e.index()
	return e, nil
}

// discrete fills a field from its frequency table.
func (g *Generator) discrete(f *meta.Field, ex *exact) (frame.Spec, column, error) {
	spec := frame.Spec{Name: f.Name, Decimals: -1}
	c := &discreteCol{ex: ex}
	switch f.Type {
	case meta.TypeCategorical:
		spec.Kind = frame.String
		spec.Plain = true
		for _, v := range f.Values {
			c.strs = append(c.strs, v.V)
			spec.Plain = spec.Plain && plain(v.V)
		}
	case meta.TypeBoolean:
		spec.Kind = frame.Bool
		for _, v := range f.Values {
			truth, ok := boolToken(v.V)
			if !ok {
				return spec, nil, fmt.Errorf("boolean value %q is not a boolean token (1/0, true/false, Y/N, yes/no, T/F)", v.V)
			}
			if truth {
				spec.True = v.V
				c.ints = append(c.ints, 1)
			} else {
				spec.False = v.V
				c.ints = append(c.ints, 0)
			}
		}
		spec.True, spec.False = pairToken(spec.True, spec.False)
	case meta.TypeInteger:
		spec.Kind = frame.Int
		for _, v := range f.Values {
			n, err := strconv.ParseInt(v.V, 10, 64)
			if err != nil {
				return spec, nil, fmt.Errorf("integer value %q does not parse: %v", v.V, err)
			}
			c.ints = append(c.ints, n)
		}
	case meta.TypeFloat:
		spec.Kind = frame.Float
		for _, v := range f.Values {
			x, err := strconv.ParseFloat(v.V, 64)
			if err != nil {
				return spec, nil, fmt.Errorf("float value %q does not parse: %v", v.V, err)
			}
			c.floats = append(c.floats, x)
		}
	}
	return spec, c, nil
}

// plain reports whether s needs no quoting in CSV.
func plain(s string) bool {
	return !strings.ContainsAny(s, ",\"\r\n") && strings.TrimSpace(s) == s
}

var trueTokens = map[string]bool{"1": true, "true": true, "t": true, "y": true, "yes": true}
var falseTokens = map[string]bool{"0": true, "false": true, "f": true, "n": true, "no": true}

func boolToken(s string) (truth, ok bool) {
	l := strings.ToLower(s)
	if trueTokens[l] {
		return true, true
	}
	if falseTokens[l] {
		return false, true
	}
	return false, false
}

// pairToken completes a boolean's token pair when disclosure control left
// only one of them, keeping the source's spelling style.
func pairToken(t, f string) (string, string) {
	pairs := [][2]string{{"1", "0"}, {"true", "false"}, {"TRUE", "FALSE"}, {"True", "False"}, {"T", "F"}, {"Y", "N"}, {"yes", "no"}, {"YES", "NO"}, {"Yes", "No"}, {"t", "f"}, {"y", "n"}}
	for _, p := range pairs {
		if t == p[0] && f == "" {
			return t, p[1]
		}
		if f == p[1] && t == "" {
			return p[0], f
		}
	}
	return t, f
}

type discreteCol struct {
	ex     *exact
	strs   []string
	ints   []int64
	floats []float64
}

func (d *discreteCol) fill(c *frame.Column, start uint64, n int, _ []uint64) {
	nullable := d.ex.nulls > 0 || d.ex.upper == nil
	if nullable {
		c.Valid = validity(c, n)
	}
	pk := d.ex.picksOf(start, n)
	defer pk.release()
	for i, k := range *pk.k {
		if k < 0 {
			c.Valid[i] = false
			if c.Strs != nil {
				c.Strs[i] = ""
			}
			continue
		}
		switch {
		case d.strs != nil:
			c.Strs[i] = d.strs[k]
		case d.ints != nil:
			c.Ints[i] = d.ints[k]
		case d.floats != nil:
			c.Floats[i] = d.floats[k]
		}
	}
}

// validity returns c's validity vector for n rows, all valid.
func validity(c *frame.Column, n int) []bool {
	v := c.Valid
	if cap(v) < n {
		v = make([]bool, n)
	}
	v = v[:n]
	for i := range v {
		v[i] = true
	}
	return v
}

// continuousMasses returns the bin weights of cut-points, in hundredths
// of a percentile point: interior bins, then the two tails when bounded.
func continuousMasses(c *meta.Continuous) []int64 {
	pct := cutPercentiles(c)
	var w []int64
	if c.Bounds != nil && len(pct) > 0 {
		w = append(w, int64(math.Round(pct[0]*100)))
	}
	for j := 1; j < len(pct); j++ {
		w = append(w, int64(math.Round((pct[j]-pct[j-1])*100)))
	}
	if c.Bounds != nil && len(pct) > 0 {
		w = append(w, int64(math.Round((100-pct[len(pct)-1])*100)))
	}
	return w
}

// cutPercentiles gives the percentile of each cut-point.
func cutPercentiles(c *meta.Continuous) []float64 {
	p := make([]float64, len(c.Cuts))
	for j := range c.Cuts {
		if c.Step == 1 {
			p[j] = float64(j + 2)
		} else {
			p[j] = float64((j + 1) * c.Step)
		}
	}
	return p
}

func (g *Generator) continuous(f *meta.Field, ex *exact, draw rng.Key) (frame.Spec, column, error) {
	c := f.Continuous
	spec := frame.Spec{Name: f.Name, Kind: frame.Float, Decimals: c.Decimals}
	if f.Type == meta.TypeInteger {
		spec.Kind = frame.Int
	}
	if c.Step != 1 && c.Step != 5 && c.Step != 10 && c.Step != 25 {
		return spec, nil, fmt.Errorf("continuous step %d: it must be 1, 5, 10 or 25", c.Step)
	}
	for j := 1; j < len(c.Cuts); j++ {
		if c.Cuts[j] < c.Cuts[j-1] {
			return spec, nil, fmt.Errorf("cut-points decrease at %d (%v after %v)", j, c.Cuts[j], c.Cuts[j-1])
		}
	}
	var edges []float64
	if c.Bounds != nil {
		if c.Bounds[0] > c.Bounds[1] {
			return spec, nil, fmt.Errorf("bounds [%v, %v] are reversed", c.Bounds[0], c.Bounds[1])
		}
		edges = append(edges, math.Min(c.Bounds[0], firstOr(c.Cuts, c.Bounds[0])))
	}
	edges = append(edges, c.Cuts...)
	if c.Bounds != nil {
		edges = append(edges, math.Max(c.Bounds[1], lastOr(c.Cuts, c.Bounds[1])))
	}
	if len(edges) < 2 && ex.upper != nil {
		return spec, nil, fmt.Errorf("too few cut-points to generate from (%d)", len(c.Cuts))
	}
	scale := math.Pow(10, float64(c.Decimals))
	return spec, &continuousCol{ex: ex, draw: draw, edges: edges, scale: scale, integer: spec.Kind == frame.Int}, nil
}

func firstOr(s []float64, d float64) float64 {
	if len(s) == 0 {
		return d
	}
	return s[0]
}

func lastOr(s []float64, d float64) float64 {
	if len(s) == 0 {
		return d
	}
	return s[len(s)-1]
}

type continuousCol struct {
	ex      *exact
	draw    rng.Key
	edges   []float64
	scale   float64
	integer bool
}

func (cc *continuousCol) fill(c *frame.Column, start uint64, n int, _ []uint64) {
	if cc.ex.nulls > 0 || cc.ex.upper == nil {
		c.Valid = validity(c, n)
	}
	pk := cc.ex.picksOf(start, n)
	defer pk.release()
	pos := *pk.pos
	for i, k := range *pk.k {
		if k < 0 {
			c.Valid[i] = false
			continue
		}
		// Stratified: the row's rank in its bin places it evenly.
		lo, hi := cc.edges[k], cc.edges[k+1]
		u := float64(float64(pos[i])+0.5) / float64(cc.ex.count(k))
		x := lo + float64(u*float64(hi-lo))
		x = math.Round(float64(x*cc.scale)) / cc.scale
		if cc.integer {
			c.Ints[i] = int64(x)
		} else {
			c.Floats[i] = x
		}
	}
}

func (g *Generator) dates(f *meta.Field, ex *exact, draw rng.Key) (frame.Spec, column, error) {
	spec := frame.Spec{Name: f.Name, Kind: frame.Date, Layout: f.Format}
	if f.Type == meta.TypeDatetime {
		spec.Kind = frame.Datetime
	}
	if err := checkLayout(f.Format, spec.Kind); err != nil {
		return spec, nil, err
	}
	dc := &dateCol{ex: ex, draw: draw, datetime: f.Type == meta.TypeDatetime}
	for i, b := range f.Bins {
		s, err := parseDay(b.Start)
		if err != nil {
			return spec, nil, fmt.Errorf("bin %d: start: %v", i, err)
		}
		e, err := parseDay(b.End)
		if err != nil {
			return spec, nil, fmt.Errorf("bin %d: end: %v", i, err)
		}
		if e < s {
			return spec, nil, fmt.Errorf("bin %d ends (%s) before it starts (%s)", i, b.End, b.Start)
		}
		dc.start = append(dc.start, s)
		dc.span = append(dc.span, uint64(e-s+1))
	}
	if dc.datetime {
		var w []int64
		for _, h := range f.Hours {
			hv, err := strconv.Atoi(h.V)
			if err != nil || hv < 0 || hv > 23 {
				return spec, nil, fmt.Errorf("hour %q is not an hour of the day (00-23)", h.V)
			}
			dc.hours = append(dc.hours, int64(hv))
			w = append(w, h.N)
		}
		if len(w) > 0 {
			a, err := rng.NewAlias(w)
			if err != nil {
				return spec, nil, fmt.Errorf("hours: %v", err)
			}
			dc.hourAlias = a
		}
	}
	return spec, dc, nil
}

func checkLayout(layout string, k frame.Kind) error {
	if layout == "" {
		return nil
	}
	t := time.Date(2021, 3, 14, 15, 9, 26, 0, time.UTC)
	if k == frame.Date {
		t = time.Date(2021, 3, 14, 0, 0, 0, 0, time.UTC)
	}
	back, err := time.Parse(layout, t.Format(layout))
	if err != nil || !back.Equal(t) {
		return fmt.Errorf("format %q does not write a %s that reads back (use a Go layout such as 2006-01-02)", layout, k)
	}
	return nil
}

func parseDay(s string) (int64, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a YYYY-MM-DD date", s)
	}
	return t.Unix() / 86400, nil
}

type dateCol struct {
	ex        *exact
	draw      rng.Key
	start     []int64
	span      []uint64
	datetime  bool
	hours     []int64
	hourAlias *rng.Alias
}

func (dc *dateCol) fill(c *frame.Column, start uint64, n int, _ []uint64) {
	if dc.ex.nulls > 0 || dc.ex.upper == nil {
		c.Valid = validity(c, n)
	}
	pk := dc.ex.picksOf(start, n)
	defer pk.release()
	pos := *pk.pos
	for i, k := range *pk.k {
		if k < 0 {
			c.Valid[i] = false
			continue
		}
		// Stratified: the row's rank in its bin spreads days evenly.
		hi, lo := bits.Mul64(pos[i], dc.span[k])
		off, _ := bits.Div64(hi, lo, dc.ex.count(k))
		day := dc.start[k] + int64(off)
		if !dc.datetime {
			c.Ints[i] = day
			continue
		}
		_, u1 := dc.draw.Uint64x2(start+uint64(i), 0)
		var hour int64
		if dc.hourAlias != nil {
			hour = dc.hours[dc.hourAlias.Pick(u1)]
		} else {
			hour = int64(rng.Below(u1, 24))
		}
		secs := int64(rng.Below(u1*0x9E3779B97F4A7C15+1, 3600))
		c.Ints[i] = day*86400 + hour*3600 + secs
	}
}

// text writes strings of the released lengths and character mix.
type textCol struct {
	ex      *exact
	draw    rng.Key
	lengths *rng.Alias
	lens    []int
	classes *rng.Alias
}

const (
	letters = "abcdefghijklmnopqrstuvwxyz"
	digits  = "0123456789"
	others  = ".,-/()"
)

func newText(f *meta.Field, ex *exact, draw rng.Key) column {
	tc := &textCol{ex: ex, draw: draw}
	var w []int64
	if f.Text != nil {
		for _, l := range f.Text.Lengths {
			n, err := strconv.Atoi(l.V)
			if err != nil || n < 0 || n > 1<<16 {
				continue
			}
			tc.lens = append(tc.lens, n)
			w = append(w, l.N)
		}
	}
	if len(w) > 0 {
		tc.lengths, _ = rng.NewAlias(w)
	} else {
		tc.lens, tc.lengths = []int{12}, mustAlias([]int64{1})
	}
	shares := []int64{1, 0, 0, 0}
	if f.Text != nil {
		shares = []int64{int64(f.Text.Letters * 100), int64(f.Text.Digits * 100), int64(f.Text.Spaces * 100), int64(f.Text.Other * 100)}
		if shares[0]+shares[1]+shares[2]+shares[3] == 0 {
			shares[0] = 1
		}
	}
	tc.classes = mustAlias(shares)
	return tc
}

func mustAlias(w []int64) *rng.Alias {
	a, err := rng.NewAlias(w)
	if err != nil {
		panic(err) // only called with positive weights
	}
	return a
}

func (tc *textCol) fill(c *frame.Column, start uint64, n int, _ []uint64) {
	if tc.ex.nulls > 0 || tc.ex.upper == nil {
		c.Valid = validity(c, n)
	}
	var arena []byte
	var spare uint64
	pk := tc.ex.picksOf(start, n)
	defer pk.release()
	for i, k := range *pk.k {
		row := start + uint64(i)
		if k < 0 {
			c.Valid[i] = false
			c.Strs[i] = ""
			continue
		}
		u0, _ := tc.draw.Uint64x2(row, 0)
		l := tc.lens[tc.lengths.Pick(u0)]
		if cap(arena)-len(arena) < l {
			arena = make([]byte, 0, max(l, 64<<10))
		}
		s := len(arena)
		prev, run := byte(' '), 0
		for j := 0; j < l; j++ {
			var u uint64
			if j%2 == 0 {
				a, b := tc.draw.Uint64x2(row, uint32(1+j/2))
				u, spare = a, b
			} else {
				u = spare
			}
			ch := textChar(tc.classes.Pick(u), u, j == 0 || j == l-1)
			ch, run = separate(prev, ch, run, j == 0 || j == l-1)
			arena = append(arena, ch)
			prev = ch
		}
		c.Strs[i] = unsafe.String(unsafe.SliceData(arena[s:]), l)
	}
}

// separate keeps generated text from looking like an identifier: a digit
// never touches a letter (a space goes between them) and digit runs stop
// at four, so no postcode, NHS number, phone number or code can form. run
// counts the digits just written.
func separate(prev, ch byte, run int, edge bool) (byte, int) {
	isDigit := func(c byte) bool { return '0' <= c && c <= '9' }
	isLetter := func(c byte) bool { return 'a' <= c && c <= 'z' }
	switch {
	case isDigit(ch) && (isLetter(prev) || run >= 4), isLetter(ch) && isDigit(prev):
		if edge {
			return '.', 0
		}
		return ' ', 0
	case isDigit(ch):
		return ch, run + 1
	}
	return ch, 0
}

func textChar(class int, u uint64, edge bool) byte {
	u = u*0x9E3779B97F4A7C15 + 7
	switch class {
	case 1:
		return digits[rng.Below(u, 10)]
	case 2:
		if !edge {
			return ' '
		}
	case 3:
		return others[rng.Below(u, uint64(len(others)))]
	}
	return letters[rng.Below(u, 26)]
}

// entities maps rows to entities when the table has a relationship: each
// entity draws its number of rows from the cardinality histogram, and rows
// are dealt to entities in order. The last entity is cut short so the row
// count is exact.
type entities struct {
	key   rng.Key
	alias *rng.Alias
	min   []uint64
	span  []uint64
	mu    sync.Mutex
	marks []entityMark // entity and offset at each multiple of markRows
}

type entityMark struct{ entity, offset uint64 }

const markRows = 1 << 16

func newEntities(key rng.Key, r meta.Relationship) (*entities, error) {
	e := &entities{key: key, marks: []entityMark{{0, 0}}}
	var w []int64
	for _, b := range r.Cardinalities {
		if b.Min < 1 {
			return nil, fmt.Errorf("a cardinality bin starts at %d rows: every entity has at least one", b.Min)
		}
		hi := b.Max
		if hi == 0 {
			hi = max(r.MaxChildren, b.Min)
		}
		if hi < b.Min {
			return nil, fmt.Errorf("cardinality bin %d-%d is reversed", b.Min, b.Max)
		}
		e.min = append(e.min, uint64(b.Min))
		e.span = append(e.span, uint64(hi-b.Min+1))
		w = append(w, b.N)
	}
	if len(w) == 0 {
		return nil, fmt.Errorf("no cardinality survived disclosure control; every entity gets one row")
	}
	a, err := rng.NewAlias(w)
	if err != nil {
		return nil, err
	}
	e.alias = a
	return e, nil
}

// rowsOf is the number of rows of entity i.
func (e *entities) rowsOf(i uint64) uint64 {
	u0, u1 := e.key.Uint64x2(i, 0)
	k := e.alias.Pick(u0)
	return e.min[k] + rng.Below(u1, e.span[k])
}

// at returns the entity and offset within it of row r. Marks every
// markRows rows are computed once, in order, and shared.
func (e *entities) at(r uint64) entityMark {
	k := r / markRows
	e.mu.Lock()
	for uint64(len(e.marks)) <= k {
		j := uint64(len(e.marks)) - 1
		e.marks = append(e.marks, e.advance(e.marks[j], j*markRows, (j+1)*markRows))
	}
	m := e.marks[k]
	e.mu.Unlock()
	return e.advance(m, k*markRows, r)
}

// advance moves from m, the entity and offset at row pos, to row target.
func (e *entities) advance(m entityMark, pos, target uint64) entityMark {
	for {
		left := e.rowsOf(m.entity) - m.offset
		if pos+left > target {
			return entityMark{m.entity, m.offset + (target - pos)}
		}
		pos += left
		m = entityMark{m.entity + 1, 0}
	}
}

// fill returns the entity of each row in [start, start+n).
func (e *entities) fill(start uint64, n int) []uint64 {
	out := make([]uint64, n)
	m := e.at(start)
	left := e.rowsOf(m.entity) - m.offset
	for i := range out {
		if left == 0 {
			m.entity++
			left = e.rowsOf(m.entity)
		}
		out[i] = m.entity
		left--
	}
	return out
}

// sortSequence orders a row's non-null dates ascending, writing them back
// into the non-null positions only: nulls stay where they were.
func sortSequence(b *frame.Batch, cols []int, n int) {
	vals := make([]int64, 0, len(cols))
	for r := 0; r < n; r++ {
		vals = vals[:0]
		for _, c := range cols {
			if !b.Cols[c].Null(r) {
				vals = append(vals, b.Cols[c].Ints[r])
			}
		}
		if len(vals) < 2 {
			continue
		}
		sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
		k := 0
		for _, c := range cols {
			if !b.Cols[c].Null(r) {
				b.Cols[c].Ints[r] = vals[k]
				k++
			}
		}
	}
}

func (g *Generator) sequence(names []string) ([]int, error) {
	if len(names) < 2 {
		return nil, fmt.Errorf("a sequence needs at least two date fields")
	}
	var idx []int
	kind := frame.Kind(-1)
	for _, n := range names {
		i, ok := g.index[n]
		if !ok {
			return nil, fmt.Errorf("no field %s in the table", n)
		}
		k := g.specs[i].Kind
		if k != frame.Date && k != frame.Datetime {
			return nil, fmt.Errorf("%s is a %s field: sequences order dates", n, k)
		}
		if kind >= 0 && k != kind {
			return nil, fmt.Errorf("%s is a %s but the sequence's first field is a %s: a sequence mixes no kinds", n, k, kind)
		}
		kind = k
		idx = append(idx, i)
	}
	return idx, nil
}
