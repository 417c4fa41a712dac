package meta

import (
	"fmt"
	"github.com/haven-tre/haven/internal/artificial/civil"
	"sort"
)

// Days are counted from 1970-01-01 (day 0) in the proleptic Gregorian
// calendar, as Arrow's date32. The helpers below are pure integer
// arithmetic, so they agree on every platform and never consult a time
// zone.

// DaysFromCivil returns the day number of year y, month m (1-12), day d.
func DaysFromCivil(y, m, d int) int32 { return int32(civil.DaysFromCivil(int64(y), m, d)) }

// CivilFromDays is the inverse of DaysFromCivil.
func CivilFromDays(day int32) (y, m, d int) {
	yy, m, d := civil.CivilFromDays(int64(day))
	return int(yy), m, d
}

// DaysInMonth returns the number of days of month m (1-12) of year y.
func DaysInMonth(y, m int) int { return civil.DaysInMonth(int64(y), m) }

// ParseDay parses an ISO date "YYYY-MM-DD" (years 0001 to 9999) into its
// day number. It is strict: no spaces, no time, real calendar days only.
func ParseDay(s string) (int32, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("date %q is not in the form YYYY-MM-DD", s)
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("date %q is not in the form YYYY-MM-DD", s)
	}
	if y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m) {
		return 0, fmt.Errorf("date %q is not a calendar day", s)
	}
	return DaysFromCivil(y, m, d), nil
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// DayString formats a day number as "YYYY-MM-DD".
func DayString(day int32) string {
	y, m, d := CivilFromDays(day)
	if y < 0 || y > 9999 {
		return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	}
	b := [10]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-',
		byte('0' + d/10), byte('0' + d%10),
	}
	return string(b[:])
}

// grainRank orders the grains, finest first; -1 for an unknown grain.
func grainRank(g string) int {
	for i, x := range Grains {
		if x == g {
			return i
		}
	}
	return -1
}

// GrainRange returns the first and last day of the unit of grain g (day,
// month-aligned week, month, quarter or year) that holds day. An unknown
// grain is treated as day.
func GrainRange(day int32, g string) (start, end int32) {
	y, m, d := CivilFromDays(day)
	switch g {
	case GrainWeek:
		first := (d-1)/7*7 + 1
		last := first + 6
		if first == 29 {
			last = DaysInMonth(y, m)
		}
		return DaysFromCivil(y, m, first), DaysFromCivil(y, m, last)
	case GrainMonth:
		return DaysFromCivil(y, m, 1), DaysFromCivil(y, m, DaysInMonth(y, m))
	case GrainQuarter:
		qm := (m-1)/3*3 + 1
		return DaysFromCivil(y, qm, 1), DaysFromCivil(y, qm+2, DaysInMonth(y, qm+2))
	case GrainYear:
		return DaysFromCivil(y, 1, 1), DaysFromCivil(y, 12, 31)
	}
	return day, day
}

// CoarsenDates turns raw counts per day into non-overlapping,
// calendar-aligned date bins under disclosure control (spec 3.4), sorted
// by start. It works bottom-up on raw counts:
//
//   - a month-aligned week (days 1-7, 8-14, 15-21, 22-28, 29-end) is
//     released as day bins only when every non-empty day in it has a raw
//     count of at least k; otherwise the week is one bin;
//   - a week bin below k turns its whole month into one bin; a month bin
//     below k turns its quarter into one bin, a quarter bin below k its
//     year, and a year bin below k is dropped;
//   - coarsest, when set, is the coarsest grain allowed: a bin below k
//     that would have to merge into a coarser unit is dropped instead
//     (with coarsest "day", days below k are dropped);
//   - the released counts are then rounded with s.Control.
//
// Days with a count of zero or less are ignored. The result never has two
// bins covering the same day, and no released bin is below k.
func CoarsenDates(days map[int32]int64, s SDC, coarsest string) []DateBin {
	limit := grainRank(coarsest)
	if limit < 0 {
		limit = grainRank(GrainYear)
	}
	entries := make([]dayCount, 0, len(days))
	for d, n := range days {
		if n > 0 {
			entries = append(entries, dayCount{d, n})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].day < entries[j].day })
	c := coarsener{k: s.MinCount, limit: limit}
	if c.k < 1 {
		c.k = 1
	}
	var raw []rawBin
	for len(entries) > 0 {
		// One calendar year at a time.
		_, yEnd := GrainRange(entries[0].day, GrainYear)
		n := sort.Search(len(entries), func(i int) bool { return entries[i].day > yEnd })
		raw = append(raw, c.unit(entries[:n], grainRank(GrainYear))...)
		entries = entries[n:]
	}
	out := make([]DateBin, 0, len(raw))
	for _, b := range raw {
		n, ok := s.Control(b.n)
		if !ok {
			continue
		}
		out = append(out, DateBin{Start: DayString(b.start), End: DayString(b.end), Grain: Grains[b.grain], N: n})
	}
	return out
}

type dayCount struct {
	day int32
	n   int64
}

type rawBin struct {
	start, end int32
	grain      int // index into Grains
	n          int64
}

type coarsener struct {
	k     int64
	limit int // coarsest allowed grain rank
}

// unit coarsens the days of one unit of grain rank g (all entries lie in
// the same unit) and returns its bins in order. A unit whose children hold
// a sparse bin (a bin at the child grain below k) becomes one bin of its
// own grain, unless that grain is coarser than the limit, in which case
// the sparse child bins are dropped.
func (c *coarsener) unit(entries []dayCount, g int) []rawBin {
	if g == 0 { // a single day
		return []rawBin{{entries[0].day, entries[0].day, 0, entries[0].n}}
	}
	child := g - 1
	var bins []rawBin
	sparse := false
	for len(entries) > 0 {
		_, end := GrainRange(entries[0].day, Grains[child])
		n := sort.Search(len(entries), func(i int) bool { return entries[i].day > end })
		sub := entries[:n]
		entries = entries[n:]
		if child == 0 {
			bins = append(bins, rawBin{sub[0].day, sub[0].day, 0, sub[0].n})
			continue
		}
		cb := c.unit(sub, child)
		for _, b := range cb {
			if b.grain == child && b.n < c.k {
				sparse = true
			}
		}
		bins = append(bins, cb...)
	}
	if child == 0 {
		// A week: day bins when every day reaches k.
		for _, b := range bins {
			if b.n < c.k {
				sparse = true
			}
		}
	}
	if !sparse {
		if g == grainRank(GrainYear) {
			return dropBelow(bins, c.k, -1)
		}
		return bins
	}
	if g > c.limit {
		// Merging would need a grain coarser than allowed: drop the
		// sparse child bins instead.
		return dropBelow(bins, c.k, child)
	}
	var total int64
	for _, b := range bins {
		total += b.n
	}
	start, end := GrainRange(bins[0].start, Grains[g])
	one := []rawBin{{start, end, g, total}}
	if g == grainRank(GrainYear) {
		return dropBelow(one, c.k, -1)
	}
	return one
}

// dropBelow removes bins below k, only those of grain rank g when g >= 0.
func dropBelow(bins []rawBin, k int64, g int) []rawBin {
	out := bins[:0]
	for _, b := range bins {
		if b.n < k && (g < 0 || b.grain == g) {
			continue
		}
		out = append(out, b)
	}
	return out
}
