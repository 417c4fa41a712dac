package frame

import (
	"github.com/haven-tre/haven/internal/artificial/civil"
	"math"
	"strconv"
	"sync"
	"time"
)

// appendCSV appends rows [0, b.Len) of b to dst as CSV: RFC 4180, "\n" line
// ends, quoting only when needed, null as an empty field.
func appendCSV(dst []byte, specs []Spec, b *Batch) []byte {
	for r := 0; r < b.Len; r++ {
		for i := range specs {
			if i > 0 {
				dst = append(dst, ',')
			}
			c := &b.Cols[i]
			if c.Valid != nil && !c.Valid[r] {
				continue
			}
			dst = AppendText(dst, &specs[i], c, r, true)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// AppendText appends the text form of row r of column c, as the CSV writer
// writes it; quote says whether to quote strings that need it.
func AppendText(dst []byte, s *Spec, c *Column, r int, quote bool) []byte {
	switch s.Kind {
	case Int:
		return strconv.AppendInt(dst, c.Ints[r], 10)
	case Float:
		return AppendFloat(dst, c.Floats[r], s.Decimals)
	case Date:
		if s.Layout == "" || s.Layout == "2006-01-02" {
			return AppendISODate(dst, c.Ints[r])
		}
		return time.Unix(c.Ints[r]*86400, 0).UTC().AppendFormat(dst, s.Layout)
	case Datetime:
		if s.Layout == "" || s.Layout == "2006-01-02T15:04:05" {
			secs := c.Ints[r]
			day := civil.FloorDiv(secs, 86400)
			dst = AppendISODate(dst, day)
			t := secs - day*86400
			dst = append(dst, 'T')
			dst = append2(dst, t/3600)
			dst = append(dst, ':')
			dst = append2(dst, t/60%60)
			dst = append(dst, ':')
			return append2(dst, t%60)
		}
		return time.Unix(c.Ints[r], 0).UTC().AppendFormat(dst, s.Layout)
	case Bool:
		if c.Ints[r] != 0 {
			if s.True == "" {
				return append(dst, '1')
			}
			return appendString(dst, s.True, quote)
		}
		if s.False == "" {
			return append(dst, '0')
		}
		return appendString(dst, s.False, quote)
	case String:
		return appendString(dst, c.Strs[r], quote && !s.Plain)
	}
	return dst
}

// appendString appends v, quoted when it holds a comma, quote or line
// break (or starts with a space, which some readers trim).
func appendString(dst []byte, v string, quote bool) []byte {
	if !quote || !needsQuote(v) {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, v[i])
	}
	return append(dst, '"')
}

func needsQuote(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == ' ' || v[len(v)-1] == ' ' {
		return true
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ',', '"', '\n', '\r':
			return true
		}
	}
	return false
}

var pow10 = [...]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// AppendFloat writes v with the given number of decimals (-1: the
// shortest form that reads back as v). Values are expected to be rounded
// to the decimals already; small ones take an integer fast path.
func AppendFloat(dst []byte, v float64, decimals int) []byte {
	if decimals < 0 {
		return strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	if decimals < len(pow10) {
		p := pow10[decimals]
		scaled := math.Round(float64(v * p))
		if math.Abs(scaled) < 1<<53 && !math.IsNaN(v) {
			n := int64(scaled)
			if decimals == 0 {
				return strconv.AppendInt(dst, n, 10)
			}
			if n < 0 {
				dst = append(dst, '-')
				n = -n
			}
			var buf [24]byte
			i := len(buf)
			for d := 0; d < decimals; d++ {
				i--
				buf[i] = byte('0' + n%10)
				n /= 10
			}
			i--
			buf[i] = '.'
			for {
				i--
				buf[i] = byte('0' + n%10)
				n /= 10
				if n == 0 {
					break
				}
			}
			return append(dst, buf[i:]...)
		}
	}
	return strconv.AppendFloat(dst, v, 'f', decimals, 64)
}

// isoDays caches the text of every day from 1800 to 2199, the range
// generated dates almost always fall in.
var (
	isoOnce  sync.Once
	isoText  []byte
	isoFirst = civil.DaysFromCivil(1800, 1, 1)
	isoLast  = civil.DaysFromCivil(2200, 1, 1)
)

// AppendISODate appends the day (days since 1970-01-01) as YYYY-MM-DD.
func AppendISODate(dst []byte, day int64) []byte {
	if day >= isoFirst && day < isoLast {
		isoOnce.Do(func() {
			isoText = make([]byte, 0, (isoLast-isoFirst)*10)
			for d := isoFirst; d < isoLast; d++ {
				isoText = appendISODate(isoText, d)
			}
		})
		o := (day - isoFirst) * 10
		return append(dst, isoText[o:o+10]...)
	}
	return appendISODate(dst, day)
}

func appendISODate(dst []byte, day int64) []byte {
	y, m, d := civil.CivilFromDays(day)
	if y < 0 || y > 9999 {
		return time.Unix(day*86400, 0).UTC().AppendFormat(dst, "2006-01-02")
	}
	dst = append(dst, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = append2(dst, int64(m))
	dst = append(dst, '-')
	return append2(dst, int64(d))
}

func append2(dst []byte, v int64) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}
