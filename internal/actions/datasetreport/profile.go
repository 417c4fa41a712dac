package datasetreport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/artificial/civil"
	"github.com/haven-tre/haven/internal/artificial/records"
)

// maxDistinct is how many distinct values a column keeps counts for. A
// column with more stops counting them (a number column moves to a
// quantile sketch and a second pass over the file counts its histogram).
// A variable so that tests can exercise the overflow on small files.
var maxDistinct = 10_000

// colType is what a column is reported as.
type colType int

const (
	typeEmpty colType = iota // every value missing
	typeBool
	typeInt
	typeFloat
	typeDate
	typeDatetime
	typeCategorical
)

func (t colType) String() string {
	switch t {
	case typeEmpty:
		return "empty"
	case typeBool:
		return "boolean"
	case typeInt:
		return "integer"
	case typeFloat:
		return "float"
	case typeDate:
		return "date"
	case typeDatetime:
		return "datetime"
	}
	return "categorical"
}

func (t colType) numeric() bool { return t == typeInt || t == typeFloat }

// column accumulates one column in one pass.
type column struct {
	name  string
	kind  records.Kind // how the reader delivers it
	n     int64        // values present
	nulls int64        // values missing

	// Which readings every value present so far admits. Typed columns
	// fix them at the start; text columns start with all of them.
	canBool01, canBoolWord, canInt, canFloat, canDate, canDatetime bool

	// Exact counts per distinct value (its text), up to maxDistinct.
	index    map[string]int
	keys     []string
	counts   []int64
	overflow bool

	// Numbers.
	min, max float64
	sk       *sketch // set once a number column overflows

	// Dates: counts per month (year*12 + month-1).
	months map[int64]int64

	scratch []byte
}

func newColumn(name string, kind records.Kind) *column {
	c := &column{name: name, kind: kind, index: map[string]int{}, min: math.Inf(1), max: math.Inf(-1)}
	switch kind {
	case records.Text:
		c.canBool01, c.canBoolWord, c.canInt, c.canFloat, c.canDate, c.canDatetime = true, true, true, true, true, true
		c.months = map[int64]int64{}
	case records.Int:
		c.canInt, c.canFloat = true, true
	case records.Float:
		c.canFloat = true
	case records.Bool:
		c.canBoolWord = true
	case records.Date:
		c.canDate = true
		c.months = map[int64]int64{}
	case records.Datetime:
		c.canDatetime = true
		c.months = map[int64]int64{}
	}
	return c
}

// typ is the column's type once every value has been seen.
func (c *column) typ() colType {
	switch {
	case c.n == 0:
		return typeEmpty
	case c.kind == records.Int:
		return typeInt
	case c.kind == records.Float:
		return typeFloat
	case c.kind == records.Bool:
		return typeBool
	case c.kind == records.Date:
		return typeDate
	case c.kind == records.Datetime:
		return typeDatetime
	case c.canBool01 || c.canBoolWord:
		return typeBool
	case c.canInt:
		return typeInt
	case c.canFloat:
		return typeFloat
	case c.canDate:
		return typeDate
	case c.canDatetime:
		return typeDatetime
	}
	return typeCategorical
}

// missingText is the text that counts as a missing value: an empty cell,
// or one of the markers other tools write for missing values.
func missingText(cell []byte) bool {
	switch string(cell) {
	case "", "NA", "N/A", "NaN", "nan", "NULL", "null":
		return true
	}
	return false
}

// observe adds the rows of one batch's column.
func (c *column) observe(col *records.Column, n int) {
	for i := range n {
		if col.Null(i) {
			c.nulls++
			continue
		}
		switch col.Kind {
		case records.Text:
			cell := col.Text[i]
			if missingText(cell) {
				c.nulls++
				continue
			}
			c.observeText(cell)
		case records.Int:
			c.n++
			c.scratch = strconv.AppendInt(c.scratch[:0], col.Ints[i], 10)
			c.count(c.scratch)
			c.number(float64(col.Ints[i]))
		case records.Float:
			c.n++
			c.scratch = strconv.AppendFloat(c.scratch[:0], col.Floats[i], 'g', -1, 64)
			c.count(c.scratch)
			c.number(col.Floats[i])
		case records.Bool:
			c.n++
			if col.Bools[i] {
				c.count([]byte("true"))
			} else {
				c.count([]byte("false"))
			}
		case records.Date:
			c.n++
			c.day(col.Ints[i])
		case records.Datetime:
			c.n++
			c.day(civil.FloorDiv(col.Ints[i], 86400))
		}
	}
}

// count adds one occurrence of the value whose text is key.
func (c *column) count(key []byte) {
	if c.overflow {
		return
	}
	if j, ok := c.index[string(key)]; ok {
		c.counts[j]++
		return
	}
	if len(c.keys) < maxDistinct {
		k := string(key)
		c.index[k] = len(c.keys)
		c.keys = append(c.keys, k)
		c.counts = append(c.counts, 1)
		return
	}
	c.spill()
}

// spill stops counting distinct values. A column that may still be
// numeric keeps its distribution in a sketch, fed in value order so the
// result does not depend on the order values were first seen.
func (c *column) spill() {
	if c.canFloat {
		vals := c.values()
		c.sk = newSketch()
		for _, v := range vals {
			c.sk.add(v.v, v.n)
		}
	}
	c.overflow = true
	c.index, c.keys, c.counts = nil, nil, nil
}

// number records a numeric value.
func (c *column) number(v float64) {
	c.min = math.Min(c.min, v)
	c.max = math.Max(c.max, v)
	if c.sk != nil {
		c.sk.add(v, 1)
	}
}

// day records a date (days since 1970-01-01).
func (c *column) day(d int64) {
	y, m, _ := civil.CivilFromDays(d)
	c.months[y*12+int64(m-1)]++
}

func (c *column) observeText(cell []byte) {
	c.n++
	c.count(cell)
	if c.canBool01 || c.canInt || c.canFloat {
		isInt, isNum := numberSyntax(cell)
		var v float64
		switch {
		case isInt && len(cell) <= 18:
			// Fits an int64 whatever its sign: no need for strconv.
			v = float64(smallInt(cell))
		case isNum:
			var err error
			v, err = strconv.ParseFloat(string(cell), 64)
			isNum = err == nil && !math.IsInf(v, 0)
			if isInt {
				_, err := strconv.ParseInt(string(cell), 10, 64)
				isInt = err == nil
			}
		}
		c.canBool01 = c.canBool01 && isNum && (v == 0 || v == 1)
		c.canInt = c.canInt && isInt
		c.canFloat = c.canFloat && isNum
		if c.canFloat {
			c.number(v)
		} else {
			c.sk = nil
		}
	}
	if c.canBoolWord {
		c.canBoolWord = boolWord(cell) >= 0
	}
	if c.canDate || c.canDatetime {
		d, kind := parseDate(cell)
		c.canDate = c.canDate && kind == 1
		c.canDatetime = c.canDatetime && kind >= 1
		if c.canDate || c.canDatetime {
			c.day(d)
		} else {
			c.months = nil
		}
	}
}

// numberSyntax reports whether cell is written as a decimal integer
// ([+-]digits) and whether it is written as a decimal number (digits with
// an optional point and exponent). Hexadecimal, underscores, "inf" and
// "nan" are not numbers here.
func numberSyntax(cell []byte) (isInt, isNum bool) {
	i := 0
	if i < len(cell) && (cell[i] == '+' || cell[i] == '-') {
		i++
	}
	digits := 0
	for i < len(cell) && cell[i] >= '0' && cell[i] <= '9' {
		i++
		digits++
	}
	if i == len(cell) {
		return digits > 0, digits > 0
	}
	if cell[i] == '.' {
		i++
		for i < len(cell) && cell[i] >= '0' && cell[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false, false
	}
	if i < len(cell) && (cell[i] == 'e' || cell[i] == 'E') {
		i++
		if i < len(cell) && (cell[i] == '+' || cell[i] == '-') {
			i++
		}
		exp := 0
		for i < len(cell) && cell[i] >= '0' && cell[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false, false
		}
	}
	return false, i == len(cell)
}

// smallInt is the value of a decimal integer of at most 18 characters
// (numberSyntax has checked it).
func smallInt(cell []byte) int64 {
	neg := false
	if cell[0] == '+' || cell[0] == '-' {
		neg = cell[0] == '-'
		cell = cell[1:]
	}
	var n int64
	for _, ch := range cell {
		n = n*10 + int64(ch-'0')
	}
	if neg {
		return -n
	}
	return n
}

// boolWord is 1 for true, 0 for false (in any letter case) and -1 for
// anything else.
func boolWord(cell []byte) int {
	switch {
	case bytes.EqualFold(cell, []byte("true")):
		return 1
	case bytes.EqualFold(cell, []byte("false")):
		return 0
	}
	return -1
}

// parseDate reads YYYY-MM-DD (kind 1), YYYY-MM (kind 1, the first of the
// month) or YYYY-MM-DD followed by 'T' or ' ' and HH:MM[:SS[.fff]] with an
// optional Z or ±HH:MM (kind 2), returning the day number. Kind 0 means
// it is not a date.
func parseDate(cell []byte) (day int64, kind int) {
	num := func(b []byte) (int, bool) {
		n := 0
		for _, ch := range b {
			if ch < '0' || ch > '9' {
				return 0, false
			}
			n = n*10 + int(ch-'0')
		}
		return n, len(b) > 0
	}
	if len(cell) < 7 || cell[4] != '-' {
		return 0, 0
	}
	y, ok1 := num(cell[:4])
	m, ok2 := num(cell[5:7])
	if !ok1 || !ok2 || m < 1 || m > 12 {
		return 0, 0
	}
	if len(cell) == 7 {
		return civil.DaysFromCivil(int64(y), m, 1), 1
	}
	if len(cell) < 10 || cell[7] != '-' {
		return 0, 0
	}
	d, ok := num(cell[8:10])
	if !ok || d < 1 || d > civil.DaysInMonth(int64(y), m) {
		return 0, 0
	}
	day = civil.DaysFromCivil(int64(y), m, d)
	if len(cell) == 10 {
		return day, 1
	}
	if cell[10] != 'T' && cell[10] != ' ' {
		return 0, 0
	}
	if !timeOfDay(cell[11:]) {
		return 0, 0
	}
	return day, 2
}

// timeOfDay checks HH:MM[:SS[.fff...]] with an optional zone.
func timeOfDay(b []byte) bool {
	two := func(s []byte, max int) bool {
		return len(s) >= 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
			int(s[0]-'0')*10+int(s[1]-'0') <= max
	}
	if !two(b, 23) || len(b) < 5 || b[2] != ':' || !two(b[3:], 59) {
		return false
	}
	b = b[5:]
	if len(b) >= 3 && b[0] == ':' {
		if !two(b[1:], 60) {
			return false
		}
		b = b[3:]
		if len(b) > 0 && b[0] == '.' {
			b = b[1:]
			k := 0
			for k < len(b) && b[k] >= '0' && b[k] <= '9' {
				k++
			}
			if k == 0 {
				return false
			}
			b = b[k:]
		}
	}
	switch {
	case len(b) == 0:
		return true
	case len(b) == 1 && b[0] == 'Z':
		return true
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		return two(b[1:], 23) && two(b[4:], 59)
	}
	return false
}

// valCount is a number and how many times it occurs.
type valCount struct {
	v float64
	n int64
}

// values returns the counted values of a number column, parsed and
// merged ("1" and "1.0" are one value), in ascending order.
func (c *column) values() []valCount {
	out := make([]valCount, 0, len(c.keys))
	for j, k := range c.keys {
		v, err := strconv.ParseFloat(k, 64)
		if err != nil {
			continue
		}
		out = append(out, valCount{v, c.counts[j]})
	}
	slices.SortFunc(out, func(a, b valCount) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, vc := range out {
		if len(merged) > 0 && merged[len(merged)-1].v == vc.v {
			merged[len(merged)-1].n += vc.n
			continue
		}
		merged = append(merged, vc)
	}
	return merged
}

// profile is what one pass over a file learns.
type profile struct {
	rows int64
	cols []*column
}

// fileError names the file as the user wrote it rather than by its path
// on the host.
func fileError(err error, full, rel string) error {
	var re *records.Error
	if errors.As(err, &re) {
		e := *re
		e.Path = rel
		e.Msg = strings.ReplaceAll(e.Msg, full, rel)
		return &e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &records.Error{Path: rel, Msg: strings.ReplaceAll(err.Error(), full, rel)}
}

// scan reads the file once, accumulating every column.
func scan(ctx context.Context, full, rel string) (*profile, error) {
	r, err := records.Open(full)
	if err != nil {
		return nil, fileError(err, full, rel)
	}
	defer r.Close()
	p := &profile{}
	kinds := r.Kinds()
	for j, name := range r.Columns() {
		p.cols = append(p.cols, newColumn(name, kinds[j]))
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fileError(err, full, rel)
		}
		for j, c := range p.cols {
			c.observe(&b.Cols[j], b.Len)
		}
		p.rows += int64(b.Len)
	}
	return p, nil
}

// histogramPass reads the file again to count the bins of number columns
// whose distinct values were too many to keep; bins[j] is nil for columns
// that need nothing.
func histogramPass(ctx context.Context, full, rel string, bins []*binning) ([][]int64, error) {
	r, err := records.Open(full)
	if err != nil {
		return nil, fileError(err, full, rel)
	}
	defer r.Close()
	out := make([][]int64, len(bins))
	for j, b := range bins {
		if b != nil {
			out[j] = make([]int64, b.n)
		}
	}
	if len(r.Columns()) != len(bins) {
		return nil, &records.Error{Path: rel, Msg: "the file changed while it was being read: run the action again"}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fileError(err, full, rel)
		}
		for j, b := range bins {
			if b == nil {
				continue
			}
			col := &batch.Cols[j]
			for i := range batch.Len {
				if col.Null(i) {
					continue
				}
				var v float64
				switch col.Kind {
				case records.Int:
					v = float64(col.Ints[i])
				case records.Float:
					v = col.Floats[i]
				case records.Text:
					if missingText(col.Text[i]) {
						continue
					}
					f, err := strconv.ParseFloat(string(col.Text[i]), 64)
					if err != nil {
						return nil, &records.Error{Path: rel, Msg: "the file changed while it was being read: run the action again"}
					}
					v = f
				default:
					continue
				}
				out[j][b.index(v)]++
			}
		}
	}
	return out, nil
}
