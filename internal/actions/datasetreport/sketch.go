package datasetreport

import (
	"slices"
)

// sketchK is the capacity of each level of a quantile sketch. The rank
// error of a quartile is at most about n*log2(n/sketchK)/sketchK: under
// half a percent of the rows for a million rows.
const sketchK = 2048

// sketch estimates quantiles of a stream of numbers in bounded memory. It
// is a deterministic compactor: level h holds values that each stand for
// 2^h values of the stream; when a level fills it is sorted and every
// other value (starting alternately at the first and the second, so that
// the errors of successive compactions tend to cancel) moves up a level.
// The same values in the same order always give the same answers.
type sketch struct {
	levels [][]float64
	flip   []bool
	n      int64
}

func newSketch() *sketch {
	return &sketch{levels: [][]float64{make([]float64, 0, sketchK)}, flip: []bool{false}}
}

// add adds count copies of v.
func (s *sketch) add(v float64, count int64) {
	for ; count > 0; count-- {
		s.n++
		s.levels[0] = append(s.levels[0], v)
		for h := 0; h < len(s.levels) && len(s.levels[h]) >= sketchK; h++ {
			s.compact(h)
		}
	}
}

func (s *sketch) compact(h int) {
	buf := s.levels[h]
	slices.Sort(buf)
	if h+1 == len(s.levels) {
		s.levels = append(s.levels, make([]float64, 0, sketchK))
		s.flip = append(s.flip, false)
	}
	start := 0
	if s.flip[h] {
		start = 1
	}
	s.flip[h] = !s.flip[h]
	for i := start; i < len(buf); i += 2 {
		s.levels[h+1] = append(s.levels[h+1], buf[i])
	}
	s.levels[h] = buf[:0]
}

// quantiles returns the estimated q-quantile for each q in qs (0 to 1):
// the value whose weighted rank first reaches q of the stream. It returns
// nil for an empty sketch.
func (s *sketch) quantiles(qs []float64) []float64 {
	if s.n == 0 {
		return nil
	}
	type item struct {
		v float64
		w int64
	}
	var items []item
	for h, lv := range s.levels {
		for _, v := range lv {
			items = append(items, item{v, int64(1) << h})
		}
	}
	slices.SortFunc(items, func(a, b item) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	var total int64
	for _, it := range items {
		total += it.w
	}
	out := make([]float64, len(qs))
	for i, q := range qs {
		target := q * float64(total)
		var cum int64
		out[i] = items[len(items)-1].v
		for _, it := range items {
			cum += it.w
			if float64(cum) >= target {
				out[i] = it.v
				break
			}
		}
	}
	return out
}
