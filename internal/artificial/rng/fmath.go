package rng

import "math"

// The Go standard library's math.Exp and math.Log have assembly versions on
// some architectures (amd64 among them) and pure-Go versions on others, so
// their last bit may differ between machines. Samplers must give the same
// output everywhere (spec 5.2), so the functions samplers need
// are written here with basic arithmetic only (Exp, Log and Log1p), every product rounded
// explicitly so that no platform can fuse it into a multiply-add. Both are
// accurate to a few units in the last place, which is far more than a
// whole-day date needs; what matters is that they are the same everywhere.

// ln2Hi + ln2Lo is ln 2 to about 2^-84; ln2Hi has its low bits zero, so k*ln2Hi
// is exact for the small integers k used here.
const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	sqrt2 = 1.41421356237309504880
)

// Exp returns e^x for x in about [-700, 700]; outside that it returns 0 or
// +Inf.
func Exp(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return x
	case x > 709:
		return math.Inf(1)
	case x < -745:
		return 0
	}
	// x = k ln2 + r with |r| <= ln2/2.
	k := math.Floor(float64(x/ln2Hi) + 0.5)
	r := float64(x-float64(k*ln2Hi)) - float64(k*ln2Lo)
	// e^r by its Taylor series to r^16/16! (< 1e-19 for |r| <= 0.35),
	// summed from the small end.
	s := 1.0
	for n := 16; n >= 1; n-- {
		s = 1 + float64(float64(s*r)/float64(n))
	}
	return math.Ldexp(s, int(k))
}

// Log returns ln(x) for x > 0.
func Log(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	case math.IsInf(x, 1):
		return x
	}
	if x > 1/sqrt2 && x < sqrt2 {
		return atanhSeries(float64(x-1) / float64(x+1))
	}
	return logFrexp(x)
}

// Log1p returns ln(1+y) for y > -1, accurately also for y near 0.
func Log1p(y float64) float64 {
	switch {
	case math.IsNaN(y) || y < -1:
		return math.NaN()
	case y == -1:
		return math.Inf(-1)
	case math.IsInf(y, 1):
		return y
	}
	x := 1 + y
	if x > 1/sqrt2 && x < sqrt2 {
		// 1+y in [1/sqrt2, sqrt2): use y itself, without the rounding of 1+y.
		return atanhSeries(y / (2 + y))
	}
	return logFrexp(x)
}

// logFrexp is ln(x) through x = m 2^e with m in [1/sqrt2, sqrt2).
func logFrexp(x float64) float64 {
	m, e := math.Frexp(x) // x = m 2^e, m in [0.5, 1)
	if m < 1/sqrt2 {
		m *= 2
		e--
	}
	f := m - 1 // exact
	fe := float64(e)
	return float64(fe*ln2Hi) + (atanhSeries(f/(2+f)) + float64(fe*ln2Lo))
}

// atanhSeries returns 2 atanh(s) = ln((1+s)/(1-s)) for |s| <= 0.172 by its
// series 2(s + s^3/3 + s^5/5 + ...), to s^25 (well below 2^-53 relative).
func atanhSeries(s float64) float64 {
	s2 := float64(s * s)
	t := 0.0
	for n := 25; n >= 3; n -= 2 {
		t = float64(s2 * (1/float64(n) + t))
	}
	return float64(2*s) + float64(float64(2*s)*t)
}
