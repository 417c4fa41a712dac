package disclosure

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// xTable is one table seen by the cross-file rules: its categories (the
// label and key columns) and its count columns.
type xTable struct {
	file   int // index in Report.Files
	c      *checker
	keys   []int          // label/key column indexes
	rowOf  map[string]int // category tuple -> row
	counts map[string]int // count column header -> index
}

// keyNames joins the lower-cased names of the category columns.
func (x *xTable) keyNames() string {
	var names []string
	for _, k := range x.keys {
		names = append(names, strings.ToLower(x.c.t.Header[k]))
	}
	return strings.Join(names, "\x00")
}

// index maps each row's category tuple to the row; false when a tuple
// repeats (the table is not one row per category, so it is not compared).
func (x *xTable) index() bool {
	t := x.c.t
	x.rowOf = make(map[string]int, t.Rows())
	for row := 0; row < t.Rows(); row++ {
		var parts []string
		for _, k := range x.keys {
			parts = append(parts, strings.ToLower(t.Columns[k][row].Raw))
		}
		key := strings.Join(parts, "\x00")
		if _, ok := x.rowOf[key]; ok {
			return false
		}
		x.rowOf[key] = row
	}
	return true
}

// signature is what two tables must share to be compared: the names of
// their category columns and their set of categories.
func (x *xTable) signature() string {
	cats := make([]string, 0, len(x.rowOf))
	for k := range x.rowOf {
		cats = append(cats, k)
	}
	sort.Strings(cats)
	return x.keyNames() + "\x01" + strings.Join(cats, "\x00")
}

// crossFile applies X1 (differencing between tables of one request) and
// X3 (different rounding bases across files). Tables are grouped by their
// category signature first, so only tables that can be compared are.
func crossFile(r *Report, p *Profile) {
	bases := map[int][]string{} // rounding base -> files
	// Tables can only share a signature when they share their category
	// column names and their number of rows, so the category tuples (one
	// map entry per row) are built only for tables whose name-and-size
	// group spans two files or more.
	type shape struct {
		names string
		rows  int
	}
	var cands []*xTable
	files := map[shape]map[int]bool{}
	for fi := range r.Files {
		for _, c := range r.Files[fi].tables {
			x := &xTable{file: fi, c: c, counts: map[string]int{}}
			for ci, col := range c.cols {
				switch {
				case col.Class == ClassLabel || col.Class == ClassKey:
					x.keys = append(x.keys, ci)
				case col.Class.IsCount() && len(col.TotalOf) == 0:
					x.counts[strings.ToLower(col.Name)] = ci
					if c.rounded[ci] && !c.mp6[ci] && !p.Rounding.Required {
						b := roundingBase(c.t.Columns[ci])
						if !containsStr(bases[b], r.Files[fi].Path) {
							bases[b] = append(bases[b], r.Files[fi].Path)
						}
					}
				}
			}
			if len(x.keys) == 0 || len(x.counts) == 0 {
				continue
			}
			cands = append(cands, x)
			sh := shape{x.keyNames(), c.t.Rows()}
			if files[sh] == nil {
				files[sh] = map[int]bool{}
			}
			files[sh][fi] = true
		}
	}
	groups := map[string][]*xTable{}
	var order []string
	for _, x := range cands {
		if len(files[shape{x.keyNames(), x.c.t.Rows()}]) < 2 {
			continue
		}
		if !x.index() {
			continue
		}
		sig := x.signature()
		if _, ok := groups[sig]; !ok {
			order = append(order, sig)
		}
		groups[sig] = append(groups[sig], x)
	}
	for _, sig := range order {
		g := groups[sig]
		for i := 0; i < len(g); i++ {
			for j := 0; j < len(g); j++ {
				if i != j && g[i].file != g[j].file {
					differencing(r, p, g[i], g[j])
				}
			}
		}
	}
	if len(bases) > 1 {
		var parts []string
		var bs []int
		for b := range bases {
			bs = append(bs, b)
		}
		sort.Ints(bs)
		for _, b := range bs {
			parts = append(parts, fmt.Sprintf("base %d: %s", b, strings.Join(bases[b], ", ")))
		}
		f := Finding{Rule: "X3", Verdict: Review, Message: "files of this request are rounded to different bases (" + strings.Join(parts, "; ") + ")",
			Hint: "round every output of a request to one base"}
		r.CrossFile = append(r.CrossFile, f)
	}
	for fi := range r.Files {
		sortFindings(r.Files[fi].Findings)
		for _, f := range r.Files[fi].Findings {
			r.Files[fi].Verdict = max(r.Files[fi].Verdict, f.Verdict)
		}
	}
}

// differencing is X1 for a pair where sub's counts are cellwise at most
// all's, in every count column the two share: the differences are the
// counts of the people in all but not in sub.
func differencing(r *Report, p *Profile, all, sub *xTable) {
	T := float64(p.T())
	type cell struct {
		rowAll, rowSub int
		col            string
		lo, hi         float64
	}
	var cells []cell
	shared := 0
	for name, ca := range all.counts {
		cs, ok := sub.counts[name]
		if !ok {
			continue
		}
		shared++
		ha, hs := 0.0, 0.0
		if all.c.rounded[ca] {
			ha = float64(p.Rounding.Base / 2)
		}
		if sub.c.rounded[cs] {
			hs = float64(p.Rounding.Base / 2)
		}
		for key, ra := range all.rowOf {
			rs := sub.rowOf[key]
			va, vs := all.c.t.Columns[ca][ra], sub.c.t.Columns[cs][rs]
			if va.Kind != KindNumber || vs.Kind != KindNumber {
				continue
			}
			if vs.Num > va.Num {
				return // not a sub-population
			}
			d := va.Num - vs.Num
			cells = append(cells, cell{ra, rs, name, math.Max(0, d-ha-hs), d + ha + hs})
		}
	}
	if shared == 0 || len(cells) == 0 {
		return
	}
	sort.Slice(cells, func(i, j int) bool {
		if cells[i].rowAll != cells[j].rowAll {
			return cells[i].rowAll < cells[j].rowAll
		}
		return cells[i].col < cells[j].col
	})
	pa, ps := r.Files[all.file].Path, r.Files[sub.file].Path
	for _, c := range cells {
		var v Verdict
		switch {
		case c.lo >= 1 && c.hi <= T:
			v = Fail
		case c.hi >= 1 && c.lo <= T:
			v = Review
		default:
			continue
		}
		ca, cs := all.counts[c.col], sub.counts[c.col]
		va, vs := all.c.t.Columns[ca][c.rowAll], sub.c.t.Columns[cs][c.rowSub]
		ev := map[string]any{"difference": fmt.Sprintf("%s − %s = %g", va.Raw, vs.Raw, va.Num-vs.Num), "interval": []float64{c.lo, c.hi}, "T": p.T(), "pair": []string{pa, ps}}
		msg := fmt.Sprintf("%s and %s differ here by %g–%g people (a subgroup of a subgroup): at or below %g", pa, ps, c.lo, c.hi, T)
		hint := "round both tables to a common base, or suppress the cell in one of them"
		fa := all.c.finding("X1", v, c.rowAll, ca, msg, hint, ev)
		fa.File = pa
		fs := sub.c.finding("X1", v, c.rowSub, cs, msg, hint, ev)
		fs.File = ps
		r.Files[all.file].Findings = append(r.Files[all.file].Findings, fa)
		r.Files[sub.file].Findings = append(r.Files[sub.file].Findings, fs)
	}
}

// roundingBase is the largest of 10 and 5 that divides every non-zero
// value of a column.
func roundingBase(col []Value) int {
	all10 := true
	for _, v := range col {
		if v.Kind == KindNumber && v.Num != 0 && int64(v.Num)%10 != 0 {
			all10 = false
		}
	}
	if all10 {
		return 10
	}
	return 5
}

func containsStr(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
