package disclosure

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Class is what a column holds.
type Class string

const (
	ClassLabel       Class = "label"
	ClassKey         Class = "key"
	ClassCount       Class = "count"
	ClassDenominator Class = "denominator"
	ClassRate        Class = "rate"
	ClassPercent     Class = "percent"
	ClassMean        Class = "mean"
	ClassMedian      Class = "median"
	ClassSD          Class = "sd"
	ClassPercentile  Class = "percentile"
	ClassMin         Class = "min"
	ClassMax         Class = "max"
	ClassSum         Class = "sum"
	ClassCoef        Class = "coef"
	ClassSE          Class = "se"
	ClassCILower     Class = "ci_lower"
	ClassCIUpper     Class = "ci_upper"
	ClassStat        Class = "stat"
	ClassP           Class = "p"
	ClassDoF         Class = "dof"
	ClassN           Class = "n"
	ClassTime        Class = "time"
	ClassSurv        Class = "surv"
	ClassIdentifier  Class = "identifier"
	ClassText        Class = "text"
)

// IsCount reports whether cells of the class are counts of people.
func (c Class) IsCount() bool { return c == ClassCount || c == ClassDenominator || c == ClassN }

// IsMagnitude reports whether the class is a summary of values.
func (c Class) IsMagnitude() bool {
	switch c {
	case ClassMean, ClassMedian, ClassSD, ClassPercentile, ClassSum:
		return true
	}
	return false
}

// Confidence of a column's classification.
const (
	High   = "high"
	Medium = "medium"
	Low    = "low"
)

// Column is a classified column.
type Column struct {
	Name       string   `json:"name"`
	Index      int      `json:"-"` // 0-based
	Class      Class    `json:"class"`
	Confidence string   `json:"confidence"`
	Signals    []string `json:"signals"`
	// Midpoint6 is set for columns rounded with midpoint-6 (declared by
	// the _midpoint6 suffix); Derived for _midpoint6_derived columns.
	Midpoint6, Derived bool `json:"-"`
	// TotalOf lists the columns (0-based) this column is the row sum of.
	TotalOf []int `json:"-"`

	stats colStats
}

// headerWords splits a header into lower-case words; _, ., - and spaces
// are equivalent.
func headerWords(h string) []string {
	return strings.FieldsFunc(strings.ToLower(h), func(r rune) bool {
		return r == '_' || r == '.' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '/'
	})
}

// countWords name counts of people. Beyond the spec's list, Haven knows
// the words tables of health records use for counted people and events
// (docs/outputs.md, "Column classes").
var countWords = map[string]bool{
	"n": true, "count": true, "counts": true, "numerator": true, "population": true, "patients": true,
	"events": true, "cases": true, "deaths": true, "total": true, "freq": true, "frequency": true,
	"people": true, "persons": true, "individuals": true, "registered": true, "vaccinated": true,
	"diagnoses": true, "admissions": true, "referrals": true, "prescriptions": true, "episodes": true,
	"appointments": true, "consultations": true, "infections": true, "hospitalisations": true,
	"hospitalizations": true, "controls": true, "births": true, "participants": true, "users": true,
	"contributors": true, "records": true, "visits": true, "attendances": true, "positives": true,
	"negatives": true, "tests": true, "outcomes": true, "exposed": true, "unexposed": true,
}

var (
	rePercentile = regexp.MustCompile(`^(p\d{1,2}|q[1-3]|percentile\d*|centile\d*|iqr|lqr|uqr)$`)
	reNumPrefix  = regexp.MustCompile(`^num`)
	reProp       = regexp.MustCompile(`^prop`)
	reDate       = regexp.MustCompile(`^\d{4}(-\d{2}(-\d{2})?)?$|^\d{1,2}/\d{1,2}/\d{2,4}$`)
	reBand       = regexp.MustCompile(`^\d+\s*(-|–|to)\s*\d+$|^\d+\s*\+$|^[<>]=?\s*\d+$`)
)

// classifyHeader returns the class a header names, or "" when it names
// none, and the signal.
func classifyHeader(h string) (Class, string) {
	low := strings.ToLower(strings.TrimSpace(h))
	w := headerWords(h)
	if len(w) == 0 {
		return "", ""
	}
	has := func(words ...string) bool {
		for _, x := range w {
			for _, y := range words {
				if x == y {
					return true
				}
			}
		}
		return false
	}
	last := w[len(w)-1]
	sig := "header:" + low
	switch {
	case low == "patient_id" || low == "person_id" || low == "nhs_number" || low == "pseudo_id" || low == "patient id":
		return ClassIdentifier, sig
	case strings.HasSuffix(low, "_midpoint6_derived") || strings.HasSuffix(low, "_midpoint6"):
		return ClassCount, sig
	case has("denominator"):
		return ClassDenominator, sig
	case has("pval", "pvalue") || low == "p" || (len(w) >= 2 && w[len(w)-2] == "p" && last == "value") || low == "p value":
		return ClassP, sig
	case has("lci", "lcl") || (has("ci", "conf") && has("lower", "low", "lo", "l")) || has("lower"):
		return ClassCILower, sig
	case has("uci", "ucl") || (has("ci", "conf") && has("upper", "high", "hi", "u")) || has("upper"):
		return ClassCIUpper, sig
	case has("se", "stderr") || (has("std") && has("err", "error")):
		return ClassSE, sig
	case has("coef", "coefficient", "estimate", "beta", "or", "hr", "rr", "irr"):
		return ClassCoef, sig
	case has("df", "dof"):
		return ClassDoF, sig
	case has("z", "t", "chi2", "statistic", "stat"):
		return ClassStat, sig
	case has("rate", "pct", "percent", "percentage", "ratio", "share") || strings.Contains(low, "%") || anyWord(w, reProp):
		if has("rate", "ratio") {
			return ClassRate, sig
		}
		return ClassPercent, sig
	case has("mean", "avg", "average"):
		return ClassMean, sig
	case has("median"):
		return ClassMedian, sig
	case has("sd", "std", "stdev", "stddev"):
		return ClassSD, sig
	case has("min", "minimum"):
		return ClassMin, sig
	case has("max", "maximum"):
		return ClassMax, sig
	case rePercentile.MatchString(last):
		return ClassPercentile, sig
	case has("sum", "cost", "spend"):
		return ClassSum, sig
	case has("surv", "survival"):
		return ClassSurv, sig
	case has("time", "days", "weeks", "months", "years"):
		return ClassTime, sig
	case has("risk", "event", "censor", "censored"):
		return ClassCount, sig
	}
	for _, x := range w {
		if countWords[x] || (reNumPrefix.MatchString(x) && x != "number") && len(x) <= 8 {
			return ClassCount, sig
		}
	}
	if last == "n" || has("number") {
		return ClassCount, sig
	}
	switch last {
	case "date", "month", "year", "week", "period", "interval", "start", "end", "band", "group", "age":
		return ClassKey, sig
	}
	return "", ""
}

// colStats summarises a column's values.
type colStats struct {
	values, numbers, texts, ints, nonNegInts, redacted, missing int
	decimals                                                    bool
	distinct                                                    int
	dates, bands                                                int
	composites                                                  int // "count (pct%)" cells
	min, max                                                    float64
}

func statsOf(col []Value, allDistinct bool) colStats {
	s := colStats{min: math.Inf(1), max: math.Inf(-1)}
	// Per distinct text: how often it occurs, so that the band and date
	// checks run once per distinct value, not once per cell.
	seen := map[string]int{}
	overflow := 0
	// Labels repeat: the last few distinct ones are counted in a small
	// array first, and reach the map only when they leave it.
	var recent [8]struct {
		raw string
		n   int
	}
	next := 0
	flush := func(raw string, n int) {
		if n == 0 {
			return
		}
		if len(seen) < 1<<16 || seen[raw] > 0 {
			seen[raw] += n
		} else {
			overflow += n // past 65,536 distinct values, each new one counts as distinct
		}
	}
	for _, v := range col {
		switch v.Kind {
		case KindMissing:
			s.missing++
			continue
		case KindRedacted, KindAmbiguous, KindBound:
			s.redacted++
		case KindNumber:
			s.numbers++
			if v.HasPct {
				s.composites++
			}
			if v.IsInt() {
				s.ints++
				if v.Num >= 0 {
					s.nonNegInts++
				}
			} else {
				s.decimals = true
			}
			s.min, s.max = math.Min(s.min, v.Num), math.Max(s.max, v.Num)
		case KindText:
			s.texts++
		}
		s.values++
		if v.Kind == KindNumber && !allDistinct {
			continue // numbers are distinct-counted only for *_id columns
		}
		hit := false
		for i := range recent {
			if recent[i].n > 0 && recent[i].raw == v.Raw {
				recent[i].n++
				hit = true
				break
			}
		}
		if !hit {
			flush(recent[next].raw, recent[next].n)
			recent[next].raw, recent[next].n = v.Raw, 1
			next = (next + 1) % len(recent)
		}
	}
	for _, e := range recent {
		flush(e.raw, e.n)
	}
	s.distinct = len(seen) + overflow
	for raw, n := range seen {
		if isDateLike(raw) {
			s.dates += n
		}
		if isBand(raw) {
			if _, err := strconv.ParseFloat(raw, 64); err != nil {
				s.bands += n
			}
		}
	}
	return s
}

// classify assigns every column of a table a class and a confidence, from
// the header, the values, and relationships between columns.
func classify(t *Table, overrides map[string]Class) []Column {
	cols := make([]Column, len(t.Header))
	stats := make([]colStats, len(t.Header))
	for c, h := range t.Header {
		col := Column{Name: h, Index: c}
		st := statsOf(t.Columns[c], strings.HasSuffix(strings.ToLower(h), "_id"))
		stats[c] = st
		col.stats = st
		low := strings.ToLower(h)
		col.Midpoint6 = strings.HasSuffix(low, "_midpoint6")
		col.Derived = strings.HasSuffix(low, "_midpoint6_derived")
		if cls, ok := overrides[h]; ok {
			col.Class, col.Confidence, col.Signals = cls, High, []string{"declared in the manifest"}
			cols[c] = col
			continue
		}
		hc, sig := classifyHeader(h)
		if st.composites > 0 && 2*st.composites >= st.numbers && (hc == ClassPercent || hc == "") {
			// "6 (0.2%)": a count with its percentage.
			hc, sig = ClassCount, "count (percent) cells"
		}
		allNonNegInts := st.numbers > 0 && st.nonNegInts == st.numbers && st.texts == 0
		switch {
		case st.dates > 0 && st.dates == st.values-st.redacted && st.values > 0 && (hc == "" || hc == ClassKey):
			col.Class, col.Confidence, col.Signals = ClassKey, High, []string{"dates or periods"}
		case hc == ClassKey:
			col.Class, col.Confidence, col.Signals = ClassKey, High, []string{sig}
		case hc == ClassIdentifier:
			col.Class, col.Confidence, col.Signals = ClassIdentifier, High, []string{sig}
		case hc.IsCount():
			col.Class = hc
			col.Signals = []string{sig}
			if allNonNegInts || (st.numbers == 0 && st.redacted > 0) {
				col.Confidence = High
				col.Signals = append(col.Signals, "non-negative integers")
			} else if st.numbers > 0 && st.texts == 0 {
				col.Confidence = Medium
				col.Signals = append(col.Signals, "not all whole numbers")
			} else {
				col.Confidence = Medium
			}
		case hc != "":
			col.Class, col.Confidence, col.Signals = hc, Medium, []string{sig}
			if st.numbers > 0 && st.texts == 0 {
				col.Confidence = High
				col.Signals = append(col.Signals, "numeric values")
			}
		case st.numbers == 0 && st.texts > 0 && st.bands > 0 && st.bands == st.texts:
			col.Class, col.Confidence, col.Signals = ClassKey, High, []string{"bands"}
		case st.numbers == 0 && st.texts > 0:
			col.Class, col.Confidence, col.Signals = ClassLabel, High, []string{"text values"}
		case allNonNegInts:
			col.Class, col.Confidence, col.Signals = ClassCount, Low, []string{"non-negative integers (probable count)"}
		case st.numbers > 0 && st.texts == 0 && st.decimals && st.min >= 0 && st.max <= 100:
			col.Class, col.Confidence, col.Signals = ClassPercent, Low, []string{"decimals in [0, 100]"}
		case st.numbers > 0:
			col.Class, col.Confidence, col.Signals = ClassText, Low, []string{"numbers"}
		default:
			col.Class, col.Confidence, col.Signals = ClassText, Low, []string{"no values"}
		}
		// A *_id column with nearly unique values over many rows.
		if col.Class != ClassIdentifier && strings.HasSuffix(low, "_id") && st.values >= 50 && float64(st.distinct) >= 0.95*float64(st.values) {
			col.Class, col.Confidence, col.Signals = ClassIdentifier, High, []string{sig, "≥95% distinct values"}
		}
		cols[c] = col
	}
	inferTotalColumns(t, cols)
	return cols
}

// inferTotalColumns finds a count column equal, on every row with values,
// to the sum of two or more other count-like columns: the relationship
// confirms all of them as counts.
func inferTotalColumns(t *Table, cols []Column) {
	var cand []int
	for c, col := range cols {
		if col.Class.IsCount() {
			cand = append(cand, c)
		}
	}
	if len(cand) < 3 || t.Rows() < 1 {
		return
	}
	for _, tc := range cand {
		var parts []int
		for _, c := range cand {
			if c != tc && !strings.EqualFold(cols[c].Name, cols[tc].Name) && !cols[c].Derived {
				parts = append(parts, c)
			}
		}
		if len(parts) < 2 {
			continue
		}
		matched, checked := 0, 0
		for r := 0; r < t.Rows(); r++ {
			tot := t.Columns[tc][r]
			if tot.Kind != KindNumber {
				continue
			}
			sum, ok := 0.0, true
			for _, c := range parts {
				v := t.Columns[c][r]
				if v.Kind != KindNumber {
					ok = false
					break
				}
				sum += v.Num
			}
			if !ok {
				continue
			}
			checked++
			if math.Abs(sum-tot.Num) > 0.5 {
				break // one row that does not add up is enough
			}
			matched++
		}
		if checked > 0 && matched == checked {
			cols[tc].TotalOf = parts
			for _, c := range append(parts, tc) {
				if cols[c].Confidence != High {
					cols[c].Confidence = High
				}
				cols[c].Signals = append(cols[c].Signals, "sum relationship")
			}
			return
		}
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isDateLike matches YYYY, YYYY-MM, YYYY-MM-DD and D/M/YY(YY), as reDate
// does, without a regular expression (it runs on every cell).
func isDateLike(s string) bool {
	switch {
	case len(s) == 4:
		return allDigits(s)
	case len(s) == 7:
		return allDigits(s[:4]) && s[4] == '-' && allDigits(s[5:])
	case len(s) == 10 && s[4] == '-':
		return allDigits(s[:4]) && s[7] == '-' && allDigits(s[5:7]) && allDigits(s[8:])
	}
	if strings.Count(s, "/") == 2 && len(s) <= 10 {
		return reDate.MatchString(s)
	}
	return false
}

// isBand matches age-band-like labels (18-39, 80+, <5), as reBand does,
// calling the regular expression only for strings that start with a digit
// or a comparison.
func isBand(s string) bool {
	if s == "" || !(isDigit(s[0]) || s[0] == '<' || s[0] == '>') {
		return false
	}
	return reBand.MatchString(s)
}

func anyWord(w []string, re *regexp.Regexp) bool {
	for _, x := range w {
		if re.MatchString(x) {
			return true
		}
	}
	return false
}
