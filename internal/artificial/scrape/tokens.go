package scrape

import (
	"math"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// NullTokens are the cell texts read as null (besides the empty cell).
var NullTokens = []string{"NA", "NULL", "null", "NaN"}

// isNull reports whether a text cell is null: empty or a null token.
func isNull(b []byte) bool {
	switch len(b) {
	case 0:
		return true
	case 2, 3, 4:
		switch string(b) {
		case "NA", "NULL", "null", "NaN":
			return true
		}
	}
	return false
}

// BoolPairs are the token pairs a boolean column may use, false first. A
// column whose non-null values all come from one pair is boolean.
var BoolPairs = [][2]string{
	{"0", "1"}, {"false", "true"}, {"FALSE", "TRUE"}, {"False", "True"}, {"F", "T"}, {"N", "Y"}, {"no", "yes"},
}

// boolPair returns the pair holding every token, or -1.
func boolPair(tokens []string) int {
	if len(tokens) == 0 || len(tokens) > 2 {
		return -1
	}
	for i, p := range BoolPairs {
		ok := true
		for _, t := range tokens {
			if t != p[0] && t != p[1] {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// pow10 holds exact powers of ten for the fast decimal path.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber parses a number in the strict grammar
//
//	-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
//
// so codes with leading zeros ("007"), a leading plus sign, spaces,
// thousands separators, "inf" and "nan" are not numbers (they are text).
// isInt reports a plain integer that fits in an int64; decimals is the
// number of decimal places the text shows (for 1.5e-3, 4), at least 0.
func parseNumber(b []byte) (v float64, isInt bool, decimals int, ok bool) {
	n := len(b)
	if n == 0 {
		return 0, false, 0, false
	}
	i := 0
	neg := false
	if b[0] == '-' {
		neg = true
		i = 1
		if n == 1 {
			return 0, false, 0, false
		}
	}
	intStart := i
	if b[i] == '0' {
		i++
	} else {
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	intDigits := i - intStart
	if intDigits == 0 {
		return 0, false, 0, false
	}
	fracDigits := 0
	if i < n && b[i] == '.' {
		i++
		fs := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracDigits = i - fs
		if fracDigits == 0 {
			return 0, false, 0, false
		}
	}
	exp := 0
	hasExp := false
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		hasExp = true
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for i < n && b[i] >= '0' && b[i] <= '9' {
			if exp < 100000 {
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		if i == es {
			return 0, false, 0, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != n {
		return 0, false, 0, false
	}
	decimals = fracDigits - exp
	if decimals < 0 {
		decimals = 0
	}
	if !hasExp && fracDigits == 0 && intDigits <= 18 {
		var m int64
		for _, c := range b[intStart:] {
			m = m*10 + int64(c-'0')
		}
		if neg {
			m = -m
		}
		return float64(m), true, 0, true
	}
	if !hasExp && intDigits+fracDigits <= 15 {
		// Exact: an integer mantissa below 2^53 divided by an exact power
		// of ten is correctly rounded.
		var m int64
		for _, c := range b[intStart:] {
			if c != '.' {
				m = m*10 + int64(c-'0')
			}
		}
		f := float64(m) / pow10[fracDigits]
		if neg {
			f = -f
		}
		return f, false, decimals, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false, 0, false
	}
	if math.IsInf(f, 0) {
		return 0, false, 0, false
	}
	if !hasExp && fracDigits == 0 {
		// A long integer: still an integer when it fits an int64.
		if _, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return f, true, 0, true
		}
	}
	return f, false, decimals, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// decimalsOf is the number of decimal places of v's shortest form, for
// typed floats.
func decimalsOf(v float64) int {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	_, _, d, _ := parseNumber([]byte(s))
	return d
}

// formatNumber writes a frequency-table value: integers plainly, floats in
// their shortest form.
func formatNumber(v float64, isInt bool) string {
	if isInt && v >= -1<<63 && v < 1<<63 {
		return strconv.FormatInt(int64(v), 10)
	}
	a := math.Abs(v)
	if a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Date layouts a text column may use (Go time layouts, recorded in
// Field.Format).
const (
	LayoutISO      = "2006-01-02"
	LayoutDMY      = "02/01/2006"
	LayoutCompact  = "20060102" // only for columns named like a date
	LayoutDateTime = "2006-01-02T15:04:05"
	LayoutSpaced   = "2006-01-02 15:04:05"
)

// dateLayout is a text date layout: a base layout, and for datetimes
// whether the values end in "Z".
type dateLayout struct {
	base string
	z    bool
}

func (l dateLayout) datetime() bool {
	return l.base == LayoutDateTime || l.base == LayoutSpaced
}

// detectLayout guesses the layout of one value from its shape; the value
// may still fail to parse.
func detectLayout(b []byte, compact bool) (dateLayout, bool) {
	n := len(b)
	switch {
	case n == 10 && b[4] == '-' && b[7] == '-':
		return dateLayout{base: LayoutISO}, true
	case n == 10 && b[2] == '/' && b[5] == '/':
		return dateLayout{base: LayoutDMY}, true
	case n == 8 && compact && allDigits(b):
		return dateLayout{base: LayoutCompact}, true
	case n >= 19 && b[4] == '-' && (b[10] == 'T' || b[10] == ' '):
		base := LayoutDateTime
		if b[10] == ' ' {
			base = LayoutSpaced
		}
		return dateLayout{base: base, z: b[n-1] == 'Z'}, true
	}
	return dateLayout{}, false
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func num2(b []byte) (int, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

func num4(b []byte) (int, bool) {
	x, ok1 := num2(b[0:2])
	y, ok2 := num2(b[2:4])
	return x*100 + y, ok1 && ok2
}

// parseDate parses b in layout l: the day number, the hour for datetimes,
// and whether a fraction of a second was present.
func parseDate(l dateLayout, b []byte) (day int32, hour int, frac bool, ok bool) {
	var y, m, d int
	var ok1, ok2, ok3 bool
	switch l.base {
	case LayoutISO:
		if len(b) != 10 || b[4] != '-' || b[7] != '-' {
			return 0, 0, false, false
		}
		y, ok1 = num4(b[0:4])
		m, ok2 = num2(b[5:7])
		d, ok3 = num2(b[8:10])
	case LayoutDMY:
		if len(b) != 10 || b[2] != '/' || b[5] != '/' {
			return 0, 0, false, false
		}
		d, ok1 = num2(b[0:2])
		m, ok2 = num2(b[3:5])
		y, ok3 = num4(b[6:10])
	case LayoutCompact:
		if len(b) != 8 {
			return 0, 0, false, false
		}
		y, ok1 = num4(b[0:4])
		m, ok2 = num2(b[4:6])
		d, ok3 = num2(b[6:8])
	case LayoutDateTime, LayoutSpaced:
		sep := byte('T')
		if l.base == LayoutSpaced {
			sep = ' '
		}
		n := len(b)
		if l.z {
			if n == 0 || b[n-1] != 'Z' {
				return 0, 0, false, false
			}
			n--
		}
		if n < 19 || b[4] != '-' || b[7] != '-' || b[10] != sep || b[13] != ':' || b[16] != ':' {
			return 0, 0, false, false
		}
		y, ok1 = num4(b[0:4])
		m, ok2 = num2(b[5:7])
		d, ok3 = num2(b[8:10])
		hh, okh := num2(b[11:13])
		mm, okm := num2(b[14:16])
		ss, oks := num2(b[17:19])
		if !okh || !okm || !oks || hh > 23 || mm > 59 || ss > 59 {
			return 0, 0, false, false
		}
		if n > 19 {
			if b[19] != '.' || n == 20 || n > 29 || !allDigits(b[20:n]) {
				return 0, 0, false, false
			}
			frac = true
		}
		hour = hh
	default:
		return 0, 0, false, false
	}
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 || d > meta.DaysInMonth(y, m) {
		return 0, 0, false, false
	}
	return meta.DaysFromCivil(y, m, d), hour, frac, true
}

// format is the Go layout recorded for values of this layout.
func (l dateLayout) format(frac bool) string {
	f := l.base
	if l.datetime() {
		if frac {
			f += ".999999999"
		}
		if l.z {
			f += "Z"
		}
	}
	return f
}

// nameSaysDate reports whether a column name suggests dates, which lets
// 8-digit numbers be read as YYYYMMDD.
func nameSaysDate(name string) bool {
	l := strings.ToLower(name)
	return strings.Contains(l, "date") || strings.Contains(l, "dob")
}
