package compare

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// The identifier-like patterns compare looks for in generated values: the
// review's AM6-AM9 scanners (internal/artificial/meta), minus the long
// identifier and the name-like checks (AM10, AM11), which generated
// identifiers and codes match by design.
var scannedPatterns = []string{meta.PatternNHSNumber, meta.PatternEmail, meta.PatternPostcode, meta.PatternPhone}

// patternWhat describes a pattern for messages.
var patternWhat = map[string]string{
	meta.PatternNHSNumber: "an NHS number with a valid check digit",
	meta.PatternEmail:     "an e-mail address",
	meta.PatternPostcode:  "a UK postcode",
	meta.PatternPhone:     "a UK phone number",
}

// normalise reduces a match to the form two spellings of one identifier
// share: digits only for NHS and phone numbers, upper case without spaces
// for postcodes, lower case for e-mail addresses.
func normalise(pattern, text string) string {
	switch pattern {
	case meta.PatternNHSNumber, meta.PatternPhone:
		var b strings.Builder
		for i := 0; i < len(text); i++ {
			if c := text[i]; '0' <= c && c <= '9' {
				b.WriteByte(c)
			}
		}
		return pattern + ":" + b.String()
	case meta.PatternPostcode:
		return pattern + ":" + strings.ReplaceAll(strings.ToUpper(text), " ", "")
	}
	return pattern + ":" + strings.ToLower(text)
}

// metadataPatterns returns the identifier-like strings the metadata itself
// holds (normalised), wherever in the table: generating one of those is
// not an invention, and the review has already shown it to a person.
func metadataPatterns(t *meta.Table) map[string]bool {
	set := map[string]bool{}
	add := func(s string) {
		for _, m := range meta.ScanPatterns(s) {
			if _, ok := patternWhat[m.Pattern]; ok {
				set[normalise(m.Pattern, m.Text)] = true
			}
		}
	}
	for _, f := range t.Fields {
		for _, v := range f.Values {
			add(v.V)
		}
		for _, v := range f.Hours {
			add(v.V)
		}
		if f.Text != nil {
			for _, v := range f.Text.Lengths {
				add(v.V)
			}
		}
	}
	return set
}

// scanner looks for identifier-like values in one column. Only values the
// metadata does not hold are given to it.
type scanner struct {
	column string
	known  map[string]bool // metadataPatterns
	hits   map[string]*PatternHit
	// seen remembers what values already scanned found.
	seen map[string]uint8
}

func newScanner(column string, known map[string]bool) *scanner {
	return &scanner{column: column, known: known, hits: map[string]*PatternHit{}, seen: map[string]uint8{}}
}

// maxRemembered bounds the values of one column whose scan results are
// remembered: columns of codes repeat a few values many times.
const maxRemembered = 1 << 12

// text scans one value; row is its 1-based row number in the file.
func (s *scanner) text(b []byte, row int64) {
	if s == nil { // a column not scanned
		return
	}
	if found, ok := s.seen[view(b)]; ok {
		for i, p := range scannedPatterns {
			if found&(1<<i) != 0 {
				s.hits[p].Rows++
			}
		}
		return
	}
	found := s.scan(b, row)
	if len(s.seen) < maxRemembered {
		s.seen[string(b)] = found
	}
}

// scan looks for every pattern in b and returns the patterns found (bit i
// for scannedPatterns[i]).
func (s *scanner) scan(b []byte, row int64) uint8 {
	// Cheap tests first: every pattern needs digits, except e-mail,
	// which needs an @.
	digits := 0
	for _, c := range b {
		if '0' <= c && c <= '9' {
			digits++
		}
	}
	at := bytes.IndexByte(b, '@') >= 0
	if digits == 0 && !at {
		return 0
	}
	v := view(b)
	var found uint8
	if digits >= 10 {
		if m, ok := meta.FindNHSNumber(v); ok && s.hit(meta.PatternNHSNumber, m, row) {
			found |= 1 << 0
		}
		if m, ok := meta.FindPhone(v); ok && s.hit(meta.PatternPhone, m, row) {
			found |= 1 << 3
		}
	}
	if at {
		if m, ok := meta.FindEmail(v); ok && s.hit(meta.PatternEmail, m, row) {
			found |= 1 << 1
		}
	}
	if digits >= 1 && mayHavePostcode(b) {
		if m, ok := meta.FindPostcode(v); ok && s.hit(meta.PatternPostcode, m, row) {
			found |= 1 << 2
		}
	}
	return found
}

// mayHavePostcode reports whether b has a letter and a word of 2 to 7
// ASCII letters and digits, without which no postcode (an outward code of
// 2-4 characters and an inward code of 3, or both together) can be found.
// Text with non-ASCII bytes is always scanned, since case mapping can turn
// some of those into ASCII letters.
func mayHavePostcode(b []byte) bool {
	run := 0
	word, letter := false, false
	for _, c := range b {
		switch {
		case c >= 0x80:
			return true
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
			run++
			continue
		case '0' <= c && c <= '9':
			run++
			continue
		}
		word = word || (run >= 2 && run <= 7)
		run = 0
	}
	word = word || (run >= 2 && run <= 7)
	return word && letter
}

// integer scans an integer value: only ten-digit numbers can be NHS
// numbers, and no integer can be a phone number (they start with 0).
func (s *scanner) integer(v int64, row int64) {
	if s == nil {
		return
	}
	if v < 1_000_000_000 || v > 9_999_999_999 {
		return
	}
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], v, 10)
	if meta.ValidNHSNumber(view(b)) {
		s.hit(meta.PatternNHSNumber, string(b), row)
	}
}

// hit counts a match unless the metadata holds it, and reports whether it
// counted.
func (s *scanner) hit(pattern, match string, row int64) bool {
	if s.known[normalise(pattern, match)] {
		return false
	}
	h := s.hits[pattern]
	if h == nil {
		h = &PatternHit{Column: s.column, Pattern: pattern, What: patternWhat[pattern], FirstRow: row}
		s.hits[pattern] = h
	}
	h.Rows++
	return true
}

// results returns the hits in the order of scannedPatterns.
func (s *scanner) results() []PatternHit {
	var out []PatternHit
	for _, p := range scannedPatterns {
		if h := s.hits[p]; h != nil {
			out = append(out, *h)
		}
	}
	return out
}
