package civil

import (
	"testing"
	"time"
)

func TestAgainstTimePackage(t *testing.T) {
	for day := int64(-800000); day < 800000; day += 97 {
		y, m, d := CivilFromDays(day)
		want := time.Unix(day*86400, 0).UTC()
		if int(y) != want.Year() || m != int(want.Month()) || d != want.Day() {
			t.Fatalf("day %d: %d-%d-%d, want %s", day, y, m, d, want.Format("2006-01-02"))
		}
		if back := DaysFromCivil(y, m, d); back != day {
			t.Fatalf("DaysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, back, day)
		}
		if n := DaysInMonth(y, m); n != time.Date(int(y), time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
			t.Fatalf("DaysInMonth(%d, %d) = %d", y, m, n)
		}
	}
	for _, c := range []struct{ a, b, want int64 }{{7, 2, 3}, {-7, 2, -4}, {-8, 2, -4}, {0, 5, 0}, {-1, 86400, -1}} {
		if got := FloorDiv(c.a, c.b); got != c.want {
			t.Errorf("FloorDiv(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
