package expect

import (
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDateExprResolve(t *testing.T) {
	today := day("2024-06-15")
	cases := []struct {
		expr, index, want string
	}{
		{"2019-06-10", "", "2019-06-10"},
		{"  2019-06-10 ", "", "2019-06-10"},
		{"2020-02-29", "", "2020-02-29"},
		{"today", "", "2024-06-15"},
		{"index_date", "2017-08-19", "2017-08-19"},
		{"index_date + 1 day", "2017-08-19", "2017-08-20"},
		{"index_date - 30 days", "2017-08-19", "2017-07-20"},
		{"index_date + 5 months", "2017-08-19", "2018-01-19"},
		{"index_date - 8 months", "2017-08-19", "2016-12-19"},
		{"index_date + 2 years", "2017-08-19", "2019-08-19"},
		{"index_date+2years", "2017-08-19", "2019-08-19"},
		{"index_date - 1 year", "2020-03-01", "2019-03-01"},
		{"index_date + 1 month", "2020-01-29", "2020-02-29"},
		{"index_date + 1 day", "2020-12-31", "2021-01-01"},
		{"first_day_of_month(index_date)", "2017-08-19", "2017-08-01"},
		{"last_day_of_month(index_date)", "2017-08-19", "2017-08-31"},
		{"last_day_of_month(index_date)", "2020-02-10", "2020-02-29"},
		{"last_day_of_month(index_date)", "2021-02-10", "2021-02-28"},
		{"first_day_of_year(index_date)", "2017-08-19", "2017-01-01"},
		{"last_day_of_year(index_date)", "2017-08-19", "2017-12-31"},
		{"first_day_of_month(index_date) - 15 days", "2017-08-19", "2017-07-17"},
		{"first_day_of_nhs_financial_year(index_date)", "2017-08-19", "2017-04-01"},
		{"last_day_of_nhs_financial_year(index_date)", "2017-08-19", "2018-03-31"},
		{"first_day_of_nhs_financial_year(index_date)", "2018-02-04", "2017-04-01"},
		{"last_day_of_nhs_financial_year(index_date)", "2018-02-04", "2018-03-31"},
		{"first_day_of_nhs_financial_year(index_date)", "2019-04-01", "2019-04-01"},
		{"last_day_of_nhs_financial_year(index_date)", "2020-03-31", "2020-03-31"},
		{"first_day_of_school_year(index_date)", "2017-08-19", "2016-09-01"},
		{"last_day_of_school_year(index_date)", "2017-08-19", "2017-08-31"},
		{"first_day_of_school_year(index_date)", "2019-09-01", "2019-09-01"},
		{"last_day_of_school_year(index_date)", "2019-09-01", "2020-08-31"},
		{"first_day_of_month(today)", "", "2024-06-01"},
		{"last_day_of_school_year ( today ) - 1 year", "", "2023-08-31"},
	}
	for _, c := range cases {
		e, err := ParseDateExpr(c.expr)
		if err != nil {
			t.Errorf("ParseDateExpr(%q): %v", c.expr, err)
			continue
		}
		var idx time.Time
		if c.index != "" {
			idx = day(c.index)
		}
		got, err := e.Resolve(idx, c.index != "", today)
		if err != nil {
			t.Errorf("%q at %s: %v", c.expr, c.index, err)
			continue
		}
		if s := isoDate(got); s != c.want {
			t.Errorf("%q at %s = %s, want %s", c.expr, c.index, s, c.want)
		}
	}
}

// Every upstream error case of spec 7.4 errors, with a message that says
// what is wrong.
func TestDateExprErrors(t *testing.T) {
	parse := []struct{ expr, want string }{
		{"", "empty date"},
		{"   ", "empty date"},
		{"2021-02-30", "February 2021 has 28 days"},
		{"2021-13-01", "month must be 01 to 12"},
		{"0000-01-01", "year must be 0001"},
		{"2021/01/01", "is not a date or a date expression"},
		{"21-01-01", "is not a date or a date expression"},
		{"2021-1-1", "is not a date or a date expression"},
		{"20210101", "is not a date or a date expression"},
		{"2021-01-01 + 1 month", "is not a date or a date expression"},
		{"first_day_of_week(index_date)", `unknown date function "first_day_of_week"`},
		{"index_date + 1 mnth", `unknown date unit "mnth"`},
		{"index_date + 1", "missing unit after 1"},
		{"index_date + month", "expected a whole number"},
		{"index_date * 2 months", "unexpected"},
		{"first_day_of_month(index_date", "missing ')'"},
		{"index_date)", "without a matching '('"},
		{"first_day_of_month()", "expected a name"},
		{"index_date + 99999999999999999999 days", "too large a quantity"},
		{"index_date + 1 month extra", "unknown date unit"},
		{"index_date + 1 month)", "unexpected"},
	}
	for _, c := range parse {
		_, err := ParseDateExpr(c.expr)
		if err == nil {
			t.Errorf("ParseDateExpr(%q) succeeded, want an error containing %q", c.expr, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseDateExpr(%q) = %q, want it to contain %q", c.expr, err, c.want)
		}
	}
	resolve := []struct {
		expr, index, want string
	}{
		{"index_date + 1 year", "2020-02-29", "no such date 29 February 2021 (29 February 2020 + 1 year)"},
		{"index_date + 1 month", "2020-01-31", "no such date 31 February 2020 (31 January 2020 + 1 month)"},
		{"index_date - 1 month", "2021-03-31", "no such date 31 February 2021"},
		{"index_date + 1 month", "2021-01-31", "no such date 31 February 2021"},
		{"index_date + 1 month", "2021-03-31", "no such date 31 April 2021"},
		{"last_day_of_month(index_date) + 1 month", "2021-01-15", "no such date 31 February 2021"},
		{"index_date - 4 years", "2024-02-29", ""}, // 2020 is a leap year: fine
		{"index_date", "", "the study has no index date"},
		{"first_day_of_month(index_date)", "", "the study has no index date"},
		{"hospital_admission + 6 months", "2020-01-01", `refers to column "hospital_admission"`},
		{"index_date + 9000 years", "2020-01-01", "outside 1 to 9999"},
		{"index_date - 2020 years", "2020-01-01", "outside 1 to 9999"},
	}
	for _, c := range resolve {
		e, err := ParseDateExpr(c.expr)
		if err != nil {
			t.Errorf("ParseDateExpr(%q): %v", c.expr, err)
			continue
		}
		var idx time.Time
		if c.index != "" {
			idx = day(c.index)
		}
		got, err := e.Resolve(idx, c.index != "", day("2024-01-01"))
		if c.want == "" {
			if err != nil {
				t.Errorf("%q at %s: %v", c.expr, c.index, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q at %s = %s, want an error containing %q", c.expr, c.index, isoDate(got), c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q at %s: %q, want it to contain %q", c.expr, c.index, err, c.want)
		}
	}
}

func TestDateExprAccessors(t *testing.T) {
	e, err := ParseDateExpr("hospital_admission + 6 months")
	if err != nil {
		t.Fatal(err)
	}
	if e.Column() != "hospital_admission" || e.Name() != "hospital_admission" || e.IsFixed() || e.String() != "hospital_admission + 6 months" {
		t.Errorf("column expression: column %q name %q fixed %v text %q", e.Column(), e.Name(), e.IsFixed(), e.String())
	}
	for _, s := range []string{"index_date - 1 day", "today", "last_day_of_month(today)"} {
		e, err := ParseDateExpr(s)
		if err != nil || e.Column() != "" || e.IsFixed() {
			t.Errorf("%q: column %q fixed %v err %v", s, e.Column(), e.IsFixed(), err)
		}
	}
	e, err = ParseDateExpr("2020-01-01")
	if err != nil || !e.IsFixed() || e.Column() != "" || e.Name() != "" {
		t.Errorf("fixed date: fixed %v column %q err %v", e.IsFixed(), e.Column(), err)
	}
}

// The calendar date of the index is taken in its own location, not shifted
// to UTC.
func TestDateExprIndexLocation(t *testing.T) {
	loc := time.FixedZone("UTC+10", 10*3600)
	idx := time.Date(2021, 3, 1, 0, 30, 0, 0, loc) // 2021-02-28 in UTC
	e, _ := ParseDateExpr("index_date")
	got, err := e.Resolve(idx, true, idx)
	if err != nil || isoDate(got) != "2021-03-01" {
		t.Fatalf("got %s, %v; want 2021-03-01", isoDate(got), err)
	}
}

func FuzzParseDateExpr(f *testing.F) {
	for _, s := range []string{
		"2020-01-01", "index_date", "today + 3 days", "first_day_of_month(index_date) - 1 year",
		"last_day_of_nhs_financial_year(today)+12months", "col.x - 2 days", "(", ")", "a(b)", "a(b)+", "a+1", "9999-12-31",
		"index_date + 4000000 years", "index_date - 4000000 days", "x\u00a0+\u20021 day",
	} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, offset int64) {
		e, err := ParseDateExpr(s)
		if err != nil {
			if e.IsFixed() {
				t.Fatalf("%q: error %v with a fixed date", s, err)
			}
			return
		}
		idx := day("2000-01-01").AddDate(0, 0, int(offset%3_000_000))
		got, err := e.Resolve(idx, true, idx)
		if err == nil && (got.Year() < 1 || got.Year() > 9999) {
			t.Fatalf("%q resolved to %v, outside years 1-9999", s, got)
		}
		if e.IsFixed() {
			if err != nil {
				t.Fatalf("%q: fixed date does not resolve: %v", s, err)
			}
			// A fixed date round-trips.
			again, err := ParseDateExpr(isoDate(got))
			if err != nil || !again.IsFixed() {
				t.Fatalf("%q: %s does not parse back: %v", s, isoDate(got), err)
			}
		}
	})
}
