package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML layer turns bytes into a node tree that keeps every position, and
// reports what upstream's safe loader would refuse: syntax errors, duplicate
// keys, tags that are not YAML's own, and more than one document.

// standardTags are the tags a safe loader constructs. Anything else (a custom
// "!python/object" say) is refused rather than ignored.
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!timestamp": true, "!!binary": true, "!!merge": true,
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses one YAML document. It returns the document's root node
// (nil for an empty file) and the problems of the YAML layer. A syntax error
// leaves no tree; other problems leave a usable one.
func parseYAML(file string, src []byte) (*yaml.Node, Problems) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Problems{yamlSyntaxProblem(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		line := extra.Line
		if line == 0 {
			line = 1
		}
		return nil, Problems{{
			Severity: SeverityError, Rule: RuleYAMLSyntax, File: file, Line: line, Column: 1,
			Message:    "expected a single document in the stream, but found another document",
			Hint:       "a project.yaml holds one YAML document: remove the second '---' and what follows it",
			precedence: pr(0, 0),
		}}
	} else if !errors.Is(err, io.EOF) {
		return nil, Problems{yamlSyntaxProblem(file, err)}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	c := yamlChecker{file: file, seen: map[*yaml.Node]bool{}}
	c.walk(root)
	return root, c.problems
}

func yamlSyntaxProblem(file string, err error) Problem {
	line, msg := 1, err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return Problem{
		Severity: SeverityError, Rule: RuleYAMLSyntax, File: file, Line: line, Column: 1,
		Message:    "YAML syntax error: " + msg,
		Hint:       "check the indentation and quoting on this line and the one before it; YAML indents with spaces, never tabs",
		precedence: pr(0, 0),
	}
}

// yamlChecker walks the tree once, visiting each aliased node only once so
// that alias bombs cost nothing.
type yamlChecker struct {
	file     string
	seen     map[*yaml.Node]bool
	problems Problems
}

func (c *yamlChecker) walk(n *yaml.Node) {
	if n == nil {
		return
	}
	// Only an anchored node can be reached twice (through its aliases).
	if n.Anchor != "" {
		if c.seen[n] {
			return
		}
		c.seen[n] = true
	}
	if n.Kind == yaml.AliasNode {
		c.walk(n.Alias)
		return
	}
	if n.Style&yaml.TaggedStyle != 0 && !standardTags[n.ShortTag()] {
		c.add(n, RuleYAMLTag, fmt.Sprintf("could not determine a constructor for the tag %q", n.Tag),
			"remove the tag: project.yaml uses plain YAML values only")
	}
	switch n.Kind {
	case yaml.MappingNode:
		c.checkKeys(n)
		for _, e := range n.Content {
			c.walk(e)
		}
	case yaml.SequenceNode:
		for _, e := range n.Content {
			c.walk(e)
		}
	}
}

// checkKeys reports keys that are not plain values and keys that repeat.
func (c *yamlChecker) checkKeys(n *yaml.Node) {
	pairs := len(n.Content) / 2
	var first map[keyID]int // canonical key -> index of its key node, for large mappings
	if pairs > smallMapping {
		first = make(map[keyID]int, pairs)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		rk := resolve(k)
		if rk.Kind != yaml.ScalarNode {
			c.add(k, RuleYAMLSyntax, "found an unhashable key: mapping keys must be plain values, not lists or mappings",
				"use a plain name as the key")
			continue
		}
		if rk.ShortTag() == "!!merge" {
			continue
		}
		orig := -1
		if first != nil {
			id := canonicalKey(rk)
			if o, dup := first[id]; dup {
				orig = o
			} else {
				first[id] = i
			}
		} else {
			for j := 0; j < i; j += 2 {
				if rj := resolve(n.Content[j]); rj.Kind == yaml.ScalarNode && rj.ShortTag() != "!!merge" && keysEqual(rj, rk) {
					orig = j
					break
				}
			}
		}
		if orig >= 0 {
			c.add(k, RuleYAMLDuplicateKey,
				fmt.Sprintf("found duplicate key %q with value %q (original value: %q)",
					rk.Value, reprValue(n.Content[i+1]), reprValue(n.Content[orig+1])),
				fmt.Sprintf("the key %q is already used at line %d; rename or remove one of them", rk.Value, n.Content[orig].Line))
		}
	}
}

// smallMapping is the size up to which mappings compare keys pairwise
// rather than through a map: cheaper for the small mappings that make up
// almost all of a project file.
const smallMapping = 12

// keysEqual reports whether two scalar keys are the same key.
func keysEqual(a, b *yaml.Node) bool {
	at, bt := a.ShortTag(), b.ShortTag()
	if at == "!!str" && bt == "!!str" {
		return a.Value == b.Value
	}
	if at == "!!str" || bt == "!!str" {
		return false
	}
	return canonicalKey(a) == canonicalKey(b)
}

func (c *yamlChecker) add(n *yaml.Node, rule, msg, hint string) {
	c.problems = append(c.problems, Problem{
		Severity: SeverityError, Rule: rule, File: c.file, Line: n.Line, Column: n.Column,
		Message: msg, Hint: hint,
		precedence: pr(0, n.Line, n.Column),
	})
}

// keyID identifies a mapping key: keys a YAML loader treats as equal have
// equal keyIDs (1 and 0x1 are the same integer; "1", a string, is not).
type keyID struct {
	kind  byte // 's' string, 'n' number, 'z' null, 'f' non-integral float, 'o' other
	value string
}

// canonicalKey returns a scalar key's identity.
func canonicalKey(n *yaml.Node) keyID {
	switch n.ShortTag() {
	case "!!str":
		return keyID{'s', n.Value}
	case "!!int":
		if i, ok := yamlInt(n.Value); ok {
			return keyID{'n', i.String()}
		}
	case "!!float":
		if f, ok := yamlFloat(n.Value); ok {
			if f == float64(int64(f)) {
				return keyID{'n', strconv.FormatInt(int64(f), 10)}
			}
			return keyID{'f', strconv.FormatFloat(f, 'g', -1, 64)}
		}
	case "!!null":
		return keyID{'z', ""}
	case "!!bool":
		if strings.EqualFold(n.Value, "true") {
			return keyID{'n', "1"}
		}
		return keyID{'n', "0"}
	}
	return keyID{'o', n.Value}
}

// reprValue renders a value the way upstream's duplicate-key message does:
// None for null, the text for a scalar, a short flow form otherwise.
func reprValue(n *yaml.Node) string {
	n = resolve(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "None"
		}
		return n.Value
	case yaml.MappingNode:
		return "{...}"
	case yaml.SequenceNode:
		return "[...]"
	}
	return ""
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// entry is one key/value pair of a mapping.
type entry struct {
	key, value *yaml.Node
	name       string // the key's text
}

// mapEntries returns a mapping's pairs in file order, keeping the first of
// duplicated keys (duplicates are reported by the YAML layer) and applying
// merge keys ("<<"): merged pairs come after the mapping's own and never
// replace them.
func mapEntries(n *yaml.Node) []entry {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	pairs := len(n.Content) / 2
	if pairs > smallMapping {
		return mapEntriesMerged(n, map[*yaml.Node]bool{})
	}
	// The common case: a small mapping without merge keys.
	out := make([]entry, 0, pairs)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		if k.ShortTag() == "!!merge" {
			return mapEntriesMerged(n, map[*yaml.Node]bool{})
		}
		dup := false
		for _, e := range out {
			if keysEqual(resolve(e.key), k) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, entry{key: n.Content[i], value: n.Content[i+1], name: k.Value})
		}
	}
	return out
}

// mapEntriesMerged is mapEntries for the general case, with the set of
// mappings already merged, so each is merged once however often aliases
// repeat it.
func mapEntriesMerged(n *yaml.Node, merged map[*yaml.Node]bool) []entry {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	merged[n] = true
	var own, extra []entry
	seen := make(map[keyID]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		if k.ShortTag() == "!!merge" {
			rv := resolve(v)
			var sources []*yaml.Node
			if rv != nil && rv.Kind == yaml.SequenceNode {
				sources = rv.Content
			} else {
				sources = []*yaml.Node{rv}
			}
			for _, s := range sources {
				if s = resolve(s); s != nil && !merged[s] {
					extra = append(extra, mapEntriesMerged(s, merged)...)
				}
			}
			continue
		}
		id := canonicalKey(k)
		if seen[id] {
			continue
		}
		seen[id] = true
		own = append(own, entry{key: n.Content[i], value: v, name: k.Value})
	}
	for _, e := range extra {
		id := canonicalKey(resolve(e.key))
		if !seen[id] {
			seen[id] = true
			own = append(own, e)
		}
	}
	return own
}

// isNull reports whether a node is absent or YAML null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// isString reports whether a node is a YAML string (quoted or plain).
func isString(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// isMapping reports whether a node is a YAML mapping.
func isMapping(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind == yaml.MappingNode
}

// isSequence reports whether a node is a YAML sequence.
func isSequence(n *yaml.Node) bool {
	n = resolve(n)
	return n != nil && n.Kind == yaml.SequenceNode
}

// yamlInt parses a YAML 1.2 integer (decimal, 0x, 0o, 0b, with _ separators).
func yamlInt(s string) (*big.Int, bool) {
	t := strings.ReplaceAll(s, "_", "")
	neg := false
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "+") {
		neg = t[0] == '-'
		t = t[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(t, "0x"), strings.HasPrefix(t, "0X"):
		base, t = 16, t[2:]
	case strings.HasPrefix(t, "0o"), strings.HasPrefix(t, "0O"):
		base, t = 8, t[2:]
	case strings.HasPrefix(t, "0b"), strings.HasPrefix(t, "0B"):
		base, t = 2, t[2:]
	}
	i, ok := new(big.Int).SetString(t, base)
	if !ok || t == "" {
		return nil, false
	}
	if neg {
		i.Neg(i)
	}
	return i, true
}

// yamlFloat parses a YAML float, .inf and .nan included.
func yamlFloat(s string) (float64, bool) {
	switch strings.ToLower(strings.TrimLeft(s, "+")) {
	case ".inf":
		return posInf, true
	case "-.inf":
		return negInf, true
	case ".nan":
		return nan, true
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return f, true
		}
		return 0, false
	}
	return f, true
}
