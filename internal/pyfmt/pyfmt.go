// Package pyfmt writes numbers as Python writes them, for outputs that
// must match what OpenSAFELY's Python tools produce byte for byte
// (json.dumps in project.yaml configs, pandas' CSV floats).
package pyfmt

import (
	"math"
	"strconv"
)

// AppendFloat appends v as Python's repr(float) writes it: the shortest
// digits that read back as v, in positional notation with at least one
// decimal ("100000.0") when the decimal exponent is from -4 to 15, and
// otherwise in scientific notation with a sign and at least two exponent
// digits ("1e-05", "1e+16"); "nan", "inf" and "-inf" otherwise.
func AppendFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "nan"...)
	case math.IsInf(v, 1):
		return append(dst, "inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-inf"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, v, 'e', -1, 64)
	e := start
	for i := len(dst) - 1; i > start; i-- {
		if dst[i] == 'e' {
			e = i
			break
		}
	}
	exp, err := strconv.Atoi(string(dst[e+1:]))
	if err == nil && exp >= -4 && exp < 16 {
		dst = strconv.AppendFloat(dst[:start], v, 'f', -1, 64)
		whole := true
		for _, c := range dst[start:] {
			if c == '.' {
				whole = false
				break
			}
		}
		if whole {
			dst = append(dst, '.', '0')
		}
	}
	return dst
}

// Float returns AppendFloat's text.
func Float(v float64) string { return string(AppendFloat(nil, v)) }
