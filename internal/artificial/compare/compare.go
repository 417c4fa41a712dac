// Package compare measures how close a generated file is to the metadata
// it was generated from: `haven data compare`. It reads the file with the
// record readers (CSV, csv.gz, Parquet, Arrow), streaming, and keeps only
// counts per metadata entry and a few bounded summaries, so memory does
// not grow with the file except for identifier checks (8 bytes per row up
// to a cap, then a hash sample).
//
// Per field it measures the distance between the generated values and the
// metadata: total variation distance (TVD) for frequency tables, date
// bins, hours and text lengths; Kolmogorov-Smirnov (KS) distance for dates
// and continuous fields; the difference of null shares; uniqueness and
// the reserved prefix for identifiers; and the rows-per-entity histogram
// for a relationship's parent key. It also scans generated values for
// NHS numbers, postcodes, e-mail addresses and phone numbers the metadata
// did not hold.
//
// The report names rows, never values: compare is meant for generated
// files, but nothing stops it being pointed at a real one.
package compare

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/records"
)

// SchemaV1 names the report format.
const SchemaV1 = "haven.artificial.compare/v1"

// Verdicts.
const (
	Close   = "close"   // every measure within its threshold
	Far     = "far"     // some measure beyond its threshold
	Missing = "missing" // the field's column is not in the file
)

// Measure names.
const (
	MeasureTVD         = "tvd"             // frequency table
	MeasureBinsTVD     = "tvd_bins"        // date bins
	MeasureKS          = "ks"              // dates against bin-uniform, continuous against the cut-points
	MeasureHoursTVD    = "tvd_hours"       // hour of day of datetimes
	MeasureLengthsTVD  = "tvd_lengths"     // free-text lengths
	MeasureDistinct    = "distinct_share"  // identifiers: distinct values / non-null rows
	MeasurePrefix      = "prefix_share"    // pattern identifiers: values with the reserved prefix
	MeasureCardinality = "tvd_cardinality" // relationship parent: rows per entity
)

// Thresholds bound the measures of a close field.
type Thresholds struct {
	MaxTVD      float64 `json:"max_tvd"`
	MaxKS       float64 `json:"max_ks"`
	MaxNullDiff float64 `json:"max_null_diff"`
}

// DefaultThresholds suit samples of 10,000 rows or more.
var DefaultThresholds = Thresholds{MaxTVD: 0.02, MaxKS: 0.02, MaxNullDiff: 0.01}

// SmallSample is the row count below which the default thresholds are
// noisy, and the report says so.
const SmallSample = 10000

// Defaults for the memory bounds of Options.
const (
	DefaultExactDistinct = 1 << 18
	DefaultIDRows        = 1 << 23
	histogramBins        = 4096
)

// Options configure Compare.
type Options struct {
	// Thresholds; nil means DefaultThresholds.
	Thresholds *Thresholds
	// ExactDistinct is how many distinct values of a continuous field
	// are counted exactly before the field falls back to a histogram
	// (DefaultExactDistinct when 0).
	ExactDistinct int
	// IDRows is how many identifier values are held (8 bytes each) for
	// the uniqueness check before it keeps a hash sample of the values
	// instead (DefaultIDRows when 0).
	IDRows int
}

// Report is the result of Compare (JSON schema haven.artificial.compare/v1).
type Report struct {
	Schema string `json:"schema"`
	// Metadata and MetadataSHA256 name the metadata file; Compare leaves
	// them empty, its callers fill them in.
	Metadata       string       `json:"metadata,omitempty"`
	MetadataSHA256 string       `json:"metadata_sha256,omitempty"`
	Input          string       `json:"input"`
	Format         string       `json:"format"`
	Table          string       `json:"table"`
	Rows           int64        `json:"rows"`            // rows in the file
	MetadataRows   int64        `json:"metadata_rows_n"` // rows_n of the metadata
	Thresholds     Thresholds   `json:"thresholds"`
	Verdict        string       `json:"verdict"` // close or far
	Columns        Columns      `json:"columns"`
	Fields         []Field      `json:"fields"`
	Patterns       []PatternHit `json:"patterns"`
	// Failures lists why the verdict is far, one line each.
	Failures []string `json:"failures"`
	Notes    []string `json:"notes,omitempty"`
}

// Columns compares the file's columns with the metadata's.
type Columns struct {
	Expected   []string `json:"expected"` // metadata fields and identifier rules, in metadata order
	Present    []string `json:"present"`  // the file's columns, in file order
	Missing    []string `json:"missing"`  // expected but not present: a failure
	Extra      []Extra  `json:"extra"`    // present but not expected
	Duplicated []string `json:"duplicated,omitempty"`
	OK         bool     `json:"ok"`
}

// Extra kinds.
const (
	ExtraDerived = "derived" // a derived field of the metadata's postprocessing rules
	ExtraUnknown = "unknown" // not in the metadata (a --rules column, or a mistake)
)

// Extra is a column of the file that is not a metadata field.
type Extra struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Field is the comparison of one metadata field.
type Field struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Present bool   `json:"present"`
	// Rows and Nulls count the file's rows and the field's nulls (empty
	// cells in CSV).
	Rows  int64 `json:"rows"`
	Nulls int64 `json:"nulls"`
	// Invalid counts non-null values that do not read as the field's
	// type; Outside counts readable values no metadata entry holds (a
	// value not in the frequency table, a date in no bin). Both count
	// fully towards the distances.
	Invalid           int64     `json:"invalid"`
	Outside           int64     `json:"outside"`
	NullShare         float64   `json:"null_share"`
	MetadataNullShare float64   `json:"metadata_null_share"`
	NullDiff          float64   `json:"null_diff"` // NullShare - MetadataNullShare
	Measures          []Measure `json:"measures"`
	Verdict           string    `json:"verdict"`
	Reasons           []string  `json:"reasons,omitempty"` // why far or missing
	Notes             []string  `json:"notes,omitempty"`
}

// Measure is one distance or share with its threshold.
type Measure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Op and Limit are the threshold: value <= limit, or value >= limit
	// for shares that must be complete.
	Op    string  `json:"op"`
	Limit float64 `json:"limit"`
	OK    bool    `json:"ok"`
	// Resolution, when set, bounds the error of a KS distance measured on
	// a histogram: the true distance lies in [value, value+resolution].
	Resolution float64 `json:"resolution,omitempty"`
	// Sampled is set when the measure comes from a hash sample of the
	// values (identifiers of very large files).
	Sampled bool `json:"sampled,omitempty"`
}

// PatternHit counts the values of one column that look like one kind of
// real identifier the metadata did not hold.
type PatternHit struct {
	Column   string `json:"column"`
	Pattern  string `json:"pattern"` // meta.PatternNHSNumber, ...
	What     string `json:"what"`
	Rows     int64  `json:"rows"`
	FirstRow int64  `json:"first_row"` // 1-based data row (the header is not counted)
}

func (m *Measure) check() {
	switch m.Op {
	case ">=":
		m.OK = m.Value >= m.Limit
	default:
		m.Op = "<="
		m.OK = m.Value <= m.Limit+1e-12
	}
}

// accumulator takes a field's column batch by batch and then reports.
type accumulator interface {
	// add counts n rows of col; base is the number of rows before them.
	add(col *records.Column, n int, base int64)
	// finish fills the field's measures (not its verdict).
	finish(f *Field, th Thresholds)
}

// Compare reads the generated file input and measures it against table
// (which may be empty when the metadata has one table, or when the file
// is named after a table) of doc. Problems the user can fix (no such
// table, an unreadable or malformed file) are *haven.Error with code
// EINVALID.
func Compare(doc *meta.Document, table, input string, opts Options) (*Report, error) {
	th := DefaultThresholds
	if opts.Thresholds != nil {
		th = *opts.Thresholds
	}
	if opts.ExactDistinct <= 0 {
		opts.ExactDistinct = DefaultExactDistinct
	}
	if opts.IDRows <= 0 {
		opts.IDRows = DefaultIDRows
	}
	if err := checkThresholds(th); err != nil {
		return nil, err
	}
	t, err := pickTable(doc, table, input)
	if err != nil {
		return nil, err
	}
	r, err := records.Open(input)
	if err != nil {
		return nil, fileError(err)
	}
	defer r.Close()

	rep := &Report{
		Schema: SchemaV1, Input: input, Format: string(r.Format()), Table: t.Name,
		MetadataRows: t.RowsN, Thresholds: th,
		Fields: []Field{}, Patterns: []PatternHit{}, Failures: []string{},
	}
	plan := planColumns(t, r.Columns())
	rep.Columns = plan.columns
	known := metadataPatterns(t)

	// One accumulator per present field, one scanner per column.
	type job struct {
		col int
		acc accumulator
	}
	var jobs []job
	accs := make([]accumulator, len(plan.fields))
	scanners := make([]*scanner, len(r.Columns()))
	for ci, name := range r.Columns() {
		// Pattern identifiers are checked for their reserved prefix and
		// uniqueness instead: a value such as TEST0943476591 is made from
		// the pattern's classes, and a run of its digits can pass a
		// check-digit test without the value being anything but synthetic.
		if f := t.Field(name); f != nil && f.Type == meta.TypeIdentifier && f.Identifier != nil && f.Identifier.Kind == "pattern" {
			continue
		}
		if plan.firstOf[name] == ci {
			scanners[ci] = newScanner(name, known)
		}
	}
	for i := range plan.fields {
		pf := &plan.fields[i]
		if pf.col < 0 {
			continue
		}
		accs[i] = newAccumulator(t, pf, scanners[pf.col], opts)
		jobs = append(jobs, job{pf.col, accs[i]})
	}
	// Columns that are not fields are scanned for patterns only.
	var extras []job
	for _, e := range plan.columns.Extra {
		ci := plan.firstOf[e.Name]
		extras = append(extras, job{ci, &scanOnly{sc: scanners[ci]}})
	}

	all := append(jobs, extras...)
	workers := min(runtime.GOMAXPROCS(0), len(all))
	var rows int64
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fileError(err)
		}
		// Columns are independent: share them between the CPUs.
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for k := w; k < len(all); k += workers {
					all[k].acc.add(&b.Cols[all[k].col], b.Len, rows)
				}
			})
		}
		wg.Wait()
		rows += int64(b.Len)
	}
	rep.Rows = rows

	for i := range plan.fields {
		pf := &plan.fields[i]
		f := Field{Name: pf.name, Type: pf.typ, Present: pf.col >= 0, Measures: []Measure{}}
		if pf.col < 0 {
			f.Verdict = Missing
			f.Reasons = append(f.Reasons, fmt.Sprintf("the file has no column %q", pf.name))
			rep.Fields = append(rep.Fields, f)
			continue
		}
		f.Rows = rows
		accs[i].finish(&f, th)
		f.NullDiff = f.NullShare - f.MetadataNullShare
		verdict(&f, th)
		if pf.sequence != "" && f.Verdict == Far {
			f.Notes = append(f.Notes, fmt.Sprintf("in the date sequence %s: sorting each row's dates shifts the members' distributions (the first gets the earliest), which can make a field far", pf.sequence))
		}
		rep.Fields = append(rep.Fields, f)
	}
	for ci, s := range scanners {
		if s == nil {
			continue
		}
		for _, h := range s.results() {
			rep.Patterns = append(rep.Patterns, h)
			if fi := plan.fieldOf(ci); fi >= 0 {
				f := &rep.Fields[fi]
				f.Verdict = Far
				f.Reasons = append(f.Reasons, h.message())
			}
		}
	}
	summarise(rep)
	return rep, nil
}

// checkThresholds refuses thresholds that cannot be met or are not
// numbers.
func checkThresholds(th Thresholds) error {
	for _, x := range []struct {
		name string
		v    float64
	}{{"max-tvd", th.MaxTVD}, {"max-ks", th.MaxKS}, {"max-null-diff", th.MaxNullDiff}} {
		if math.IsNaN(x.v) || x.v < 0 || x.v > 1 {
			return haven.Errorf(haven.EINVALID, "--%s %v: give a number from 0 to 1 (distances and shares lie between 0 and 1)", x.name, x.v)
		}
	}
	return nil
}

// pickTable chooses the table to compare against.
func pickTable(doc *meta.Document, table, input string) (*meta.Table, error) {
	names := make([]string, len(doc.Tables))
	for i, t := range doc.Tables {
		names[i] = t.Name
	}
	switch {
	case table != "":
		if t := doc.Table(table); t != nil {
			return t, nil
		}
		return nil, haven.Errorf(haven.EINVALID, "the metadata has no table %q: it has %s; pass one of them with --table", table, strings.Join(names, ", "))
	case len(doc.Tables) == 1:
		return &doc.Tables[0], nil
	case len(doc.Tables) == 0:
		return nil, haven.Errorf(haven.EINVALID, "the metadata has no tables: scrape a table first ('haven data scrape')")
	}
	if t := doc.Table(records.TableName(input)); t != nil {
		return t, nil
	}
	return nil, haven.Errorf(haven.EINVALID, "the metadata has %d tables (%s): choose the one %s was generated from with --table", len(doc.Tables), strings.Join(names, ", "), input)
}

// fileError turns a reader's error into one for the user.
func fileError(err error) error {
	var re *records.Error
	if errors.As(err, &re) {
		return haven.Errorf(haven.EINVALID, "%v", err)
	}
	return err
}

// verdict sets a field's verdict from its measures and null difference.
func verdict(f *Field, th Thresholds) {
	if f.Verdict == "" {
		f.Verdict = Close
	}
	for _, m := range f.Measures {
		if !m.OK {
			f.Verdict = Far
			side := "above the limit"
			if m.Op == ">=" {
				side = "below the required"
			}
			f.Reasons = append(f.Reasons, fmt.Sprintf("%s %s, %s %s", measureLabel(m.Name), num4(m.Value), side, num4(m.Limit)))
		}
	}
	if math.Abs(f.NullDiff) > th.MaxNullDiff+1e-12 {
		f.Verdict = Far
		f.Reasons = append(f.Reasons, fmt.Sprintf("null share %s against the metadata's %s (difference %s, beyond ±%s)",
			num4(f.NullShare), num4(f.MetadataNullShare), signed4(f.NullDiff), num4(th.MaxNullDiff)))
	}
}

// summarise sets the overall verdict and its failures.
func summarise(rep *Report) {
	c := &rep.Columns
	for _, m := range c.Missing {
		rep.Failures = append(rep.Failures, fmt.Sprintf("column %q of the metadata is missing from the file", m))
	}
	for _, d := range c.Duplicated {
		rep.Failures = append(rep.Failures, fmt.Sprintf("column %q appears more than once in the file (only the first is compared)", d))
	}
	for _, f := range rep.Fields {
		if f.Verdict == Far {
			rep.Failures = append(rep.Failures, fmt.Sprintf("%s: %s", f.Name, strings.Join(f.Reasons, "; ")))
		}
	}
	fieldCols := map[string]bool{}
	for _, f := range rep.Fields {
		fieldCols[f.Name] = true
	}
	for _, h := range rep.Patterns {
		if !fieldCols[h.Column] {
			rep.Failures = append(rep.Failures, h.Column+": "+h.message())
		}
	}
	for _, e := range c.Extra {
		if e.Kind == ExtraUnknown {
			rep.Notes = append(rep.Notes, fmt.Sprintf("column %q is not in the metadata (a column added by a --rules file, or a mistake); it is not compared", e.Name))
		}
	}
	if rep.Rows < SmallSample {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the file has %d rows: the default thresholds are meant for %d rows or more, so small samples can read as far by chance", rep.Rows, SmallSample))
	}
	rep.Verdict = Close
	if len(rep.Failures) > 0 {
		rep.Verdict = Far
	}
}

// message describes a hit for a person.
func (h PatternHit) message() string {
	return fmt.Sprintf("%s like %s the metadata does not hold (first at row %d): the generator should never invent one",
		countOf(h.Rows, "value looks", "values look"), h.What, h.FirstRow)
}

func countOf(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// plan maps metadata fields to file columns.
type plan struct {
	columns Columns
	fields  []plannedField
	firstOf map[string]int // column name -> first index in the file
	byCol   map[int]int    // column index -> index in fields
}

type plannedField struct {
	name, typ string
	field     *meta.Field          // nil for an identifier rule without a field
	id        *meta.IdentifierSpec // the identifier spec in force, if any
	col       int                  // -1 when missing
	sequence  string               // the sequence the field is in, if any
}

func (p *plan) fieldOf(col int) int {
	if i, ok := p.byCol[col]; ok {
		return i
	}
	return -1
}

func planColumns(t *meta.Table, cols []string) *plan {
	p := &plan{firstOf: map[string]int{}, byCol: map[int]int{}}
	p.columns.Present = append([]string{}, cols...)
	dup := map[string]bool{}
	for i, c := range cols {
		if _, ok := p.firstOf[c]; ok {
			if !dup[c] {
				p.columns.Duplicated = append(p.columns.Duplicated, c)
				dup[c] = true
			}
			continue
		}
		p.firstOf[c] = i
	}
	rules := map[string]*meta.IdentifierSpec{}
	var ruleOrder []string
	derived := map[string]bool{}
	sequence := map[string]string{}
	if pp := t.Postprocess; pp != nil {
		for i := range pp.Identifiers {
			r := &pp.Identifiers[i]
			if _, ok := rules[r.Field]; !ok {
				ruleOrder = append(ruleOrder, r.Field)
			}
			rules[r.Field] = &r.IdentifierSpec
		}
		for _, d := range pp.Derived {
			derived[d.Name] = true
		}
		for _, s := range pp.Sequences {
			for _, name := range s {
				sequence[name] = "(" + strings.Join(s, ", ") + ")"
			}
		}
	}
	expected := map[string]bool{}
	add := func(pf plannedField) {
		expected[pf.name] = true
		p.columns.Expected = append(p.columns.Expected, pf.name)
		if ci, ok := p.firstOf[pf.name]; ok {
			pf.col = ci
			p.byCol[ci] = len(p.fields)
		} else {
			pf.col = -1
			p.columns.Missing = append(p.columns.Missing, pf.name)
		}
		p.fields = append(p.fields, pf)
	}
	for i := range t.Fields {
		f := &t.Fields[i]
		if expected[f.Name] {
			continue // a duplicated field; review reports it
		}
		pf := plannedField{name: f.Name, typ: f.Type, field: f, id: f.Identifier, sequence: sequence[f.Name]}
		if r, ok := rules[f.Name]; ok {
			pf.typ, pf.id = meta.TypeIdentifier, r
		}
		add(pf)
	}
	for _, name := range ruleOrder {
		if !expected[name] {
			add(plannedField{name: name, typ: meta.TypeIdentifier, id: rules[name]})
		}
	}
	p.columns.Extra = []Extra{}
	for _, c := range cols {
		if expected[c] || containsExtra(p.columns.Extra, c) {
			continue
		}
		kind := ExtraUnknown
		if derived[c] {
			kind = ExtraDerived
		}
		p.columns.Extra = append(p.columns.Extra, Extra{Name: c, Kind: kind})
	}
	if p.columns.Missing == nil {
		p.columns.Missing = []string{}
	}
	p.columns.OK = len(p.columns.Missing) == 0 && len(p.columns.Duplicated) == 0
	return p
}

func containsExtra(es []Extra, name string) bool {
	for _, e := range es {
		if e.Name == name {
			return true
		}
	}
	return false
}
