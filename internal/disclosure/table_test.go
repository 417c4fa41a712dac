package disclosure

import (
	"errors"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

func TestNormalise(t *testing.T) {
	tk := newTokens(nil)
	tests := []struct {
		raw      string
		kind     Kind
		num      float64
		decimals int8
		percent  bool
		money    bool
	}{
		{"125", KindNumber, 125, 0, false, false},
		{" 1,234,567 ", KindNumber, 1234567, 0, false, false},
		{"1,23", KindText, 0, 0, false, false}, // not a valid grouping
		{"12.40", KindNumber, 12.4, 2, false, false},
		{"-3.5e2", KindNumber, -350, 1, false, false},
		{"33.3%", KindNumber, 33.3, 1, true, false},
		{"£1,200.50", KindNumber, 1200.5, 2, false, true},
		{"$7", KindNumber, 7, 0, false, true},
		{"", KindMissing, 0, 0, false, false},
		{"NaN", KindMissing, 0, 0, false, false},
		{".", KindMissing, 0, 0, false, false},
		{"[REDACTED]", KindRedacted, 0, 0, false, false},
		{"Suppressed", KindRedacted, 0, 0, false, false},
		{"*", KindRedacted, 0, 0, false, false},
		{"n/a", KindAmbiguous, 0, 0, false, false},
		{"<=7", KindBound, 7, 0, false, false},
		{"≤7", KindBound, 7, 0, false, false},
		{"<0.001", KindBound, 0.001, 3, false, false},
		{"Mixed", KindText, 0, 0, false, false},
		{"1e", KindText, 0, 0, false, false},
		{"e5", KindText, 0, 0, false, false},
	}
	for _, tt := range tests {
		v := normalise(tt.raw, tk)
		if v.Kind != tt.kind || (tt.kind == KindNumber || tt.kind == KindBound) && (v.Num != tt.num || v.Decimals != tt.decimals) || v.Percent != tt.percent || v.Money != tt.money {
			t.Errorf("normalise(%q) = kind %d num %g decimals %d percent %v money %v; want kind %d num %g decimals %d percent %v money %v",
				tt.raw, v.Kind, v.Num, v.Decimals, v.Percent, v.Money, tt.kind, tt.num, tt.decimals, tt.percent, tt.money)
		}
	}
	if v := normalise("12 (3.4%)", tk); v.Kind != KindNumber || v.Num != 12 || !v.HasPct {
		t.Errorf("composite: %+v", v)
	}
}

func TestParseCSVErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
		line             int
	}{
		{"empty", "  \n", "empty", 0},
		{"ragged", "a,b\n1,2\n3\n", "row has 1 fields but the header has 2", 3},
		{"unbalanced quote", "a,b\n\"1,2\n", "never closed", 2},
		{"quote in field", "a,b\n1,x\"y\n", "quote inside an unquoted field", 2},
		{"semicolons", "a;b\n1;2\n", "not comma-separated", 1},
		{"not utf-8", "a,b\n1,\xff\n", "not valid UTF-8", 2},
	}
	for _, tt := range tests {
		_, err := ParseCSV("f.csv", []byte(tt.data), nil)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, tt.want) || pe.Line != tt.line {
			t.Errorf("%s: error %v (line %d), want %q at line %d", tt.name, err, lineOf(pe), tt.want, tt.line)
		}
		if pe != nil && pe.Hint == "" {
			t.Errorf("%s: no hint", tt.name)
		}
	}
}

func lineOf(pe *ParseError) int {
	if pe == nil {
		return -1
	}
	return pe.Line
}

func TestParseCSVStackedAndQuoted(t *testing.T) {
	data := "\ufeffa,b\n\"x, y\",\"say \"\"hi\"\"\"\r\n\nc,d\n1,2\n"
	tables, err := ParseCSV("f.csv", []byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 {
		t.Fatalf("%d tables, want 2", len(tables))
	}
	if got := tables[0].Columns[0][0].Raw; got != "x, y" {
		t.Errorf("quoted field %q", got)
	}
	if got := tables[0].Columns[1][0].Raw; got != `say "hi"` {
		t.Errorf("doubled quotes %q", got)
	}
	if tables[1].FirstLine != 4 || tables[1].Header[0] != "c" {
		t.Errorf("second table at line %d with header %v", tables[1].FirstLine, tables[1].Header)
	}
	fr := CheckFile("f.csv", []byte(data), Options{Profile: mustProfile(t, "opensafely")})
	if got := nonPass(fr); !slices.Contains(got, "F6s REVIEW 0,") {
		t.Errorf("stacked tables: %q", got)
	}
}

// Any input: no panic, and a file that is not a table gets an ERROR with a
// reason.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,b\n\"1,2\n", "x\n", "", "a,b\n1,2\n\nc\n3\n", "h,n\nx,<=7\ny,1,234\n", "p\n33.3%\n"} {
		f.Add([]byte(s))
	}
	p, err := LoadProfile("opensafely")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := CheckFile("fuzz.csv", data, Options{Profile: p})
		for _, x := range fr.Findings {
			if x.Verdict == Error && x.Message == "" {
				t.Fatalf("ERROR without a reason: %+v", x)
			}
			if !utf8.ValidString(x.Message) {
				t.Fatalf("message not UTF-8: %q", x.Message)
			}
		}
		if fr.Verdict < Pass || fr.Verdict > Fail {
			t.Fatalf("verdict %v", fr.Verdict)
		}
	})
}

func TestProfiles(t *testing.T) {
	os := mustProfile(t, "opensafely")
	if os.T() != 7 || !os.Rounding.Required || os.Rounding.Base != 5 || os.Limits.MaxCSVRows != 5000 || !os.AllowsType(".CSV") || os.AllowsType(".xlsx") {
		t.Errorf("opensafely: %+v", os)
	}
	acro := mustProfile(t, "sdap")
	if acro.Name != "acro" || acro.T() != 9 || acro.AllowsType(".svg") || !acro.AllowsType(".xlsx") || acro.Zeros != "review" {
		t.Errorf("acro: %+v", acro)
	}
	uk := mustProfile(t, "ukllc")
	if uk.Name != "ukllc" || uk.Zeros != "fail" || uk.T() != 9 || uk.Endpoints != "fail" {
		t.Errorf("ukllc (extends acro): %+v", uk)
	}
	if os.SHA256 == acro.SHA256 || acro.SHA256 == uk.SHA256 || len(os.SHA256) != 64 {
		t.Errorf("profile hashes must differ: %s %s %s", os.SHA256, acro.SHA256, uk.SHA256)
	}
	if again := mustProfile(t, "opensafely"); again.SHA256 != os.SHA256 {
		t.Error("the same profile hashed twice differs")
	}
	dir := t.TempDir()
	write(t, dir+"/site.yaml", "extends: opensafely\nname: site\nmin_count: 10\n")
	site, err := LoadProfile(dir + "/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if site.T() != 9 || site.Rounding.Base != 5 || site.SHA256 == os.SHA256 {
		t.Errorf("site profile: T %d base %d", site.T(), site.Rounding.Base)
	}
	for name, content := range map[string]string{
		"unknown key":  "extends: opensafely\nname: x\nmin_cuont: 10\n",
		"bad zeros":    "extends: opensafely\nname: x\nzeros: maybe\n",
		"self extends": "extends: self.yaml\nname: x\n",
	} {
		path := dir + "/self.yaml"
		write(t, path, content)
		if _, err := LoadProfile(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LoadProfile("nhs"); err == nil || !strings.Contains(err.Error(), "opensafely") {
		t.Errorf("unknown profile: %v", err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := osWriteFile(path, []byte(content)); err != nil {
		t.Fatal(err)
	}
}

// The one-pass parser for simple files gives exactly the tables the
// general parser gives.
func FuzzParseSimpleMatchesGeneral(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "a,b\r\n1,2\r\n", "a,b\n1,2", "a,b\n1\n", "a, b \n [REDACTED] ,<=7\n", "x,y\n1,2\n\n", "a,b\n1,2\n \n"} {
		f.Add(s)
	}
	tk := newTokens(nil)
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
			return
		}
		fast, ok, ferr := parseSimple("f.csv", s, tk)
		if !ok {
			return
		}
		records, lines, err := splitRecords(s)
		if err != nil {
			t.Fatalf("simple path accepted what the general one refuses: %v", err)
		}
		general, gerr := buildTable("f.csv", records, lines, tk)
		if (ferr == nil) != (gerr == nil) {
			t.Fatalf("errors differ: simple %v, general %v", ferr, gerr)
		}
		if ferr != nil {
			if ferr.Error() != gerr.Error() {
				t.Fatalf("errors differ: simple %v, general %v", ferr, gerr)
			}
			return
		}
		if !reflect.DeepEqual(fast.Header, general.Header) || fast.Rows() != general.Rows() {
			t.Fatalf("tables differ: %v %d rows vs %v %d rows", fast.Header, fast.Rows(), general.Header, general.Rows())
		}
		for c := range fast.Columns {
			for r := range fast.Columns[c] {
				if fast.Columns[c][r] != general.Columns[c][r] {
					t.Fatalf("cell %d,%d: %+v vs %+v", r, c, fast.Columns[c][r], general.Columns[c][r])
				}
			}
		}
	})
}

// FuzzParseNumber checks parseNumber against strconv.ParseFloat: every
// plain decimal it accepts has exactly the value ParseFloat gives (its
// fast path divides an exact mantissa by an exact power of ten), and it
// accepts every plain decimal ParseFloat reads as a finite number.
func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "12", "93.4", "0.1", "-3.25", "1e3", "2.5E-4", ".5", "5.", "123456789012345", "1234567890123456.5", "0.000000000000001", "1e", "e5", "1.2.3", "2000-01", "0-4", "-", "9007199254740993"} {
		f.Add(s)
	}
	plain := regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsAny(s, ",%$") || strings.Contains(s, "£") {
			return // separators, percentages and money have their own tests
		}
		var v Value
		got, ok := parseNumber(s, &v)
		want, err := strconv.ParseFloat(s, 64)
		valid := plain.MatchString(s) && err == nil && !math.IsInf(want, 0)
		switch {
		case ok && !valid:
			t.Fatalf("parseNumber(%q) = %v, not a plain decimal (ParseFloat: %v)", s, got, err)
		case !ok && valid:
			t.Fatalf("parseNumber(%q) refused a number ParseFloat reads as %v", s, want)
		case ok && got != want:
			t.Fatalf("parseNumber(%q) = %v, ParseFloat = %v", s, got, want)
		}
	})
}

// TestValueSize pins the cell's size: a 150 MB table holds 26 million.
func TestValueSize(t *testing.T) {
	if n := unsafe.Sizeof(Value{}); n != 32 {
		t.Fatalf("Value is %d bytes, want 32", n)
	}
}
