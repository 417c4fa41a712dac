package expect

import (
	"fmt"
	"strings"
	"time"
)

// MaxIndexDates bounds the dates one --index-date-range may give (about 190
// years of weeks), so a typo in a year cannot ask for millions of files.
const MaxIndexDates = 10000

// rangeHelp is the fix appended to index-date-range errors.
const rangeHelp = `write "START to END by week|month" (e.g. "2021-01-01 to 2021-12-01 by month") or a single date; dates are YYYY-MM-DD or today`

// ParseIndexDateRange parses --index-date-range: "START to END [by week|month]"
// or a single date, where a date is YYYY-MM-DD or "today" (resolved to the
// calendar date of today). The period defaults to month. Dates run from
// START in steps of 7 days or one calendar month while not after END, and
// are returned newest first, the order they are processed in. Monthly steps
// keep the day of the month, so a monthly range starting on day 29, 30 or
// 31 is rejected (some later month lacks that day).
func ParseIndexDateRange(s string, today time.Time) ([]time.Time, error) {
	f := strings.Fields(s)
	period := "month"
	var startS, endS string
	switch {
	case len(f) == 1:
		startS, endS = f[0], f[0]
	case len(f) == 3 && f[1] == "to":
		startS, endS = f[0], f[2]
	case len(f) == 5 && f[1] == "to" && f[3] == "by":
		startS, endS, period = f[0], f[2], f[4]
	case len(f) == 0:
		return nil, fmt.Errorf("empty index date range: %s", rangeHelp)
	default:
		return nil, fmt.Errorf("invalid index date range %q: %s", s, rangeHelp)
	}
	if period != "week" && period != "month" {
		return nil, fmt.Errorf("invalid index date range %q: unknown time period %q, use week or month", s, period)
	}
	start, err := rangeDate(startS, today)
	if err != nil {
		return nil, fmt.Errorf("invalid index date range %q: start %v", s, err)
	}
	end, err := rangeDate(endS, today)
	if err != nil {
		return nil, fmt.Errorf("invalid index date range %q: end %v", s, err)
	}
	if end.Before(start) {
		return nil, fmt.Errorf("invalid index date range %q: the end %s is before the start %s; swap them", s, isoDate(end), isoDate(start))
	}
	if len(f) > 1 && period == "month" && start.Day() > 28 {
		return nil, fmt.Errorf("invalid index date range %q: monthly steps keep the day of the month, and not every month has a day %d; start on day 1 to 28 (e.g. %s), or step by week",
			s, start.Day(), isoDate(civil(start.Year(), int(start.Month()), 1)))
	}
	var dates []time.Time
	for k := 0; ; k++ {
		var t time.Time
		if period == "week" {
			t = start.AddDate(0, 0, 7*k)
		} else {
			t = start.AddDate(0, k, 0) // day <= 28, so never normalised
		}
		if t.After(end) {
			break
		}
		if len(dates) == MaxIndexDates {
			return nil, fmt.Errorf("invalid index date range %q: it gives more than %d dates; narrow it or step by month", s, MaxIndexDates)
		}
		dates = append(dates, t)
	}
	for i, j := 0, len(dates)-1; i < j; i, j = i+1, j-1 {
		dates[i], dates[j] = dates[j], dates[i]
	}
	return dates, nil
}

// rangeDate parses one end of a range: "today" or YYYY-MM-DD.
func rangeDate(s string, today time.Time) (time.Time, error) {
	if s == NameToday {
		y, m, d := dateOf(today)
		return civil(y, m, d), nil
	}
	y, m, d, err := parseISO(s)
	if err != nil {
		if strings.Contains(err.Error(), "date expression") {
			return time.Time{}, fmt.Errorf("%q is not YYYY-MM-DD or today", s)
		}
		return time.Time{}, fmt.Errorf("%q %v", s, err)
	}
	return civil(y, m, d), nil
}

// OutputName is the file name of one index date's output:
// <outputName><suffix>_<YYYY-MM-DD>.<ext>, with outputName defaulting to
// "input" as in cohort-extractor. ext may be given with or without its dot
// ("csv.gz" or ".csv.gz").
func OutputName(outputName, suffix string, date time.Time, ext string) string {
	if outputName == "" {
		outputName = "input"
	}
	ext = strings.TrimPrefix(ext, ".")
	return outputName + suffix + "_" + date.Format("2006-01-02") + "." + ext
}
