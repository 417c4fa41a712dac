package datasetreport

import "strconv"

// Disclosure control, as upstream applies it: a count is rounded to the
// nearest multiple of roundBase, and the rounded count is then withheld
// if it is at most threshold. Raw counts 0 to 7 are therefore never shown
// (they round to 0 or 5), 8 to 12 are shown as 10, and so on.
const (
	roundBase = 5
	threshold = 5
)

// redacted is how a withheld count is written in a report.
const redacted = "[REDACTED]"

// ruleText describes the rule in the report itself.
const ruleText = "Every count in this report is rounded to the nearest 5; a rounded count of 5 or less is then withheld and shown as " +
	redacted + ". Percentages are computed from the rounded counts. The number of columns is not a count of records and is shown exactly."

// control applies the disclosure rule to a raw count of records: the
// released count, and whether it may be shown at all.
func control(raw int64) (int64, bool) {
	if raw < 0 {
		return 0, false
	}
	// Integers never fall exactly half way between two multiples of 5,
	// so the rounding direction of ties does not arise.
	r := (raw + roundBase/2) / roundBase * roundBase
	if r <= threshold {
		return 0, false
	}
	return r, true
}

// controlled is a count after disclosure control.
type controlled struct {
	n  int64
	ok bool
}

func ctl(raw int64) controlled {
	n, ok := control(raw)
	return controlled{n, ok}
}

// String is the count as a report shows it.
func (c controlled) String() string {
	if !c.ok {
		return redacted
	}
	return groupDigits(c.n)
}

// percentOf is c as a percentage of total, both controlled; a dash when
// either is withheld.
func (c controlled) percentOf(total controlled) string {
	if !c.ok || !total.ok || total.n == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(c.n)/float64(total.n), 'f', 1, 64) + "%"
}

// groupDigits writes n with thousands separators: 1234567 is "1,234,567".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
