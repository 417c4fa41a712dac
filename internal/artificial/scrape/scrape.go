// Package scrape reads real tables inside the secure zone and writes
// disclosure-controlled metadata (internal/artificial/meta) for the
// artificial-data generator: each column's type, and aggregates only
// (frequency tables, date bins, percentile cut-points, text shapes,
// identifier patterns, relationship cardinalities), every count passed
// through meta.SDC.Control.
//
// Each input is read once, streaming; memory grows with the distinct
// values a column keeps (bounded per column), and with the number of
// entities of a relationship parent, never with the number of rows.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/records"
)

// Relationship names a parent (entity key) column and optionally a child
// (row key) column.
type Relationship struct {
	Parent, Child string
}

// ParseRelationship parses "PARENT:CHILD" or "PARENT:" (no child).
func ParseRelationship(s string) (Relationship, error) {
	parent, child, ok := strings.Cut(s, ":")
	parent, child = strings.TrimSpace(parent), strings.TrimSpace(child)
	switch {
	case !ok:
		return Relationship{}, fmt.Errorf("relationship %q has no colon: write PARENT:CHILD (for example patient_id:episode_id), or PARENT: without a row key", s)
	case parent == "":
		return Relationship{}, fmt.Errorf("relationship %q has no parent column: write PARENT:CHILD (for example patient_id:episode_id)", s)
	case strings.Contains(child, ":"):
		return Relationship{}, fmt.Errorf("relationship %q has more than one colon: write PARENT:CHILD", s)
	case parent == child:
		return Relationship{}, fmt.Errorf("relationship %q names the same column twice: the child is the row key, a different column from the parent", s)
	}
	return Relationship{Parent: parent, Child: child}, nil
}

// Progress reports how far a scrape has read.
type Progress struct {
	Input       string // the file being read
	Done, Total int64  // bytes over all inputs
}

// Options configure a scrape.
type Options struct {
	Inputs        []string
	IDColumns     []string // always identifiers, in any table that has them
	Exclude       []string // columns left out of the metadata entirely
	Relationships []Relationship
	// MinCount and RoundBase are k and base; zero means the default 5.
	MinCount, RoundBase int64
	Dataset             string // default: the first table's name
	HavenVersion        string
	Now                 func() time.Time // default time.Now
	// Progress, when set, is called after each batch.
	Progress func(Progress)
}

// TableSummary describes one released table for people.
type TableSummary struct {
	Name   string         `json:"name"`
	Input  string         `json:"input"`
	RowsN  int64          `json:"rows_n"`
	Fields []FieldSummary `json:"fields"`
}

// Result is a scrape's metadata and its summary.
type Result struct {
	Document *meta.Document
	Tables   []TableSummary
}

func invalid(format string, args ...any) error { return haven.Errorf(haven.EINVALID, format, args...) }

// Run scrapes every input into one metadata document. Problems with the
// inputs or options are haven.EINVALID errors saying what to fix.
func Run(ctx context.Context, o Options) (*Result, error) {
	if len(o.Inputs) == 0 {
		return nil, invalid("no input files: give at least one with --input")
	}
	sdc := meta.SDC{MinCount: o.MinCount, RoundBase: o.RoundBase, PercentileMinPerBin: meta.DefaultSDC.PercentileMinPerBin, DatePolicy: "coarsen"}
	if sdc.MinCount == 0 {
		sdc.MinCount = meta.DefaultSDC.MinCount
	}
	if sdc.RoundBase == 0 {
		sdc.RoundBase = meta.DefaultSDC.RoundBase
	}
	if err := sdc.Validate(); err != nil {
		return nil, invalid("%v", err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}

	// Read every header first, so a mistake in the options is reported
	// before hours of reading.
	type input struct {
		path, name string
		cols       []string
		kinds      []records.Kind
		size       int64
	}
	var inputs []input
	byName := map[string]string{}
	var total int64
	for _, p := range o.Inputs {
		rd, err := records.Open(p)
		if err != nil {
			return nil, inputError(err)
		}
		in := input{path: p, name: records.TableName(p), cols: rd.Columns(), kinds: rd.Kinds(), size: rd.Size()}
		rd.Close()
		if prev, ok := byName[in.name]; ok {
			return nil, invalid("%s and %s would both be table %q: rename one of the files (a table is named after its file)", prev, p, in.name)
		}
		byName[in.name] = p
		if err := checkNames(p, in.cols); err != nil {
			return nil, err
		}
		inputs = append(inputs, in)
		total += in.size
	}
	has := func(cols []string, name string) bool {
		for _, c := range cols {
			if c == name {
				return true
			}
		}
		return false
	}
	anyHas := func(name string) bool {
		for _, in := range inputs {
			if has(in.cols, name) {
				return true
			}
		}
		return false
	}
	for _, n := range o.IDColumns {
		if !anyHas(n) {
			return nil, invalid("--id-columns names %q, which no input has: check the spelling (column names are case-sensitive)", n)
		}
	}
	for _, n := range o.Exclude {
		if !anyHas(n) {
			return nil, invalid("--exclude names %q, which no input has: check the spelling (column names are case-sensitive)", n)
		}
	}
	for _, r := range o.Relationships {
		if !anyHas(r.Parent) {
			return nil, invalid("--relationship %s:%s: no input has the parent column %q; check the spelling (column names are case-sensitive)", r.Parent, r.Child, r.Parent)
		}
		if r.Child != "" {
			found := false
			for _, in := range inputs {
				if has(in.cols, r.Parent) && has(in.cols, r.Child) {
					found = true
				}
			}
			if !found {
				return nil, invalid("--relationship %s:%s: no input has both %q and %q; check the spelling, or write %s: for a relationship without a row key", r.Parent, r.Child, r.Parent, r.Child, r.Parent)
			}
		}
		for _, x := range o.Exclude {
			if x == r.Parent || x == r.Child {
				return nil, invalid("column %q is both excluded and part of --relationship %s:%s: drop one of the two", x, r.Parent, r.Child)
			}
		}
	}

	doc := &meta.Document{Schema: meta.SchemaV1, SDC: sdc, Dataset: o.Dataset}
	if doc.Dataset == "" {
		doc.Dataset = inputs[0].name
	}
	res := &Result{Document: doc}
	sketched := false
	var done int64
	for _, in := range inputs {
		t, sum, sk, err := scrapeTable(ctx, in.path, in.name, sdc, o, func(off int64) {
			if o.Progress != nil {
				o.Progress(Progress{Input: in.path, Done: done + off, Total: total})
			}
		})
		if err != nil {
			return nil, err
		}
		done += in.size
		sketched = sketched || sk
		doc.Tables = append(doc.Tables, t)
		res.Tables = append(res.Tables, sum)
		doc.Scrape.Inputs = append(doc.Scrape.Inputs, filepath.Base(in.path))
	}
	doc.Scrape.HavenVersion = o.HavenVersion
	doc.Scrape.ScrapedAt = now().UTC().Format(time.RFC3339)
	doc.Scrape.Percentiles = "exact"
	if sketched {
		doc.Scrape.Percentiles = "sketch"
	}
	return res, nil
}

// checkNames refuses empty and repeated column names: each becomes a
// field, named in the metadata.
func checkNames(path string, cols []string) error {
	seen := map[string]int{}
	for i, c := range cols {
		if c == "" {
			return invalid("%s: column %d has no name in the header: give every column a name", path, i+1)
		}
		if j, ok := seen[c]; ok {
			return invalid("%s: column name %q appears twice (columns %d and %d): rename one", path, c, j+1, i+1)
		}
		seen[c] = i
	}
	return nil
}

// inputError turns a reader's complaint about a file into an invalid-input
// error; anything else stays internal.
func inputError(err error) error {
	var re *records.Error
	if errors.As(err, &re) {
		return &haven.Error{Code: haven.EINVALID, Message: re.Error()}
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return &haven.Error{Code: haven.EINVALID, Message: err.Error()}
	}
	return err
}

func scrapeTable(ctx context.Context, path, name string, sdc meta.SDC, o Options, progress func(int64)) (meta.Table, TableSummary, bool, error) {
	rd, err := records.Open(path)
	if err != nil {
		return meta.Table{}, TableSummary{}, false, inputError(err)
	}
	defer rd.Close()
	names := rd.Columns()
	kinds := rd.Kinds()
	roles := make([]role, len(names))
	excluded := make([]bool, len(names))
	var rels []Relationship
	for i, n := range names {
		switch {
		case contains(o.Exclude, n):
			excluded[i] = true
		case contains(o.IDColumns, n), isKnownIdentifier(n):
			roles[i] = roleID
		}
	}
	for _, r := range o.Relationships {
		pi := indexOf(names, r.Parent)
		if pi < 0 {
			continue
		}
		roles[pi] = roleParent
		rel := Relationship{Parent: r.Parent}
		if ci := indexOf(names, r.Child); ci >= 0 && r.Child != "" {
			if roles[ci] != roleParent {
				roles[ci] = roleChild
			}
			rel.Child = r.Child
		}
		rels = append(rels, rel)
	}
	cols := make([]*column, len(names))
	for i, n := range names {
		if !excluded[i] {
			cols[i] = newColumn(n, kinds[i], roles[i])
		}
	}
	var rows int64
	for {
		if err := ctx.Err(); err != nil {
			return meta.Table{}, TableSummary{}, false, err
		}
		b, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return meta.Table{}, TableSummary{}, false, inputError(err)
		}
		for i, c := range cols {
			if c != nil {
				c.add(&b.Cols[i], b.Len)
			}
		}
		rows += int64(b.Len)
		progress(rd.Offset())
	}
	progress(rd.Size())

	t := meta.Table{Name: name, Fields: []meta.Field{}}
	t.RowsN, _ = sdc.Control(rows)
	sum := TableSummary{Name: name, Input: filepath.Base(path), RowsN: t.RowsN}
	sketched := false
	for _, c := range cols {
		if c == nil {
			continue
		}
		d := c.decide(sdc)
		d.sum.Name, d.sum.Type = d.field.Name, d.field.Type
		if t.RowsN > 0 {
			d.sum.NullRate = float64(d.field.NullN) / float64(t.RowsN)
		}
		sketched = sketched || d.sketch
		t.Fields = append(t.Fields, d.field)
		sum.Fields = append(sum.Fields, d.sum)
	}
	for i, r := range rels {
		c := cols[indexOf(names, r.Parent)]
		bins, maxChildren := Cardinalities(entityHistogram(c.ent), sdc)
		t.Relationships = append(t.Relationships, meta.Relationship{Parent: r.Parent, Child: r.Child, Cardinalities: bins, MaxChildren: maxChildren})
		if i == 0 {
			t.EntityKey, t.RowKey = r.Parent, r.Child
		}
	}
	return t, sum, sketched, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// entityHistogram counts entities by their number of rows.
func entityHistogram(ent map[uint64]uint32) map[int]int64 {
	h := map[int]int64{}
	for _, n := range ent {
		h[int(n)]++
	}
	return h
}

// Cardinalities builds the disclosure-controlled histogram of rows per
// entity from hist (rows -> entities), spec 3.7: walking down from the
// largest cardinality, raw entity counts accumulate until they reach k and
// that total is the open top bin "Min or more" (Max 0); below it, a bin
// whose raw count is under k merges into the next lower cardinality, and a
// remainder under k at the bottom merges into the lowest bin made. Counts
// are rounded last. It returns the bins ascending and the top bin's Min
// (max_children); no bins when fewer than k entities exist.
func Cardinalities(hist map[int]int64, sdc meta.SDC) ([]meta.CardBin, int) {
	cards := make([]int, 0, len(hist))
	for c, n := range hist {
		if c > 0 && n > 0 {
			cards = append(cards, c)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(cards)))
	k := sdc.MinCount
	i := 0
	var acc int64
	for i < len(cards) && acc < k {
		acc += hist[cards[i]]
		i++
	}
	if acc < k {
		return nil, 0
	}
	type bin struct {
		min, max int
		n        int64
	}
	top := bin{min: cards[i-1], n: acc}
	var below []bin // descending
	hi := -1
	acc = 0
	lo := 0
	for ; i < len(cards); i++ {
		if hi < 0 {
			hi = cards[i]
		}
		lo = cards[i]
		acc += hist[cards[i]]
		if acc >= k {
			below = append(below, bin{lo, hi, acc})
			hi, acc = -1, 0
		}
	}
	if acc > 0 {
		if len(below) > 0 {
			b := &below[len(below)-1]
			b.min = lo
			b.n += acc
		} else {
			top.min = lo
			top.n += acc
		}
	}
	var out []meta.CardBin
	for j := len(below) - 1; j >= 0; j-- {
		n, _ := sdc.Control(below[j].n)
		out = append(out, meta.CardBin{Min: below[j].min, Max: below[j].max, N: n})
	}
	n, _ := sdc.Control(top.n)
	out = append(out, meta.CardBin{Min: top.min, N: n})
	return out, top.min
}
