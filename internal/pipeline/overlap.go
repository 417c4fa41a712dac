package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// maxOverlapsShown caps how many overlapping patterns one warning names.
const maxOverlapsShown = 3

// overlapItem is one valid output pattern, split into segments.
type overlapItem struct {
	action int // index into validator.actions
	out    Output
	segs   []string
	wild   bool
}

// checkOverlaps warns where a file could match output patterns of two
// different actions: at run time it would be claimed by both. Patterns are
// bucketed by segment count and file suffix so literal paths are compared by
// lookup and only wildcard patterns are compared pairwise.
func (v *validator) checkOverlaps() {
	type bucketKey struct {
		n      int
		suffix string
	}
	literals := map[string][]overlapItem{}        // exact path -> items
	bySuffix := map[bucketKey][]overlapItem{}     // literal items
	wildBySuffix := map[bucketKey][]overlapItem{} // wildcard items with a literal suffix
	var wildAny []overlapItem                     // wildcard items whose suffix has a *
	var items []overlapItem
	for ai, st := range v.actions {
		for _, o := range st.goodOutputs {
			it := overlapItem{action: ai, out: o, segs: strings.Split(o.Pattern, "/"), wild: strings.Contains(o.Pattern, "*")}
			items = append(items, it)
			k := bucketKey{len(it.segs), pathSuffix(o.Pattern)}
			switch {
			case !it.wild:
				literals[o.Pattern] = append(literals[o.Pattern], it)
				bySuffix[k] = append(bySuffix[k], it)
			case strings.Contains(k.suffix, "*"):
				wildAny = append(wildAny, it)
			default:
				wildBySuffix[k] = append(wildBySuffix[k], it)
			}
		}
	}
	// others lists the items in other actions that overlap it and come
	// before it in file order, so each pair is reported once, at the later.
	for idx, it := range items {
		var hits []overlapItem
		consider := func(c overlapItem) {
			if c.action >= it.action || len(hits) > maxOverlapsShown {
				return
			}
			if patternsOverlap(it.segs, c.segs) {
				hits = append(hits, c)
			}
		}
		k := bucketKey{len(it.segs), pathSuffix(it.out.Pattern)}
		if !it.wild {
			for _, c := range literals[it.out.Pattern] {
				consider(c)
			}
			for _, c := range wildBySuffix[k] {
				consider(c)
			}
			for _, c := range wildAny {
				consider(c)
			}
		} else {
			if strings.Contains(k.suffix, "*") {
				for _, c := range items[:idx] {
					consider(c)
				}
			} else {
				for _, c := range bySuffix[k] {
					consider(c)
				}
				for _, c := range wildBySuffix[k] {
					consider(c)
				}
				for _, c := range wildAny {
					consider(c)
				}
			}
		}
		if len(hits) == 0 {
			continue
		}
		var names []string
		for i, h := range hits {
			if i == maxOverlapsShown {
				names = append(names, "and more")
				break
			}
			names = append(names, fmt.Sprintf("%s (action %s)", h.out.Pattern, v.actions[h.action].action.ID))
		}
		st := v.actions[it.action]
		v.addAt(SeverityWarning, it.out.Pos, RuleWarnOverlappingOutputs,
			fmt.Sprintf("Output pattern %s of action %s overlaps %s: a file matching both would be claimed by both actions",
				it.out.Pattern, st.action.ID, strings.Join(names, ", ")),
			"give each action's outputs their own file names or directory", stepOverlap, it.action)
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
