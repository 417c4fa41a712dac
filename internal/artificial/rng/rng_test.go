package rng

import (
	"math"
	"testing"
)

// Known-answer vectors of Philox4x32-10 from the Random123 distribution.
func TestPhiloxKnownAnswers(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  Key
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, Key{0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, Key{0xffffffff, 0xffffffff}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, Key{0xa4093822, 0x299f31d0}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		a, b, d, e := c.key.Block(c.ctr[0], c.ctr[1], c.ctr[2], c.ctr[3])
		if got := [4]uint32{a, b, d, e}; got != c.want {
			t.Errorf("Block(%x, key %x) = %x, want %x", c.ctr, c.key, got, c.want)
		}
	}
}

func TestDeriveSeparatesParts(t *testing.T) {
	run := RunKey("haven", "abc", "v1")
	if Derive(run, "ab", "c") == Derive(run, "a", "bc") {
		t.Fatal("length prefixes do not separate parts")
	}
	if Derive(run, "t", "f") != Derive(run, "t", "f") {
		t.Fatal("Derive is not a function of its inputs")
	}
	if Derive(RunKey("haven", "abc", "v1"), "t") == Derive(RunKey("haven", "abd", "v1"), "t") {
		t.Fatal("the input hash does not reach the key")
	}
}

func TestFloatRange(t *testing.T) {
	if ToFloat(0) != 0 || ToFloat(math.MaxUint64) >= 1 {
		t.Fatalf("ToFloat range: %v %v", ToFloat(0), ToFloat(math.MaxUint64))
	}
	k := Key{1, 2}
	var sum float64
	const n = 100000
	for i := uint64(0); i < n; i++ {
		sum += k.Float64(i, 0)
	}
	if m := sum / n; math.Abs(m-0.5) > 0.005 {
		t.Fatalf("mean of %d uniforms is %v", n, m)
	}
}

func TestPermIsABijection(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 4, 5, 7, 8, 9, 100, 1000, 1023, 1024, 1025, 65537} {
		p := NewPerm(n, Key{7, 9}, 3)
		seen := make([]bool, n)
		moved := 0
		for i := uint64(0); i < n; i++ {
			x := p.At(i)
			if x >= n {
				t.Fatalf("n=%d: At(%d) = %d is out of range", n, i, x)
			}
			if seen[x] {
				t.Fatalf("n=%d: %d is hit twice", n, x)
			}
			seen[x] = true
			if x != i {
				moved++
			}
		}
		if n >= 100 && moved < int(n)*9/10 {
			t.Errorf("n=%d: only %d of %d points move", n, moved, n)
		}
	}
	if NewPerm(1000, Key{1, 1}, 0).At(5) == NewPerm(1000, Key{1, 2}, 0).At(5) && NewPerm(1000, Key{1, 1}, 0).At(6) == NewPerm(1000, Key{1, 2}, 0).At(6) {
		t.Error("different keys give the same permutation")
	}
}

// The permutation's images of a prefix of rows are spread evenly: among the
// first half of the rows, about half the images fall below n/2.
func TestPermSpreads(t *testing.T) {
	const n = 100000
	p := NewPerm(n, Key{3, 4}, 1)
	low := 0
	for i := uint64(0); i < n/2; i++ {
		if p.At(i) < n/2 {
			low++
		}
	}
	if math.Abs(float64(low)-n/4) > 1000 {
		t.Fatalf("%d of the first %d images are below n/2, want about %d", low, n/2, n/4)
	}
}

func TestAliasProbabilitiesAreExact(t *testing.T) {
	for _, w := range [][]int64{{1}, {1, 1}, {1, 3}, {5, 0, 5}, {10, 20, 30, 40}, {1, 1000000, 7, 13, 0, 2}} {
		a, err := NewAlias(w)
		if err != nil {
			t.Fatal(err)
		}
		var total float64
		for _, x := range w {
			total += float64(x)
		}
		prob := make([]float64, len(w))
		for col := range w {
			keep := float64(a.thresh[col]) / (1 << 32)
			if a.thresh[col] == 1<<32-1 {
				keep = 1
			}
			prob[col] += keep / float64(len(w))
			prob[a.alias[col]] += (1 - keep) / float64(len(w))
		}
		for i := range w {
			if want := float64(w[i]) / total; math.Abs(prob[i]-want) > 1e-8 {
				t.Errorf("weights %v: outcome %d has probability %v, want %v", w, i, prob[i], want)
			}
		}
	}
	if _, err := NewAlias(nil); err == nil {
		t.Error("empty table accepted")
	}
	if _, err := NewAlias([]int64{0, 0}); err == nil {
		t.Error("all-zero table accepted")
	}
	if _, err := NewAlias([]int64{-1, 2}); err == nil {
		t.Error("negative weight accepted")
	}
}

func TestAliasSampling(t *testing.T) {
	a, _ := NewAlias([]int64{1, 2, 7})
	k := Key{5, 5}
	counts := make([]int, 3)
	const n = 200000
	for i := uint64(0); i < n; i++ {
		counts[a.Pick(k.Uint64(i, 0))]++
	}
	for i, want := range []float64{0.1, 0.2, 0.7} {
		if got := float64(counts[i]) / n; math.Abs(got-want) > 0.005 {
			t.Errorf("outcome %d: share %v, want %v", i, got, want)
		}
	}
}

func TestApportion(t *testing.T) {
	cases := []struct {
		w     []int64
		total uint64
		want  []uint64
	}{
		{[]int64{1, 1, 1}, 10, []uint64{4, 3, 3}},
		{[]int64{50, 30, 20}, 1000, []uint64{500, 300, 200}},
		{[]int64{1, 2}, 0, []uint64{0, 0}},
		{[]int64{0, 5}, 7, []uint64{0, 7}},
		{[]int64{2, 1, 1}, 3, []uint64{1, 1, 1}}, {[]int64{1, 1}, 1, []uint64{1, 0}},
	}
	for _, c := range cases {
		got, err := Apportion(c.w, c.total)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("Apportion(%v, %d) = %v, want %v", c.w, c.total, got, c.want)
				break
			}
		}
	}
	b := Ranges([]uint64{2, 0, 3})
	for x, want := range []int{0, 0, 2, 2, 2} {
		if got := Find(b, uint64(x)); got != want {
			t.Errorf("Find(%v, %d) = %d, want %d", b, x, got, want)
		}
	}
}

func TestNormalQuantile(t *testing.T) {
	for _, c := range []struct{ p, want float64 }{
		{0.5, 0}, {0.975, 1.959963984540054}, {0.025, -1.959963984540054},
		{0.8413447460685429, 1}, {1e-10, -6.361340902404056}, {0.999, 3.090232306167814},
	} {
		if got := NormalQuantile(c.p); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("NormalQuantile(%v) = %.15g, want %.15g", c.p, got, c.want)
		}
	}
}

func TestPermRangeMatchesAt(t *testing.T) {
	for _, n := range []uint64{1, 2, 10, 997, 1 << 16, 1000003} {
		p := NewPerm(n, Key{9, 9}, 2)
		start := n / 3
		out := make([]uint64, min(n-start, 5000))
		p.Range(start, out)
		for j, x := range out {
			if want := p.At(start + uint64(j)); x != want {
				t.Fatalf("n=%d: Range[%d] = %d, At = %d", n, j, x, want)
			}
		}
	}
}

// Two fields' permutations (different keys) are independent: the joint
// shares of "image in the lower half" are about a quarter each, overall
// and inside every run of consecutive rows.
func TestPermsAreIndependent(t *testing.T) {
	const n = 200000
	a, b := NewPerm(n, Derive([]byte("run"), "t", "a"), 0), NewPerm(n, Derive([]byte("run"), "t", "b"), 0)
	var joint [2][2]int
	for start := uint64(0); start < n; start += 20000 {
		var run [2][2]int
		for i := start; i < start+20000; i++ {
			x, y := 0, 0
			if a.At(i) < n/2 {
				x = 1
			}
			if b.At(i) < n/2 {
				y = 1
			}
			run[x][y]++
			joint[x][y]++
		}
		for x := range 2 {
			for y := range 2 {
				if math.Abs(float64(run[x][y])-5000) > 400 { // about 5 standard deviations
					t.Fatalf("rows %d-%d: cell (%d,%d) has %d of 20000, want about 5000", start, start+19999, x, y, run[x][y])
				}
			}
		}
	}
	for x := range 2 {
		for y := range 2 {
			if math.Abs(float64(joint[x][y])-n/4) > 1000 {
				t.Errorf("cell (%d,%d) has %d of %d, want about %d", x, y, joint[x][y], n, n/4)
			}
		}
	}
}
