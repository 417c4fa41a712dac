package rng

import (
	"errors"
	"math/bits"
	"sort"
)

// Apportion splits total into integer counts proportional to weights by
// largest remainder: each gets floor(w*total/W), and the units left over go
// to the largest remainders, ties to the earlier index. The counts sum to
// total exactly.
func Apportion(weights []int64, total uint64) ([]uint64, error) {
	var sum uint64
	for _, w := range weights {
		if w < 0 {
			return nil, errors.New("apportion: negative weight")
		}
		var c uint64
		sum, c = bits.Add64(sum, uint64(w), 0)
		if c != 0 {
			return nil, errors.New("apportion: weights overflow")
		}
	}
	if sum == 0 {
		return nil, errors.New("apportion: all weights are zero")
	}
	out := make([]uint64, len(weights))
	rem := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		hi, lo := bits.Mul64(uint64(w), total)
		q, r := bits.Div64(hi, lo, sum)
		out[i], rem[i] = q, r
		given += q
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
	for k := 0; given < total; k++ {
		out[order[k%len(order)]]++
		given++
	}
	return out, nil
}

// Ranges turns counts into cumulative upper bounds: value i owns
// [bounds[i-1], bounds[i]).
func Ranges(counts []uint64) []uint64 {
	b := make([]uint64, len(counts))
	var c uint64
	for i, n := range counts {
		c += n
		b[i] = c
	}
	return b
}

// Find returns the index whose range in bounds (from Ranges) holds x.
func Find(bounds []uint64, x uint64) int {
	if len(bounds) <= 8 {
		for i, b := range bounds {
			if x < b {
				return i
			}
		}
		return len(bounds) - 1
	}
	return sort.Search(len(bounds), func(i int) bool { return x < bounds[i] })
}
