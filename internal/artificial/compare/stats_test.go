package compare

import (
	"math"
	"slices"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestTVD(t *testing.T) {
	for _, c := range []struct {
		name      string
		want, got []int64
		outside   int64
		tvd       float64
	}{
		{"equal shares", []int64{50, 30, 20}, []int64{500, 300, 200}, 0, 0},
		{"swapped", []int64{60, 40}, []int64{40, 60}, 0, 0.2},
		{"disjoint", []int64{1, 0}, []int64{0, 1}, 0, 1},
		{"all outside", []int64{5, 5}, []int64{0, 0}, 7, 1},
		{"a tenth outside", []int64{1, 1}, []int64{45, 45}, 10, 0.1},
		{"nothing generated", []int64{3}, []int64{0}, 0, 1},
		{"nothing expected, nothing generated", nil, nil, 0, 0},
		{"nothing expected, something generated", nil, nil, 3, 1},
		{"fewer got entries than want", []int64{1, 1}, []int64{2}, 0, 0.5},
	} {
		if got := tvd(c.want, c.got, c.outside); !near(got, c.tvd, 1e-12) {
			t.Errorf("%s: tvd = %v, want %v", c.name, got, c.tvd)
		}
	}
}

func TestPiecewiseLinearCDF(t *testing.T) {
	// A point mass of 0.3 at 1, linear from 0 to 1 (0.2) and 1 to 3 (0.5).
	c := pwl{x: []float64{0, 1, 1, 3}, p: []float64{0, 0.2, 0.5, 1}}
	for _, x := range []struct{ x, at, below float64 }{
		{-1, 0, 0}, {0, 0, 0}, {0.5, 0.1, 0.1}, {1, 0.5, 0.2}, {2, 0.75, 0.75}, {3, 1, 1}, {4, 1, 1},
	} {
		if got := c.at(x.x); !near(got, x.at, 1e-12) {
			t.Errorf("at(%v) = %v, want %v", x.x, got, x.at)
		}
		if got := c.below(x.x); !near(got, x.below, 1e-12) {
			t.Errorf("below(%v) = %v, want %v", x.x, got, x.below)
		}
	}
}

func TestContinuousCDF(t *testing.T) {
	b := [2]float64{0, 100}
	for _, c := range []struct {
		name   string
		cont   meta.Continuous
		ok     bool
		err    bool
		checks [][2]float64 // x, at(x)
	}{
		{"quartiles bounded", meta.Continuous{Step: 25, Cuts: []float64{10, 20, 30}, Bounds: &b}, true, false,
			[][2]float64{{0, 0}, {5, 0.125}, {10, 0.25}, {25, 0.625}, {30, 0.75}, {65, 0.875}, {100, 1}}},
		{"quartiles unbounded: tails shared by the interior", meta.Continuous{Step: 25, Cuts: []float64{10, 20, 30}}, true, false,
			[][2]float64{{9, 0}, {10, 0}, {15, 0.25}, {20, 0.5}, {30, 1}}},
		{"step 1 starts at the 2nd percentile", meta.Continuous{Step: 1, Cuts: seq(2, 99), Bounds: &[2]float64{0, 101}}, true, false,
			[][2]float64{{0, 0}, {2, 0.02}, {50, 0.5}, {99, 0.99}, {101, 1}}},
		{"ties are a point mass", meta.Continuous{Step: 25, Cuts: []float64{0, 0, 10}}, true, false,
			[][2]float64{{-1, 0}, {0, 0.5}, {5, 0.75}, {10, 1}}},
		{"bounds inside the cut-points do not cut them", meta.Continuous{Step: 25, Cuts: []float64{10, 20, 30}, Bounds: &[2]float64{15, 25}}, true, false,
			[][2]float64{{9, 0}, {10, 0.25}, {25, 0.625}, {29.9, 0.7475}, {30, 1}}},
		{"one cut-point without bounds has no mass", meta.Continuous{Step: 25, Cuts: []float64{10}}, false, false, nil},
		{"no cut-points with bounds has no mass", meta.Continuous{Step: 25, Bounds: &b}, false, false, nil},
		{"a bad step", meta.Continuous{Step: 3, Cuts: []float64{1, 2}}, false, true, nil},
		{"decreasing cut-points", meta.Continuous{Step: 25, Cuts: []float64{3, 2, 1}}, false, true, nil},
		{"reversed bounds", meta.Continuous{Step: 25, Cuts: []float64{1, 2, 3}, Bounds: &[2]float64{5, 0}}, false, true, nil},
	} {
		cdf, ok, err := continuousCDF(&c.cont)
		if (err != nil) != c.err || ok != c.ok {
			t.Errorf("%s: ok %v, err %v; want ok %v, error %v", c.name, ok, err, c.ok, c.err)
			continue
		}
		for _, x := range c.checks {
			if got := cdf.at(x[0]); !near(got, x[1], 1e-9) {
				t.Errorf("%s: F(%v) = %v, want %v", c.name, x[0], got, x[1])
			}
		}
	}
}

func seq(from, to int) []float64 {
	var s []float64
	for i := from; i <= to; i++ {
		s = append(s, float64(i))
	}
	return s
}

func TestGridRounding(t *testing.T) {
	// Uniform on [0, 10], rounded to whole numbers: 0 and 10 get half a
	// unit of mass, 1..9 a whole one.
	c := pwl{x: []float64{0, 10}, p: []float64{0, 1}}
	g := gridOf(0, true)
	for _, x := range []struct{ x, le, lt float64 }{
		{0, 0.05, 0}, {1, 0.15, 0.05}, {1.5, 0.15, 0.15}, {9, 0.95, 0.85}, {10, 1, 0.95},
	} {
		if got := g.atOrBelow(c, x.x); !near(got, x.le, 1e-9) {
			t.Errorf("P(R <= %v) = %v, want %v", x.x, got, x.le)
		}
		if got := g.below(c, x.x); !near(got, x.lt, 1e-9) {
			t.Errorf("P(R < %v) = %v, want %v", x.x, got, x.lt)
		}
	}
	if g := gridOf(2, false); !near(g.h, 0.01, 1e-15) {
		t.Errorf("2 decimals: grid %v", g.h)
	}
	if g := gridOf(2, true); g.h != 1 {
		t.Errorf("an integer with 2 decimals: grid %v, want 1", g.h)
	}
	if g := gridOf(-1, false); g.h != 0 {
		t.Errorf("decimals -1: grid %v, want none", g.h)
	}
}

func TestKSExact(t *testing.T) {
	c := pwl{x: []float64{0, 10}, p: []float64{0, 1}}
	g := gridOf(0, true)
	// The exact rounded distribution: KS 0.
	var values []float64
	var counts []int64
	for v := 0; v <= 10; v++ {
		values = append(values, float64(v))
		n := int64(100)
		if v == 0 || v == 10 {
			n = 50
		}
		counts = append(counts, n)
	}
	if ks := ksExact(values, counts, g, c); ks > 1e-12 {
		t.Errorf("exact distribution: ks %v, want 0", ks)
	}
	// Everything at 0: the ECDF is 1 from 0 on, the reference 0.05.
	if ks := ksExact([]float64{0}, []int64{7}, g, c); !near(ks, 0.95, 1e-12) {
		t.Errorf("all at 0: ks %v, want 0.95", ks)
	}
	// Everything at 20, beyond the reference: the gap just below is 1.
	if ks := ksExact([]float64{20}, []int64{7}, g, c); !near(ks, 1, 1e-12) {
		t.Errorf("all beyond: ks %v, want 1", ks)
	}
	if ks := ksExact(nil, nil, g, c); ks != 1 {
		t.Errorf("no values: ks %v, want 1", ks)
	}
}

// The histogram's KS distance is within its resolution of the exact one,
// on a grid (rounded values) and off it (unrounded values).
func TestHistogramKS(t *testing.T) {
	for _, decimals := range []int{1, 16} {
		cdf, _, _ := continuousCDF(&meta.Continuous{Step: 25, Cuts: []float64{0, 0, 10}, Decimals: decimals})
		g := gridOf(decimals, false)
		for _, shift := range []float64{0, 0.5, 3} {
			h := newHistogram(cdf, g)
			merged := map[float64]int64{}
			add := func(v float64, n int64) {
				if g.h > 0 {
					v = math.Round(v/g.h) * g.h
				}
				h.addN(v, n)
				merged[v] += n
			}
			add(shift, 5000) // the point mass
			for i := 0; i < 5000; i++ {
				add(shift+float64(i)*10/5000, 1)
			}
			var values []float64
			for v := range merged {
				values = append(values, v)
			}
			slices.Sort(values)
			var counts []int64
			for _, v := range values {
				counts = append(counts, merged[v])
			}
			exact := ksExact(values, counts, g, cdf)
			ks, res := h.ks(0)
			if ks > exact+1e-9 || exact > ks+res+1e-9 {
				t.Errorf("decimals %d, shift %v: histogram ks %v ± %v, exact %v", decimals, shift, ks, res, exact)
			}
			// A point mass away from the cut-points shares a bucket, so
			// only then may the resolution be coarse.
			if shift == 0 && res > 0.01 || (g.h == 0) != (res > 0) {
				t.Errorf("decimals %d, shift %v: resolution %v", decimals, shift, res)
			}
		}
	}
}
