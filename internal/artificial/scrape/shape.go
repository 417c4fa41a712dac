package scrape

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// Character classes for shapes.
const (
	clsOther = iota
	clsDigit
	clsUpper
	clsLower
	clsSpace
)

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = clsDigit
		case c >= 'A' && c <= 'Z':
			t[c] = clsUpper
		case c >= 'a' && c <= 'z':
			t[c] = clsLower
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			t[c] = clsSpace
		}
	}
	return t
}()

// shapeAcc describes values without keeping them: how many characters
// (runes) each has, and how many characters fall in each class. Identifier
// patterns and free-text shapes are made from it.
type shapeAcc struct {
	short     [64]int64 // count by length, for lengths below 64
	long      map[int]int64
	class     [5]int64 // characters by class
	withSpace int64    // values holding whitespace
	values    int64
}

func (s *shapeAcc) add(b []byte, c int64) {
	s.values += c
	var cls [5]int64
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		cls[asciiClass[b[i]]]++
		i++
	}
	n := i
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		i += size
		n++
		switch {
		case r < utf8.RuneSelf:
			cls[asciiClass[r]]++
		case unicode.IsSpace(r):
			cls[clsSpace]++
		case unicode.IsUpper(r):
			cls[clsUpper]++
		case unicode.IsLetter(r):
			cls[clsLower]++
		case unicode.IsDigit(r):
			cls[clsDigit]++
		default:
			cls[clsOther]++
		}
	}
	for k := range cls {
		s.class[k] += cls[k] * c
	}
	if cls[clsSpace] > 0 {
		s.withSpace += c
	}
	if n < len(s.short) {
		s.short[n] += c
	} else {
		if s.long == nil {
			s.long = map[int]int64{}
		}
		s.long[n] += c
	}
}

// lengths returns (length, count) pairs ascending by length.
func (s *shapeAcc) lengths() ([]int, []int64) {
	var ls []int
	var cs []int64
	for l, c := range s.short {
		if c > 0 {
			ls = append(ls, l)
			cs = append(cs, c)
		}
	}
	long := make([]int, 0, len(s.long))
	for l := range s.long {
		long = append(long, l)
	}
	sort.Ints(long)
	for _, l := range long {
		ls = append(ls, l)
		cs = append(cs, s.long[l])
	}
	return ls, cs
}

// modeLength is the most common length (the shortest on ties).
func (s *shapeAcc) modeLength() int {
	ls, cs := s.lengths()
	best, bestC := 0, int64(-1)
	for i, l := range ls {
		if cs[i] > bestC {
			best, bestC = l, cs[i]
		}
	}
	return best
}

func (s *shapeAcc) meanLength() float64 {
	if s.values == 0 {
		return 0
	}
	var chars int64
	for _, c := range s.class {
		chars += c
	}
	return float64(chars) / float64(s.values)
}

// textShape is the released shape of a free-text column: lengths with
// controlled counts, class shares rounded to 0.05 (zero when fewer than k
// values were seen).
func (s *shapeAcc) textShape(sdc meta.SDC) (*meta.TextShape, int, int) {
	ts := &meta.TextShape{Lengths: []meta.Value{}}
	ls, cs := s.lengths()
	kept, dropped := 0, 0
	for i, l := range ls {
		n, ok := sdc.Control(cs[i])
		if !ok {
			dropped++
			continue
		}
		kept++
		ts.Lengths = append(ts.Lengths, meta.Value{V: strconv.Itoa(l), N: n})
	}
	var chars int64
	for _, c := range s.class {
		chars += c
	}
	if chars > 0 && s.values >= sdc.MinCount {
		share := func(c int64) float64 { return math.Round(float64(c)/float64(chars)*20) / 20 }
		ts.Letters = share(s.class[clsUpper] + s.class[clsLower])
		ts.Digits = share(s.class[clsDigit])
		ts.Spaces = share(s.class[clsSpace])
		ts.Other = share(s.class[clsOther])
	}
	return ts, kept, dropped
}

// IDPrefix starts every generated identifier pattern, so a made-up
// identifier can never be mistaken for a real one.
const IDPrefix = "TEST"

// pattern derives an identifier pattern from the shape alone: the
// reserved prefix, then one character class (from the classes seen:
// digits, upper- and lower-case letters) repeated so that the whole
// identifier has the most common length, but never fewer class
// characters than give 10^12 distinct values, so the generator can make a
// trillion distinct identifiers from any pattern the scrape writes. No
// character of any value is copied.
func (s *shapeAcc) pattern() string {
	var b strings.Builder
	b.WriteString(IDPrefix)
	b.WriteByte('[')
	digit, upper, lower := s.class[clsDigit] > 0, s.class[clsUpper] > 0, s.class[clsLower] > 0
	if !digit && !upper && !lower {
		digit, upper = true, true
	}
	if digit {
		b.WriteString("0-9")
	}
	if upper {
		b.WriteString("A-Z")
	}
	if lower {
		b.WriteString("a-z")
	}
	b.WriteByte(']')
	size := 0
	for _, c := range []struct {
		on bool
		n  int
	}{{digit, 10}, {upper, 26}, {lower, 26}} {
		if c.on {
			size += c.n
		}
	}
	least := 1 // the fewest characters with size^least >= 10^12
	for space := float64(size); space < 1e12; space *= float64(size) {
		least++
	}
	n := s.modeLength() - len(IDPrefix)
	if s.values == 0 {
		n = 12
	}
	if n < least {
		n = least
	}
	b.WriteString("{" + strconv.Itoa(n) + "}")
	return b.String()
}
