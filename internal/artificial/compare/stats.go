package compare

import (
	"fmt"
	"math"
	"sort"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// tvd is the total variation distance between the metadata's shares
// (want, counts per entry) and the generated shares (got, counts per
// entry, plus outside: generated values that match no entry). It is half
// the sum of absolute differences of shares, so a generated value outside
// the metadata counts fully: its share is missing from the entries it
// should have fallen in and present where the metadata has nothing.
//
// With nothing generated the distance is 1 when the metadata expects
// something (and 0 when it does not); with nothing expected it is 1 when
// anything was generated.
func tvd(want, got []int64, outside int64) float64 {
	var wt, gt int64
	for _, w := range want {
		wt += w
	}
	for _, g := range got {
		gt += g
	}
	gt += outside
	switch {
	case wt == 0 && gt == 0:
		return 0
	case wt == 0 || gt == 0:
		return 1
	}
	sum := float64(outside) / float64(gt)
	for i, w := range want {
		var g int64
		if i < len(got) {
			g = got[i]
		}
		sum += math.Abs(float64(g)/float64(gt) - float64(w)/float64(wt))
	}
	return math.Min(sum/2, 1)
}

// pwl is a piecewise-linear CDF through knots (x[i], p[i]), x and p
// non-decreasing, p from 0 to 1. Equal x make a jump: a point mass.
type pwl struct {
	x, p []float64
}

// at is the CDF at x, right-continuous: the mass at or below x.
func (c pwl) at(x float64) float64 {
	n := len(c.x)
	if n == 0 || x < c.x[0] {
		return 0
	}
	// j is the last knot at or below x.
	j := sort.Search(n, func(i int) bool { return c.x[i] > x }) - 1
	if j >= n-1 {
		return 1
	}
	x0, x1 := c.x[j], c.x[j+1]
	return c.p[j] + (c.p[j+1]-c.p[j])*(x-x0)/(x1-x0)
}

// below is the mass strictly below x.
func (c pwl) below(x float64) float64 {
	n := len(c.x)
	if n == 0 || x <= c.x[0] {
		return 0
	}
	// j is the first knot at or above x; x lies in (x[j-1], x[j]].
	j := sort.Search(n, func(i int) bool { return c.x[i] >= x })
	if j >= n {
		return 1
	}
	x0, x1 := c.x[j-1], c.x[j]
	return c.p[j-1] + (c.p[j]-c.p[j-1])*(x-x0)/(x1-x0)
}

// cutPercentile is the percentile of cut-point j at a step: 2..99 at step
// 1, else step, 2*step, ..., 100-step.
func cutPercentile(step, j int) float64 {
	if step == 1 {
		return float64(j + 2)
	}
	return float64((j + 1) * step)
}

// continuousCDF is the distribution the generator samples a continuous
// field from: piecewise linear through the cut-points at their
// percentiles. With bounds the tails run linearly out to the bounds (the
// outer edges are the bounds, or the outer cut-points when those lie
// beyond them); without bounds every value lies between the outer
// cut-points and the tail mass is shared by the interior bins in
// proportion to their own mass. Masses are rounded to hundredths of a
// percentile point, as the generator rounds them. ok is false when the
// cut-points leave no mass (fewer than two edges), when the generator
// writes the field empty.
func continuousCDF(c *meta.Continuous) (pwl, bool, error) {
	if c.Step != 1 && c.Step != 5 && c.Step != 10 && c.Step != 25 {
		return pwl{}, false, fmt.Errorf("continuous step %d: it must be 1, 5, 10 or 25", c.Step)
	}
	for j := 1; j < len(c.Cuts); j++ {
		if c.Cuts[j] < c.Cuts[j-1] {
			return pwl{}, false, fmt.Errorf("cut-points decrease at %d (%v after %v)", j+1, c.Cuts[j], c.Cuts[j-1])
		}
	}
	var x []float64
	var w []float64 // mass of the bin ending at x[i], in hundredths of a point
	pctl := func(j int) float64 { return math.Round(cutPercentile(c.Step, j) * 100) }
	if c.Bounds != nil {
		if c.Bounds[0] > c.Bounds[1] {
			return pwl{}, false, fmt.Errorf("bounds [%v, %v] are reversed", c.Bounds[0], c.Bounds[1])
		}
		if len(c.Cuts) == 0 {
			return pwl{}, false, nil
		}
		x = append(x, math.Min(c.Bounds[0], c.Cuts[0]))
		w = append(w, 0, pctl(0))
	} else {
		if len(c.Cuts) < 2 {
			return pwl{}, false, nil
		}
		w = append(w, 0)
	}
	x = append(x, c.Cuts...)
	for j := 1; j < len(c.Cuts); j++ {
		w = append(w, pctl(j)-pctl(j-1))
	}
	if c.Bounds != nil {
		x = append(x, math.Max(c.Bounds[1], c.Cuts[len(c.Cuts)-1]))
		w = append(w, 10000-pctl(len(c.Cuts)-1))
	}
	var total float64
	for _, m := range w {
		total += m
	}
	if total <= 0 {
		return pwl{}, false, nil
	}
	p := make([]float64, len(x))
	var cum float64
	for i := range x {
		cum += w[i]
		p[i] = cum / total
	}
	p[len(p)-1] = 1
	return pwl{x: x, p: p}, true, nil
}

// grid is the rounding of generated values: the generator rounds a
// continuous value to the field's decimals, so a value v stands for the
// interval [v-h/2, v+h/2) of the unrounded distribution. h 0 means no
// rounding.
type grid struct{ h float64 }

// gridOf returns the grid of a field: 10^-decimals, at least 1 for
// integers; none for decimals outside 0-15.
func gridOf(decimals int, integer bool) grid {
	h := 0.0
	if decimals >= 0 && decimals <= 15 {
		h = math.Pow(10, -float64(decimals))
	}
	if integer && h < 1 {
		h = 1
	}
	return grid{h}
}

// floor is the largest grid point at or below x.
func (g grid) floor(x float64) float64 {
	if g.h == 0 {
		return x
	}
	return math.Floor(x/g.h+1e-7) * g.h
}

// atOrBelow is P(R <= x) for R the rounded value of a draw from c.
func (g grid) atOrBelow(c pwl, x float64) float64 {
	if g.h == 0 {
		return c.at(x)
	}
	return c.below(g.floor(x) + g.h/2)
}

// below is P(R < x).
func (g grid) below(c pwl, x float64) float64 {
	if g.h == 0 {
		return c.below(x)
	}
	// The largest grid point strictly below x.
	f := g.floor(x)
	if math.Abs(f-x) <= g.h*1e-7 {
		f -= g.h
	}
	return c.below(f + g.h/2)
}

// ksExact is the Kolmogorov-Smirnov distance between the empirical CDF of
// the values (distinct, ascending, with their counts) and ref, the CDF of
// the rounded reference: the largest gap at each value and just below it.
func ksExact(values []float64, counts []int64, g grid, c pwl) float64 {
	var n int64
	for _, k := range counts {
		n += k
	}
	if n == 0 {
		return 1
	}
	var cum int64
	ks := 0.0
	for i, v := range values {
		prev := float64(cum) / float64(n)
		ks = math.Max(ks, math.Abs(prev-g.below(c, v)))
		cum += counts[i]
		ks = math.Max(ks, math.Abs(float64(cum)/float64(n)-g.atOrBelow(c, v)))
	}
	return ks
}
