package rng

import (
	"errors"
	"math/bits"
)

// Alias is a Vose alias table: one draw picks an outcome with probability
// proportional to its weight in constant time. It is built with integer
// arithmetic only, so the same weights give the same table everywhere.
type Alias struct {
	thresh []uint32 // keep column i when the coin is below thresh[i]
	alias  []int32
}

// NewAlias builds the table for weights (non-negative, not all zero, fewer
// than 2^31 of them). Outcomes keep their index order.
func NewAlias(weights []int64) (*Alias, error) {
	n := len(weights)
	if n == 0 {
		return nil, errors.New("alias table: no outcomes")
	}
	if n >= 1<<31 {
		return nil, errors.New("alias table: too many outcomes")
	}
	var total uint64
	for _, w := range weights {
		if w < 0 {
			return nil, errors.New("alias table: negative weight")
		}
		var c uint64
		total, c = bits.Add64(total, uint64(w), 0)
		if c != 0 {
			return nil, errors.New("alias table: weights overflow")
		}
	}
	if total == 0 {
		return nil, errors.New("alias table: all weights are zero")
	}
	// q[i] = w[i]*n, compared against total: column i is "small" when
	// q[i] < total. 128-bit products keep it exact.
	type u128 struct{ hi, lo uint64 }
	q := make([]u128, n)
	for i, w := range weights {
		hi, lo := bits.Mul64(uint64(w), uint64(n))
		q[i] = u128{hi, lo}
	}
	less := func(a u128, b uint64) bool { return a.hi == 0 && a.lo < b }
	a := &Alias{thresh: make([]uint32, n), alias: make([]int32, n)}
	var small, large []int32
	for i := range q {
		if less(q[i], total) {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		// threshold = q[s] * 2^32 / total, q[s] < total.
		t, _ := bits.Div64(q[s].lo>>32, q[s].lo<<32, total)
		a.thresh[s] = uint32(t)
		a.alias[s] = l
		// q[l] -= total - q[s]
		d := total - q[s].lo
		lo, borrow := bits.Sub64(q[l].lo, d, 0)
		q[l] = u128{q[l].hi - borrow, lo}
		if less(q[l], total) {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		a.thresh[i] = 1<<32 - 1
		a.alias[i] = i
	}
	for _, i := range small { // only rounding leftovers: keep themselves
		a.thresh[i] = 1<<32 - 1
		a.alias[i] = i
	}
	return a, nil
}

// Len is the number of outcomes.
func (a *Alias) Len() int { return len(a.thresh) }

// Pick maps 64 random bits to an outcome: the high 32 bits choose a column,
// the low 32 bits toss its coin.
func (a *Alias) Pick(u uint64) int {
	col := (u >> 32) * uint64(len(a.thresh)) >> 32
	if uint32(u) < a.thresh[col] || a.thresh[col] == 1<<32-1 {
		return int(col)
	}
	return int(a.alias[col])
}
