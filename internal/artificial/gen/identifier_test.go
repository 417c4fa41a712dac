package gen

import (
	"regexp"
	"strings"
	"testing"
)

func TestParsePattern(t *testing.T) {
	cases := []struct {
		pattern string
		space   uint64
		prefix  string
		length  int
		err     string
	}{
		{"TEST[0-9]{3}", 1000, "TEST", 7, ""},
		{"TEST[0-9A-Z]{28}", 1 << 62, "TEST", 32, ""},
		{"X[ab]-[0-9]", 20, "X", 4, ""},
		{`TEST\[[0-9]`, 10, "TEST[", 6, ""},
		{"TESTA{3}", 1, "TESTAAA", 7, ""},
		{"TEST[0-9]{2,4}", 0, "", 0, "fixed length"},
		{"TEST[0-9]+", 0, "", 0, "not supported"},
		{"TEST[0-9", 0, "", 0, "no closing ]"},
		{"TEST[9-0]", 0, "", 0, "reversed"},
		{"TEST[^0-9]", 0, "", 0, "negated"},
		{"{3}", 0, "", 0, "follows nothing"},
		{"TEST[0-9]{0}", 0, "", 0, "from 1 to 128"},
		{"", 0, "", 0, "empty"},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.pattern, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		if p.Space() != c.space || p.Prefix() != c.prefix || p.Len() != c.length {
			t.Errorf("%q: space %d prefix %q len %d, want %d %q %d", c.pattern, p.Space(), p.Prefix(), p.Len(), c.space, c.prefix, c.length)
		}
	}
}

// Value numbers map one to one onto the pattern's strings.
func TestPatternValuesAreDistinct(t *testing.T) {
	p, err := ParsePattern("TEST[AB][0-9]{2}")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^TEST[AB][0-9]{2}$`)
	seen := map[string]bool{}
	for v := uint64(0); v < p.Space(); v++ {
		s := string(p.AppendValue(nil, v))
		if !re.MatchString(s) || seen[s] {
			t.Fatalf("value %d is %q (seen before: %v)", v, s, seen[s])
		}
		seen[s] = true
	}
	if len(seen) != 200 {
		t.Fatalf("%d values, want 200", len(seen))
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"TEST[0-9A-Z]{28}", `TEST\[x]`, "A{128}", "[a-c-e]{2}", "T{", "[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		v := string(p.AppendValue(nil, p.Space()-1))
		if len(v) != p.Len() || !strings.HasPrefix(v, p.Prefix()) {
			t.Fatalf("%q: value %q has length %d (want %d) or lacks prefix %q", s, v, len(v), p.Len(), p.Prefix())
		}
	})
}
