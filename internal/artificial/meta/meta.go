// Package meta holds the artificial-data metadata contract: the document a
// scrape writes, review checks and a reviewer approves, and the generator
// reads. Metadata is aggregates only: frequency tables, date bins,
// percentile cut-points, text shapes and relationship cardinalities, every
// count disclosure-controlled. It never holds a record, an identifier value
// or an observed minimum or maximum.
//
// The package has no record readers; internal/artificial/scrape is the only
// package that reads real tables.
package meta

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/haven-tre/haven/internal/atomicfile"
)

// SchemaV1 names the metadata format.
const SchemaV1 = "haven.artificial.metadata/v1"

// Field types.
const (
	TypeInteger     = "integer"
	TypeFloat       = "float"
	TypeDate        = "date"
	TypeDatetime    = "datetime"
	TypeBoolean     = "boolean"
	TypeCategorical = "categorical"
	TypeFreeText    = "free_text"
	TypeIdentifier  = "identifier"
)

// Types lists every field type, in documentation order.
var Types = []string{TypeInteger, TypeFloat, TypeDate, TypeDatetime, TypeBoolean, TypeCategorical, TypeFreeText, TypeIdentifier}

// Date bin grains, finest first.
const (
	GrainDay     = "day"
	GrainWeek    = "week" // month-aligned: days 1-7, 8-14, 15-21, 22-28, 29-end
	GrainMonth   = "month"
	GrainQuarter = "quarter"
	GrainYear    = "year"
)

// Grains lists the date grains, finest first.
var Grains = []string{GrainDay, GrainWeek, GrainMonth, GrainQuarter, GrainYear}

// Document is one metadata file: a dataset of one or more tables.
type Document struct {
	Schema  string     `json:"schema"`
	Dataset string     `json:"dataset"`
	SDC     SDC        `json:"sdc"`
	Scrape  ScrapeInfo `json:"scrape"`
	Tables  []Table    `json:"tables"`
}

// SDC records the disclosure control applied to every count.
type SDC struct {
	MinCount  int64 `json:"min_count"`  // k: raw counts below it are dropped
	RoundBase int64 `json:"round_base"` // survivors are rounded to a multiple of it
	// PercentileMinPerBin is the fewest raw records each percentile bin
	// must hold for cut-points to be released at a given step.
	PercentileMinPerBin int64  `json:"percentile_min_per_bin"`
	DatePolicy          string `json:"date_policy"` // "coarsen"
}

// DefaultSDC is NHS Digital's k = 5, base = 5.
var DefaultSDC = SDC{MinCount: 5, RoundBase: 5, PercentileMinPerBin: 5, DatePolicy: "coarsen"}

// ScrapeInfo says how the metadata was made (never from which records).
type ScrapeInfo struct {
	HavenVersion string   `json:"haven_version,omitempty"`
	ScrapedAt    string   `json:"scraped_at,omitempty"`  // RFC 3339, UTC
	Percentiles  string   `json:"percentiles,omitempty"` // "exact" or "sketch"
	Inputs       []string `json:"inputs,omitempty"`      // base names of the scraped files
}

// Table is the metadata of one table.
type Table struct {
	Name          string         `json:"name"`
	RowsN         int64          `json:"rows_n"` // disclosure-controlled
	EntityKey     string         `json:"entity_key,omitempty"`
	RowKey        string         `json:"row_key,omitempty"`
	Fields        []Field        `json:"fields"`
	Relationships []Relationship `json:"relationships,omitempty"`
	Postprocess   *Rules         `json:"postprocess,omitempty"`
}

// Field is the metadata of one column. Which of the optional parts is set
// depends on Type:
//
//   - categorical, boolean, and integer or float with few distinct values:
//     Values, a frequency table;
//   - integer and float otherwise: Continuous, percentile cut-points;
//   - date: Bins; datetime: Bins for the day and Hours for the hour of day;
//   - free_text: Text, the shape of the values (never a value);
//   - identifier: Identifier, how to make new ones (never a value).
type Field struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	NullN      int64           `json:"null_n,omitempty"`    // controlled; 0 means "no nulls"
	NNonNull   int64           `json:"n_nonnull,omitempty"` // controlled
	Values     []Value         `json:"values,omitempty"`
	Bins       []DateBin       `json:"bins,omitempty"`
	Hours      []Value         `json:"hours,omitempty"`
	Continuous *Continuous     `json:"continuous,omitempty"`
	Text       *TextShape      `json:"text,omitempty"`
	Identifier *IdentifierSpec `json:"identifier,omitempty"`
	// Format is how values are written: a Go time layout for dates and
	// datetimes ("2006-01-02"), absent otherwise.
	Format string `json:"format,omitempty"`
	// CoarsestGrain, when set on a date field, drops bins that would need
	// a coarser grain than it.
	CoarsestGrain string `json:"coarsest_grain,omitempty"`
}

// Value is one entry of a frequency table. V is the value as written in the
// source (for booleans, the source's own token such as "1" or "true").
type Value struct {
	V string `json:"v"`
	N int64  `json:"n"`
}

// DateBin is a run of days [Start, End], inclusive, at one grain.
type DateBin struct {
	Start string `json:"start"` // YYYY-MM-DD
	End   string `json:"end"`   // YYYY-MM-DD
	Grain string `json:"grain"`
	N     int64  `json:"n"`
}

// Continuous holds percentile cut-points of a numeric field.
type Continuous struct {
	// Step is the percentile resolution in points: 1, 5, 10 or 25. With
	// step 1 the cut-points are the 2nd to 99th percentiles (98 of them);
	// otherwise they are step, 2*step, ..., 100-step.
	Step     int       `json:"step"`
	Cuts     []float64 `json:"cuts"`
	Decimals int       `json:"decimals"`
	// Bounds are design limits declared by a person (never scraped).
	// With bounds the tail bins reach out to them; without, values stay
	// between the outer cut-points.
	Bounds *[2]float64 `json:"bounds,omitempty"`
}

// TextShape describes free text without any of its values.
type TextShape struct {
	Lengths []Value `json:"lengths"` // length in characters -> count, controlled
	// Shares of characters by class, each rounded to 0.05.
	Letters float64 `json:"letters"`
	Digits  float64 `json:"digits"`
	Spaces  float64 `json:"spaces"`
	Other   float64 `json:"other"`
}

// IdentifierSpec says how to make identifiers: never a scraped value.
type IdentifierSpec struct {
	// Kind is "pattern" (a string from Pattern) or "integer" (a distinct
	// integer in [0, 10*count) as OpenSAFELY's patient_id).
	Kind string `json:"kind"`
	// Pattern: literals, character classes such as [0-9A-Z] and fixed
	// repetition {n}; it must start with the reserved literal prefix.
	Pattern string `json:"pattern,omitempty"`
	// Scope is "row" (one per row) or "entity" (one per entity, copied to
	// every row of the entity).
	Scope string `json:"scope"`
}

// Relationship is the cardinality histogram of rows per entity: how many
// rows of the table share one value of Parent (the entity key). Child is
// the row key, when the table has one.
type Relationship struct {
	Parent        string    `json:"parent"`
	Child         string    `json:"child,omitempty"`
	Cardinalities []CardBin `json:"cardinalities"`
	// MaxChildren caps draws in the open top bin; a person may raise it.
	MaxChildren int `json:"max_children"`
}

// CardBin is "entities with Min..Max rows"; Max 0 means "Min or more" (the
// top-coded bin).
type CardBin struct {
	Min int   `json:"min"`
	Max int   `json:"max,omitempty"`
	N   int64 `json:"n"`
}

// Rules are postprocessing rules, applied to generated rows in order:
// identifiers, sequences, then derived fields.
type Rules struct {
	Identifiers []IdentifierRule `json:"identifiers,omitempty"`
	Sequences   [][]string       `json:"sequences,omitempty"`
	Derived     []Derived        `json:"derived,omitempty"`
}

// IdentifierRule generates (or replaces) Field as identifiers.
type IdentifierRule struct {
	Field string `json:"field"`
	IdentifierSpec
}

// Derived kinds.
const (
	DerivedAge      = "age"      // whole years from From (date of birth) to At, capped at 120
	DerivedBand     = "band"     // band of numeric From by Edges, labelled by Labels
	DerivedTruncate = "truncate" // first Length characters of From
	DerivedConcat   = "concat"   // Fields joined by Sep, nulls skipped
	DerivedCount    = "count"    // non-null Fields, excluding Exclude values
)

// Derived is a field computed from other fields of the same row.
type Derived struct {
	Name    string    `json:"name"`
	Kind    string    `json:"kind"`
	From    string    `json:"from,omitempty"`
	At      string    `json:"at,omitempty"`
	Edges   []float64 `json:"edges,omitempty"`
	Labels  []string  `json:"labels,omitempty"`
	Length  int       `json:"length,omitempty"`
	Fields  []string  `json:"fields,omitempty"`
	Sep     string    `json:"sep,omitempty"`
	Exclude []string  `json:"exclude,omitempty"`
}

// Control applies the scrape's disclosure control to a raw count: a count
// below k is dropped (ok false) before anything else, and a survivor is
// rounded to the nearest multiple of base, half up. When k is not a
// multiple of base, rounding could take a survivor below k (k=6, base=5:
// raw 6 would round to 5); such a count is released as the smallest
// multiple of base at or above k instead, so every released count is at
// least k and a multiple of base.
func (s SDC) Control(raw int64) (released int64, ok bool) {
	if raw < s.MinCount || raw <= 0 {
		return 0, false
	}
	if s.RoundBase <= 1 {
		return raw, true
	}
	b := s.RoundBase
	r := (raw + b/2) / b * b // half up for even bases too
	if r < s.MinCount {
		r = (s.MinCount + b - 1) / b * b
	}
	return r, true
}

// Validate checks the SDC parameters themselves.
func (s SDC) Validate() error {
	if s.MinCount < 1 {
		return fmt.Errorf("sdc.min_count is %d: it must be at least 1 (5 is NHS Digital's default, 8 OpenSAFELY's)", s.MinCount)
	}
	if s.RoundBase < 1 {
		return fmt.Errorf("sdc.round_base is %d: it must be at least 1 (5 is the default)", s.RoundBase)
	}
	return nil
}

// Table returns the table named name, or nil.
func (d *Document) Table(name string) *Table {
	for i := range d.Tables {
		if d.Tables[i].Name == name {
			return &d.Tables[i]
		}
	}
	return nil
}

// Field returns the field named name, or nil.
func (t *Table) Field(name string) *Field {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return &t.Fields[i]
		}
	}
	return nil
}

// Encode returns the canonical encoding of d: UTF-8 JSON with sorted keys
// and no insignificant whitespace, plus a final newline. Its SHA-256 is the
// metadata's identity.
func Encode(d *Document) ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return Canonical(raw)
}

// Canonical re-encodes any JSON document with sorted keys and no
// insignificant whitespace, numbers kept exactly as written.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps are written with sorted keys
		return nil, err
	}
	return buf.Bytes(), nil
}

// SHA256 returns the hex SHA-256 of b.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Decode parses a metadata document strictly: unknown keys and a wrong
// schema are errors naming the file.
func Decode(name string, raw []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: not a Haven metadata file: %v (metadata is written by 'haven data scrape')", name, jsonErr(raw, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: extra content after the metadata document", name)
	}
	if d.Schema != SchemaV1 {
		return nil, fmt.Errorf("%s: schema is %q, want %q (metadata is written by 'haven data scrape')", name, d.Schema, SchemaV1)
	}
	if err := d.SDC.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &d, nil
}

// jsonErr adds a line and column to a JSON syntax or type error.
func jsonErr(raw []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 {
		return err
	}
	line, col := 1, 1
	for i := int64(0); i < off && i < int64(len(raw)); i++ {
		if raw[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %v", line, col, err)
}

// Load reads and decodes a metadata file, returning its bytes too.
func Load(path string) (*Document, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	d, err := Decode(path, raw)
	if err != nil {
		return nil, nil, err
	}
	return d, raw, nil
}

// WriteFile writes d canonically to path, atomically (a temporary file in
// the same directory, synced, then renamed), and returns the bytes written.
func WriteFile(path string, d *Document) ([]byte, error) {
	b, err := Encode(d)
	if err != nil {
		return nil, err
	}
	return b, WriteAtomic(path, b)
}

// WriteAtomic writes b to path so that a reader sees the old file or the
// new one, never a part.
func WriteAtomic(path string, b []byte) error { return atomicfile.WriteFile(path, b) }
