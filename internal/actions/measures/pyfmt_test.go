package measures

import (
	"math"
	"testing"
)

// The expected texts are Python 3's repr() of each value.
func TestPyFloat(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{2.0 / 3, "0.6666666666666666"},
		{1e-05, "1e-05"},
		{0.0001, "0.0001"},
		{0.000123, "0.000123"},
		{100000, "100000.0"},
		{1e15, "1000000000000000.0"},
		{1e16, "1e+16"},
		{9999999999999998, "9999999999999998.0"},
		{12345678901234567, "1.2345678901234568e+16"},
		{0.30000000000000004, "0.30000000000000004"}, // 0.1 + 0.2 in float64
		{1.5e-07, "1.5e-07"},
		{123456789.123, "123456789.123"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.Copysign(0, -1), "-0.0"},
		{0, "0.0"},
		{-2.5, "-2.5"},
		{3, "3.0"},
		{1.0 / 90, "0.011111111111111112"},
		{22.0 / 7, "3.142857142857143"},
		{1e22, "1e+22"},
		{1 << 53, "9007199254740992.0"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), ""},
	}
	for _, tt := range tests {
		if got := pyFloat(tt.v); got != tt.want {
			t.Errorf("pyFloat(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestAppendCSVField(t *testing.T) {
	tests := []struct{ in, want string }{
		{"London", "London"},
		{"", ""},
		{" padded ", " padded "},
		{"South, West", `"South, West"`},
		{`say "hi"`, `"say ""hi"""`},
		{"two\nlines", "\"two\nlines\""},
		{"cr\rhere", "\"cr\rhere\""},
	}
	for _, tt := range tests {
		if got := string(appendCSVField(nil, tt.in)); got != tt.want {
			t.Errorf("appendCSVField(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1", 1, true},
		{"0", 0, true},
		{"-3", -3, true},
		{"2.5", 2.5, true},
		{" 2 ", 2, true},
		{"\t7\t", 7, true},
		{"1e3", 1000, true},
		{"1E-2", 0.01, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"+4", 4, true},
		{"True", 1, true},
		{"TRUE", 1, true},
		{"true", 1, true},
		{"False", 0, true},
		{"FALSE", 0, true},
		{"false", 0, true},
		{"inf", math.Inf(1), true},
		{"-Infinity", math.Inf(-1), true},
		{"1e400", math.Inf(1), true},
		{"nan", math.NaN(), true},
		{"", 0, false},
		{"   ", 0, false},
		{"yes", 0, false},
		{"T", 0, false},
		{"1,000", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"12abc", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseNumber([]byte(tt.in))
		if ok != tt.ok {
			t.Errorf("parseNumber(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if math.IsNaN(tt.want) {
			if !math.IsNaN(got) {
				t.Errorf("parseNumber(%q) = %v, want NaN", tt.in, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("parseNumber(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
