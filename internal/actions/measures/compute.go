package measures

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/records"
)

// mode is how a measure groups its rows.
type mode int

const (
	perPatient mode = iota // no group_by: one output row per input row
	oneGroup               // group_by ["population"]: one output row
	byGroups               // group_by columns: one row per group
)

// job is one measure computed over one input file.
type job struct {
	m    *Measure
	rel  string // output, workspace-relative
	full string // output, host path
	mode mode
	vals []*srcCol // summed (or copied) columns, in output order
	num  int       // index of the numerator in vals
	den  int       // index of the denominator in vals
	grp  []*srcCol // group-by columns (byGroups)

	// product says every combination of the group columns' values is
	// written (pandas' categorical groupby), levels holding each column's
	// values.
	product bool
	levels  []map[string]struct{}
	groups  map[string][]acc

	out   *tempFile
	rows  int64
	notes []string
	cols  []outCol // per vals, set when the job is written
	line  []byte
}

// acc sums one column of one group: integers exactly, floats with Kahan
// compensation as pandas' groupby sum does.
type acc struct {
	i    int64
	s, c float64
}

func (a *acc) add(col *srcCol, r int) {
	f := col.fv[r]
	if math.IsNaN(f) {
		return
	}
	if col.intSource {
		a.i += col.iv[r]
		return
	}
	y := f - a.c
	t := a.s + y
	if math.IsInf(t, 0) {
		a.c = 0
	} else {
		a.c = (t - a.s) - y
	}
	a.s = t
}

// keyKind is how a group-by column's values are keyed, sorted and written.
type keyKind int

const (
	keyText keyKind = iota // CSV text (a pandas category) or Arrow strings
	keyInt
	keyFloat
	keyBool
	keyDate
	keyDatetime
)

// srcCol is one column of the input file that some job reads.
type srcCol struct {
	name string
	idx  int // in the file; -1 for population
	kind records.Kind
	csv  bool
	role string // for messages, e.g. `numerator of measure "x"`

	numeric    bool
	group      bool
	keyKind    keyKind
	intSource  bool // sums are integers: population, Arrow integers and booleans
	boolSource bool // Arrow booleans
	hasNull    bool // a null was seen anywhere in the file

	// The current batch: numbers (NaN for null) and, for integer
	// sources, the integers; group keys as arena[kstart[i]:kend[i]]
	// (kstart -1 for null).
	fv     []float64
	iv     []int64
	arena  []byte
	kstart []int
	kend   []int

	st stats // the whole file's suppression totals
}

// stats are the totals small-number suppression decides on.
type stats struct {
	small, large int64
	smallSum     float64
	minLarge     float64
}

func (s *stats) add(v float64) {
	switch {
	case v > 0 && v <= Threshold:
		s.small++
		s.smallSum += v
	case v > Threshold:
		if s.large == 0 || v < s.minLarge {
			s.minLarge = v
		}
		s.large++
	}
}

// suppression is what small-number suppression does to one column.
type suppression struct {
	small bool    // values in (0, Threshold] are blanked
	extra bool    // values equal to next are blanked too
	next  float64 // the smallest value above Threshold
}

func decide(st stats) suppression {
	if st.small == 0 {
		return suppression{}
	}
	s := suppression{small: true}
	if st.smallSum <= Threshold && st.large > 0 {
		s.extra, s.next = true, st.minLarge
	}
	return s
}

// control is Measure.DisclosureControl's rule for one count: 1 to
// RedactAt blank, others rounded half up to a multiple of RoundTo.
func control(v float64) float64 {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return v
	case v > 0 && v <= RedactAt:
		return math.NaN()
	}
	return math.Floor(v/RoundTo+0.5) * RoundTo
}

func (s suppression) apply(v float64) float64 {
	if s.small && v > 0 && v <= Threshold || s.extra && v == s.next {
		return math.NaN()
	}
	return v
}

// outCol is how one numeric output column is written.
type outCol struct {
	isInt  bool // integers in decimal
	isBool bool // True/False (per-patient boolean columns)
}

func (oc outCol) append(dst []byte, v float64, i int64) []byte {
	switch {
	case math.IsNaN(v):
		return dst
	case oc.isBool:
		if v != 0 {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	case oc.isInt:
		return strconv.AppendInt(dst, i, 10)
	}
	return appendPyFloat(dst, v)
}

// computation computes the jobs of one input file.
type computation struct {
	g    *generator
	in   input
	jobs []*job
	cols map[string]*srcCol
	list []*srcCol
	r    *records.Reader
}

func (c *computation) discard() {
	for _, j := range c.jobs {
		if j.out != nil {
			j.out.discard()
			j.out = nil
		}
	}
	if c.r != nil {
		c.r.Close()
		c.r = nil
	}
}

// pathError replaces the host path in a reading error by the
// workspace-relative one.
func (c *computation) pathError(err error) error {
	var re *records.Error
	if errors.As(err, &re) {
		e := *re
		e.Path = c.in.rel
		return &e
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", c.in.rel, pe.Err)
	}
	return err
}

func (c *computation) open() (*records.Reader, error) {
	r, err := records.Open(c.in.full)
	if err != nil {
		return nil, c.pathError(err)
	}
	c.r = r
	return r, nil
}

func (c *computation) run(ctx context.Context) error {
	r, err := c.open()
	if err != nil {
		return err
	}
	if err := c.setup(r); err != nil {
		return err
	}
	if err := c.firstPass(ctx); err != nil {
		return err
	}
	c.r.Close()
	c.r = nil
	perPatientJobs := false
	for _, j := range c.jobs {
		if j.mode == perPatient {
			perPatientJobs = true
			continue
		}
		if err := c.writeGrouped(ctx, j); err != nil {
			return err
		}
	}
	if perPatientJobs {
		return c.secondPass(ctx)
	}
	return nil
}

// numericNames are the columns any measure of the definition sums: upstream
// reads them from CSV as float64 for every measure, group-bys included.
func (c *computation) numericNames() map[string]bool {
	names := map[string]bool{}
	for _, m := range c.g.o.Measures {
		names[m.Numerator] = true
		names[m.Denominator] = true
	}
	return names
}

func (c *computation) setup(r *records.Reader) error {
	index := map[string]int{}
	for i, name := range r.Columns() {
		if _, ok := index[name]; !ok {
			index[name] = i
		}
	}
	numeric := c.numericNames()
	isCSV := r.Format() == records.CSV || r.Format() == records.CSVGzip
	c.cols = map[string]*srcCol{}
	column := func(j *job, name, role string) (*srcCol, error) {
		col := c.cols[name]
		if col == nil {
			col = &srcCol{name: name, idx: -1, csv: isCSV, role: fmt.Sprintf("%s of measure %q", role, j.m.ID)}
			if name == Population {
				col.intSource = true
				col.keyKind = keyInt
			} else {
				i, ok := index[name]
				if !ok {
					return nil, fmt.Errorf("measure %q: column %q (%s) is not in %s, whose columns are %s: check the measure's %s, or regenerate the file from a definition that has the variable",
						j.m.ID, name, role, c.in.rel, listColumns(r.Columns()), role)
				}
				col.idx = i
				col.kind = r.Kinds()[i]
				switch {
				case isCSV && numeric[name]:
					col.keyKind = keyFloat
				case isCSV:
					col.keyKind = keyText
				default:
					col.keyKind = map[records.Kind]keyKind{records.Text: keyText, records.Int: keyInt, records.Float: keyFloat,
						records.Bool: keyBool, records.Date: keyDate, records.Datetime: keyDatetime}[col.kind]
					col.intSource = col.kind == records.Int || col.kind == records.Bool
					col.boolSource = col.kind == records.Bool
				}
			}
			c.cols[name] = col
			c.list = append(c.list, col)
		}
		if role == "group_by" {
			col.group = true
			if !col.numeric && isCSV && numeric[name] {
				// Another measure sums it, so it is read as numbers.
				col.role = fmt.Sprintf("group_by of measure %q, read as numbers because a measure sums it", j.m.ID)
			}
			return col, nil
		}
		if col.kind == records.Date || col.kind == records.Datetime {
			return nil, fmt.Errorf("measure %q: column %q (%s) in %s holds %ss, not numbers: a numerator or denominator must be a numeric or boolean column",
				j.m.ID, name, role, c.in.rel, col.kind)
		}
		if !col.numeric {
			col.numeric = true
			col.role = fmt.Sprintf("%s of measure %q", role, j.m.ID)
		}
		return col, nil
	}
	for _, j := range c.jobs {
		m := j.m
		switch {
		case len(m.GroupBy) == 0:
			j.mode = perPatient
		case isPopulationGroup(m.GroupBy):
			j.mode = oneGroup
		default:
			j.mode = byGroups
		}
		names := []string{m.Numerator, m.Denominator}
		roles := []string{"numerator", "denominator"}
		if j.mode == oneGroup {
			names = append(names, Population)
			roles = append(roles, "group_by")
		}
		for k, name := range names {
			at := -1
			for v, col := range j.vals {
				if col.name == name {
					at = v
				}
			}
			if at < 0 {
				role := roles[k]
				if role == "group_by" {
					role = "denominator" // population, summed like one
				}
				col, err := column(j, name, role)
				if err != nil {
					return err
				}
				at = len(j.vals)
				j.vals = append(j.vals, col)
			}
			switch k {
			case 0:
				j.num = at
			case 1:
				j.den = at
			}
		}
		if j.mode != byGroups {
			continue
		}
		categorical := false
		for _, name := range m.GroupBy {
			col, err := column(j, name, "group_by")
			if err != nil {
				return err
			}
			j.grp = append(j.grp, col)
			if col.csv && col.keyKind == keyText {
				categorical = true
			}
		}
		j.product = categorical && len(j.grp) > 1
		if j.product {
			j.levels = make([]map[string]struct{}, len(j.grp))
			for k := range j.levels {
				j.levels[k] = map[string]struct{}{}
			}
		}
	}
	for _, j := range c.jobs {
		if j.mode != perPatient {
			j.groups = map[string][]acc{}
		}
	}
	return nil
}

// listColumns names a file's columns for a message.
func listColumns(cols []string) string {
	const most = 30
	if len(cols) == 0 {
		return "(none)"
	}
	if len(cols) <= most {
		return strings.Join(cols, ", ")
	}
	return strings.Join(cols[:most], ", ") + fmt.Sprintf(", … (%d more)", len(cols)-most)
}

// firstPass reads the file once: it sums every grouped job and totals each
// numeric column for the per-patient jobs' suppression.
func (c *computation) firstPass(ctx context.Context) error {
	var base int64
	var key []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := c.r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return c.pathError(err)
		}
		for _, col := range c.list {
			if err := c.fill(col, b, base); err != nil {
				return err
			}
			if col.numeric {
				for _, v := range col.fv[:b.Len] {
					col.st.add(v)
				}
			}
		}
		for _, j := range c.jobs {
			switch j.mode {
			case oneGroup:
				sums := j.groups[""]
				if sums == nil {
					sums = make([]acc, len(j.vals))
					j.groups[""] = sums
				}
				for r := 0; r < b.Len; r++ {
					for v, col := range j.vals {
						sums[v].add(col, r)
					}
				}
			case byGroups:
			rows:
				for r := 0; r < b.Len; r++ {
					key = key[:0]
					for _, col := range j.grp {
						s := col.kstart[r]
						if s < 0 {
							if j.product {
								c.addLevels(j, r)
							}
							continue rows // pandas drops rows with a null key
						}
						key = append(key, col.arena[s:col.kend[r]]...)
					}
					if j.product {
						c.addLevels(j, r)
					}
					sums, ok := j.groups[string(key)]
					if !ok {
						sums = make([]acc, len(j.vals))
						j.groups[string(key)] = sums
					}
					for v, col := range j.vals {
						sums[v].add(col, r)
					}
				}
			}
		}
		base += int64(b.Len)
	}
}

func (c *computation) addLevels(j *job, r int) {
	for k, col := range j.grp {
		if s := col.kstart[r]; s >= 0 {
			part := col.arena[s:col.kend[r]]
			if _, ok := j.levels[k][string(part)]; !ok {
				j.levels[k][string(part)] = struct{}{}
			}
		}
	}
}

// fill decodes column col of batch b: numbers when it is summed, keys when
// it is grouped by. base is the file row of the batch's first row.
func (c *computation) fill(col *srcCol, b *records.Batch, base int64) error {
	n := b.Len
	if col.numeric {
		col.fv = grow(col.fv, n)
		if col.intSource {
			col.iv = grow(col.iv, n)
		}
		if col.idx < 0 {
			for i := 0; i < n; i++ {
				col.fv[i], col.iv[i] = 1, 1
			}
		} else {
			bc := &b.Cols[col.idx]
			for i := 0; i < n; i++ {
				if bc.Null(i) {
					col.fv[i] = math.NaN()
					col.hasNull = true
					continue
				}
				switch bc.Kind {
				case records.Int:
					col.iv[i] = bc.Ints[i]
					col.fv[i] = float64(bc.Ints[i])
				case records.Bool:
					col.iv[i], col.fv[i] = 0, 0
					if bc.Bools[i] {
						col.iv[i], col.fv[i] = 1, 1
					}
				case records.Float:
					col.fv[i] = bc.Floats[i]
				default:
					v, ok := parseNumber(bc.Text[i])
					if !ok {
						return c.numberError(col, bc.Text[i], base+int64(i))
					}
					col.fv[i] = v
				}
			}
		}
	}
	if !col.group {
		return nil
	}
	col.arena = col.arena[:0]
	col.kstart = grow(col.kstart, n)
	col.kend = grow(col.kend, n)
	var bc *records.Column
	if col.idx >= 0 {
		bc = &b.Cols[col.idx]
	}
	for i := 0; i < n; i++ {
		if bc != nil && bc.Null(i) {
			col.kstart[i] = -1
			col.hasNull = true
			continue
		}
		start := len(col.arena)
		switch col.keyKind {
		case keyText:
			col.arena = appendTextKey(col.arena, bc.Text[i])
		case keyInt, keyDate, keyDatetime:
			v := int64(1) // population
			if bc != nil {
				v = bc.Ints[i]
			}
			col.arena = binary.BigEndian.AppendUint64(col.arena, uint64(v)^(1<<63))
		case keyFloat:
			var v float64
			switch {
			case col.numeric:
				v = col.fv[i]
			case bc.Kind == records.Float:
				v = bc.Floats[i]
			default:
				p, ok := parseNumber(bc.Text[i])
				if !ok {
					return c.numberError(col, bc.Text[i], base+int64(i))
				}
				v = p
			}
			if math.IsNaN(v) {
				col.kstart[i] = -1
				continue
			}
			col.arena = binary.BigEndian.AppendUint64(col.arena, floatKey(v))
		case keyBool:
			k := byte(0)
			if bc.Bools[i] {
				k = 1
			}
			col.arena = append(col.arena, k)
		}
		col.kstart[i], col.kend[i] = start, len(col.arena)
	}
	return nil
}

// appendTextKey appends s so that concatenated keys sort as tuples of
// strings: 0x00 is escaped as 0x00 0xff and the part ends with 0x00 0x01.
func appendTextKey(dst, s []byte) []byte {
	for _, c := range s {
		dst = append(dst, c)
		if c == 0 {
			dst = append(dst, 0xff)
		}
	}
	return append(dst, 0, 1)
}

// floatKey maps v to an unsigned integer of the same order (-0 as 0).
func floatKey(v float64) uint64 {
	if v == 0 {
		v = 0
	}
	b := math.Float64bits(v)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

func unFloatKey(k uint64) float64 {
	if k>>63 != 0 {
		return math.Float64frombits(k &^ (1 << 63))
	}
	return math.Float64frombits(^k)
}

// splitKey cuts the first part of a group key off: the part's value (text
// unescaped) and the rest.
func splitKey(kind keyKind, key string) (part []byte, rest string) {
	switch kind {
	case keyText:
		for i := 0; i+1 < len(key); i++ {
			if key[i] != 0 {
				part = append(part, key[i])
				continue
			}
			if key[i+1] == 1 {
				return part, key[i+2:]
			}
			part = append(part, 0)
			i++
		}
		return part, ""
	case keyBool:
		return []byte(key[:1]), key[1:]
	}
	return []byte(key[:8]), key[8:]
}

func (c *computation) numberError(col *srcCol, cell []byte, row int64) error {
	var where string
	if col.csv {
		if line, column, ok := locateCSV(c.in.full, c.r.Format() == records.CSVGzip, row, col.idx); ok {
			where = fmt.Sprintf("%s:%d:%d", c.in.rel, line, column)
		} else {
			where = fmt.Sprintf("%s: data row %d", c.in.rel, row+1)
		}
	} else {
		where = fmt.Sprintf("%s: row %d", c.in.rel, row+1)
	}
	if len(strings.TrimSpace(string(cell))) == 0 {
		return fmt.Errorf("%s: column %q (%s) is empty: a numerator or denominator needs a number in every row (cohort-extractor writes 0 for a missing number, and pandas cannot read an empty cell as one)",
			where, col.name, col.role)
	}
	return fmt.Errorf("%s: column %q (%s) holds %q, which is not a number: a numerator or denominator must hold numbers or true/false in every row",
		where, col.name, col.role, cell)
}

// rowSet is a grouped job's result: groups in sorted key order.
type rowSet struct {
	keys  []string
	cells [][]cell
	index map[string]int
}

type cell struct {
	v float64
	i int64
}

// writeGrouped finishes a oneGroup or byGroups job and writes its file.
func (c *computation) writeGrouped(ctx context.Context, j *job) error {
	var rs rowSet
	for k := range j.groups {
		rs.keys = append(rs.keys, k)
	}
	sort.Strings(rs.keys)
	rs.cells = make([][]cell, len(rs.keys))
	j.cols = make([]outCol, len(j.vals))
	for v, col := range j.vals {
		j.cols[v] = outCol{isInt: col.intSource && !col.hasNull}
	}
	for r, k := range rs.keys {
		sums := j.groups[k]
		row := make([]cell, len(j.vals))
		for v := range j.vals {
			if j.cols[v].isInt {
				row[v] = cell{v: float64(sums[v].i), i: sums[v].i}
			} else if j.vals[v].intSource {
				row[v] = cell{v: float64(sums[v].i)}
			} else {
				row[v] = cell{v: sums[v].s}
			}
		}
		rs.cells[r] = row
	}
	j.groups = nil
	if j.m.SmallNumberSuppression {
		for _, v := range suppressed(j) {
			var st stats
			for _, row := range rs.cells {
				st.add(row[v].v)
			}
			s := decide(st)
			c.note(j, v, s)
			if !s.small {
				continue
			}
			j.cols[v].isInt = false
			for _, row := range rs.cells {
				row[v].v = s.apply(row[v].v)
			}
		}
	}

	if j.m.DisclosureControl {
		for _, v := range suppressed(j) {
			for _, row := range rs.cells {
				row[v].v = control(row[v].v)
				if math.IsNaN(row[v].v) {
					j.cols[v].isInt = false
				}
				row[v].i = int64(row[v].v)
			}
		}
		j.notes = append(j.notes, fmt.Sprintf("counts of %d or less blanked, others rounded to the nearest %d", RedactAt, RoundTo))
	}

	out, err := newTempFile(j.full)
	if err != nil {
		return fmt.Errorf("%s: %w", j.rel, err)
	}
	j.out = out
	header := make([]string, 0, len(j.grp)+len(j.vals)+1)
	for _, col := range j.grp {
		header = append(header, col.name)
	}
	for _, col := range j.vals {
		header = append(header, col.name)
	}
	header = append(header, "value")
	if err := out.write(appendCSVRow(nil, header, "\n")); err != nil {
		return fmt.Errorf("%s: %w", j.rel, err)
	}
	dateOnly := make([]bool, len(j.grp))
	for k, col := range j.grp {
		if col.keyKind == keyDatetime {
			dateOnly[k] = allMidnight(j, rs.keys, k)
		}
	}
	zero := make([]cell, len(j.vals))
	emit := func(key string, row []cell) error {
		line := j.line[:0]
		rest := key
		for k, col := range j.grp {
			var part []byte
			part, rest = splitKey(col.keyKind, rest)
			line = appendKeyText(line, col, part, dateOnly[k])
			line = append(line, ',')
		}
		line = c.appendValues(line, j, row)
		j.line = line
		j.rows++
		return out.write(line)
	}
	if !j.product {
		for r, k := range rs.keys {
			if r%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := emit(k, rs.cells[r]); err != nil {
				return fmt.Errorf("%s: %w", j.rel, err)
			}
		}
		return nil
	}
	// Every combination of the group columns' values, in sorted order;
	// the combinations not in the data sum to zero.
	rs.index = make(map[string]int, len(rs.keys))
	for r, k := range rs.keys {
		rs.index[k] = r
	}
	levels := make([][]string, len(j.grp))
	for k, set := range j.levels {
		for part := range set {
			levels[k] = append(levels[k], part)
		}
		sort.Strings(levels[k])
		if len(levels[k]) == 0 {
			return nil
		}
	}
	at := make([]int, len(levels))
	var key strings.Builder
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key.Reset()
		for k, l := range levels {
			key.WriteString(l[at[k]])
		}
		row := zero
		if r, ok := rs.index[key.String()]; ok {
			row = rs.cells[r]
		}
		if err := emit(key.String(), row); err != nil {
			return fmt.Errorf("%s: %w", j.rel, err)
		}
		k := len(at) - 1
		for ; k >= 0; k-- {
			at[k]++
			if at[k] < len(levels[k]) {
				break
			}
			at[k] = 0
		}
		if k < 0 {
			return nil
		}
	}
}

// suppressed lists the vals indexes suppression applies to: the numerator,
// then the denominator when it is another column.
func suppressed(j *job) []int {
	if j.den == j.num {
		return []int{j.num}
	}
	return []int{j.num, j.den}
}

func (c *computation) note(j *job, v int, s suppression) {
	if s.small {
		j.notes = append(j.notes, fmt.Sprintf("suppressed small numbers in column %s", j.vals[v].name))
	}
	if s.extra {
		j.notes = append(j.notes, fmt.Sprintf("additional suppression in column %s", j.vals[v].name))
	}
}

// appendValues appends a row's numeric cells and value, and the line end.
func (c *computation) appendValues(line []byte, j *job, row []cell) []byte {
	for v := range j.vals {
		line = j.cols[v].append(line, row[v].v, row[v].i)
		line = append(line, ',')
	}
	line = appendPyFloat(line, row[j.num].v/row[j.den].v)
	return append(line, '\n')
}

// allMidnight reports whether every timestamp of group column k is at
// midnight, in which case pandas writes them as dates.
func allMidnight(j *job, keys []string, k int) bool {
	for _, key := range keys {
		rest := key
		var part []byte
		for i := 0; i <= k; i++ {
			part, rest = splitKey(j.grp[i].keyKind, rest)
		}
		secs := int64(binary.BigEndian.Uint64(part) ^ (1 << 63))
		if secs%86400 != 0 {
			return false
		}
	}
	return true
}

// appendKeyText appends a group value as pandas writes it.
func appendKeyText(dst []byte, col *srcCol, part []byte, dateOnly bool) []byte {
	switch col.keyKind {
	case keyText:
		return appendCSVField(dst, string(part))
	case keyBool:
		if part[0] != 0 {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	case keyFloat:
		return appendPyFloat(dst, unFloatKey(binary.BigEndian.Uint64(part)))
	}
	v := int64(binary.BigEndian.Uint64(part) ^ (1 << 63))
	switch col.keyKind {
	case keyDate:
		return frame.AppendISODate(dst, v)
	case keyDatetime:
		day := v / 86400
		if v%86400 < 0 {
			day--
		}
		if dateOnly {
			return frame.AppendISODate(dst, day)
		}
		return time.Unix(v, 0).UTC().AppendFormat(dst, "2006-01-02 15:04:05")
	}
	if col.hasNull {
		// pandas holds an integer column with nulls as float64.
		return appendPyFloat(dst, float64(v))
	}
	return strconv.AppendInt(dst, v, 10)
}

// secondPass writes the per-patient jobs: one row per input row.
func (c *computation) secondPass(ctx context.Context) error {
	var jobs []*job
	for _, j := range c.jobs {
		if j.mode != perPatient {
			continue
		}
		jobs = append(jobs, j)
		j.cols = make([]outCol, len(j.vals))
		for v, col := range j.vals {
			j.cols[v] = outCol{isInt: col.intSource && !col.boolSource && !col.hasNull, isBool: col.boolSource}
		}
		out, err := newTempFile(j.full)
		if err != nil {
			return fmt.Errorf("%s: %w", j.rel, err)
		}
		j.out = out
		header := make([]string, 0, len(j.vals)+1)
		for _, col := range j.vals {
			header = append(header, col.name)
		}
		header = append(header, "value")
		if err := out.write(appendCSVRow(nil, header, "\n")); err != nil {
			return fmt.Errorf("%s: %w", j.rel, err)
		}
	}
	supp := make([][]suppression, len(jobs))
	for n, j := range jobs {
		supp[n] = make([]suppression, len(j.vals))
		if !j.m.SmallNumberSuppression {
			continue
		}
		for _, v := range suppressed(j) {
			s := decide(j.vals[v].st)
			c.note(j, v, s)
			supp[n][v] = s
			if s.small {
				j.cols[v].isInt = false
			}
		}
	}
	if _, err := c.open(); err != nil {
		return err
	}
	// The first pass read every numeric column; now only the
	// per-patient jobs' columns are needed, and no keys.
	for _, col := range c.list {
		col.group = false
		col.numeric = false
	}
	for _, j := range jobs {
		for _, col := range j.vals {
			col.numeric = true
		}
	}
	var base int64
	row := []cell{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := c.r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return c.pathError(err)
		}
		for _, col := range c.list {
			if col.numeric {
				if err := c.fill(col, b, base); err != nil {
					return err
				}
			}
		}
		for n, j := range jobs {
			line := j.line[:0]
			for r := 0; r < b.Len; r++ {
				row = row[:0]
				for v, col := range j.vals {
					f := supp[n][v].apply(col.fv[r])
					var i int64
					if col.intSource {
						i = col.iv[r]
					}
					row = append(row, cell{v: f, i: i})
				}
				line = c.appendValues(line, j, row)
				j.rows++
			}
			j.line = line
			if err := j.out.write(line); err != nil {
				return fmt.Errorf("%s: %w", j.rel, err)
			}
		}
		base += int64(b.Len)
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
