package joiner

import (
	"math"
	"strconv"
)

// keyIndex maps patient ids to right-hand rows. Ids are matched as pandas
// matches them once read: a value that reads as a whole number ("7",
// "007", "+7", "7.0", an Arrow integer, an Arrow float 7.0) is that
// number; any other value is matched as text.
type keyIndex struct {
	ints map[int64]int32
	strs map[string]int32
}

func newKeyIndex() *keyIndex {
	return &keyIndex{ints: map[int64]int32{}, strs: map[string]int32{}}
}

// patientKey is one parsed patient id.
type patientKey struct {
	n     int64
	s     string // when !isInt
	isInt bool
}

func (k patientKey) String() string {
	if k.isInt {
		return strconv.FormatInt(k.n, 10)
	}
	return strconv.Quote(k.s)
}

// insert adds the id for row, or returns the row that already has it.
func (x *keyIndex) insert(k patientKey, row int32) (int32, bool) {
	if k.isInt {
		if prev, ok := x.ints[k.n]; ok {
			return prev, false
		}
		x.ints[k.n] = row
		return row, true
	}
	if prev, ok := x.strs[k.s]; ok {
		return prev, false
	}
	x.strs[k.s] = row
	return row, true
}

func (x *keyIndex) lookup(k patientKey) (int32, bool) {
	if k.isInt {
		r, ok := x.ints[k.n]
		return r, ok
	}
	r, ok := x.strs[k.s]
	return r, ok
}

// lookupText finds the row of a textual id without allocating; an empty
// id matches nothing.
func (x *keyIndex) lookupText(b []byte) (int32, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if n, ok := parseInt(b); ok {
		r, ok := x.ints[n]
		return r, ok
	}
	if n, ok := wholeFloat(string(b)); ok {
		r, ok := x.ints[n]
		return r, ok
	}
	r, ok := x.strs[string(b)]
	return r, ok
}

// textKey parses a textual id; ok is false for an empty one.
func textKey[T ~string | ~[]byte](b T) (patientKey, bool) {
	if len(b) == 0 {
		return patientKey{}, false
	}
	if n, ok := parseInt(b); ok {
		return patientKey{n: n, isInt: true}, true
	}
	if n, ok := wholeFloat(string(b)); ok {
		return patientKey{n: n, isInt: true}, true
	}
	return patientKey{s: string(b)}, true
}

// floatKey is the key of a numeric id; ok is false for NaN.
func floatKey(v float64) (patientKey, bool) {
	if math.IsNaN(v) {
		return patientKey{}, false
	}
	if v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
		return patientKey{n: int64(v), isInt: true}, true
	}
	return patientKey{s: strconv.FormatFloat(v, 'g', -1, 64)}, true
}

// parseInt parses an optionally signed decimal integer that fits in 64
// bits.
func parseInt[T ~string | ~[]byte](b T) (int64, bool) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, false
	}
	var u uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// wholeFloat parses a decimal number with a fraction or exponent that is
// a whole number ("7.0", "7e0").
func wholeFloat(s string) (int64, bool) {
	if len(s) == 0 || !(s[0] >= '0' && s[0] <= '9' || s[0] == '-' || s[0] == '+' || s[0] == '.') {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	if v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 {
		return int64(v), true
	}
	return 0, false
}
