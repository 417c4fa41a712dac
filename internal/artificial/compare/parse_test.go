package compare

import (
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

func TestParseISODay(t *testing.T) {
	for _, c := range []struct {
		s   string
		day int64
		ok  bool
	}{
		{"1970-01-01", 0, true},
		{"1969-12-31", -1, true},
		{"2020-02-29", 18321, true},
		{"2021-02-29", 0, false},
		{"2020-13-01", 0, false},
		{"2020-00-10", 0, false},
		{"0000-01-01", 0, false},
		{"2020-1-01", 0, false},
		{"2020/01/01", 0, false},
		{"2020-01-01 ", 0, false},
		{"", 0, false},
		{"+020-01-01", 0, false},
	} {
		day, ok := parseISODay([]byte(c.s))
		if ok != c.ok || (ok && day != c.day) {
			t.Errorf("parseISODay(%q) = %d, %v; want %d, %v", c.s, day, ok, c.day, c.ok)
		}
	}
}

func TestTimeParser(t *testing.T) {
	for _, c := range []struct {
		layout   string
		datetime bool
		s        string
		want     string // RFC 3339, or "" for not a time
	}{
		{"", false, "2021-03-14", "2021-03-14T00:00:00Z"},
		{"2006-01-02", false, "2021-03-14", "2021-03-14T00:00:00Z"},
		{"02/01/2006", false, "14/03/2021", "2021-03-14T00:00:00Z"},
		{"02/01/2006", false, "2021-03-14", ""},
		{"20060102", false, "20210314", "2021-03-14T00:00:00Z"},
		{"", true, "2021-03-14T15:09:26", "2021-03-14T15:09:26Z"},
		{"", true, "2021-03-14 15:09:26", "2021-03-14T15:09:26Z"},
		{"", true, "2021-03-14", "2021-03-14T00:00:00Z"},
		{"", true, "2021-03-14T24:00:00", ""},
		{"2006-01-02 15:04:05", true, "2021-03-14 15:09:26", "2021-03-14T15:09:26Z"},
		{"02/01/2006 15:04", true, "14/03/2021 15:09", "2021-03-14T15:09:00Z"},
		{"", false, "not a date", ""},
	} {
		p := newTimeParser(c.layout, c.datetime)
		for range 2 { // the second time from the cache, where there is one
			s, ok := p.seconds([]byte(c.s))
			got := ""
			if ok {
				got = time.Unix(s, 0).UTC().Format(time.RFC3339)
			}
			if got != c.want {
				t.Errorf("layout %q: %q reads as %q, want %q", c.layout, c.s, got, c.want)
			}
		}
	}
}

func TestBoolToken(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "0": 0, "TRUE": 1, "False": 0, "y": 1, "N": 0, "yes": 1, "no": 0, "T": 1, "f": 0, "2": -1, "": -1, "ja": -1} {
		truth, ok := boolToken(s)
		got := -1
		if ok {
			got = b2i(truth)
		}
		if got != want {
			t.Errorf("boolToken(%q) = %d, want %d", s, got, want)
		}
	}
}

// The fast ISO parsers accept nothing time.Parse refuses, and agree with
// it; the time parser as a whole reads what time.Parse reads.
func FuzzParseISO(f *testing.F) {
	for _, s := range []string{"2020-02-29", "2021-02-29", "1970-01-01T00:00:00", "9999-12-31 23:59:59", "0001-01-01", "2020-01-01T25:00:00", "0001-10-01 0:00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(what string, secs int64, ok bool, layout string, strict bool) {
			tm, err := time.Parse(layout, s)
			want := err == nil && tm.Year() >= 1
			if ok && !want || !strict && ok != want {
				t.Fatalf("%s(%q) ok %v, time.Parse(%q) says %v (%v)", what, s, ok, layout, want, err)
			}
			if ok && secs != tm.Unix() {
				t.Fatalf("%s(%q) = %d, time.Parse %v", what, s, secs, tm)
			}
		}
		day, ok := parseISODay([]byte(s))
		check("parseISODay", day*86400, ok, "2006-01-02", true)
		for _, sep := range []string{"T", " "} {
			secs, ok := parseISODatetime([]byte(s), sep[0])
			check("parseISODatetime", secs, ok, "2006-01-02"+sep+"15:04:05", true)
		}
		secs, ok := newTimeParser("", false).seconds([]byte(s))
		check("date parser", secs, ok, "2006-01-02", false)
		secs, ok = newTimeParser("2006-01-02 15:04:05", true).seconds([]byte(s))
		if _, err := time.Parse("2006-01-02", s); err != nil { // the date-only fallback aside
			if _, err := time.Parse("2006-01-02T15:04:05", s); err != nil {
				check("datetime parser", secs, ok, "2006-01-02 15:04:05", false)
			}
		}
	})
}

// The scanner's cheap tests never hide a pattern the review's scanners
// would find.
func FuzzScannerPrefilter(f *testing.F) {
	for _, s := range []string{"SW1A 1AA", "sw1a1aa", "943 476 5919", "call 020 7946 0958", "a.b@example.org", "+44 (0)20 7946 0958", "EC1A 1BB.", "ſW1A 1AA", "M1 1AE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits := 0
		for i := 0; i < len(s); i++ {
			if '0' <= s[i] && s[i] <= '9' {
				digits++
			}
		}
		if _, ok := meta.FindPostcode(s); ok && (digits == 0 || !mayHavePostcode([]byte(s))) {
			t.Fatalf("%q holds a postcode, but the prefilter skips it", s)
		}
		if _, ok := meta.FindNHSNumber(s); ok && digits < 10 {
			t.Fatalf("%q holds an NHS number with %d digits", s, digits)
		}
		if _, ok := meta.FindPhone(s); ok && digits < 10 {
			t.Fatalf("%q holds a phone number with %d digits", s, digits)
		}
		if _, ok := meta.FindEmail(s); ok && !strings.Contains(s, "@") {
			t.Fatalf("%q holds an e-mail address without @", s)
		}
		// Scanning never panics, and a remembered value counts again.
		sc := newScanner("c", map[string]bool{})
		sc.text([]byte(s), 1)
		first := sc.results()
		sc.text([]byte(s), 2)
		for i, h := range sc.results() {
			if h.Rows != 2*first[i].Rows || h.FirstRow != 1 {
				t.Fatalf("%q scanned twice: %+v after %+v", s, h, first[i])
			}
		}
	})
}
