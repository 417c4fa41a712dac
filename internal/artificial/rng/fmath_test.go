package rng

import (
	"math"
	"testing"
)

// ulps is the distance between a and b in units in the last place.
func ulps(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Abs(math.Nextafter(b, math.Inf(1))-b)
}

func TestExpAccuracy(t *testing.T) {
	worst := 0.0
	for x := -700.0; x <= 700; x += 0.0137 {
		worst = math.Max(worst, ulps(Exp(x), math.Exp(x)))
	}
	for _, x := range []float64{0, 1e-300, -1e-300, 1e-10, -1e-10, 0.5, -0.5, math.Ln2, -math.Ln2, 10, -10} {
		worst = math.Max(worst, ulps(Exp(x), math.Exp(x)))
	}
	if worst > 4 {
		t.Errorf("Exp is %v ulps from math.Exp at worst", worst)
	}
	if Exp(1000) != math.Inf(1) || Exp(-1000) != 0 || !math.IsNaN(Exp(math.NaN())) || Exp(0) != 1 {
		t.Error("Exp edge cases")
	}
}

func TestLog1pAccuracy(t *testing.T) {
	worst := 0.0
	for y := -0.9999; y < 100; y += 0.000731 {
		worst = math.Max(worst, ulps(Log1p(y), math.Log1p(y)))
	}
	for _, y := range []float64{1e-300, -1e-300, 1e-12, -1e-12, 0.4142, -0.2929, -1 + 1e-15, 1e300} {
		worst = math.Max(worst, ulps(Log1p(y), math.Log1p(y)))
	}
	if worst > 4 {
		t.Errorf("Log1p is %v ulps from math.Log1p at worst", worst)
	}
	if Log1p(0) != 0 || !math.IsInf(Log1p(-1), -1) || !math.IsNaN(Log1p(-2)) || !math.IsInf(Log1p(math.Inf(1)), 1) {
		t.Error("Log1p edge cases")
	}
}

// Golden bits: these values come from basic arithmetic only, so they are the
// same on every platform; a change here changes generated dates.
func TestMathGolden(t *testing.T) {
	cases := []struct {
		name string
		got  float64
		want uint64
	}{
		{"exp(-10.001369)", Exp(-10.001369), 0x3f07c523a03b670e},
		{"exp(-0.5)", Exp(-0.5), 0x3fe368b2fc6f960a},
		{"log1p(-0.3)", Log1p(-0.3), 0xbfd6d3c324e13f50},
		{"log1p(-0.99995)", Log1p(-0.99995), 0xc023ce95eba4f8f2},
	}
	for _, c := range cases {
		if got := math.Float64bits(c.got); got != c.want {
			t.Errorf("%s = %#x (%v), want %#x", c.name, got, c.got, c.want)
		}
	}
}

func TestLogAccuracy(t *testing.T) {
	worst := 0.0
	for _, x := range []float64{1e-300, 1e-10, 0.001, 0.3, 0.5, 0.70710678, 0.999999, 1, 1.000001, 1.41421356, 2, 1e10, 1e300} {
		worst = math.Max(worst, ulps(Log(x), math.Log(x)))
	}
	for x := 1e-6; x < 1000; x *= 1.0137 {
		worst = math.Max(worst, ulps(Log(x), math.Log(x)))
	}
	if worst > 4 {
		t.Errorf("Log is %v ulps from math.Log at worst", worst)
	}
	if !math.IsInf(Log(0), -1) || !math.IsNaN(Log(-1)) || Log(1) != 0 {
		t.Error("Log edge cases")
	}
}
