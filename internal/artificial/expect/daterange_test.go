package expect

import (
	"strings"
	"testing"
	"time"
)

func TestParseIndexDateRange(t *testing.T) {
	today := day("2024-05-20")
	cases := []struct {
		in   string
		want string // dates newest first, space separated
	}{
		{"2021-01-01 to 2021-03-01 by month", "2021-03-01 2021-02-01 2021-01-01"},
		{"2021-01-01 to 2021-03-01", "2021-03-01 2021-02-01 2021-01-01"},
		{"2021-01-01 to 2021-02-28 by month", "2021-02-01 2021-01-01"},
		{"2021-01-15 to 2021-03-14 by month", "2021-02-15 2021-01-15"},
		{"2020-11-28 to 2021-02-28 by month", "2021-02-28 2021-01-28 2020-12-28 2020-11-28"},
		{"2021-01-01 to 2021-01-29 by week", "2021-01-29 2021-01-22 2021-01-15 2021-01-08 2021-01-01"},
		{"2021-01-01 to 2021-01-28 by week", "2021-01-22 2021-01-15 2021-01-08 2021-01-01"},
		{"2021-01-01 to 2021-01-01 by week", "2021-01-01"},
		{"2021-01-31", "2021-01-31"}, // a single date has no steps
		{"today", "2024-05-20"},
		{"2024-03-01 to today", "2024-05-01 2024-04-01 2024-03-01"},
		{"  2021-01-01   to  2021-02-01  by  month ", "2021-02-01 2021-01-01"},
		{"2021-12-01 to 2022-01-01", "2022-01-01 2021-12-01"},
	}
	for _, c := range cases {
		got, err := ParseIndexDateRange(c.in, today)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		var s []string
		for _, d := range got {
			s = append(s, isoDate(d))
		}
		if strings.Join(s, " ") != c.want {
			t.Errorf("%q = %s, want %s", c.in, strings.Join(s, " "), c.want)
		}
	}
}

func TestParseIndexDateRangeErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "empty index date range"},
		{"2021-01-31 to 2021-03-31 by month", "not every month has a day 31"},
		{"2021-01-29 to 2021-03-31", "not every month has a day 29"},
		{"2020-01-30 to 2020-01-30 by month", "not every month has a day 30"},
		{"2021-03-01 to 2021-01-01", "the end 2021-01-01 is before the start 2021-03-01"},
		{"2021-01-01 to 2021-03-01 by day", `unknown time period "day"`},
		{"2021-01-01 to 2021-03-01 by year", `unknown time period "year"`},
		{"2021-01-01 until 2021-03-01", "invalid index date range"},
		{"2021-01-01 to", "invalid index date range"},
		{"2021-01-01 to 2021-03-01 by", "invalid index date range"},
		{"2021-01-01 to 2021-02-30", "February 2021 has 28 days"},
		{"01/01/2021 to 2021-02-01", `"01/01/2021" is not YYYY-MM-DD or today`},
		{"yesterday", `"yesterday" is not YYYY-MM-DD or today`},
		{"1800-01-01 to 9000-01-01 by week", "more than 10000 dates"},
	}
	for _, c := range cases {
		_, err := ParseIndexDateRange(c.in, day("2024-01-01"))
		if err == nil {
			t.Errorf("%q accepted, want an error containing %q", c.in, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %q, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestOutputName(t *testing.T) {
	d := day("2021-03-01")
	cases := []struct{ name, suffix, ext, want string }{
		{"", "", "csv", "input_2021-03-01.csv"},
		{"input", "_weekly", "csv.gz", "input_weekly_2021-03-01.csv.gz"},
		{"cohort", "", ".feather", "cohort_2021-03-01.feather"},
	}
	for _, c := range cases {
		if got := OutputName(c.name, c.suffix, d, c.ext); got != c.want {
			t.Errorf("OutputName(%q, %q, %q) = %q, want %q", c.name, c.suffix, c.ext, got, c.want)
		}
	}
	if got := OutputName("", "", time.Date(2021, 3, 1, 23, 0, 0, 0, time.UTC), "csv"); got != "input_2021-03-01.csv" {
		t.Errorf("time of day leaks into the name: %s", got)
	}
}
