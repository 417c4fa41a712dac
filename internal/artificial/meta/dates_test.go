package meta

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestCivilRoundTrip(t *testing.T) {
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	for day := int32(-800000); day <= 3000000; day += 37 {
		y, m, d := CivilFromDays(day)
		if got := DaysFromCivil(y, m, d); got != day {
			t.Fatalf("DaysFromCivil(CivilFromDays(%d)) = %d", day, got)
		}
		want := epoch.AddDate(0, 0, int(day))
		if y != want.Year() || m != int(want.Month()) || d != want.Day() {
			t.Fatalf("CivilFromDays(%d) = %d-%d-%d, time says %s", day, y, m, d, want.Format("2006-01-02"))
		}
	}
}

func TestParseDay(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
		err  bool
	}{
		{"1970-01-01", 0, false},
		{"1969-12-31", -1, false},
		{"2000-02-29", 11016, false},
		{"2024-12-31", 20088, false},
		{"0001-01-01", -719162, false},
		{"9999-12-31", 2932896, false},
		{"2001-02-29", 0, true},
		{"2020-13-01", 0, true},
		{"2020-00-10", 0, true},
		{"2020-01-00", 0, true},
		{"0000-01-01", 0, true},
		{"2020-1-01", 0, true},
		{"2020/01/01", 0, true},
		{"2020-01-01T00:00:00", 0, true},
		{" 2020-01-01", 0, true},
		{"", 0, true},
	} {
		got, err := ParseDay(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("ParseDay(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDay(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if s := DayString(got); s != tc.in {
			t.Errorf("DayString(%d) = %q, want %q", got, s, tc.in)
		}
	}
}

func TestGrainRange(t *testing.T) {
	day := func(s string) int32 {
		d, err := ParseDay(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		day, grain, start, end string
	}{
		{"2024-02-29", GrainDay, "2024-02-29", "2024-02-29"},
		{"2024-02-29", GrainWeek, "2024-02-29", "2024-02-29"},
		{"2023-02-28", GrainWeek, "2023-02-22", "2023-02-28"},
		{"2024-01-31", GrainWeek, "2024-01-29", "2024-01-31"},
		{"2024-01-07", GrainWeek, "2024-01-01", "2024-01-07"},
		{"2024-01-08", GrainWeek, "2024-01-08", "2024-01-14"},
		{"2024-04-30", GrainWeek, "2024-04-29", "2024-04-30"},
		{"2024-02-10", GrainMonth, "2024-02-01", "2024-02-29"},
		{"2024-05-10", GrainQuarter, "2024-04-01", "2024-06-30"},
		{"2024-12-10", GrainQuarter, "2024-10-01", "2024-12-31"},
		{"2024-05-10", GrainYear, "2024-01-01", "2024-12-31"},
	} {
		s, e := GrainRange(day(tc.day), tc.grain)
		if DayString(s) != tc.start || DayString(e) != tc.end {
			t.Errorf("GrainRange(%s, %s) = %s..%s, want %s..%s", tc.day, tc.grain, DayString(s), DayString(e), tc.start, tc.end)
		}
	}
}

// counts builds a day map from "YYYY-MM-DD" -> n.
func counts(t *testing.T, m map[string]int64) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	for s, n := range m {
		d, err := ParseDay(s)
		if err != nil {
			t.Fatal(err)
		}
		out[d] += n
	}
	return out
}

func binsString(bins []DateBin) []string {
	var out []string
	for _, b := range bins {
		out = append(out, b.Start+".."+b.End+" "+b.Grain+" "+itoa(b.N))
	}
	return out
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCoarsenDates(t *testing.T) {
	k5 := DefaultSDC
	for _, tc := range []struct {
		name     string
		days     map[string]int64
		sdc      SDC
		coarsest string
		want     []string
	}{
		{
			name: "every day common: day bins, rounded",
			days: map[string]int64{"2024-01-01": 7, "2024-01-02": 12, "2024-01-09": 5},
			sdc:  k5,
			want: []string{"2024-01-01..2024-01-01 day 5", "2024-01-02..2024-01-02 day 10", "2024-01-09..2024-01-09 day 5"},
		},
		{
			name: "one rare day makes a week bin, the other week stays at day grain",
			days: map[string]int64{"2024-03-01": 20, "2024-03-02": 1, "2024-03-03": 30, "2024-03-10": 6},
			sdc:  k5,
			want: []string{"2024-03-01..2024-03-07 week 50", "2024-03-10..2024-03-10 day 5"},
		},
		{
			name: "the 29-end week is short",
			days: map[string]int64{"2023-02-22": 3, "2023-02-28": 3, "2024-01-29": 3, "2024-01-31": 3},
			sdc:  k5,
			want: []string{"2023-02-22..2023-02-28 week 5", "2024-01-29..2024-01-31 week 5"},
		},
		{
			name: "a sparse week makes a month bin",
			days: map[string]int64{"2024-05-01": 50, "2024-05-20": 2, "2024-06-03": 9},
			sdc:  k5,
			want: []string{"2024-05-01..2024-05-31 month 50", "2024-06-03..2024-06-03 day 10"},
		},
		{
			name: "a sparse month makes a quarter bin",
			days: map[string]int64{"2024-04-03": 10, "2024-05-01": 2, "2024-06-03": 9, "2024-07-01": 5},
			sdc:  k5,
			want: []string{"2024-04-01..2024-06-30 quarter 20", "2024-07-01..2024-07-01 day 5"},
		},
		{
			name: "a sparse quarter makes a year bin; a sparse year is dropped",
			days: map[string]int64{"2020-01-03": 10, "2020-11-01": 2, "2021-06-01": 4},
			sdc:  k5,
			want: []string{"2020-01-01..2020-12-31 year 10"},
		},
		{
			name:     "coarsest month: a sparse month is dropped, not merged",
			days:     map[string]int64{"2024-04-03": 10, "2024-05-01": 2, "2024-06-03": 1, "2024-06-04": 8},
			sdc:      k5,
			coarsest: GrainMonth,
			want:     []string{"2024-04-03..2024-04-03 day 10", "2024-06-01..2024-06-07 week 10"},
		},
		{
			name:     "coarsest day: rare days are dropped",
			days:     map[string]int64{"2024-04-03": 10, "2024-04-04": 2},
			sdc:      k5,
			coarsest: GrainDay,
			want:     []string{"2024-04-03..2024-04-03 day 10"},
		},
		{
			name:     "coarsest week: a sparse week is dropped",
			days:     map[string]int64{"2024-04-03": 10, "2024-04-04": 2, "2024-04-20": 3},
			sdc:      k5,
			coarsest: GrainWeek,
			want:     []string{"2024-04-01..2024-04-07 week 10"},
		},
		{
			name: "k = 8 (OpenSAFELY)",
			days: map[string]int64{"2024-01-01": 8, "2024-01-02": 7, "2024-02-01": 13},
			sdc:  SDC{MinCount: 8, RoundBase: 5},
			want: []string{"2024-01-01..2024-01-07 week 15", "2024-02-01..2024-02-01 day 15"},
		},
		{
			name: "zero and negative counts are ignored",
			days: map[string]int64{"2024-01-01": 0, "2024-01-02": -4, "2024-01-03": 5},
			sdc:  k5,
			want: []string{"2024-01-03..2024-01-03 day 5"},
		},
		{
			name: "nothing",
			days: map[string]int64{},
			sdc:  k5,
			want: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := binsString(CoarsenDates(counts(t, tc.days), tc.sdc, tc.coarsest))
			if !eqStrings(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// Property: over random day counts, bins are sorted, never overlap, are
// aligned to their grain, respect the coarsest grain, hold only released
// counts (>= k, multiples of the base), and every raw day with a count
// either lies in exactly one bin or was dropped; a bin's raw total is at
// least k.
func TestCoarsenDatesProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for iter := 0; iter < 400; iter++ {
		s := SDC{MinCount: int64(1 + r.IntN(10)), RoundBase: int64(1 + r.IntN(5))}
		if s.RoundBase > s.MinCount {
			s.RoundBase = s.MinCount
		}
		coarsest := ""
		if r.IntN(3) == 0 {
			coarsest = Grains[r.IntN(len(Grains))]
		}
		days := map[int32]int64{}
		base, _ := ParseDay("2019-11-15")
		span := 30 + r.IntN(1500)
		for i := 0; i < r.IntN(400); i++ {
			d := base + int32(r.IntN(span))
			if r.IntN(4) == 0 {
				days[d] += int64(r.IntN(3))
			} else {
				days[d] += int64(r.IntN(40))
			}
		}
		bins := CoarsenDates(days, s, coarsest)
		limit := grainRank(coarsest)
		if coarsest == "" {
			limit = grainRank(GrainYear)
		}
		var prevEnd int32 = -1 << 30
		for _, b := range bins {
			st, err1 := ParseDay(b.Start)
			en, err2 := ParseDay(b.End)
			if err1 != nil || err2 != nil {
				t.Fatalf("bad bin %+v", b)
			}
			if st <= prevEnd {
				t.Fatalf("bins overlap or are unsorted at %+v: %v", b, binsString(bins))
			}
			prevEnd = en
			as, ae := GrainRange(st, b.Grain)
			if as != st || ae != en {
				t.Fatalf("bin %+v is not aligned to its grain", b)
			}
			if grainRank(b.Grain) > limit {
				t.Fatalf("bin %+v is coarser than %q", b, coarsest)
			}
			if s.MinCount%s.RoundBase == 0 && b.N < s.MinCount {
				t.Fatalf("bin %+v below k=%d", b, s.MinCount)
			}
			if b.N%s.RoundBase != 0 {
				t.Fatalf("bin %+v not a multiple of %d", b, s.RoundBase)
			}
			var raw int64
			for d, n := range days {
				if d >= st && d <= en && n > 0 {
					raw += n
				}
			}
			if raw < s.MinCount {
				t.Fatalf("bin %+v has raw total %d < k=%d", b, raw, s.MinCount)
			}
			if want, _ := s.Control(raw); want != b.N {
				t.Fatalf("bin %+v: raw total %d controls to %d", b, raw, want)
			}
		}
		// Every day with count >= k at day grain is covered unless a
		// coarsest grain forced a drop; with no coarsest limit, dropped
		// mass is only whole years below k.
		if coarsest == "" {
			years := map[int]int64{}
			for d, n := range days {
				if n > 0 {
					y, _, _ := CivilFromDays(d)
					years[y] += n
				}
			}
			covered := map[int]bool{}
			for _, b := range bins {
				st, _ := ParseDay(b.Start)
				y, _, _ := CivilFromDays(st)
				covered[y] = true
			}
			ys := make([]int, 0, len(years))
			for y := range years {
				ys = append(ys, y)
			}
			sort.Ints(ys)
			for _, y := range ys {
				if years[y] >= s.MinCount && !covered[y] {
					t.Fatalf("year %d has %d records but no bin (k=%d)", y, years[y], s.MinCount)
				}
				if years[y] < s.MinCount && covered[y] {
					t.Fatalf("year %d has %d records < k but a bin", y, years[y])
				}
			}
			// Within a covered year, every day with a count is covered.
			for d, n := range days {
				y, _, _ := CivilFromDays(d)
				if n <= 0 || !covered[y] {
					continue
				}
				i := sort.Search(len(bins), func(i int) bool { e, _ := ParseDay(bins[i].End); return e >= d })
				if i == len(bins) {
					t.Fatalf("day %s (n=%d) is in no bin", DayString(d), n)
				}
				if st, _ := ParseDay(bins[i].Start); st > d {
					t.Fatalf("day %s (n=%d) is in no bin", DayString(d), n)
				}
			}
		}
	}
}
