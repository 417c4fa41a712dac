package pipeline

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// maxOverlapsShown caps how many overlapping patterns one warning names.
const maxOverlapsShown = 3

// overlapItem is one valid output pattern.
type overlapItem struct {
	action int     // index into validator.actions
	out    *Output // the pattern, in the action's goodOutputs
	prefix string  // the literal text before the first *, or all of a literal
	wild   bool
}

// checkOverlaps warns where a file could match output patterns of two
// different actions: at run time it would be claimed by both.
//
// Every path a pattern matches starts with the pattern's literal prefix (the
// text before its first *), so two patterns can only overlap when one prefix
// starts the other. Candidates are found through the prefixes: items with the
// same prefix by lookup, wildcard items whose prefix is shorter by looking up
// each such length, and items whose prefix is longer by a range of the items
// sorted by prefix. A project without wildcards costs one map lookup per
// pattern.
func (v *validator) checkOverlaps() {
	total, anyWild := 0, false
	for _, st := range v.actions {
		total += len(st.goodOutputs)
		for _, o := range st.goodOutputs {
			anyWild = anyWild || strings.IndexByte(o.Pattern, '*') >= 0
		}
	}
	if !anyWild && v.uniqueOutputs() {
		// Literal paths overlap only when equal, which is already an
		// output-duplicate error.
		return
	}
	items := make([]overlapItem, 0, total)
	for ai, st := range v.actions {
		for k := range st.goodOutputs {
			o := &st.goodOutputs[k]
			it := overlapItem{action: ai, out: o, prefix: o.Pattern}
			if star := strings.IndexByte(o.Pattern, '*'); star >= 0 {
				it.prefix, it.wild = o.Pattern[:star], true
			}
			items = append(items, it)
		}
	}
	// Items sharing a prefix are chained: head[prefix] is the first, next[i]
	// the one after item i, -1 at the end.
	head := make(map[string]int, len(items))
	next := make([]int, len(items))
	wildLens := map[int]bool{}
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		next[i] = -1
		if h, ok := head[it.prefix]; ok {
			next[i] = h
		}
		head[it.prefix] = i
		if it.wild {
			wildLens[len(it.prefix)] = true
		}
	}
	chain := func(prefix string, f func(int)) {
		h, ok := head[prefix]
		if !ok {
			return
		}
		for c := h; c >= 0; c = next[c] {
			f(c)
		}
	}
	var lens []int
	for l := range wildLens {
		lens = append(lens, l)
	}
	sort.Ints(lens)
	var byPrefix []int // item indexes sorted by prefix, only needed with wildcards
	if anyWild {
		byPrefix = make([]int, len(items))
		for i := range byPrefix {
			byPrefix[i] = i
		}
		sort.SliceStable(byPrefix, func(a, b int) bool { return items[byPrefix[a]].prefix < items[byPrefix[b]].prefix })
	}

	for idx, it := range items {
		var hits []int
		consider := func(c int) {
			ci := items[c]
			if ci.action >= it.action || len(hits) > maxOverlapsShown {
				return
			}
			if ci.out.Pattern == it.out.Pattern && v.uniqueOutputs() {
				return // already an output-duplicate error
			}
			if patternStringsOverlap(it.out.Pattern, ci.out.Pattern) {
				hits = append(hits, c)
			}
		}
		chain(it.prefix, func(c int) {
			if c != idx {
				consider(c)
			}
		})
		for _, l := range lens {
			if l >= len(it.prefix) {
				break
			}
			chain(it.prefix[:l], func(c int) {
				if items[c].wild {
					consider(c)
				}
			})
		}
		if it.wild {
			start := sort.Search(len(byPrefix), func(k int) bool { return items[byPrefix[k]].prefix > it.prefix })
			for _, c := range byPrefix[start:] {
				if !strings.HasPrefix(items[c].prefix, it.prefix) || len(hits) > maxOverlapsShown {
					break
				}
				consider(c)
			}
		}
		if len(hits) == 0 {
			continue
		}
		sort.Ints(hits)
		var names []string
		for i, h := range hits {
			if i == maxOverlapsShown {
				names = append(names, "and more")
				break
			}
			names = append(names, fmt.Sprintf("%s (action %s)", items[h].out.Pattern, v.actions[items[h].action].action.ID))
		}
		v.addAt(SeverityWarning, it.out.Pos, RuleWarnOverlappingOutputs,
			fmt.Sprintf("Output pattern %s of action %s overlaps %s: a file matching both would be claimed by both actions",
				it.out.Pattern, v.actions[it.action].action.ID, strings.Join(names, ", ")),
			"give each action's outputs their own file names or directory", pr(stepOverlap, it.action))
	}
}

// patternStringsOverlap reports whether some path matches both patterns.
// Patterns are '/'-separated segments of literals and `*`; they overlap when
// they have as many segments and every pair of segments has a common match.
func patternStringsOverlap(a, b string) bool {
	if strings.Count(a, "/") != strings.Count(b, "/") {
		return false
	}
	for {
		sa, ra, moreA := strings.Cut(a, "/")
		sb, rb, _ := strings.Cut(b, "/")
		if !segmentsOverlap(sa, sb) {
			return false
		}
		if !moreA {
			return true
		}
		a, b = ra, rb
	}
}

// fnmatch is Python's fnmatch.fnmatch on POSIX: `*` matches anything
// (slashes included), `?` one character, `[…]` a set.
func fnmatch(name, pattern string) bool {
	re, err := regexp.Compile(translateGlob(pattern))
	if err != nil {
		return false
	}
	return re.MatchString(name)
}

func translateGlob(pat string) string {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	rs := []rune(pat)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(rs) && rs[j] == '!' {
				j++
			}
			if j < len(rs) && rs[j] == ']' {
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				b.WriteString(`\[`)
				continue
			}
			set := string(rs[i+1 : j])
			i = j
			neg := strings.HasPrefix(set, "!")
			if neg {
				set = set[1:]
			}
			set = strings.ReplaceAll(set, `\`, `\\`)
			if neg {
				b.WriteString("[^" + set + "]")
			} else {
				b.WriteString("[" + set + "]")
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`$`)
	return b.String()
}
