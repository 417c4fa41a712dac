package meta

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ReviewSchemaV1 names the review report format.
const ReviewSchemaV1 = "haven.artificial.review/v1"

// Verdict is the outcome of a finding, a check or a whole review. In
// increasing severity: PASS < REVIEW (a person must look and acknowledge)
// < ERROR (the review could not be done as asked) < FAIL (a definite
// breach of the metadata contract or of disclosure control). ERROR and
// FAIL block approval.
type Verdict string

// Verdicts.
const (
	VerdictPass   Verdict = "PASS"
	VerdictReview Verdict = "REVIEW"
	VerdictError  Verdict = "ERROR"
	VerdictFail   Verdict = "FAIL"
)

func (v Verdict) severity() int {
	switch v {
	case VerdictReview:
		return 1
	case VerdictError:
		return 2
	case VerdictFail:
		return 3
	}
	return 0
}

// String returns the verdict's name.
func (v Verdict) String() string { return string(v) }

// Blocks reports whether v stops an approval (FAIL or ERROR).
func (v Verdict) Blocks() bool { return v.severity() >= 2 }

// worse returns the more severe of a and b.
func worseVerdict(a, b Verdict) Verdict {
	if b.severity() > a.severity() {
		return b
	}
	return a
}

// ReviewOptions are the reviewer's thresholds. Zero values take the
// defaults given on each field.
type ReviewOptions struct {
	// MinCount and RoundBase are review_min_count and review_round_base
	// (AM1). Zero means the document's own sdc values; a smaller value
	// than the document's is an ERROR (AM16), a larger one is a stricter
	// review.
	MinCount  int64
	RoundBase int64
	// LongValue and RareCount bound the length-outlier check AM5: only
	// values longer than LongValue characters (default 5) held by fewer
	// than RareCount records (default 100) are considered.
	LongValue int
	RareCount int64
}

// Thresholds are the values a review actually used.
type Thresholds struct {
	MinCount        int64 `json:"review_min_count"`
	RoundBase       int64 `json:"review_round_base"`
	ScrapeMinCount  int64 `json:"scrape_min_count"`
	ScrapeRoundBase int64 `json:"scrape_round_base"`
	LongValue       int   `json:"long_value"`
	RareCount       int64 `json:"rare_count"`
}

// Finding is one result of an automated check.
type Finding struct {
	Rule    string  `json:"rule"` // stable id: AM1 ... AM17
	Verdict Verdict `json:"verdict"`
	// Location is table.field[item]: the value, or what was checked
	// (null_n, a date bin, a cut-point); table[item] for a table-level
	// finding; empty for the document.
	Location string         `json:"location"`
	Table    string         `json:"table,omitempty"`
	Field    string         `json:"field,omitempty"`
	Evidence map[string]any `json:"evidence,omitempty"`
	Message  string         `json:"message"`
	Hint     string         `json:"hint,omitempty"`
}

// Key identifies a finding in an approval's acknowledgements: the rule id
// and the location, such as "AM10 apc.SEX[Female]".
func (f Finding) Key() string { return f.Rule + " " + f.Location }

// CheckResult summarises one check.
type CheckResult struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	Verdict Verdict `json:"verdict"` // the worst of its findings, PASS if none
	Checked int     `json:"checked"` // how many items the check examined
	Unit    string  `json:"unit"`    // what those items are
	Review  int     `json:"review"`  // findings by verdict
	Error   int     `json:"error"`
	Fail    int     `json:"fail"`
}

// FieldRatio is a frequency table's records-to-values ratio (AM4).
type FieldRatio struct {
	Table   string  `json:"table"`
	Field   string  `json:"field"`
	Records int64   `json:"records"` // the sum of the table's counts
	Values  int     `json:"values"`  // distinct values
	Ratio   float64 `json:"ratio"`
}

// ReviewReport is the result of Review.
type ReviewReport struct {
	Schema string `json:"schema"` // ReviewSchemaV1
	// Metadata and MetadataSHA256 name the reviewed file; Review leaves
	// them empty, its callers fill them in.
	Metadata       string     `json:"metadata,omitempty"`
	MetadataSHA256 string     `json:"metadata_sha256,omitempty"`
	Dataset        string     `json:"dataset"`
	Thresholds     Thresholds `json:"thresholds"`
	Verdict        Verdict    `json:"verdict"`
	Counts         struct {
		Review int `json:"review"`
		Error  int `json:"error"`
		Fail   int `json:"fail"`
	} `json:"counts"`
	Checks   []CheckResult `json:"checks"`
	Findings []Finding     `json:"findings"`
	// Ratios lists AM4's records-to-values ratios, ascending.
	Ratios []FieldRatio `json:"ratios"`
	// Approval is set when the review ended in an approval.
	Approval *Approval `json:"approval,omitempty"`
}

// Blocking returns the FAIL and ERROR findings, which stop an approval.
func (r *ReviewReport) Blocking() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Verdict.Blocks() {
			out = append(out, f)
		}
	}
	return out
}

// Acknowledgements returns the keys of the REVIEW findings, once each, in
// report order: what a reviewer accepts by approving.
func (r *ReviewReport) Acknowledgements() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if f.Verdict == VerdictReview && !seen[f.Key()] {
			seen[f.Key()] = true
			out = append(out, f.Key())
		}
	}
	return out
}

// checkDef describes one check; the title may use the thresholds.
type checkDef struct {
	id    string
	title func(t Thresholds) string
	unit  string
}

func fixedTitle(s string) func(Thresholds) string { return func(Thresholds) string { return s } }

// reviewChecks lists the checks in report order. AM14 (joint tables) has
// no subject in this metadata contract, which has no joints; AM15 is
// reported with the relationships of AM3.
var reviewChecks = []checkDef{
	{"AM1", func(t Thresholds) string {
		return fmt.Sprintf("released counts are at least %d and multiples of %d", t.MinCount, t.RoundBase)
	}, "counts"},
	{"AM2", fixedTitle("no excluded identifier and no identifier field carries values"), "fields"},
	{"AM3", fixedTitle("key fields and relationships name keys only"), "keys and relationships"},
	{"AM4", fixedTitle("frequency tables hold 2 or more records per value"), "frequency tables"},
	{"AM5", func(t Thresholds) string {
		return fmt.Sprintf("no length outliers among values longer than %d characters with fewer than %d records", t.LongValue, t.RareCount)
	}, "values"},
	{"AM6", fixedTitle("no NHS numbers (10 digits with a valid modulus-11 check digit)"), "strings"},
	{"AM7", fixedTitle("no e-mail addresses"), "strings"},
	{"AM8", fixedTitle("no UK postcodes"), "strings"},
	{"AM9", fixedTitle("no UK phone numbers or long identifiers"), "strings"},
	{"AM10", fixedTitle("no values of 6 or more letters only (possible names)"), "strings"},
	{"AM11", fixedTitle("no values with internal white space (possible names or addresses)"), "strings"},
	{"AM12", fixedTitle("date bins are valid, non-overlapping, aligned to their grain and within the coarsest grain"), "bins and hours"},
	{"AM13", fixedTitle("percentile cut-points are ordered, complete, rounded and supported by n_nonnull"), "continuous fields"},
	{"AM15", fixedTitle("relationship histograms are ascending, non-overlapping and top-coded"), "relationships"},
	{"AM16", fixedTitle("review thresholds are at least the scrape's"), "thresholds"},
	{"AM17", fixedTitle("every field has a known type and carries only the parts its type allows"), "fields"},
}

// patternRule is one string-pattern check and its verdicts: found in a
// frequency table (a value that many records share) or elsewhere (a
// cut-point, a date, a label a person wrote).
type patternRule struct {
	id, pattern, what string
	inFrequency       Verdict
	elsewhere         Verdict
	hint              string
}

// patternRules is the one table of the string-pattern verdicts (AM6-AM11).
// The spec makes every pattern REVIEW, since one random 10-digit string in
// eleven passes the NHS check; Haven makes a valid NHS number, an e-mail
// address and a full postcode FAIL when it is a value of a frequency
// table, because there they can only be record-level values released as a
// category. docs/artificial-data-review.md carries the same table.
var patternRules = []patternRule{
	{"AM6", PatternNHSNumber, "an NHS number with a valid check digit", VerdictFail, VerdictReview,
		"NHS numbers are record-level: exclude the field at scrape (or declare it type identifier so that new ones are generated), then scrape again"},
	{"AM7", PatternEmail, "an e-mail address", VerdictFail, VerdictReview,
		"e-mail addresses identify people: exclude the field (or declare it free_text), then scrape again"},
	{"AM8", PatternPostcode, "a UK postcode", VerdictFail, VerdictReview,
		"full postcodes are near record-level: exclude the field or coarsen it to the outward code (district) before scraping"},
	{"AM9", PatternPhone, "a UK phone number", VerdictReview, VerdictReview,
		"check whether this is a phone number; if it is, exclude the field and scrape again, else acknowledge it when approving"},
	{"AM9", PatternLongID, "a long identifier", VerdictReview, VerdictReview,
		"check whether this is a record identifier (a hospital number, a reference); if it is, exclude the field or declare it type identifier, else acknowledge it when approving"},
	{"AM10", PatternLetters, "letters only (a possible name)", VerdictReview, VerdictReview,
		"check that this is a category and not a person's name; acknowledge it when approving"},
	{"AM11", PatternWhitespace, "internal white space (a possible name or address)", VerdictReview, VerdictReview,
		"check that this is a category and not a name or an address; acknowledge it when approving"},
}

// ExcludedIdentifiers are the field names (compared without case and
// without separators) of identifiers that must never carry values in
// metadata: HES's excluded fields. Fields whose names contain nhsnumber,
// nhsno, patientid or personid are treated the same way.
var ExcludedIdentifiers = []string{
	"NHS_NUMBER", "NEWNHSNO", "TOKEN_PERSON_ID", "HESID", "MPSID", "LOPATID", "PATPATHID",
	"BOOKREFNO", "CDSUNIQUEID", "SUSRECID", "ATTENDNO", "ATTENDID", "PREFERER",
}

var identifierNameParts = []string{"nhsnumber", "nhsno", "patientid", "personid"}

// squash lower-cases name and keeps only its letters and digits.
func squashName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// IsExcludedIdentifierName reports whether name is a known identifier
// (AM2).
func IsExcludedIdentifierName(name string) bool {
	s := squashName(name)
	if s == "" {
		return false
	}
	for _, x := range ExcludedIdentifiers {
		if s == squashName(x) {
			return true
		}
	}
	for _, p := range identifierNameParts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// Review runs the automated checks on doc. It never modifies doc and never
// panics on a malformed document: what cannot be checked is a finding.
func Review(doc *Document, opts ReviewOptions) *ReviewReport {
	r := &reviewer{doc: doc, findings: map[string][]Finding{}, checked: map[string]int{}}
	if doc == nil {
		doc = &Document{}
		r.doc = doc
		r.add("AM16", VerdictError, "", "", "", "there is no metadata document to review", "give a metadata file written by 'haven data scrape'", nil)
	}
	r.thresholds(opts)
	for ti := range doc.Tables {
		t := &doc.Tables[ti]
		r.table(t)
	}
	return r.report()
}

type reviewer struct {
	doc      *Document
	th       Thresholds
	pmin     int64
	findings map[string][]Finding
	checked  map[string]int
	ratios   []FieldRatio
}

// loc formats table.field[item].
func findingLoc(table, field, item string) string {
	if table == "" && field == "" {
		return item
	}
	s := table
	if field != "" {
		s += "." + field
	}
	if item != "" {
		s += "[" + item + "]"
	}
	return s
}

// showValue makes a value safe and short for a location: quoted when it
// holds brackets, quotes or unprintable characters, cut at 60 characters.
func showValue(v string) string {
	if utf8.RuneCountInString(v) > 60 {
		rs := []rune(v)
		v = string(rs[:60]) + "…"
	}
	if v == "" {
		return `""`
	}
	if !utf8.ValidString(v) || strings.ContainsAny(v, "[]\"") || strings.IndexFunc(v, func(r rune) bool {
		return !unicode.IsPrint(r) && r != ' '
	}) >= 0 {
		return strconv.Quote(v)
	}
	return v
}

func (r *reviewer) add(id string, v Verdict, table, field, item, msg, hint string, ev map[string]any) {
	r.findings[id] = append(r.findings[id], Finding{
		Rule: id, Verdict: v, Location: findingLoc(table, field, item), Table: table, Field: field,
		Evidence: ev, Message: msg, Hint: hint,
	})
}

// thresholds resolves the review thresholds against the document's (AM16).
func (r *reviewer) thresholds(o ReviewOptions) {
	s := r.doc.SDC
	r.th = Thresholds{ScrapeMinCount: s.MinCount, ScrapeRoundBase: s.RoundBase, LongValue: o.LongValue, RareCount: o.RareCount}
	if r.th.LongValue <= 0 {
		r.th.LongValue = 5
	}
	if r.th.RareCount <= 0 {
		r.th.RareCount = 100
	}
	r.checked["AM16"] = 2
	if err := s.Validate(); err != nil {
		r.add("AM16", VerdictError, "", "", "sdc", "the metadata's disclosure control is invalid: "+err.Error(),
			"scrape the data again; the sdc block records the k and base the scrape applied", nil)
	}
	if s.PercentileMinPerBin < 0 {
		r.add("AM16", VerdictError, "", "", "sdc", fmt.Sprintf("sdc.percentile_min_per_bin is %d: it must be 0 or more", s.PercentileMinPerBin),
			"scrape the data again with a valid percentile_min_per_bin (5 is the default)", nil)
	}
	r.pmin = max(s.PercentileMinPerBin, 1)
	resolve := func(name, flag string, given, scrape int64) int64 {
		switch {
		case given == 0:
			return max(scrape, 1)
		case given < 0:
			r.add("AM16", VerdictError, "", "", name, fmt.Sprintf("%s is %d: it must be at least 1", name, given),
				fmt.Sprintf("pass %s with a value of at least the scrape's %d", flag, scrape), map[string]any{"given": given, "scrape": scrape})
		case given < scrape:
			r.add("AM16", VerdictError, "", "", name, fmt.Sprintf("%s %d is below the scrape's %d: a review may only be stricter than the scrape", name, given, scrape),
				fmt.Sprintf("pass %s %d or more, or leave it out to use the scrape's value", flag, scrape), map[string]any{"given": given, "scrape": scrape})
		default:
			return given
		}
		return max(scrape, 1)
	}
	r.th.MinCount = resolve("review_min_count", "--min-count", o.MinCount, s.MinCount)
	r.th.RoundBase = resolve("review_round_base", "--round-base", o.RoundBase, s.RoundBase)
}

func (r *reviewer) table(t *Table) {
	if t.RowsN != 0 { // 0: the table's size was itself suppressed
		r.count(t.Name, "", "rows_n", "rows_n", t.RowsN)
	}
	r.keys(t)
	for fi := range t.Fields {
		f := &t.Fields[fi]
		r.fieldCounts(t, f)
		r.identifier(t, f)
		r.ratio(t, f)
		r.lengths(t, f)
		r.scanField(t, f)
		r.dates(t, f)
		r.continuous(t, f)
		r.fieldType(t, f)
	}
	for i := range t.Relationships {
		r.relationship(t, &t.Relationships[i])
	}
	if t.Postprocess != nil {
		for _, d := range t.Postprocess.Derived {
			field := "postprocess.derived[" + d.Name + "]"
			for _, l := range d.Labels {
				r.scan(t.Name, field, l, "a label of a derived band", false, 0)
			}
			for _, x := range d.Exclude {
				r.scan(t.Name, field, x, "an excluded value of a derived count", false, 0)
			}
			if d.At != "" {
				r.scan(t.Name, field, d.At, "the date of a derived age", false, 0)
			}
			if d.Sep != "" {
				r.scan(t.Name, field, d.Sep, "the separator of a derived concatenation", false, 0)
			}
		}
	}
}

// count checks one released count (AM1).
func (r *reviewer) count(table, field, item, what string, n int64) {
	r.checked["AM1"]++
	ev := map[string]any{"count": n, "what": what}
	hint := "disclosure control drops raw counts below k and rounds survivors to a multiple of base: scrape the data again, or remove the entry"
	switch {
	case n < r.th.MinCount:
		msg := fmt.Sprintf("%s %d is below the minimum count %d", what, n, r.th.MinCount)
		if n == 0 {
			msg += " (a released 0 reveals a value that was suppressed)"
		}
		r.add("AM1", VerdictFail, table, field, item, msg, hint, ev)
	case n%r.th.RoundBase != 0:
		r.add("AM1", VerdictFail, table, field, item,
			fmt.Sprintf("%s %d is not a multiple of the rounding base %d", what, n, r.th.RoundBase), hint, ev)
	}
}

func binItem(b DateBin) string {
	if b.Start == b.End {
		return showValue(b.Start)
	}
	return showValue(b.Start + ".." + b.End)
}

func cardItem(c CardBin) string {
	switch {
	case c.Max == 0:
		return fmt.Sprintf("rows per entity %d+", c.Min)
	case c.Max == c.Min:
		return fmt.Sprintf("rows per entity %d", c.Min)
	}
	return fmt.Sprintf("rows per entity %d-%d", c.Min, c.Max)
}

func (r *reviewer) fieldCounts(t *Table, f *Field) {
	if f.NullN != 0 {
		r.count(t.Name, f.Name, "null_n", "null_n", f.NullN)
	}
	if f.NNonNull != 0 {
		r.count(t.Name, f.Name, "n_nonnull", "n_nonnull", f.NNonNull)
	}
	for _, v := range f.Values {
		r.count(t.Name, f.Name, showValue(v.V), "the count of value "+strconv.Quote(v.V), v.N)
	}
	for _, b := range f.Bins {
		r.count(t.Name, f.Name, binItem(b), "the count of date bin "+b.Start+".."+b.End, b.N)
	}
	for _, h := range f.Hours {
		r.count(t.Name, f.Name, "hour "+showValue(h.V), "the count of hour "+strconv.Quote(h.V), h.N)
	}
	if f.Text != nil {
		for _, l := range f.Text.Lengths {
			r.count(t.Name, f.Name, "length "+showValue(l.V), "the count of text length "+strconv.Quote(l.V), l.N)
		}
	}
}

// parts lists the parts of f that carry values, by their JSON names.
func valueParts(f *Field) []string {
	var p []string
	if len(f.Values) > 0 {
		p = append(p, "values")
	}
	if len(f.Bins) > 0 {
		p = append(p, "bins")
	}
	if len(f.Hours) > 0 {
		p = append(p, "hours")
	}
	if f.Continuous != nil {
		p = append(p, "continuous")
	}
	if f.Text != nil {
		p = append(p, "text")
	}
	return p
}

// identifier is AM2.
func (r *reviewer) identifier(t *Table, f *Field) {
	r.checked["AM2"]++
	p := valueParts(f)
	if len(p) == 0 {
		return
	}
	ev := map[string]any{"parts": p, "type": f.Type}
	switch {
	case f.Type == TypeIdentifier:
		r.add("AM2", VerdictFail, t.Name, f.Name, "",
			fmt.Sprintf("identifier field %s carries values (%s): no field marked identifier may carry values, only its identifier spec", f.Name, strings.Join(p, ", ")),
			"remove the "+strings.Join(p, ", ")+" of the field and scrape again; an identifier holds only {\"identifier\": {\"kind\", \"pattern\", \"scope\"}}", ev)
	case IsExcludedIdentifierName(f.Name):
		r.add("AM2", VerdictFail, t.Name, f.Name, "",
			fmt.Sprintf("field %s is a known identifier but is declared %s and carries values (%s)", f.Name, typeName(f.Type), strings.Join(p, ", ")),
			"exclude the field at scrape, or declare it type identifier so that postprocessing generates new values; then scrape again", ev)
	}
}

func typeName(t string) string {
	if t == "" {
		return "without a type"
	}
	return strconv.Quote(t)
}

// keys is AM3: key fields are identifiers; relationships name keys.
func (r *reviewer) keys(t *Table) {
	for _, k := range []struct{ role, name string }{{"entity_key", t.EntityKey}, {"row_key", t.RowKey}} {
		if k.name == "" {
			continue
		}
		r.checked["AM3"]++
		if f := t.Field(k.name); f != nil && f.Type != TypeIdentifier {
			r.add("AM3", VerdictFail, t.Name, k.name, "",
				fmt.Sprintf("%s %s is a field of type %s: key fields appear only as key names, in relationships and as identifiers", k.role, k.name, typeName(f.Type)),
				"declare the field type identifier (with a pattern, so that postprocessing generates keys) or remove it from fields, and scrape again",
				map[string]any{"role": k.role, "type": f.Type})
		}
	}
	isKey := func(name string) bool {
		if name == t.EntityKey || name == t.RowKey {
			return true
		}
		f := t.Field(name)
		return f != nil && f.Type == TypeIdentifier
	}
	for _, rel := range t.Relationships {
		r.checked["AM3"]++
		if rel.Parent == "" {
			r.add("AM3", VerdictFail, t.Name, "", "relationships", "a relationship has no parent key",
				"set parent to the table's entity_key", nil)
			continue
		}
		for _, k := range []struct{ role, name string }{{"parent", rel.Parent}, {"child", rel.Child}} {
			if k.name == "" || isKey(k.name) {
				continue
			}
			r.add("AM3", VerdictFail, t.Name, k.name, "relationship",
				fmt.Sprintf("relationship %s %s is neither the table's entity_key or row_key nor an identifier field", k.role, k.name),
				"name the table's entity key as parent (and its row key as child), declared as entity_key/row_key or as identifier fields",
				map[string]any{"role": k.role, "entity_key": t.EntityKey, "row_key": t.RowKey})
		}
	}
}

// relationship is AM15, plus the AM1 counts of the bins.
func (r *reviewer) relationship(t *Table, rel *Relationship) {
	r.checked["AM15"]++
	name := rel.Parent
	for _, c := range rel.Cardinalities {
		r.count(t.Name, name, cardItem(c), "the count of "+cardItem(c), c.N)
	}
	fail := func(item, msg, hint string, ev map[string]any) {
		if item == "" {
			item = "relationship"
		}
		r.add("AM15", VerdictFail, t.Name, name, item, msg, hint, ev)
	}
	const hint = "scrape the data again: bins ascend without overlapping, and the last one is open (max 0, meaning K or more) so that no extreme count is released"
	if len(rel.Cardinalities) == 0 {
		fail("", "the relationship has no cardinality bins", hint, nil)
		return
	}
	open := 0
	prevMax := 0
	for i, c := range rel.Cardinalities {
		item := cardItem(c)
		if c.Min < 1 {
			fail(item, fmt.Sprintf("bin %d has min %d: an entity in the table has at least 1 row", i+1, c.Min), hint, map[string]any{"min": c.Min})
		}
		if c.Max < 0 || (c.Max != 0 && c.Max < c.Min) {
			fail(item, fmt.Sprintf("bin %d has max %d below its min %d", i+1, c.Max, c.Min), hint, map[string]any{"min": c.Min, "max": c.Max})
		}
		if i > 0 && c.Min <= prevMax {
			fail(item, fmt.Sprintf("bin %d (from %d) overlaps or precedes the bin before it (up to %d): bins must ascend without overlapping", i+1, c.Min, prevMax), hint, map[string]any{"min": c.Min, "previous_max": prevMax})
		}
		if c.Max == 0 {
			open++
			if i != len(rel.Cardinalities)-1 {
				fail(item, fmt.Sprintf("bin %d is open (%d or more) but is not the last bin", i+1, c.Min), hint, nil)
			}
			prevMax = math.MaxInt
		} else {
			prevMax = max(c.Max, c.Min)
		}
	}
	top := rel.Cardinalities[len(rel.Cardinalities)-1]
	if open == 0 {
		fail("", fmt.Sprintf("the histogram is not top-coded: its last bin ends at %d, which releases the largest number of rows per entity", top.Max),
			hint, map[string]any{"top_max": top.Max})
	}
	if rel.MaxChildren < 0 || (rel.MaxChildren > 0 && top.Max == 0 && rel.MaxChildren < top.Min) {
		fail("", fmt.Sprintf("max_children %d is below the open top bin's %d", rel.MaxChildren, top.Min),
			fmt.Sprintf("set max_children to %d or more (0 means %d)", top.Min, top.Min), map[string]any{"max_children": rel.MaxChildren})
	}
}

// ratio is AM4.
func (r *reviewer) ratio(t *Table, f *Field) {
	if len(f.Values) == 0 {
		return
	}
	r.checked["AM4"]++
	var sum int64
	for _, v := range f.Values {
		sum += v.N
	}
	ratio := float64(sum) / float64(len(f.Values))
	r.ratios = append(r.ratios, FieldRatio{Table: t.Name, Field: f.Name, Records: sum, Values: len(f.Values), Ratio: ratio})
	if ratio < 2 {
		r.add("AM4", VerdictReview, t.Name, f.Name, "",
			fmt.Sprintf("%d records over %d distinct values: a ratio of %.2f, below 2, suggests an identifier-like field", sum, len(f.Values), ratio),
			"check that the field is not a record identifier; if it is, exclude it or declare it type identifier and scrape again, else acknowledge it when approving",
			map[string]any{"records": sum, "values": len(f.Values), "ratio": math.Round(ratio*100) / 100})
	}
}

// lengths is AM5: rare long values whose length is far from the field's
// median length (by at least 3 characters and half the median).
func (r *reviewer) lengths(t *Table, f *Field) {
	if len(f.Values) == 0 {
		return
	}
	ls := make([]int, len(f.Values))
	for i, v := range f.Values {
		ls[i] = utf8.RuneCountInString(v.V)
	}
	sorted := slices.Clone(ls)
	slices.Sort(sorted)
	m := len(sorted) / 2
	median := float64(sorted[m])
	if len(sorted)%2 == 0 {
		median = float64(sorted[m-1]+sorted[m]) / 2
	}
	for i, v := range f.Values {
		r.checked["AM5"]++
		l := ls[i]
		d := math.Abs(float64(l) - median)
		if l <= r.th.LongValue || v.N >= r.th.RareCount || d < 3 || d < median/2 {
			continue
		}
		r.add("AM5", VerdictReview, t.Name, f.Name, showValue(v.V),
			fmt.Sprintf("a value of %d characters held by %d records, far from the field's median length %g", l, v.N, median),
			"check that this is not free text, a name or an address; if the field holds free text, declare it free_text and scrape again, else acknowledge it when approving",
			map[string]any{"length": l, "median_length": median, "n": v.N})
	}
}

// scanField runs the pattern checks over every string form of the
// field's values.
func (r *reviewer) scanField(t *Table, f *Field) {
	for _, v := range f.Values {
		r.scan(t.Name, f.Name, v.V, "a value of the frequency table", true, v.N)
	}
	for _, h := range f.Hours {
		r.scan(t.Name, f.Name, h.V, "an hour of the day", true, h.N)
	}
	for _, b := range f.Bins {
		r.scan(t.Name, f.Name, b.Start, "the start of a date bin", false, b.N)
		if b.End != b.Start {
			r.scan(t.Name, f.Name, b.End, "the end of a date bin", false, b.N)
		}
	}
	if c := f.Continuous; c != nil {
		for i, x := range c.Cuts {
			r.scan(t.Name, f.Name, formatCut(x, c.Decimals), fmt.Sprintf("percentile cut-point %d", i+1), false, 0)
		}
		if c.Bounds != nil {
			for _, x := range c.Bounds {
				r.scan(t.Name, f.Name, formatCut(x, c.Decimals), "a declared bound", false, 0)
			}
		}
	}
	if f.Text != nil {
		for _, l := range f.Text.Lengths {
			r.scan(t.Name, f.Name, l.V, "a text length", true, l.N)
		}
	}
}

// formatCut renders a number as the generator would write it.
func formatCut(x float64, decimals int) string {
	if decimals < 0 || decimals > 15 {
		decimals = -1
	}
	return strconv.FormatFloat(x, 'f', decimals, 64)
}

// scan runs AM6-AM11 on one string.
func (r *reviewer) scan(table, field, s, source string, inFrequency bool, n int64) {
	for _, id := range []string{"AM6", "AM7", "AM8", "AM9", "AM10", "AM11"} {
		r.checked[id]++
	}
	for _, m := range ScanPatterns(s) {
		for _, pr := range patternRules {
			if pr.pattern != m.Pattern {
				continue
			}
			v := pr.elsewhere
			where := source
			if inFrequency {
				v = pr.inFrequency
			}
			msg := fmt.Sprintf("%s in %s", pr.what, where)
			if m.Text != strings.TrimSpace(s) {
				msg += fmt.Sprintf(" (%s)", strconv.Quote(m.Text))
			}
			ev := map[string]any{"pattern": pr.pattern, "match": m.Text, "source": source}
			if n > 0 {
				msg += fmt.Sprintf(", held by %d records", n)
				ev["n"] = n
			}
			r.add(pr.id, v, table, field, showValue(s), msg, pr.hint, ev)
		}
	}
}

// binDateLayout is the layout of date bin bounds.
const binDateLayout = "2006-01-02"

func grainPos(g string) int { return slices.Index(Grains, g) }

// lastOfMonth returns the last day of d's month.
func monthEnd(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC)
}

// aligned reports whether [s, e] is one bin of grain g, and describes
// the bin that s would start.
func grainAligned(g string, s, e time.Time) (bool, string) {
	switch g {
	case GrainDay:
		return s.Equal(e), "a day bin starts and ends on the same day"
	case GrainWeek:
		d := s.Day()
		want := s.AddDate(0, 0, 6)
		if d == 29 {
			want = monthEnd(s)
		}
		ok := (d == 1 || d == 8 || d == 15 || d == 22 || d == 29) && e.Equal(want)
		return ok, "weeks are month-aligned: days 1-7, 8-14, 15-21, 22-28 and 29 to the month's end"
	case GrainMonth:
		return s.Day() == 1 && e.Equal(monthEnd(s)), "a month bin runs from the 1st to the month's last day"
	case GrainQuarter:
		ok := s.Day() == 1 && (s.Month()-1)%3 == 0 && e.Equal(monthEnd(s.AddDate(0, 2, 0)))
		return ok, "a quarter bin runs from 1 January, April, July or October to the quarter's last day"
	case GrainYear:
		ok := s.Day() == 1 && s.Month() == time.January && e.Equal(time.Date(s.Year(), time.December, 31, 0, 0, 0, 0, time.UTC))
		return ok, "a year bin runs from 1 January to 31 December"
	}
	return false, ""
}

// dates is AM12.
func (r *reviewer) dates(t *Table, f *Field) {
	if len(f.Bins) == 0 && len(f.Hours) == 0 && f.CoarsestGrain == "" {
		return
	}
	const hint = "scrape the data again; bins come from the nested calendar (day, month-aligned week, month, quarter, year) and never overlap"
	coarsest := len(Grains) - 1
	if f.CoarsestGrain != "" {
		if i := grainPos(f.CoarsestGrain); i >= 0 {
			coarsest = i
		} else {
			r.add("AM12", VerdictFail, t.Name, f.Name, "coarsest_grain",
				fmt.Sprintf("coarsest_grain %q is not a grain: use one of %s", f.CoarsestGrain, strings.Join(Grains, ", ")),
				"correct coarsest_grain and scrape again", map[string]any{"coarsest_grain": f.CoarsestGrain})
		}
	}
	type span struct {
		s, e time.Time
		item string
	}
	var ok []span
	for _, b := range f.Bins {
		r.checked["AM12"]++
		item := binItem(b)
		fail := func(msg string, ev map[string]any) { r.add("AM12", VerdictFail, t.Name, f.Name, item, msg, hint, ev) }
		s, err1 := time.Parse(binDateLayout, b.Start)
		e, err2 := time.Parse(binDateLayout, b.End)
		if err1 != nil || err2 != nil {
			fail(fmt.Sprintf("bin %q..%q is not two dates YYYY-MM-DD", b.Start, b.End), map[string]any{"start": b.Start, "end": b.End})
			continue
		}
		if e.Before(s) {
			fail(fmt.Sprintf("bin %s..%s ends before it starts", b.Start, b.End), nil)
			continue
		}
		gi := grainPos(b.Grain)
		if gi < 0 {
			fail(fmt.Sprintf("bin grain %q is not a grain: use one of %s", b.Grain, strings.Join(Grains, ", ")), map[string]any{"grain": b.Grain})
		} else {
			if good, rule := grainAligned(b.Grain, s, e); !good {
				fail(fmt.Sprintf("bin %s..%s is not one %s: %s", b.Start, b.End, b.Grain, rule), map[string]any{"grain": b.Grain})
			}
			if gi > coarsest {
				fail(fmt.Sprintf("bin of grain %s is coarser than the field's coarsest_grain %s: such bins are dropped", b.Grain, f.CoarsestGrain),
					map[string]any{"grain": b.Grain, "coarsest_grain": f.CoarsestGrain})
			}
		}
		ok = append(ok, span{s, e, item})
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].s.Before(ok[j].s) })
	for i, reach := 1, 0; i < len(ok); i++ {
		// reach is the bin so far that ends last.
		if !ok[i].s.After(ok[reach].e) {
			r.add("AM12", VerdictFail, t.Name, f.Name, ok[i].item,
				fmt.Sprintf("bin %s overlaps bin %s: overlapping counts can be differenced to recover a suppressed day", ok[i].item, ok[reach].item), hint, nil)
		}
		if ok[i].e.After(ok[reach].e) {
			reach = i
		}
	}
	seen := map[int]bool{}
	for _, h := range f.Hours {
		r.checked["AM12"]++
		n, err := strconv.Atoi(h.V)
		item := "hour " + showValue(h.V)
		switch {
		case err != nil || n < 0 || n > 23:
			r.add("AM12", VerdictFail, t.Name, f.Name, item, fmt.Sprintf("hour %q is not an hour of the day 0-23", h.V), hint, nil)
		case seen[n]:
			r.add("AM12", VerdictFail, t.Name, f.Name, item, fmt.Sprintf("hour %d appears twice", n), hint, nil)
		}
		if err == nil {
			seen[n] = true
		}
	}
}

// PercentileSteps are the allowed percentile resolutions, finest first.
var PercentileSteps = []int{1, 5, 10, 25}

// CutCount returns the number of cut-points at a step: 98 at step 1 (the
// 2nd to 99th percentiles), else 100/step - 1.
func CutCount(step int) int {
	if step == 1 {
		return 98
	}
	if step <= 0 {
		return 0
	}
	return 100/step - 1
}

// continuous is AM13.
func (r *reviewer) continuous(t *Table, f *Field) {
	c := f.Continuous
	if c == nil {
		return
	}
	r.checked["AM13"]++
	fail := func(item, msg, hint string, ev map[string]any) {
		r.add("AM13", VerdictFail, t.Name, f.Name, item, msg, hint, ev)
	}
	const hint = "scrape the data again: cut-points are the percentiles at the released step, non-decreasing and rounded to decimals"
	if !slices.Contains(PercentileSteps, c.Step) {
		fail("step", fmt.Sprintf("step %d is not a percentile resolution: use 1, 5, 10 or 25", c.Step), hint, map[string]any{"step": c.Step})
	} else if want := CutCount(c.Step); len(c.Cuts) != want {
		fail("cuts", fmt.Sprintf("%d cut-points at step %d, want %d", len(c.Cuts), c.Step, want), hint,
			map[string]any{"step": c.Step, "cuts": len(c.Cuts), "want": want})
	}
	if c.Decimals < 0 || c.Decimals > 15 {
		fail("decimals", fmt.Sprintf("decimals %d is outside 0-15", c.Decimals), hint, map[string]any{"decimals": c.Decimals})
	}
	for i, x := range c.Cuts {
		item := fmt.Sprintf("cut %d", i+1)
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			fail(item, fmt.Sprintf("cut-point %d is %v, not a number", i+1, x), hint, nil)
			continue
		case i > 0 && x < c.Cuts[i-1]:
			fail(item, fmt.Sprintf("cut-point %d (%s) is below cut-point %d (%s): cut-points must not decrease",
				i+1, formatCut(x, c.Decimals), i, formatCut(c.Cuts[i-1], c.Decimals)), hint, nil)
		}
		if c.Decimals >= 0 && c.Decimals <= 15 {
			s := strconv.FormatFloat(x, 'f', c.Decimals, 64)
			back, _ := strconv.ParseFloat(s, 64)
			if math.Abs(back-x) > 1e-9*math.Max(1, math.Abs(x)) {
				fail(item, fmt.Sprintf("cut-point %d (%v) has more than %d decimals: unrounded tail cut-points can be one person's exact value",
					i+1, x, c.Decimals), hint, map[string]any{"cut": x, "decimals": c.Decimals})
			}
		}
	}
	if b := c.Bounds; b != nil && !(b[0] <= b[1]) {
		fail("bounds", fmt.Sprintf("bounds [%v, %v] are not ascending", b[0], b[1]), "declare bounds as [lowest, highest]", nil)
	}
	if len(c.Cuts) == 0 {
		return
	}
	n := f.NNonNull
	if n <= 0 {
		fail("n_nonnull", "cut-points are released without n_nonnull, so their resolution cannot be checked",
			"scrape the data again; n_nonnull is released with every continuous field", nil)
		return
	}
	if slices.Contains(PercentileSteps, c.Step) && n*int64(c.Step) < r.pmin*100 {
		finest := ""
		for _, s := range PercentileSteps {
			if n*int64(s) >= r.pmin*100 {
				finest = fmt.Sprintf("step %d", s)
				break
			}
		}
		h := "release only null_n for this field (too few values for quartiles)"
		if finest != "" {
			h = "scrape again at " + finest + " or coarser"
		}
		fail("step", fmt.Sprintf("n_nonnull %d at step %d puts %.1f records in each percentile bin, fewer than percentile_min_per_bin %d",
			n, c.Step, float64(n)*float64(c.Step)/100, r.pmin), h,
			map[string]any{"n_nonnull": n, "step": c.Step, "percentile_min_per_bin": r.pmin})
	}
}

// allowedParts lists, per type, the parts a field may carry.
var allowedParts = map[string][]string{
	TypeInteger:     {"values", "continuous"},
	TypeFloat:       {"values", "continuous"},
	TypeDate:        {"bins"},
	TypeDatetime:    {"bins", "hours"},
	TypeBoolean:     {"values"},
	TypeCategorical: {"values"},
	TypeFreeText:    {"text"},
	TypeIdentifier:  {}, // AM2 reports values on identifiers
}

// fieldType is AM17.
func (r *reviewer) fieldType(t *Table, f *Field) {
	r.checked["AM17"]++
	allowed, known := allowedParts[f.Type]
	switch {
	case f.Type == "":
		r.add("AM17", VerdictFail, t.Name, f.Name, "", "the field has no declared type",
			"declare its type in the scrape schema ("+strings.Join(Types, ", ")+") and scrape again", nil)
		return
	case !known:
		r.add("AM17", VerdictFail, t.Name, f.Name, "", fmt.Sprintf("type %q is not a field type: use one of %s", f.Type, strings.Join(Types, ", ")),
			"correct the type in the scrape schema and scrape again", map[string]any{"type": f.Type})
		return
	case f.Type == TypeIdentifier:
		return
	}
	var extra []string
	for _, p := range valueParts(f) {
		if !slices.Contains(allowed, p) {
			extra = append(extra, p)
		}
	}
	if len(extra) == 0 {
		return
	}
	ev := map[string]any{"type": f.Type, "parts": extra}
	if f.Type == TypeFreeText {
		r.add("AM17", VerdictFail, t.Name, f.Name, "",
			fmt.Sprintf("free-text field carries values (%s): metadata may hold only the shape of free text", strings.Join(extra, ", ")),
			"remove the "+strings.Join(extra, ", ")+" and scrape again; a free_text field holds only {\"text\": {...}}", ev)
		return
	}
	r.add("AM17", VerdictFail, t.Name, f.Name, "",
		fmt.Sprintf("a %s field carries %s, which its type does not use", f.Type, strings.Join(extra, ", ")),
		"scrape the data again, or correct the field's type", ev)
}

func (r *reviewer) report() *ReviewReport {
	rep := &ReviewReport{
		Schema: ReviewSchemaV1, Dataset: r.doc.Dataset, Thresholds: r.th, Verdict: VerdictPass,
		Findings: []Finding{}, Checks: []CheckResult{}, Ratios: r.ratios,
	}
	if rep.Ratios == nil {
		rep.Ratios = []FieldRatio{}
	}
	sort.SliceStable(rep.Ratios, func(i, j int) bool { return rep.Ratios[i].Ratio < rep.Ratios[j].Ratio })
	for _, c := range reviewChecks {
		cr := CheckResult{ID: c.id, Title: c.title(r.th), Verdict: VerdictPass, Checked: r.checked[c.id], Unit: c.unit}
		for _, f := range r.findings[c.id] {
			cr.Verdict = worseVerdict(cr.Verdict, f.Verdict)
			switch f.Verdict {
			case VerdictReview:
				cr.Review++
			case VerdictError:
				cr.Error++
			case VerdictFail:
				cr.Fail++
			}
			rep.Findings = append(rep.Findings, f)
		}
		rep.Counts.Review += cr.Review
		rep.Counts.Error += cr.Error
		rep.Counts.Fail += cr.Fail
		rep.Verdict = worseVerdict(rep.Verdict, cr.Verdict)
		rep.Checks = append(rep.Checks, cr)
	}
	return rep
}
