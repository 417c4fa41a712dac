package rng

import "math/bits"

// Perm is a keyed pseudo-random permutation of [0, n): a Feistel network on
// the smallest power of two at or above n (at least 4), with cycle-walking
// to stay inside [0, n). Each step takes fewer than two rounds of walking on
// average. Distinct inputs give distinct outputs by construction, which is
// what makes exact counts and unique identifiers free of retries.
type Perm struct {
	n            uint64
	lbits, rbits uint
	lmask, rmask uint64
	keys         [6]uint64
}

// NewPerm returns the permutation of [0, n) keyed by key and purpose.
func NewPerm(n uint64, key Key, purpose uint32) Perm {
	p := Perm{n: n}
	b := uint(2)
	if n > 4 {
		b = uint(bits.Len64(n - 1))
	}
	p.lbits = b / 2
	p.rbits = b - p.lbits
	p.lmask = 1<<p.lbits - 1
	p.rmask = 1<<p.rbits - 1
	for i := range p.keys {
		a, c := key.Uint64x2(uint64(purpose), uint32(i))
		p.keys[i] = a ^ c<<1
	}
	return p
}

// N is the size of the permuted range.
func (p Perm) N() uint64 { return p.n }

// At returns the image of i, which must be below N.
func (p Perm) At(i uint64) uint64 {
	if p.n <= 1 {
		return i
	}
	x := i
	for {
		x = p.round(x)
		if x < p.n {
			return x
		}
	}
}

// round is one pass of the network over [0, 2^(lbits+rbits)): the halves
// update each other alternately, and every update is invertible.
func (p Perm) round(x uint64) uint64 {
	l, r := x>>p.rbits, x&p.rmask
	for i := 0; i < len(p.keys); i += 2 {
		l ^= mix(r^p.keys[i]) & p.lmask
		r ^= mix(l^p.keys[i+1]) & p.rmask
	}
	return l<<p.rbits | r
}

// mix is the splitmix64 finaliser: a bijective 64-bit scrambler.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
