package pipeline

import "go.yaml.in/yaml/v3"

// ParseYAML parses one YAML document the way project.yaml is parsed, for
// other Haven files that users write (dataset definitions): a syntax error,
// a second document, a duplicate key or a non-standard tag is a Problem
// with its position, and aliases are followed by reference, never
// expanded. It returns the document's root node, nil for an empty file.
func ParseYAML(file string, src []byte) (*yaml.Node, Problems) {
	return parseYAML(file, src)
}

// Pair is one key and value of a YAML mapping.
type Pair struct {
	Key, Value *yaml.Node
	Name       string // the key's text
}

// Pairs returns a mapping's pairs in file order, with merge keys (`<<`)
// applied as in project.yaml; nil when n is not a mapping.
func Pairs(n *yaml.Node) []Pair {
	es := mapEntries(n)
	out := make([]Pair, len(es))
	for i, e := range es {
		out[i] = Pair{Key: e.key, Value: e.value, Name: e.name}
	}
	return out
}

// ResolveAlias follows aliases to the node they name.
func ResolveAlias(n *yaml.Node) *yaml.Node { return resolve(n) }
