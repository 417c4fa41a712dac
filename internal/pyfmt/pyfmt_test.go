package pyfmt

import (
	"math"
	"testing"
)

// Expected values are Python 3's repr of the same floats.
func TestFloat(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {0.1, "0.1"}, {1.0 / 3, "0.3333333333333333"},
		{100000, "100000.0"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"},
		{1e-4, "0.0001"}, {1e-5, "1e-05"}, {1.25e-7, "1.25e-07"}, {-2.5, "-2.5"}, {1e100, "1e+100"},
		{123456789.125, "123456789.125"}, {math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	}
	for _, tt := range tests {
		if got := Float(tt.v); got != tt.want {
			t.Errorf("Float(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
