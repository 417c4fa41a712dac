package expect

import (
	"fmt"
	calendar "github.com/haven-tre/haven/internal/artificial/civil"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Date expression names with a meaning of their own; any other name is a
// column reference.
const (
	NameIndexDate = "index_date"
	NameToday     = "today"
)

// dateFunctions are the functions a date expression may apply to its name,
// in documentation order.
var dateFunctions = []string{
	"first_day_of_month", "last_day_of_month",
	"first_day_of_year", "last_day_of_year",
	"first_day_of_nhs_financial_year", "last_day_of_nhs_financial_year",
	"first_day_of_school_year", "last_day_of_school_year",
}

// dateUnits maps the units an expression may use to their canonical form.
var dateUnits = map[string]string{
	"day": "day", "days": "day",
	"month": "month", "months": "month",
	"year": "year", "years": "year",
}

// maxQuantity bounds the number in "index_date + N unit": anything larger
// leaves the years 1 to 9999 whatever the unit.
const maxQuantity = 4_000_000

// DateExpr is a parsed date: either a fixed ISO date or an expression
// `[function(] name [)] [(+|-) quantity unit]` (spec 7.4).
type DateExpr struct {
	text     string
	fixed    bool
	y, m, d  int // the date when fixed
	function string
	name     string
	delta    int    // signed quantity
	unit     string // "day", "month" or "year"; "" without arithmetic
}

// String returns the expression as it was written.
func (e DateExpr) String() string { return e.text }

// IsFixed reports whether the expression is a plain ISO date.
func (e DateExpr) IsFixed() bool { return e.fixed }

// Name returns the name the expression starts from (index_date, today or a
// column name), or "" for a fixed date.
func (e DateExpr) Name() string { return e.name }

// Column returns the column an expression refers to, or "" when it is a
// fixed date or starts from index_date or today.
func (e DateExpr) Column() string {
	if e.fixed || e.name == NameIndexDate || e.name == NameToday {
		return ""
	}
	return e.name
}

// exprHelp is the fix appended to every parse error.
const exprHelp = `write YYYY-MM-DD (e.g. 2021-03-31), index_date, today, or an expression such as "first_day_of_month(index_date) - 1 year"`

// ParseDateExpr parses a date or date expression. Spaces are ignored. A
// string that does not start with a letter must be an ISO YYYY-MM-DD date.
// Function names and units are checked here; names are not (a name other
// than index_date and today is taken as a column reference, which the
// caller checks against the study's columns).
func ParseDateExpr(s string) (DateExpr, error) {
	src := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	e := DateExpr{text: s}
	if src == "" {
		return e, fmt.Errorf("empty date: %s", exprHelp)
	}
	if !isLetter(src[0]) {
		y, m, d, err := parseISO(src)
		if err != nil {
			return e, fmt.Errorf("%q %v", s, err)
		}
		e.fixed, e.y, e.m, e.d = true, y, m, d
		return e, nil
	}
	p := &exprParser{src: src}
	first := p.ident()
	if p.peek() == '(' {
		p.pos++
		e.function = first
		e.name = p.ident()
		if e.name == "" {
			return e, fmt.Errorf("%q: expected a name (index_date, today or a column) inside %s(...); %s", s, first, exprHelp)
		}
		if p.peek() != ')' {
			return e, fmt.Errorf("%q: missing ')' after %s(%s; %s", s, first, e.name, exprHelp)
		}
		p.pos++
	} else {
		e.name = first
		if p.peek() == ')' {
			return e, fmt.Errorf("%q: ')' without a matching '('; %s", s, exprHelp)
		}
	}
	if e.function != "" && !knownFunction(e.function) {
		return e, fmt.Errorf("%q: unknown date function %q (allowed are %s)", s, e.function, strings.Join(dateFunctions, ", "))
	}
	if p.done() {
		return e, nil
	}
	sign := p.peek()
	if sign != '+' && sign != '-' {
		return e, fmt.Errorf("%q: unexpected %q after %q; %s", s, src[p.pos:], src[:p.pos], exprHelp)
	}
	p.pos++
	digits := p.digits()
	if digits == "" {
		return e, fmt.Errorf("%q: expected a whole number after %q (e.g. %s %c 1 month)", s, string(sign), src[:p.pos-1], sign)
	}
	q, err := strconv.Atoi(digits)
	if err != nil || q > maxQuantity {
		return e, fmt.Errorf("%q: %s is too large a quantity (at most %d)", s, digits, maxQuantity)
	}
	unit := p.ident()
	if unit == "" {
		return e, fmt.Errorf("%q: missing unit after %s; write days, months or years (e.g. %s %c %s months)", s, digits, src[:p.pos-len(digits)-1], sign, digits)
	}
	canon, ok := dateUnits[unit]
	if !ok {
		return e, fmt.Errorf("%q: unknown date unit %q (allowed are day, days, month, months, year, years)", s, unit)
	}
	if !p.done() {
		return e, fmt.Errorf("%q: unexpected %q at the end; %s", s, src[p.pos:], exprHelp)
	}
	e.unit = canon
	e.delta = q
	if sign == '-' {
		e.delta = -q
	}
	return e, nil
}

// Resolve evaluates the expression. index is the study's index date (its
// calendar date in its own location), used when hasIndex; today is the run's
// pinned current date. Column references cannot be resolved here and are an
// error, as is arithmetic that lands on a day that does not exist.
func (e DateExpr) Resolve(index time.Time, hasIndex bool, today time.Time) (time.Time, error) {
	if e.fixed {
		return civil(e.y, e.m, e.d), nil
	}
	var y, m, d int
	switch e.name {
	case NameIndexDate:
		if !hasIndex {
			return time.Time{}, fmt.Errorf("%q uses index_date, but the study has no index date: set index_date in the study definition, or run with --index-date-range", e.text)
		}
		y, m, d = dateOf(index)
	case NameToday:
		y, m, d = dateOf(today)
	default:
		return time.Time{}, fmt.Errorf("%q refers to column %q, whose value is not known here: use a fixed date (YYYY-MM-DD), index_date or today", e.text, e.name)
	}
	switch e.function {
	case "first_day_of_month":
		d = 1
	case "last_day_of_month":
		d = daysInMonth(y, m)
	case "first_day_of_year":
		m, d = 1, 1
	case "last_day_of_year":
		m, d = 12, 31
	case "first_day_of_nhs_financial_year": // 1 April to 31 March
		if m < 4 {
			y--
		}
		m, d = 4, 1
	case "last_day_of_nhs_financial_year":
		if m >= 4 {
			y++
		}
		m, d = 3, 31
	case "first_day_of_school_year": // 1 September to 31 August
		if m < 9 {
			y--
		}
		m, d = 9, 1
	case "last_day_of_school_year":
		if m >= 9 {
			y++
		}
		m, d = 8, 31
	}
	switch e.unit {
	case "day":
		t := civil(y, m, d).AddDate(0, 0, e.delta)
		y, m, d = dateOf(t)
	case "month":
		months := y*12 + (m - 1) + e.delta
		ny, nm := floorDiv(months, 12), months-floorDiv(months, 12)*12+1
		if d > daysInMonth(ny, nm) {
			return time.Time{}, fmt.Errorf("%q: no such date %d %s %d (%s); use last_day_of_month(...) or a day that every month has", e.text, d, time.Month(nm), ny, e.arith(y, m, d))
		}
		y, m = ny, nm
	case "year":
		ny := y + e.delta
		if d > daysInMonth(ny, m) {
			return time.Time{}, fmt.Errorf("%q: no such date %d %s %d (%s); count from 28 February or 1 March instead", e.text, d, time.Month(m), ny, e.arith(y, m, d))
		}
		y = ny
	}
	if y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("%q gives a date in the year %d, outside 1 to 9999", e.text, y)
	}
	return civil(y, m, d), nil
}

// arith describes the arithmetic that failed, e.g. "31 January 2021 + 1 month".
func (e DateExpr) arith(y, m, d int) string {
	sign, q := '+', e.delta
	if q < 0 {
		sign, q = '-', -q
	}
	unit := e.unit
	if q != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s %d %c %d %s", d, time.Month(m), y, sign, q, unit)
}

type exprParser struct {
	src string
	pos int
}

func (p *exprParser) done() bool { return p.pos >= len(p.src) }

func (p *exprParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.src[p.pos]
}

// ident reads a name: a letter, then letters, digits, '_' or '.'.
func (p *exprParser) ident() string {
	start := p.pos
	if p.done() || !isLetter(p.src[p.pos]) {
		return ""
	}
	p.pos++
	for !p.done() {
		c := p.src[p.pos]
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '.' {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *exprParser) digits() string {
	start := p.pos
	for !p.done() && isDigit(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func knownFunction(f string) bool {
	for _, g := range dateFunctions {
		if f == g {
			return true
		}
	}
	return false
}

// parseISO parses exactly YYYY-MM-DD and checks that the day exists. Its
// errors read after the quoted input.
func parseISO(s string) (y, m, d int, err error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[0:4]) || !allDigits(s[5:7]) || !allDigits(s[8:10]) {
		return 0, 0, 0, fmt.Errorf("is not a date or a date expression: %s", exprHelp)
	}
	y, _ = strconv.Atoi(s[0:4])
	m, _ = strconv.Atoi(s[5:7])
	d, _ = strconv.Atoi(s[8:10])
	switch {
	case y < 1:
		return 0, 0, 0, fmt.Errorf("is not a date: the year must be 0001 to 9999")
	case m < 1 || m > 12:
		return 0, 0, 0, fmt.Errorf("is not a date: the month must be 01 to 12 (the format is YYYY-MM-DD)")
	case d < 1 || d > daysInMonth(y, m):
		return 0, 0, 0, fmt.Errorf("is not a date: %s %d has %d days", time.Month(m), y, daysInMonth(y, m))
	}
	return y, m, d, nil
}

// ParseISODate parses a strict YYYY-MM-DD date to UTC midnight.
func ParseISODate(s string) (time.Time, error) {
	y, m, d, err := parseISO(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q %v", s, err)
	}
	return civil(y, m, d), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// civil returns UTC midnight of a calendar date.
func civil(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

// dateOf returns the calendar date of t in its own location.
func dateOf(t time.Time) (int, int, int) {
	y, m, d := t.Date()
	return y, int(m), d
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// epochDays is the number of days from 1970-01-01 to the calendar date of t
// (in t's own location), the frame package's date representation.
func epochDays(t time.Time) int64 {
	y, m, d := dateOf(t)
	return civil(y, m, d).Unix() / 86400
}

// fromEpochDays is the inverse of epochDays, at UTC midnight.
func fromEpochDays(days int64) time.Time { return time.Unix(days*86400, 0).UTC() }

// isoDate formats a date as YYYY-MM-DD.
func isoDate(t time.Time) string { return t.Format("2006-01-02") }

func daysInMonth(y, m int) int { return calendar.DaysInMonth(int64(y), m) }
