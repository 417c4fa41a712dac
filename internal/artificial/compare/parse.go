package compare

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// Cells of a batch are only read while the batch is current, so parsers
// look at them through a string header without copying. Nothing below
// keeps such a string: strconv copies the text it puts in an error.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Days are bounded to years 0001-9999 so that a day count fits any
// table of days and every accepted day prints as YYYY-MM-DD.
var (
	minDay = int64(meta.DaysFromCivil(1, 1, 1))
	maxDay = int64(meta.DaysFromCivil(9999, 12, 31))
)

func dayInRange(d int64) bool { return minDay <= d && d <= maxDay }

// parseISODay parses "YYYY-MM-DD" strictly (a real calendar day).
func parseISODay(b []byte) (int64, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := num(b[0:4])
	m, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 || d > meta.DaysInMonth(y, m) {
		return 0, false
	}
	return int64(meta.DaysFromCivil(y, m, d)), true
}

// parseISODatetime parses "YYYY-MM-DD" followed by sep and "hh:mm:ss",
// returning seconds since 1970-01-01T00:00:00Z.
func parseISODatetime(b []byte, sep byte) (int64, bool) {
	if len(b) != 19 || b[10] != sep || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	day, ok := parseISODay(b[:10])
	if !ok {
		return 0, false
	}
	h, ok1 := num(b[11:13])
	mi, ok2 := num(b[14:16])
	s, ok3 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	return day*86400 + int64(h*3600+mi*60+s), true
}

// num reads a run of ASCII digits.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// timeParser turns the text of a date or datetime cell into seconds since
// the epoch (dates: midnight), by the field's Go layout. ISO layouts take
// a fast path; other layouts go through time.Parse, and for dates the
// answers are remembered (a date column repeats a few thousand days).
type timeParser struct {
	layout   string
	datetime bool
	fast     byte // 0: none; 'd': ISO date; 'T' or ' ': ISO datetime with that separator
	cache    map[string]int64
}

// maxDateCache bounds the remembered date strings of one column.
const maxDateCache = 1 << 16

func newTimeParser(layout string, datetime bool) *timeParser {
	p := &timeParser{layout: layout, datetime: datetime}
	switch {
	case !datetime && (layout == "" || layout == "2006-01-02"):
		p.fast = 'd'
	case datetime && (layout == "" || layout == "2006-01-02T15:04:05"):
		p.layout, p.fast = "2006-01-02T15:04:05", 'T'
	case datetime && layout == "2006-01-02 15:04:05":
		p.fast = ' '
	}
	if p.layout == "" {
		p.layout = "2006-01-02"
	}
	if !datetime && p.fast == 0 {
		p.cache = map[string]int64{}
	}
	return p
}

// seconds parses b; ok is false when b is not a time in the layout.
func (p *timeParser) seconds(b []byte) (int64, bool) {
	switch p.fast {
	case 'd':
		if d, ok := parseISODay(b); ok {
			return d * 86400, true
		}
	case 'T', ' ':
		if s, ok := parseISODatetime(b, p.fast); ok {
			return s, true
		}
		// A date alone, or a datetime with the other separator, is
		// still a readable datetime.
		if d, ok := parseISODay(b); ok {
			return d * 86400, true
		}
		other := byte('T')
		if p.fast == 'T' {
			other = ' '
		}
		if s, ok := parseISODatetime(b, other); ok {
			return s, true
		}
	}
	if p.cache != nil {
		if s, ok := p.cache[view(b)]; ok {
			return s, s != math.MinInt64
		}
	}
	// The layout's own reading, which is more lenient than the fast
	// paths (an hour of one digit, for one).
	t, err := time.Parse(p.layout, view(b))
	s, ok := t.Unix(), err == nil && t.Year() >= 1
	if !ok {
		s = math.MinInt64
	}
	if p.cache != nil && len(p.cache) < maxDateCache {
		p.cache[string(b)] = s
	}
	return s, ok
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// parseInt reads a decimal integer with an optional sign.
func parseInt(b []byte) (int64, bool) {
	v, err := strconv.ParseInt(view(b), 10, 64)
	return v, err == nil
}

// parseFloat reads a finite decimal number.
func parseFloat(b []byte) (float64, bool) {
	v, err := strconv.ParseFloat(view(b), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// boolToken reads the boolean tokens the generator and the scraper know:
// 1/0, true/false, t/f, y/n, yes/no, in any case.
func boolToken(s string) (truth, ok bool) {
	switch strings.ToLower(s) {
	case "1", "true", "t", "y", "yes":
		return true, true
	case "0", "false", "f", "n", "no":
		return false, true
	}
	return false, false
}
