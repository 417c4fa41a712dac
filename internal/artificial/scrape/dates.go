package scrape

import (
	"fmt"
	"math"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// denseSpan is the widest run of days a date column counts in an array
// (about 11,000 years, so every four-digit year fits); a typed column
// spanning more falls back to a map.
const denseSpan = 1 << 22

// dateAcc counts a date column's values per day (and per hour of day for
// datetimes). Days are counted in an array covering the span seen so far:
// an increment instead of a map update per value.
type dateAcc struct {
	lo     int32
	dense  []int64
	sparse map[int32]int64
	hours  [24]int64
	frac   bool
	n      int64
}

func newDateAcc() *dateAcc { return &dateAcc{} }

func (d *dateAcc) add(day int32, hour int, frac bool, c int64) {
	d.n += c
	d.hours[hour] += c
	if frac {
		d.frac = true
	}
	if d.sparse != nil {
		d.sparse[day] += c
		return
	}
	i := int64(day) - int64(d.lo)
	if i < 0 || i >= int64(len(d.dense)) {
		if !d.grow(day) {
			d.sparse[day] += c
			return
		}
		i = int64(day) - int64(d.lo)
	}
	d.dense[i] += c
}

// grow widens the array to hold day, with room to spare; it returns false
// after switching to the map.
func (d *dateAcc) grow(day int32) bool {
	if len(d.dense) == 0 {
		d.lo = day - 512
		d.dense = make([]int64, 1024)
		return true
	}
	lo, hi := int64(d.lo), int64(d.lo)+int64(len(d.dense)) // [lo, hi)
	span := hi - lo
	if int64(day) < lo {
		lo = max(min(int64(day), lo-span), math.MinInt32)
	} else {
		hi = min(max(int64(day)+1, hi+span), math.MaxInt32+1)
	}
	if hi-lo > denseSpan {
		d.sparse = d.days()
		d.dense = nil
		return false
	}
	nd := make([]int64, hi-lo)
	copy(nd[int64(d.lo)-lo:], d.dense)
	d.lo, d.dense = int32(lo), nd
	return true
}

// days returns the counts per day (days with a count only).
func (d *dateAcc) days() map[int32]int64 {
	if d.sparse != nil {
		return d.sparse
	}
	m := map[int32]int64{}
	for i, c := range d.dense {
		if c != 0 {
			m[d.lo+int32(i)] = c
		}
	}
	return m
}

// fixed reports a layout whose every value has the same text shape, so the
// shape and distinct count of its values can be rebuilt from the days.
func (l dateLayout) fixed() bool {
	return l.base == LayoutISO || l.base == LayoutDMY || l.base == LayoutCompact
}

// text writes day in a fixed layout.
func (l dateLayout) text(day int32) string {
	y, m, d := meta.CivilFromDays(day)
	switch l.base {
	case LayoutDMY:
		return fmt.Sprintf("%02d/%02d/%04d", d, m, y)
	case LayoutCompact:
		return fmt.Sprintf("%04d%02d%02d", y, m, d)
	}
	return meta.DayString(day)
}

// minDay and maxDay bound the dates Haven keeps: years 0001 to 9999.
var minDay, maxDay = meta.DaysFromCivil(1, 1, 1), meta.DaysFromCivil(9999, 12, 31)
