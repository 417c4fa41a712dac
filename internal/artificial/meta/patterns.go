package meta

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String patterns scanned by review checks AM6-AM11 (spec section 4.3).
// Haven writes its own expressions and scanners; every scanner looks for
// the pattern anywhere in a string, bounded so that it is not part of a
// longer run of digits or letters, and never panics on any input,
// including invalid UTF-8.

// Pattern names, as findings report them in evidence["pattern"].
const (
	PatternNHSNumber  = "nhs_number"          // AM6
	PatternEmail      = "email"               // AM7
	PatternPostcode   = "uk_postcode"         // AM8
	PatternPhone      = "uk_phone"            // AM9
	PatternLongID     = "long_identifier"     // AM9
	PatternLetters    = "letters_only"        // AM10
	PatternWhitespace = "internal_whitespace" // AM11
)

// PatternMatch is one pattern found in a string.
type PatternMatch struct {
	Pattern    string // one of the Pattern constants
	Text       string // the matching part of the string
	Start, End int    // byte offsets of Text in the string
}

// ScanPatterns returns the first match of each pattern in s, in the order
// of the Pattern constants. A long identifier that lies inside an NHS
// number or phone number already found is not reported again.
func ScanPatterns(s string) []PatternMatch {
	var out []PatternMatch
	var covered [][2]int
	add := func(p string, start, end int) {
		out = append(out, PatternMatch{Pattern: p, Text: s[start:end], Start: start, End: end})
	}
	if i, j, ok := findNHSNumber(s); ok {
		add(PatternNHSNumber, i, j)
		covered = append(covered, [2]int{i, j})
	}
	if i, j, ok := findEmail(s); ok {
		add(PatternEmail, i, j)
	}
	if i, j, ok := findPostcode(s); ok {
		add(PatternPostcode, i, j)
	}
	if i, j, ok := findPhone(s); ok {
		add(PatternPhone, i, j)
		covered = append(covered, [2]int{i, j})
	}
	if i, j, ok := findLongIdentifier(s, covered); ok {
		add(PatternLongID, i, j)
	}
	if LettersOnly(s) {
		t := strings.TrimSpace(s)
		i := strings.Index(s, t)
		add(PatternLetters, i, i+len(t))
	}
	if InternalWhitespace(s) {
		t := strings.TrimSpace(s)
		i := strings.Index(s, t)
		add(PatternWhitespace, i, i+len(t))
	}
	return out
}

func isASCIIDigit(b byte) bool { return '0' <= b && b <= '9' }

func isASCIIAlnum(b byte) bool {
	return isASCIIDigit(b) || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}

// NHSCheckDigit returns the modulus-11 check digit of the first nine
// digits of an NHS number: weights 10, 9, ..., 2, check = 11 - (sum mod
// 11), where 11 becomes 0. ok is false when nine is not nine ASCII digits
// or the check would be 10, which no valid NHS number has.
func NHSCheckDigit(nine string) (digit int, ok bool) {
	if len(nine) != 9 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		if !isASCIIDigit(nine[i]) {
			return 0, false
		}
		sum += int(nine[i]-'0') * (10 - i)
	}
	c := 11 - sum%11
	switch c {
	case 11:
		return 0, true
	case 10:
		return 0, false
	}
	return c, true
}

// ValidNHSNumber reports whether s, the whole of it, is an NHS number: ten
// digits, optionally grouped 3-3-4 by single spaces or single hyphens (the
// same separator both times), whose tenth digit is the check digit of the
// first nine.
func ValidNHSNumber(s string) bool {
	for _, sep := range nhsSeparators {
		if j, ok := nhsAt(s, 0, sep); ok && j == len(s) {
			return true
		}
	}
	return false
}

// FindNHSNumber returns the first NHS number with a valid checksum in s
// that is not part of a longer run of digits.
func FindNHSNumber(s string) (string, bool) {
	i, j, ok := findNHSNumber(s)
	return s[i:j], ok
}

var nhsSeparators = []string{"", " ", "-"}

func findNHSNumber(s string) (int, int, bool) {
	for i := 0; i < len(s); i++ {
		if !isASCIIDigit(s[i]) || (i > 0 && isASCIIDigit(s[i-1])) {
			continue
		}
		for _, sep := range nhsSeparators {
			if j, ok := nhsAt(s, i, sep); ok {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// nhsAt matches an NHS number at s[i:] grouped 3-3-4 by sep, not followed
// by another digit, and returns where it ends.
func nhsAt(s string, i int, sep string) (int, bool) {
	var digits [10]byte
	k, j := 0, i
	for g, n := range [3]int{3, 3, 4} {
		if g > 0 {
			if !strings.HasPrefix(s[j:], sep) {
				return 0, false
			}
			j += len(sep)
		}
		for x := 0; x < n; x++ {
			if j >= len(s) || !isASCIIDigit(s[j]) {
				return 0, false
			}
			digits[k] = s[j]
			k++
			j++
		}
	}
	if j < len(s) && isASCIIDigit(s[j]) {
		return 0, false
	}
	check, ok := NHSCheckDigit(string(digits[:9]))
	if !ok || check != int(digits[9]-'0') {
		return 0, false
	}
	return j, true
}

// emailRE: a local part, "@", then a domain with at least one dot whose
// final label is two or more letters.
var emailRE = regexp.MustCompile("[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9-]+\\.)+[A-Za-z]{2,}")

// FindEmail returns the first e-mail address in s.
func FindEmail(s string) (string, bool) {
	i, j, ok := findEmail(s)
	return s[i:j], ok
}

func findEmail(s string) (int, int, bool) {
	loc := emailRE.FindStringIndex(s)
	if loc == nil {
		return 0, 0, false
	}
	return loc[0], loc[1], true
}

// postcodeRE is a whole UK postcode, upper-cased: an outward code in one of
// the forms A9, A99, A9A, AA9, AA99, AA9A, an optional space, and an inward
// code 9AA; or GIR 0AA. Royal Mail's letter restrictions apply: Q, V and X
// never come first; I, J and Z never second; the letter of A9A is one of
// ABCDEFGHJKPSTUW and that of AA9A one of ABEHMNPRVWXY; the inward letters
// are never C, I, K, M, O or V.
var postcodeRE = regexp.MustCompile(`^(?:[A-PR-UWYZ](?:[0-9][0-9A-HJKPSTUW]?|[A-HK-Y][0-9][0-9ABEHMNPRVWXY]?) ?[0-9][ABD-HJLNP-UW-Z]{2}|GIR ?0AA)$`)

// IsPostcode reports whether s, the whole of it, is a UK postcode, in any
// case.
func IsPostcode(s string) bool { return postcodeRE.MatchString(strings.ToUpper(s)) }

// FindPostcode returns the first UK postcode in s that is not part of a
// longer word.
func FindPostcode(s string) (string, bool) {
	i, j, ok := findPostcode(s)
	return s[i:j], ok
}

func findPostcode(s string) (int, int, bool) {
	toks := alnumTokens(s)
	for k, t := range toks {
		if IsPostcode(s[t[0]:t[1]]) {
			return t[0], t[1], true
		}
		// The outward and inward codes separated by exactly one space.
		if k+1 < len(toks) && toks[k+1][0] == t[1]+1 && s[t[1]] == ' ' && IsPostcode(s[t[0]:toks[k+1][1]]) {
			return t[0], toks[k+1][1], true
		}
	}
	return 0, 0, false
}

// alnumTokens returns the byte ranges of the maximal runs of letters and
// digits (any script) in s.
func alnumTokens(s string) [][2]int {
	var out [][2]int
	start := -1
	for i, r := range s {
		word := r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(s)})
	}
	return out
}

// FindPhone returns the first UK phone number in s: "+44" (optionally
// followed by "(0)") or a leading 0 (optionally in a bracket), then 9 or
// 10 more digits in groups of two or more separated by spaces, brackets or
// hyphens, optionally an extension #ddd or #dddd; the whole longer than 10
// characters.
func FindPhone(s string) (string, bool) {
	i, j, ok := findPhone(s)
	return s[i:j], ok
}

func findPhone(s string) (int, int, bool) {
	for i := 0; i < len(s); i++ {
		if i > 0 && (isASCIIAlnum(s[i-1]) || s[i-1] == '+') {
			continue
		}
		if j, ok := phoneAt(s, i); ok {
			return i, j, true
		}
	}
	return 0, 0, false
}

func isPhoneSep(b byte) bool { return b == ' ' || b == '(' || b == ')' || b == '-' }

func phoneAt(s string, i int) (int, bool) {
	j := i
	trunk := false
	switch {
	case strings.HasPrefix(s[j:], "+44"):
		j += 3
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if strings.HasPrefix(s[j:], "(0)") {
			j += 3
			for j < len(s) && s[j] == ' ' {
				j++
			}
		}
	case strings.HasPrefix(s[j:], "(0"):
		j++
		trunk = true
	case strings.HasPrefix(s[j:], "0"):
		trunk = true
	default:
		return 0, false
	}
	// The first national digit is never 0 ("00" dials abroad).
	first := j
	if trunk {
		first++
	}
	if first >= len(s) || s[first] < '1' || s[first] > '9' {
		return 0, false
	}
	national := 0
	if trunk {
		national = -1 // the leading 0 is not a national digit
	}
	end := -1
	for j < len(s) {
		k := j
		for k < len(s) && isASCIIDigit(s[k]) {
			k++
		}
		n := k - j
		if n < 2 || national+n > 10 {
			break
		}
		national += n
		j = k
		if national >= 9 {
			end = j
		}
		// A separator of one to three spaces, brackets or hyphens.
		k = j
		for k < len(s) && k-j < 3 && isPhoneSep(s[k]) {
			k++
		}
		if k == j || k >= len(s) || !isASCIIDigit(s[k]) {
			break
		}
		j = k
	}
	if end < 0 {
		return 0, false
	}
	if end < len(s) && s[end] == ')' { // "(020 7946 0958)"
		end++
	}
	// An extension: "#123" or "#1234", optionally after a space.
	k := end
	if k < len(s) && s[k] == ' ' {
		k++
	}
	if k < len(s) && s[k] == '#' {
		d := k + 1
		for d < len(s) && isASCIIDigit(s[d]) {
			d++
		}
		if n := d - k - 1; n == 3 || n == 4 {
			end = d
		}
	}
	if end-i <= 10 {
		return 0, false
	}
	return end, true
}

// FindLongIdentifier returns the first long identifier in s: a run of 10 or
// more digits, or a word of 12 or more characters made of digits and
// upper-case letters A-Z with at least one digit.
func FindLongIdentifier(s string) (string, bool) {
	i, j, ok := findLongIdentifier(s, nil)
	return s[i:j], ok
}

func findLongIdentifier(s string, covered [][2]int) (int, int, bool) {
	inside := func(i, j int) bool {
		for _, c := range covered {
			if c[0] <= i && j <= c[1] {
				return true
			}
		}
		return false
	}
	for _, t := range alnumTokens(s) {
		w := s[t[0]:t[1]]
		upper, digits := true, false
		for k := 0; k < len(w); k++ {
			switch b := w[k]; {
			case isASCIIDigit(b):
				digits = true
			case 'A' <= b && b <= 'Z':
			default:
				upper = false
			}
		}
		if upper && digits && len(w) >= 12 && !inside(t[0], t[1]) {
			return t[0], t[1], true
		}
		for k := 0; k < len(w); {
			if !isASCIIDigit(w[k]) {
				k++
				continue
			}
			e := k
			for e < len(w) && isASCIIDigit(w[e]) {
				e++
			}
			if e-k >= 10 && !inside(t[0]+k, t[0]+e) {
				return t[0] + k, t[0] + e, true
			}
			k = e
		}
	}
	return 0, 0, false
}

// LettersOnly reports whether s, without leading and trailing spaces, is 6
// or more letters (of any script) and nothing else: a possible name.
func LettersOnly(s string) bool {
	t := strings.TrimSpace(s)
	if utf8.RuneCountInString(t) < 6 {
		return false
	}
	for _, r := range t {
		if r == utf8.RuneError || !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// InternalWhitespace reports whether s, without leading and trailing
// spaces, still holds white space: a possible name or address.
func InternalWhitespace(s string) bool {
	return strings.IndexFunc(strings.TrimSpace(s), unicode.IsSpace) >= 0
}
