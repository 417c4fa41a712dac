package scrape

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// ExactCap is the number of distinct numeric values a column keeps
// exactly. Beyond it the values move into a quantile sketch and
// percentiles are approximate (recorded as scrape.percentiles "sketch").
var ExactCap = 1 << 20

// sketchK is the capacity of each level of the sketch.
var sketchK = 1 << 15

// numAcc accumulates a numeric column: counts per distinct value, exactly
// up to ExactCap distinct values.
type numAcc struct {
	counts   map[float64]int64
	n        int64 // values added
	allInt   bool
	decimals int // most decimal places seen, at most MaxDecimals
	typed    bool
	sk       *sketch
	hll      *hll // distinct estimate once sketched
}

// MaxDecimals caps the decimals of cut-points.
const MaxDecimals = 6

func newNumAcc(typed bool) *numAcc {
	return &numAcc{counts: map[float64]int64{}, allInt: true, typed: typed}
}

// add counts c occurrences of v. For typed floats dec is ignored and the
// decimals of v's shortest form are used.
func (a *numAcc) add(v float64, isInt bool, dec int, c int64) {
	a.n += c
	if !isInt {
		a.allInt = false
	}
	if a.typed && !isInt {
		if _, seen := a.counts[v]; !seen && a.decimals < MaxDecimals {
			dec = decimalsOf(v)
		}
	}
	if dec > a.decimals {
		a.decimals = min(dec, MaxDecimals)
	}
	if a.sk != nil {
		// Sketched: values go straight into the sketch.
		a.hll.add(hashFloat(v))
		a.sk.add(v, c)
		return
	}
	a.counts[v] += c
	if len(a.counts) > ExactCap {
		a.spill()
	}
}

// spill moves the exact counts into the sketch, once.
func (a *numAcc) spill() {
	a.sk = newSketch(sketchK)
	a.hll = newHLL()
	for v := range a.counts {
		a.hll.add(hashFloat(v))
	}
	// Deterministic order: the sketch's result must not depend on map
	// iteration.
	keys := make([]float64, 0, len(a.counts))
	for v := range a.counts {
		keys = append(keys, v)
	}
	slices.Sort(keys)
	for _, v := range keys {
		a.sk.add(v, a.counts[v])
	}
	a.counts = nil
}

// distinct returns the number of distinct values, estimated once sketched.
func (a *numAcc) distinct() int64 {
	if a.sk == nil {
		return int64(len(a.counts))
	}
	return a.hll.estimate()
}

// sorted returns the exact distinct values ascending with their counts
// (only before the sketch).
func (a *numAcc) sorted() ([]float64, []int64) {
	keys := make([]float64, 0, len(a.counts))
	for v := range a.counts {
		keys = append(keys, v)
	}
	slices.Sort(keys)
	counts := make([]int64, len(keys))
	for i, v := range keys {
		counts[i] = a.counts[v]
	}
	return keys, counts
}

// percentiles returns the nearest-rank percentiles ps (whole percentage
// points): the smallest value whose cumulative count reaches ceil(p/100 *
// n). With a sketch the ranks are approximate.
func (a *numAcc) percentiles(ps []int) []float64 {
	var vals []float64
	var ws []int64
	if a.sk == nil {
		vals, ws = a.sorted()
	} else {
		type item struct {
			v float64
			w int64
		}
		var items []item
		for h, lv := range a.sk.levels {
			for _, v := range lv {
				items = append(items, item{v, int64(1) << h})
			}
		}
		for v, c := range a.counts {
			items = append(items, item{v, c})
		}
		sort.Slice(items, func(i, j int) bool { return items[i].v < items[j].v })
		for _, it := range items {
			vals = append(vals, it.v)
			ws = append(ws, it.w)
		}
	}
	var total int64
	for _, w := range ws {
		total += w
	}
	out := make([]float64, len(ps))
	if total == 0 {
		return out
	}
	j := 0
	var cum int64
	for i, p := range ps {
		rank := (total*int64(p) + 99) / 100 // ceil(total*p/100)
		if rank < 1 {
			rank = 1
		}
		for j < len(vals) && cum+ws[j] < rank {
			cum += ws[j]
			j++
		}
		if j >= len(vals) {
			out[i] = vals[len(vals)-1]
		} else {
			out[i] = vals[j]
		}
	}
	return out
}

// sketch is a deterministic quantile sketch in the style of Manku,
// Rajagopalan and Lindsay: level h holds values of weight 2^h; a full level
// is sorted and every other value (alternating which half) moves up a
// level with double weight. Total weight is kept exactly. Each compaction
// at level h moves any rank by at most 2^h, and at most n/(k*2^h)
// compactions happen there, so the rank error is at most H*n/k for H
// levels: with k = 32768 and up to 2^40 values (H <= 26), below 0.08% of
// n, under the 0.1 percentile points the spec allows.
type sketch struct {
	k      int
	levels [][]float64
	flip   []bool
}

func newSketch(k int) *sketch { return &sketch{k: k} }

func (s *sketch) add(v float64, w int64) {
	for h := 0; w != 0; h, w = h+1, w>>1 {
		if w&1 == 1 {
			s.push(h, v)
		}
	}
}

func (s *sketch) push(h int, v float64) {
	for len(s.levels) <= h {
		s.levels = append(s.levels, nil)
		s.flip = append(s.flip, false)
	}
	s.levels[h] = append(s.levels[h], v)
	if len(s.levels[h]) >= s.k {
		s.compact(h)
	}
}

func (s *sketch) compact(h int) {
	buf := s.levels[h]
	slices.Sort(buf)
	var left []float64
	if len(buf)%2 == 1 {
		left = append(left, buf[len(buf)-1])
		buf = buf[:len(buf)-1]
	}
	off := 0
	if s.flip[h] {
		off = 1
	}
	s.flip[h] = !s.flip[h]
	up := make([]float64, 0, len(buf)/2)
	for i := off; i < len(buf); i += 2 {
		up = append(up, buf[i])
	}
	s.levels[h] = append(buf[:0], left...)
	for _, v := range up {
		s.push(h+1, v)
	}
}

// hll is a HyperLogLog distinct counter with 2^14 registers (standard
// error about 0.8%), for columns too large to count exactly.
type hll struct {
	reg [1 << 14]uint8
}

func newHLL() *hll { return &hll{} }

func (h *hll) add(x uint64) {
	idx := x >> 50
	w := x<<14 | 1<<13
	r := uint8(bits.LeadingZeros64(w) + 1)
	if r > h.reg[idx] {
		h.reg[idx] = r
	}
}

func (h *hll) estimate() int64 {
	const m = float64(1 << 14)
	sum := 0.0
	zeros := 0
	for _, r := range h.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return int64(e + 0.5)
}

// hashBytes is a fixed 64-bit hash (so results never depend on a process
// seed): 8-byte words mixed by multiplication, then a MurmurHash3-style
// finaliser.
func hashBytes(b []byte) uint64 {
	const c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
	h := uint64(len(b)) * c2
	for len(b) >= 8 {
		k := binary.LittleEndian.Uint64(b)
		k *= c1
		k = bits.RotateLeft64(k, 31)
		k *= c2
		h ^= k
		h = bits.RotateLeft64(h, 27)*5 + 0x52dce729
		b = b[8:]
	}
	var k uint64
	for i := len(b) - 1; i >= 0; i-- {
		k = k<<8 | uint64(b[i])
	}
	k *= c1
	k = bits.RotateLeft64(k, 31)
	k *= c2
	h ^= k
	return fmix64(h)
}

func hashInt(x int64) uint64 { return fmix64(uint64(x) ^ 0x9e3779b97f4a7c15) }

func hashFloat(v float64) uint64 {
	if v == 0 {
		v = 0 // -0 and 0 are one value
	}
	return fmix64(math.Float64bits(v) ^ 0x2545f4914f6cdd1d)
}

func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
