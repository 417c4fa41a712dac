package meta

import (
	"math/rand/v2"
	"testing"
)

// The spec's acceptance case (section 12.1).
func TestControlAcceptance(t *testing.T) {
	raw := []int64{4, 5, 7, 8, 12, 13}
	for _, tc := range []struct {
		name string
		sdc  SDC
		want []int64 // 0 means dropped
	}{
		{"k5 base5", SDC{MinCount: 5, RoundBase: 5}, []int64{0, 5, 5, 10, 10, 15}},
		{"k8 base5", SDC{MinCount: 8, RoundBase: 5}, []int64{0, 0, 0, 10, 10, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, r := range raw {
				got, ok := tc.sdc.Control(r)
				if tc.want[i] == 0 {
					if ok {
						t.Errorf("Control(%d) = %d, kept; want dropped", r, got)
					}
					continue
				}
				if !ok || got != tc.want[i] {
					t.Errorf("Control(%d) = %d, %v; want %d, true", r, got, ok, tc.want[i])
				}
			}
		})
	}
}

func TestControlEdges(t *testing.T) {
	for _, tc := range []struct {
		sdc    SDC
		raw    int64
		want   int64
		wantOK bool
	}{
		{SDC{MinCount: 5, RoundBase: 5}, 0, 0, false},
		{SDC{MinCount: 5, RoundBase: 5}, -3, 0, false},
		{SDC{MinCount: 1, RoundBase: 1}, 0, 0, false},
		{SDC{MinCount: 1, RoundBase: 1}, 1, 1, true},
		{SDC{MinCount: 1, RoundBase: 10}, 5, 10, true}, // half up
		{SDC{MinCount: 1, RoundBase: 10}, 4, 10, true}, // rounding would go below k: the smallest multiple at or above k
		{SDC{MinCount: 6, RoundBase: 5}, 6, 10, true},
		{SDC{MinCount: 6, RoundBase: 5}, 12, 10, true},
		{SDC{MinCount: 2, RoundBase: 4}, 6, 8, true}, // even base: ties go up
		{SDC{MinCount: 2, RoundBase: 4}, 5, 4, true},
		{SDC{MinCount: 5, RoundBase: 5}, 5<<40 + 2, 5 << 40, true},
	} {
		got, ok := tc.sdc.Control(tc.raw)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%+v.Control(%d) = %d, %v; want %d, %v", tc.sdc, tc.raw, got, ok, tc.want, tc.wantOK)
		}
	}
}

// Property over random configurations and counts: a raw count below k is
// never released; every released count is a multiple of the base, at least
// k, and within half a base of the raw count unless rounding would have
// taken it below k (then it is the smallest multiple of the base at or
// above k).
func TestControlProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		k := int64(1 + r.IntN(20))
		base := int64(1 + r.IntN(10))
		s := SDC{MinCount: k, RoundBase: base}
		raw := int64(r.IntN(1000)) - 10
		got, ok := s.Control(raw)
		if raw < k {
			if ok {
				t.Fatalf("k=%d base=%d: raw %d released as %d", k, base, raw, got)
			}
			continue
		}
		if !ok {
			t.Fatalf("k=%d base=%d: raw %d dropped", k, base, raw)
		}
		if got%base != 0 {
			t.Fatalf("k=%d base=%d: raw %d released as %d, not a multiple of the base", k, base, raw, got)
		}
		if got < k {
			t.Fatalf("k=%d base=%d: raw %d released as %d, below k", k, base, raw, got)
		}
		floor := (k + base - 1) / base * base
		if d := got - raw; (d*2 > base || d*2 < -base) && got != floor {
			t.Fatalf("k=%d base=%d: raw %d released as %d, more than half a base away", k, base, raw, got)
		}
	}
}

// With the default k = base = 5 every released count is >= k: the spec's
// guarantee that a reviewer can check mechanically (AM1).
func TestControlDefaultReleasedAtLeastK(t *testing.T) {
	s := DefaultSDC
	for raw := int64(-5); raw < 10000; raw++ {
		got, ok := s.Control(raw)
		if !ok {
			if raw >= s.MinCount {
				t.Fatalf("raw %d dropped", raw)
			}
			continue
		}
		if raw < s.MinCount || got < s.MinCount || got%s.RoundBase != 0 {
			t.Fatalf("raw %d released as %d", raw, got)
		}
	}
}

func FuzzControl(f *testing.F) {
	f.Add(int64(5), int64(5), int64(7))
	f.Add(int64(8), int64(5), int64(12))
	f.Fuzz(func(t *testing.T, k, base, raw int64) {
		if k < 1 || base < 1 || k > 1<<20 || base > 1<<20 || raw > 1<<50 {
			return
		}
		s := SDC{MinCount: k, RoundBase: base}
		got, ok := s.Control(raw)
		if raw < k && ok {
			t.Fatalf("raw %d < k %d released", raw, k)
		}
		if ok && got%base != 0 {
			t.Fatalf("released %d not a multiple of %d", got, base)
		}
	})
}
