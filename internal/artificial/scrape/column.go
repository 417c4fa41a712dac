package scrape

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/records"
)

// Inference limits.
const (
	// CategoricalMax is the most distinct values a text column may have
	// and still be categorical; past it the column is free text or an
	// identifier.
	CategoricalMax = 5000
	// MaxValueBytes bounds the bytes of the distinct values a column
	// keeps while it could still be categorical: values averaging more
	// than about 800 bytes are not categories.
	MaxValueBytes = 4 << 20
	// DiscreteMax is the most distinct values a numeric column may have
	// and be released as a frequency table; past it, as percentiles.
	DiscreteMax = 100
	// IDMinValues is the fewest non-null values for a column to be
	// detected as an identifier (declared identifiers need none).
	IDMinValues = 50
	// IDDistinctPercent is the share of distinct values, among non-null
	// values, that makes a column an identifier.
	IDDistinctPercent = 95
	// FreeTextMinValues and FreeTextMeanLength: a text column with at
	// least FreeTextMinValues values, at least half of them distinct, and
	// either whitespace in at least half of its values or a mean length of
	// FreeTextMeanLength characters, is free text even with few distinct
	// values.
	FreeTextMinValues  = 50
	FreeTextMeanLength = 20
)

// KnownIdentifiers are column names (compared case-insensitively) always
// treated as identifiers, as if given to --id-columns.
var KnownIdentifiers = []string{
	"patient_id", "person_id", "nhs_number", "nhsnumber", "nhs_no", "newnhsno", "token_person_id",
	"hesid", "pseudo_hesid", "mpsid", "lopatid", "patpathid", "bookrefno", "cdsuniqueid", "susrecid",
	"attendno", "attendid", "attendkey", "aekey", "epikey", "preferer",
}

func isKnownIdentifier(name string) bool {
	l := strings.ToLower(name)
	return slices.Contains(KnownIdentifiers, l)
}

type role uint8

const (
	roleNone   role = iota
	roleID          // declared or known identifier
	roleParent      // relationship parent: an identifier, one per entity
	roleChild       // relationship child: an identifier, one per row
)

// column accumulates one column of one table.
type column struct {
	name  string
	kind  records.Kind
	role  role
	rows  int64
	nulls int64

	vals  *valueSet         // text, until overflow
	over  *overflow         // text, after overflow
	num   *numAcc           // typed Int and Float
	dates *dateAcc          // typed Date and Datetime
	bools [2]int64          // typed Bool: false, true
	id    *idAcc            // identifier roles: shape only, never values
	ent   map[uint64]uint32 // relationship parent: rows per entity, by hash
	text  []byte            // scratch for rendering typed identifier values
}

// valueSet holds a text column's distinct values and their counts.
type valueSet struct {
	index  map[string]int32
	keys   []string
	counts []int64
	bytes  int
}

// overflow is a text column with too many distinct values to keep: each
// value is checked against the types still possible and summarised.
type overflow struct {
	numOK  bool
	num    *numAcc
	dateOK bool
	layout dateLayout
	dates  *dateAcc
	shape  shapeAcc
	hll    *hll
	// deferred counts values of a fixed-layout date column whose shape
	// and distinct count were not taken: rebuilt from the days if the
	// column turns out not to be dates.
	deferred int64
}

type idAcc struct {
	allInt bool
	// While every value is an integer the shape is not needed (the
	// identifier is an integer one): only the lengths of the integers and
	// how many are negative are counted, and the shape is rebuilt from
	// them if a non-integer arrives.
	intLens [24]int64
	negs    int64
	shape   shapeAcc
}

// undefer adds the integers' shape: each of length L has L digits, or a
// minus sign and L-1 digits.
func (id *idAcc) undefer() {
	for l, c := range id.intLens {
		if c == 0 {
			continue
		}
		id.shape.short[l] += c
		id.shape.values += c
		id.shape.class[clsDigit] += int64(l) * c
	}
	id.shape.class[clsDigit] -= id.negs
	id.shape.class[clsOther] += id.negs
	id.intLens, id.negs = [24]int64{}, 0
}

func newColumn(name string, kind records.Kind, r role) *column {
	c := &column{name: name, kind: kind, role: r}
	switch {
	case r != roleNone:
		c.id = &idAcc{allInt: true}
		if r == roleParent {
			c.ent = map[uint64]uint32{}
		}
	case kind == records.Text:
		c.vals = &valueSet{index: map[string]int32{}}
	case kind == records.Int:
		c.num = newNumAcc(false)
	case kind == records.Float:
		c.num = newNumAcc(true)
	case kind == records.Date, kind == records.Datetime:
		c.dates = newDateAcc()
	}
	return c
}

func (c *column) nonNull() int64 { return c.rows - c.nulls }

// add folds rows [0, n) of a batch column in.
func (c *column) add(col *records.Column, n int) {
	c.rows += int64(n)
	valid := col.Valid
	if valid != nil {
		valid = valid[:n]
	}
	if c.id != nil {
		c.addID(col, n)
		return
	}
	switch c.kind {
	case records.Text:
		if c.over != nil {
			c.addOver(col.Text[:n], valid)
		} else {
			c.addVals(col.Text[:n], valid)
		}
	case records.Int:
		for i, v := range col.Ints[:n] {
			if valid != nil && !valid[i] {
				c.nulls++
				continue
			}
			c.num.add(float64(v), true, 0, 1)
		}
	case records.Float:
		for i, v := range col.Floats[:n] {
			if valid != nil && !valid[i] {
				c.nulls++
				continue
			}
			c.num.add(v, false, 0, 1)
		}
	case records.Date:
		for i, v := range col.Ints[:n] {
			if valid != nil && !valid[i] {
				c.nulls++
				continue
			}
			if v < int64(minDay) || v > int64(maxDay) {
				c.nulls++ // outside years 0001-9999
				continue
			}
			c.dates.add(int32(v), 0, false, 1)
		}
	case records.Datetime:
		for i, v := range col.Ints[:n] {
			if valid != nil && !valid[i] {
				c.nulls++
				continue
			}
			day := v / 86400
			sec := v % 86400
			if sec < 0 {
				day--
				sec += 86400
			}
			if day < int64(minDay) || day > int64(maxDay) {
				c.nulls++
				continue
			}
			c.dates.add(int32(day), int(sec/3600), false, 1)
		}
	case records.Bool:
		for i, v := range col.Bools[:n] {
			if valid != nil && !valid[i] {
				c.nulls++
				continue
			}
			if v {
				c.bools[1]++
			} else {
				c.bools[0]++
			}
		}
	}
}

// smallSet is the number of distinct values below which a value is found
// by comparing it with each kept value, which beats hashing it.
const smallSet = 8

func (c *column) addVals(cells [][]byte, valid []bool) {
	vs := c.vals
cells:
	for i, b := range cells {
		if (valid != nil && !valid[i]) || isNull(b) {
			c.nulls++
			continue
		}
		if len(vs.keys) <= smallSet {
			for k, key := range vs.keys {
				if key == string(b) {
					vs.counts[k]++
					continue cells
				}
			}
		} else if k, ok := vs.index[string(b)]; ok {
			vs.counts[k]++
			continue
		}
		s := string(b)
		vs.index[s] = int32(len(vs.keys))
		vs.keys = append(vs.keys, s)
		vs.counts = append(vs.counts, 1)
		vs.bytes += len(s)
		if len(vs.keys) > CategoricalMax || vs.bytes > MaxValueBytes {
			c.startOverflow()
			var rest []bool
			if valid != nil {
				rest = valid[i+1:]
			}
			c.addOver(cells[i+1:], rest)
			return
		}
	}
}

// bytesOf views a string's bytes without copying (never modified).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// startOverflow turns the kept distinct values into summaries: the types
// every value so far satisfies, the shape, and a distinct counter.
func (c *column) startOverflow() {
	vs := c.vals
	o := &overflow{hll: newHLL(), numOK: true, num: newNumAcc(false)}
	if l, ok := detectLayout(bytesOf(vs.keys[0]), nameSaysDate(c.name)); ok {
		o.layout, o.dateOK, o.dates = l, true, newDateAcc()
	}
	for i, k := range vs.keys {
		o.addN(bytesOf(k), vs.counts[i])
	}
	c.vals, c.over = nil, o
}

func (o *overflow) addN(b []byte, cnt int64) {
	if o.dateOK && o.layout.fixed() {
		if day, hour, frac, ok := parseDate(o.layout, b); ok {
			o.dates.add(day, hour, frac, cnt)
			o.deferred += cnt
			o.addNum(b, cnt)
			return
		}
		o.undefer()
		o.dateOK, o.dates = false, nil
	}
	o.hll.add(hashBytes(b))
	o.shape.add(b, cnt)
	o.addNum(b, cnt)
	if o.dateOK {
		if day, hour, frac, ok := parseDate(o.layout, b); ok {
			o.dates.add(day, hour, frac, cnt)
		} else {
			o.dateOK, o.dates = false, nil
		}
	}
}

func (o *overflow) addNum(b []byte, cnt int64) {
	if o.numOK {
		if v, isInt, dec, ok := parseNumber(b); ok {
			o.num.add(v, isInt, dec, cnt)
		} else {
			o.numOK, o.num = false, nil
		}
	}
}

// undefer adds the shape and distinct count of the deferred date values,
// exactly as if each had been added.
func (o *overflow) undefer() {
	if o.deferred == 0 {
		return
	}
	for day, n := range o.dates.days() {
		t := bytesOf(o.layout.text(day))
		o.shape.add(t, n)
		o.hll.add(hashBytes(t))
	}
	o.deferred = 0
}

func (c *column) addOver(cells [][]byte, valid []bool) {
	o := c.over
	for i, b := range cells {
		if (valid != nil && !valid[i]) || isNull(b) {
			c.nulls++
			continue
		}
		o.addN(b, 1)
	}
}

// addID summarises an identifier column without keeping any value: whether
// every value is an integer, the shape, and for a relationship parent the
// rows per entity, keyed by a 64-bit hash of the value.
func (c *column) addID(col *records.Column, n int) {
	id := c.id
	valid := col.Valid
	for i := 0; i < n; i++ {
		if valid != nil && !valid[i] {
			c.nulls++
			continue
		}
		var b []byte
		switch col.Kind {
		case records.Text:
			b = col.Text[i]
			if isNull(b) {
				c.nulls++
				continue
			}
			if id.allInt {
				if _, isInt, _, ok := parseNumber(b); ok && isInt && len(b) < len(id.intLens) {
					id.intLens[len(b)]++
					if b[0] == '-' {
						id.negs++
					}
					if c.ent != nil {
						c.ent[hashBytes(b)]++
					}
					continue
				}
				id.allInt = false
				id.undefer()
			}
		case records.Int:
			// Typed integers: always an integer identifier, no shape.
			if c.ent != nil {
				c.ent[hashInt(col.Ints[i])]++
			}
			continue
		default:
			if id.allInt {
				id.allInt = false
				id.undefer()
			}
			c.text = renderTyped(c.text[:0], col, i)
			b = c.text
		}
		id.shape.add(b, 1)
		if c.ent != nil {
			c.ent[hashBytes(b)]++
		}
	}
}

func renderTyped(dst []byte, col *records.Column, i int) []byte {
	switch col.Kind {
	case records.Float:
		return strconv.AppendFloat(dst, col.Floats[i], 'g', -1, 64)
	case records.Bool:
		return strconv.AppendBool(dst, col.Bools[i])
	case records.Date:
		return append(dst, meta.DayString(int32(col.Ints[i]))...)
	}
	return strconv.AppendInt(dst, col.Ints[i], 10)
}

// FieldSummary describes one released field for people.
type FieldSummary struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	NullRate float64 `json:"null_rate"` // released null_n / released rows_n
	Kept     int     `json:"kept"`      // released entries (values, bins, lengths, cut-points)
	Dropped  int     `json:"dropped"`   // entries suppressed below k
	Detail   string  `json:"detail"`
}

// decision is a column's released field and how it was made.
type decision struct {
	field  meta.Field
	sum    FieldSummary
	sketch bool
}

func idLike(distinct, nonNull int64) bool {
	return nonNull >= IDMinValues && distinct*100 >= IDDistinctPercent*nonNull
}

// decide types the column and builds its released field.
func (c *column) decide(sdc meta.SDC) decision {
	var d decision
	f := &d.field
	f.Name = c.name
	f.NullN, _ = sdc.Control(c.nulls)
	f.NNonNull, _ = sdc.Control(c.nonNull())
	switch {
	case c.id != nil:
		scope := "row"
		if c.role == roleParent {
			scope = "entity"
		}
		c.identifier(&d, c.id.allInt && (c.nonNull() > 0 || c.kind == records.Int), &c.id.shape, scope)
		switch c.role {
		case roleParent:
			d.sum.Detail = "entity key: " + d.sum.Detail
		case roleChild:
			d.sum.Detail = "row key: " + d.sum.Detail
		}
	case c.kind == records.Int, c.kind == records.Float:
		c.numeric(&d, c.num, sdc)
	case c.kind == records.Date, c.kind == records.Datetime:
		l := dateLayout{base: LayoutISO}
		if c.kind == records.Datetime {
			l.base = LayoutDateTime
		}
		c.dated(&d, c.dates, sdc, c.kind == records.Datetime, l)
	case c.kind == records.Bool:
		f.Type = meta.TypeBoolean
		c.values(&d, []string{"false", "true"}, c.bools[:], sdc)
	case c.over != nil:
		c.decideOverflow(&d, sdc)
	default:
		c.decideValues(&d, sdc)
	}
	return d
}

func (c *column) identifier(d *decision, integer bool, shape *shapeAcc, scope string) {
	f := &d.field
	f.Type = meta.TypeIdentifier
	if integer {
		f.Identifier = &meta.IdentifierSpec{Kind: "integer", Scope: scope}
		d.sum.Detail = "integer identifiers, values not kept"
	} else {
		f.Identifier = &meta.IdentifierSpec{Kind: "pattern", Pattern: shape.pattern(), Scope: scope}
		d.sum.Detail = "pattern " + f.Identifier.Pattern + ", values not kept"
	}
}

// decideValues types a text column whose distinct values were all kept.
func (c *column) decideValues(d *decision, sdc meta.SDC) {
	vs := c.vals
	f := &d.field
	if len(vs.keys) == 0 {
		f.Type = meta.TypeCategorical
		d.sum.Detail = "no non-null values"
		return
	}
	if boolPair(vs.keys) >= 0 {
		f.Type = meta.TypeBoolean
		c.values(d, vs.keys, vs.counts, sdc)
		return
	}
	if l, ok := detectLayout(bytesOf(vs.keys[0]), nameSaysDate(c.name)); ok {
		acc := newDateAcc()
		all := true
		for i, k := range vs.keys {
			day, hour, frac, ok := parseDate(l, bytesOf(k))
			if !ok {
				all = false
				break
			}
			acc.add(day, hour, frac, vs.counts[i])
		}
		if all {
			c.dated(d, acc, sdc, l.datetime(), l)
			return
		}
	}
	num := newNumAcc(false)
	for i, k := range vs.keys {
		v, isInt, dec, ok := parseNumber(bytesOf(k))
		if !ok {
			num = nil
			break
		}
		num.add(v, isInt, dec, vs.counts[i])
	}
	if num != nil {
		c.numeric(d, num, sdc)
		return
	}
	var shape shapeAcc
	for i, k := range vs.keys {
		shape.add(bytesOf(k), vs.counts[i])
	}
	distinct := int64(len(vs.keys))
	if idLike(distinct, c.nonNull()) && shape.withSpace == 0 {
		c.identifier(d, false, &shape, "row")
		d.sum.Detail = "detected: " + d.sum.Detail
		return
	}
	if c.nonNull() >= FreeTextMinValues && distinct*2 >= c.nonNull() &&
		(shape.withSpace*2 >= shape.values || shape.meanLength() >= FreeTextMeanLength) {
		c.freeText(d, &shape, sdc)
		return
	}
	f.Type = meta.TypeCategorical
	c.values(d, vs.keys, vs.counts, sdc)
}

func (c *column) decideOverflow(d *decision, sdc meta.SDC) {
	o := c.over
	switch {
	case o.dateOK:
		c.dated(d, o.dates, sdc, o.layout.datetime(), o.layout)
	case o.numOK:
		c.numeric(d, o.num, sdc)
	case idLike(o.hll.estimate(), c.nonNull()) && o.shape.withSpace == 0:
		c.identifier(d, false, &o.shape, "row")
		d.sum.Detail = "detected: " + d.sum.Detail
	default:
		c.freeText(d, &o.shape, sdc)
	}
}

func (c *column) freeText(d *decision, shape *shapeAcc, sdc meta.SDC) {
	f := &d.field
	f.Type = meta.TypeFreeText
	f.Text, d.sum.Kept, d.sum.Dropped = shape.textShape(sdc)
	d.sum.Detail = fmt.Sprintf("text shape only: %d lengths kept, %d dropped", d.sum.Kept, d.sum.Dropped)
}

// values releases a frequency table in canonical order (by bytes).
func (c *column) values(d *decision, keys []string, counts []int64, sdc meta.SDC) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	f := &d.field
	for _, i := range idx {
		if counts[i] == 0 {
			continue
		}
		n, ok := sdc.Control(counts[i])
		if !ok {
			d.sum.Dropped++
			continue
		}
		f.Values = append(f.Values, meta.Value{V: keys[i], N: n})
		d.sum.Kept++
	}
	d.sum.Detail = fmt.Sprintf("%d values kept, %d dropped", d.sum.Kept, d.sum.Dropped)
}

// numeric releases a numeric column: an identifier when integer and
// almost every value distinct; a frequency table with few distinct values;
// otherwise percentile cut-points.
func (c *column) numeric(d *decision, num *numAcc, sdc meta.SDC) {
	f := &d.field
	f.Type = meta.TypeFloat
	if num.allInt && !num.typed {
		f.Type = meta.TypeInteger
	}
	if num.n == 0 {
		d.sum.Detail = "no non-null values"
		return
	}
	distinct := num.distinct()
	if num.allInt && idLike(distinct, num.n) {
		c.identifier(d, true, nil, "row")
		d.sum.Detail = "detected: " + d.sum.Detail
		return
	}
	if num.sk == nil && distinct <= DiscreteMax {
		vals, counts := num.sorted()
		for i, v := range vals {
			n, ok := sdc.Control(counts[i])
			if !ok {
				d.sum.Dropped++
				continue
			}
			f.Values = append(f.Values, meta.Value{V: formatNumber(v, num.allInt), N: n})
			d.sum.Kept++
		}
		d.sum.Detail = fmt.Sprintf("discrete: %d values kept, %d dropped", d.sum.Kept, d.sum.Dropped)
		return
	}
	step := 0
	for _, s := range []int{1, 5, 10, 25} {
		if num.n*int64(s) >= 100*sdc.PercentileMinPerBin {
			step = s
			break
		}
	}
	if step == 0 {
		d.sum.Detail = "too few values for quartiles: only counts released"
		return
	}
	var ps []int
	if step == 1 {
		for p := 2; p <= 99; p++ {
			ps = append(ps, p)
		}
	} else {
		for p := step; p < 100; p += step {
			ps = append(ps, p)
		}
	}
	dec := num.decimals
	if num.allInt {
		dec = 0
	}
	cuts := num.percentiles(ps)
	for i, v := range cuts {
		cuts[i] = roundTo(v, dec)
	}
	f.Continuous = &meta.Continuous{Step: step, Cuts: cuts, Decimals: dec}
	d.sketch = num.sk != nil
	d.sum.Kept = len(cuts)
	how := "exact"
	if d.sketch {
		how = "sketched"
	}
	d.sum.Detail = fmt.Sprintf("continuous: %d %s cut-points at %d%% steps, %d decimals", len(cuts), how, step, dec)
}

func roundTo(v float64, dec int) float64 {
	p := pow10[dec]
	r := v * p
	if r > 1<<53 || r < -(1<<53) {
		return v
	}
	return roundHalfAway(r) / p
}

func roundHalfAway(x float64) float64 {
	if x < 0 {
		return -roundHalfAway(-x)
	}
	t := float64(int64(x))
	if x-t >= 0.5 {
		t++
	}
	return t
}

// dated releases a date or datetime column as coarsened bins (and hours).
func (c *column) dated(d *decision, acc *dateAcc, sdc meta.SDC, datetime bool, l dateLayout) {
	f := &d.field
	f.Type = meta.TypeDate
	if datetime {
		f.Type = meta.TypeDatetime
	}
	f.Format = l.format(acc.frac)
	days := acc.days()
	f.Bins = meta.CoarsenDates(days, sdc, "")
	d.sum.Kept = len(f.Bins)
	// Days whose records were dropped with a bin below k.
	starts := make([]int32, len(f.Bins))
	ends := make([]int32, len(f.Bins))
	for i, b := range f.Bins {
		starts[i], _ = meta.ParseDay(b.Start)
		ends[i], _ = meta.ParseDay(b.End)
	}
	for day, n := range days {
		if n <= 0 {
			continue
		}
		i := sort.Search(len(ends), func(i int) bool { return ends[i] >= day })
		if i == len(ends) || starts[i] > day {
			d.sum.Dropped++
		}
	}
	grains := map[string]int{}
	for _, b := range f.Bins {
		grains[b.Grain]++
	}
	var parts []string
	for _, g := range meta.Grains {
		if grains[g] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", grains[g], g))
		}
	}
	unit := "days"
	if d.sum.Dropped == 1 {
		unit = "day"
	}
	d.sum.Detail = fmt.Sprintf("%d bins (%s), %d %s dropped", len(f.Bins), strings.Join(parts, ", "), d.sum.Dropped, unit)
	if datetime {
		kept := 0
		for h, n := range acc.hours {
			if r, ok := sdc.Control(n); ok {
				f.Hours = append(f.Hours, meta.Value{V: fmt.Sprintf("%02d", h), N: r})
				kept++
			}
		}
		d.sum.Detail += fmt.Sprintf("; %d hours kept", kept)
	}
}
