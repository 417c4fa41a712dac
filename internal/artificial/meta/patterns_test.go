package meta

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// nhsCheckReference is an independent modulus-11 computation over a whole
// 10-digit string, written differently from NHSCheckDigit (running sum
// from the right), to cross-check it.
func nhsCheckReference(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 0
	for i := 8; i >= 0; i-- {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		sum += int(s[i]-'0') * (10 - i)
	}
	r := (11 - sum%11) % 11
	return r != 10 && s[9] == byte('0'+r)
}

func TestNHSCheckDigit(t *testing.T) {
	for _, tc := range []struct {
		nine string
		want int
		ok   bool
	}{
		{"943476591", 9, true},  // 90+36+24+28+42+30+20+27+2 = 299; 299 mod 11 = 2; 11-2 = 9
		{"401023213", 7, true},  // 40+0+8+0+12+15+8+3+6 = 92; 92 mod 11 = 4; 11-4 = 7
		{"000000000", 0, true},  // 11 becomes 0
		{"123456789", 0, false}, // 10+18+24+28+30+30+28+24+18 = 210; 210 mod 11 = 1; 11-1 = 10: invalid
		{"100000000", 1, true},  // 10 mod 11 = 10; 11-10 = 1
		{"94347659", 0, false},  // eight digits
		{"94347659x", 0, false},
		{"", 0, false},
	} {
		got, ok := NHSCheckDigit(tc.nine)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NHSCheckDigit(%q) = %d, %v; want %d, %v", tc.nine, got, ok, tc.want, tc.ok)
		}
	}
	// Every 9-digit prefix of a sample agrees with the reference.
	for p := 0; p < 1_000_000_000; p += 7_919_993 {
		nine := fmt.Sprintf("%09d", p)
		for d := 0; d <= 9; d++ {
			ten := nine + string(rune('0'+d))
			c, ok := NHSCheckDigit(nine)
			if got, want := ok && c == d, nhsCheckReference(ten); got != want {
				t.Fatalf("%s: check %d %v, reference says valid=%v", ten, c, ok, want)
			}
		}
	}
}

func TestNHSNumber(t *testing.T) {
	for _, tc := range []struct {
		in    string
		valid bool   // ValidNHSNumber(in)
		find  string // FindNHSNumber(in), "" for none
	}{
		{"9434765919", true, "9434765919"},
		{"9434765918", false, ""}, // wrong check digit
		{"943 476 5919", true, "943 476 5919"},
		{"943-476-5919", true, "943-476-5919"},
		{"943 476-5919", false, ""}, // mixed separators
		{"943  476 5919", false, ""},
		{"4010232137", true, "4010232137"},
		{"1234567890", false, ""},  // check would be 10
		{"94347659190", false, ""}, // eleven digits
		{"19434765919", false, ""},
		{"NHS no 943 476 5919.", false, "943 476 5919"},
		{"A9434765919B", false, "9434765919"},
		{"id 1 9434765918 then 4010232137", false, "4010232137"},
		{"", false, ""},
	} {
		if got := ValidNHSNumber(tc.in); got != tc.valid {
			t.Errorf("ValidNHSNumber(%q) = %v, want %v", tc.in, got, tc.valid)
		}
		got, ok := FindNHSNumber(tc.in)
		if ok != (tc.find != "") || got != tc.find {
			t.Errorf("FindNHSNumber(%q) = %q, %v; want %q", tc.in, got, ok, tc.find)
		}
		if tc.valid && !nhsCheckReference(strings.NewReplacer(" ", "", "-", "").Replace(tc.in)) {
			t.Errorf("%q: the reference check disagrees", tc.in)
		}
	}
}

func TestPostcode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		find string
	}{
		{"SW1A 1AA", "SW1A 1AA"},
		{"M1 1AE", "M1 1AE"},
		{"GIR 0AA", "GIR 0AA"},
		{"gir0aa", "gir0aa"},
		{"sw1a1aa", "sw1a1aa"},
		{"B33 8TH", "B33 8TH"},
		{"CR2 6XH", "CR2 6XH"},
		{"DN55 1PT", "DN55 1PT"},
		{"EC1A 1BB", "EC1A 1BB"},
		{"W1A 0AX", "W1A 0AX"},
		{"lives at SW1A 1AA, London", "SW1A 1AA"},
		{"ABC 123", ""},
		{"QA1 1AA", ""},   // Q never first
		{"AI1 1AA", ""},   // I never second
		{"W1L 1AA", ""},   // L is not a letter of A9A
		{"EC1Z 1AA", ""},  // Z is not a letter of AA9A
		{"SW1A 1CA", ""},  // C is never an inward letter
		{"SW1A  1AA", ""}, // two spaces
		{"XSW1A 1AA", ""}, // part of a longer word
		{"SW1A 1AAB", ""},
		{"1AA", ""},
		{"", ""},
	} {
		got, ok := FindPostcode(tc.in)
		if ok != (tc.find != "") || got != tc.find {
			t.Errorf("FindPostcode(%q) = %q, %v; want %q", tc.in, got, ok, tc.find)
		}
	}
	if !IsPostcode("sw1a 1aa") || IsPostcode("x SW1A 1AA") {
		t.Error("IsPostcode must match a whole postcode in any case, and only that")
	}
}

func TestEmail(t *testing.T) {
	for _, tc := range []struct{ in, find string }{
		{"jane.doe@example.co.uk", "jane.doe@example.co.uk"},
		{"contact: j_smith+tag@nhs.net.", "j_smith+tag@nhs.net"},
		{"A.B@Mail.Example.ORG", "A.B@Mail.Example.ORG"},
		{"a@b.c", ""}, // final label of one letter
		{"x@localhost", ""},
		{"no at sign", ""},
		{"@example.com", ""},
		{"user@.com", ""},
	} {
		got, ok := FindEmail(tc.in)
		if ok != (tc.find != "") || got != tc.find {
			t.Errorf("FindEmail(%q) = %q, %v; want %q", tc.in, got, ok, tc.find)
		}
	}
}

func TestPhone(t *testing.T) {
	for _, tc := range []struct{ in, find string }{
		{"020 7946 0958", "020 7946 0958"},
		{"+44 20 7946 0958", "+44 20 7946 0958"},
		{"07700 900123", "07700 900123"},
		{"07700900123", "07700900123"},
		{"(020) 7946 0958", "(020) 7946 0958"},
		{"+44 (0)20 7946 0958", "+44 (0)20 7946 0958"},
		{"+447700900123", "+447700900123"},
		{"0113 496 0000", "0113 496 0000"},
		{"020 7946 0958 #123", "020 7946 0958 #123"},
		{"tel: 01632 960123, ask for x", "01632 960123"},
		{"0207946095", ""},    // ten characters: too short
		{"00 44 20 7946", ""}, // international prefix
		{"12345678901", ""},   // no leading 0
		{"2020-01-01", ""},
		{"0.5", ""},
		{"0 2 0 7 9 4 6 0 9 5 8", ""}, // single digits are not groups
		{"", ""},
	} {
		got, ok := FindPhone(tc.in)
		if ok != (tc.find != "") || got != tc.find {
			t.Errorf("FindPhone(%q) = %q, %v; want %q", tc.in, got, ok, tc.find)
		}
	}
}

func TestLongIdentifier(t *testing.T) {
	for _, tc := range []struct{ in, find string }{
		{"ABC123456789", "ABC123456789"},
		{"TEST0123456789ABCDEF", "TEST0123456789ABCDEF"},
		{"1234567890", "1234567890"},
		{"ref 9434765918.", "9434765918"},
		{"x12345678901y", "12345678901"},
		{"ABCDEFGHIJKL", ""}, // letters only: AM10's business
		{"ABC12345678", ""},  // eleven characters
		{"abc123456789", ""}, // lower case, nine digits
		{"123456789", ""},
		{"2021-01-01", ""},
	} {
		got, ok := FindLongIdentifier(tc.in)
		if ok != (tc.find != "") || got != tc.find {
			t.Errorf("FindLongIdentifier(%q) = %q, %v; want %q", tc.in, got, ok, tc.find)
		}
	}
}

func TestLettersAndWhitespace(t *testing.T) {
	for _, tc := range []struct {
		in             string
		letters, space bool
	}{
		{"Female", true, false},
		{"  Johnson ", true, false},
		{"Müller", true, false},
		{"Smith", false, false}, // five letters
		{"O'Brien", false, false},
		{"Not known", false, true},
		{"a\tb", false, true},
		{" x ", false, false},
		{"", false, false},
		{"A01", false, false},
	} {
		if got := LettersOnly(tc.in); got != tc.letters {
			t.Errorf("LettersOnly(%q) = %v, want %v", tc.in, got, tc.letters)
		}
		if got := InternalWhitespace(tc.in); got != tc.space {
			t.Errorf("InternalWhitespace(%q) = %v, want %v", tc.in, got, tc.space)
		}
	}
}

func TestScanPatterns(t *testing.T) {
	pats := func(s string) []string {
		var out []string
		for _, m := range ScanPatterns(s) {
			out = append(out, m.Pattern+"="+m.Text)
		}
		return out
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		// A valid NHS number is not reported again as a long identifier;
		// an invalid one is.
		{"9434765919", []string{"nhs_number=9434765919"}},
		{"9434765918", []string{"long_identifier=9434765918"}},
		{"943 476 5919", []string{"nhs_number=943 476 5919", "internal_whitespace=943 476 5919"}},
		{"07700900123", []string{"uk_phone=07700900123"}},
		{"jo@example.com", []string{"email=jo@example.com"}},
		{"SW1A 1AA", []string{"uk_postcode=SW1A 1AA", "internal_whitespace=SW1A 1AA"}},
		{"Female", []string{"letters_only=Female"}},
		{"A01", nil},
	} {
		got := pats(tc.in)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("ScanPatterns(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzNHSNumber(f *testing.F) {
	for _, s := range []string{"9434765919", "943 476 5919", "943-476-5919", "9434765918", "x 401 023 2137 y", "", "\xff9434765919"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := FindNHSNumber(s)
		if !ok {
			if ValidNHSNumber(s) {
				t.Fatalf("ValidNHSNumber(%q) but FindNHSNumber finds nothing", s)
			}
			return
		}
		if !strings.Contains(s, got) || !ValidNHSNumber(got) {
			t.Fatalf("FindNHSNumber(%q) = %q, which is not a valid NHS number in it", s, got)
		}
		if !nhsCheckReference(strings.NewReplacer(" ", "", "-", "").Replace(got)) {
			t.Fatalf("FindNHSNumber(%q) = %q, which the reference check rejects", s, got)
		}
	})
}

func FuzzPatterns(f *testing.F) {
	for _, s := range []string{"9434765919", "SW1A 1AA", "a@b.co", "+44 (0)20 7946 0958 #1234", "Not known", "Müller", "\xff\xfe", "(0", "+44", "GIR 0AA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range ScanPatterns(s) {
			if m.Start < 0 || m.End > len(s) || m.Start > m.End || s[m.Start:m.End] != m.Text {
				t.Fatalf("ScanPatterns(%q): match %+v does not locate its text", s, m)
			}
			if m.Text == "" {
				t.Fatalf("ScanPatterns(%q): empty match %+v", s, m)
			}
		}
		if p, ok := FindPostcode(s); ok && !IsPostcode(p) {
			t.Fatalf("FindPostcode(%q) = %q, not a postcode", s, p)
		}
		if p, ok := FindPhone(s); ok && len(p) <= 10 {
			t.Fatalf("FindPhone(%q) = %q, ten characters or fewer", s, p)
		}
		if v := showValue(s); !utf8.ValidString(v) {
			t.Fatalf("showValue(%q) = %q, not UTF-8", s, v)
		}
	})
}
