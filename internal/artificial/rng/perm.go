package rng

import "math/bits"

// Perm is a keyed pseudo-random permutation of [0, n): a Feistel network
// over a rectangle [0, a) x [0, b) with a*b just above n (a is about the
// square root of n), whose halves update each other by addition modulo
// their sizes, with cycle-walking to stay inside [0, n). Since a*b - n is
// below a, walking is almost never needed. Distinct inputs give distinct
// outputs by construction, which is what makes exact counts and unique
// identifiers free of retries.
type Perm struct {
	n, a, b uint64
	keys    [4]uint64
}

// NewPerm returns the permutation of [0, n) keyed by key and purpose.
func NewPerm(n uint64, key Key, purpose uint32) Perm {
	p := Perm{n: n, a: 1, b: 1}
	if n > 1 {
		a := isqrtCeil(n)
		p.a, p.b = a, (n+a-1)/a
	}
	for i := range p.keys {
		x, y := key.Uint64x2(uint64(purpose), uint32(i))
		p.keys[i] = x ^ y<<1
	}
	return p
}

// isqrtCeil is the smallest a with a*a >= n.
func isqrtCeil(n uint64) uint64 {
	a := uint64(1) << ((bits.Len64(n) + 1) / 2) // a*a >= n
	for {                                       // Newton's method down to the floor root
		b := (a + n/a) / 2
		if b >= a {
			break
		}
		a = b
	}
	for a*a < n {
		a++
	}
	return a
}

// N is the size of the permuted range.
func (p Perm) N() uint64 { return p.n }

// At returns the image of i, which must be below N.
func (p Perm) At(i uint64) uint64 {
	if p.n <= 1 {
		return i
	}
	l, r := i/p.b, i%p.b
	for {
		l, r = p.round(l, r)
		x := l*p.b + r
		if x < p.n {
			return x
		}
	}
}

// Range sets out[j] to the image of start+j: the same values as At, a
// little faster for runs of consecutive inputs.
func (p Perm) Range(start uint64, out []uint64) {
	if p.n <= 1 {
		for j := range out {
			out[j] = start + uint64(j)
		}
		return
	}
	l0, r0 := start/p.b, start%p.b
	for j := range out {
		l, r := l0, r0
		for {
			l, r = p.round(l, r)
			x := l*p.b + r
			if x < p.n {
				out[j] = x
				break
			}
		}
		if r0++; r0 == p.b {
			r0, l0 = 0, l0+1
		}
	}
}

// round is one pass of the network: the halves update each other
// alternately, each update a bijection of its half.
func (p Perm) round(l, r uint64) (uint64, uint64) {
	l = addMod(l, hash(r^p.keys[0]), p.a)
	r = addMod(r, hash(l^p.keys[1]), p.b)
	l = addMod(l, hash(r^p.keys[2]), p.a)
	r = addMod(r, hash(l^p.keys[3]), p.b)
	return l, r
}

// addMod returns (x + h mapped to [0, m)) mod m, for x < m.
func addMod(x, h, m uint64) uint64 {
	f, _ := bits.Mul64(h, m)
	x += f
	if x >= m {
		x -= m
	}
	return x
}

// hash scrambles 64 bits by one odd multiplication. Callers use only the
// high bits of the result (through addMod's high product), which depend on
// every input bit; the round keys make each round's function different.
func hash(z uint64) uint64 {
	return z * 0xbf58476d1ce4e5b9
}
