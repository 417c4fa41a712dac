package measures

import (
	"math"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/pyfmt"
)

// appendPyFloat appends v as pandas writes a float to CSV: Python's
// repr(float), with NaN as the empty field (pandas' default na_rep).
func appendPyFloat(dst []byte, v float64) []byte {
	if math.IsNaN(v) {
		return dst
	}
	return pyfmt.AppendFloat(dst, v)
}

// pyFloat returns appendPyFloat's text.
func pyFloat(v float64) string { return string(appendPyFloat(nil, v)) }

// appendCSVField appends s as Python's csv writer does with its default
// QUOTE_MINIMAL: quoted, with quotes doubled, only when it holds a comma,
// a quote or a line break.
func appendCSVField(dst []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// appendCSVRow appends fields as one CSV row ending in eol.
func appendCSVRow(dst []byte, fields []string, eol string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVField(dst, f)
	}
	return append(dst, eol...)
}

// parseNumber reads a numerator or denominator cell of a CSV file: a
// decimal number (surrounding white space allowed), nan, inf or infinity
// (any case, optionally signed), or one of the boolean words pandas
// accepts (True, TRUE, true as 1; False, FALSE, false as 0). A number too
// large for a float64 is ±inf, as Python's float() makes it.
func parseNumber(b []byte) (float64, bool) {
	s := strings.Trim(string(b), " \t\n\v\f\r")
	if s == "" {
		return 0, false
	}
	switch s {
	case "True", "TRUE", "true":
		return 1, true
	case "False", "FALSE", "false":
		return 0, true
	}
	// strconv also reads hexadecimal floats and digit-separating
	// underscores after a base prefix; pandas does not.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 'x' || c == 'X' || c == '_' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return v, true
		}
		return 0, false
	}
	return v, true
}
