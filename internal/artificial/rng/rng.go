// Package rng holds the deterministic randomness of Haven's artificial data:
// the Philox4x32-10 counter-based generator (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011), keys derived from a run's inputs,
// keyed permutations (a Feistel network with cycle-walking), Vose alias
// tables and largest-remainder apportionment.
//
// Every draw is a pure function of (key, counter), so any row of any field
// can be computed on its own: output does not depend on worker count,
// scheduling or how rows are split into shards. All arithmetic that decides
// a draw is integer arithmetic, so results are the same on every platform.
package rng

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
)

// Philox4x32-10 constants.
const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// Key is a Philox key: 64 bits.
type Key [2]uint32

// Block returns Philox4x32-10 of the counter (c0, c1, c2, c3) under k.
func (k Key) Block(c0, c1, c2, c3 uint32) (uint32, uint32, uint32, uint32) {
	k0, k1 := k[0], k[1]
	for i := 0; i < 10; i++ {
		if i > 0 {
			k0 += philoxW0
			k1 += philoxW1
		}
		p0 := uint64(philoxM0) * uint64(c0)
		p1 := uint64(philoxM1) * uint64(c2)
		c0, c1, c2, c3 = uint32(p1>>32)^c1^k0, uint32(p1), uint32(p0>>32)^c3^k1, uint32(p0)
	}
	return c0, c1, c2, c3
}

// Uint64x2 returns 128 random bits for (row, draw) as two words. The
// counter is (row low 32 bits, row high 32 bits, draw, 0).
func (k Key) Uint64x2(row uint64, draw uint32) (uint64, uint64) {
	a, b, c, d := k.Block(uint32(row), uint32(row>>32), draw, 0)
	return uint64(a)<<32 | uint64(b), uint64(c)<<32 | uint64(d)
}

// Uint64 returns 64 random bits for (row, draw).
func (k Key) Uint64(row uint64, draw uint32) uint64 {
	a, _ := k.Uint64x2(row, draw)
	return a
}

// Float64 returns a uniform float64 in [0, 1) for (row, draw): the top 53
// of 64 bits times 2^-53.
func (k Key) Float64(row uint64, draw uint32) float64 {
	return ToFloat(k.Uint64(row, draw))
}

// ToFloat maps 64 random bits to [0, 1).
func ToFloat(u uint64) float64 {
	return float64(u>>11) * (1.0 / (1 << 53))
}

// Below maps 64 random bits to an integer in [0, m) by multiply-shift
// (Lemire's method without the rejection step: the bias is below 2^-32 for
// any m below 2^32, and it keeps every draw a single step).
func Below(u uint64, m uint64) uint64 {
	hi, _ := bits.Mul64(u, m)
	return hi
}

// Derive returns a key for one purpose under a run: the first 8 bytes of
// SHA-256 over run and each part, every part length-prefixed, so ("ab","c")
// and ("a","bc") differ.
func Derive(run []byte, parts ...string) Key {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(run)))
	h.Write(n[:])
	h.Write(run)
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return Key{binary.BigEndian.Uint32(sum[0:4]), binary.BigEndian.Uint32(sum[4:8])}
}

// RunKey returns the key material of a run: SHA-256 over the seed, the
// identity of the inputs (a metadata or study-definition SHA-256), the
// generator's algorithm version and any extra parts (an index date), each
// length-prefixed.
func RunKey(seed, inputSHA256, algorithm string, extra ...string) []byte {
	parts := append([]string{seed, inputSHA256, algorithm}, extra...)
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}
