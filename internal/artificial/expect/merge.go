package expect

import (
	"encoding/json"
	"fmt"
	"github.com/haven-tre/haven/internal/pipeline"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Where a merged value came from.
const (
	srcDefault = "default_expectations"
	srcReturn  = "return_expectations"
)

// merged is a variable's effective expectations: return_expectations merged
// recursively over default_expectations, with the origin of every value.
type merged struct {
	m   map[string]any
	src map[string]string // dotted path -> srcDefault or srcReturn
}

// mergeExpectations merges over onto base recursively: nested maps merge key
// by key, and any other value replaces. Neither input is modified. A map
// with a key that is not a string (or a whole number, taken as its decimal
// text) is reported through bad.
func mergeExpectations(base, over map[string]any, bad func(src, path, msg string)) merged {
	mg := merged{m: map[string]any{}, src: map[string]string{}}
	mergeInto(mg.m, mg.src, "", base, srcDefault, bad)
	mergeInto(mg.m, mg.src, "", over, srcReturn, bad)
	return mg
}

func mergeInto(dst map[string]any, src map[string]string, prefix string, from map[string]any, origin string, bad func(src, path, msg string)) {
	for _, k := range sortedKeys(from) {
		v := from[k]
		path := joinPath(prefix, k)
		if mv, ok, err := asMap(v); err != nil {
			bad(origin, path, err.Error())
			continue
		} else if ok {
			cur, isMap, _ := asMap(dst[k])
			if !isMap {
				cur = map[string]any{}
			}
			next := make(map[string]any, len(cur))
			for ck, cv := range cur {
				next[ck] = cv
			}
			mergeInto(next, src, path, mv, origin, bad)
			dst[k] = next
			src[path] = origin
			continue
		}
		dst[k] = v
		src[path] = origin
	}
}

func joinPath(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// asMap returns v as a map with string keys when it is a map. YAML decoders
// give map[string]any or map[any]any; keys that are whole numbers become
// their decimal text (category labels such as 0 and 1).
func asMap(v any) (map[string]any, bool, error) {
	switch m := v.(type) {
	case map[string]any:
		return m, true, nil
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			ks, err := keyString(k)
			if err != nil {
				return nil, true, err
			}
			if _, dup := out[ks]; dup {
				return nil, true, fmt.Errorf("the key %s appears twice (once as text, once as a number); keep one", strconv.Quote(ks))
			}
			out[ks] = x
		}
		return out, true, nil
	}
	return nil, false, nil
}

func keyString(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	}
	return "", fmt.Errorf("the key %v is a %T; keys must be text (quote it)", k, k)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// number returns v as a finite float64 when it is a number (not a string
// or a boolean).
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float32:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		g, err := x.Float64()
		if err != nil {
			return 0, false
		}
		f = g
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// dateText returns a date value as text: a string, or a time.Time that a
// YAML decoder made from an unquoted date.
func dateText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format("2006-01-02"), true
		}
	}
	return "", false
}

// describe renders a value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "empty (null)"
	case string:
		return strconv.Quote(x)
	case bool:
		return fmt.Sprintf("%v (a boolean)", x)
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// suggest returns " (did you mean X?)" for the closest of options within two
// edits, or "".
func suggest(got string, options []string) string {
	best, bestD := "", 3
	for _, o := range options {
		d := pipeline.EditDistance(got, o)
		if i := strings.IndexByte(o, '_'); i > 0 {
			d = min(d, pipeline.EditDistance(got, o[:i])) // "exponential" for exponential_increase
		}
		if d < bestD {
			best, bestD = o, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}
