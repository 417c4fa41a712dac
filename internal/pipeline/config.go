package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"
)

// maxConfigJSON bounds the JSON a config may expand to, so that YAML aliases
// cannot blow a small file up into a huge command line.
const maxConfigJSON = 1 << 20

// CommandWords returns the words a job for this action runs, after the
// rewriting upstream does when it creates a job: a non-empty `config`
// mapping is appended as `--config <json>`. The slice is new on every call.
func (a *Action) CommandWords() ([]string, error) {
	words := make([]string, len(a.Run.Parts), len(a.Run.Parts)+4)
	copy(words, a.Run.Parts)
	if a.Config == nil {
		return words, nil
	}
	js, err := ConfigJSON(a.Config)
	if err != nil {
		return nil, fmt.Errorf("config for action %s: %w", a.ID, err)
	}
	if js != "{}" {
		words = append(words, "--config", js)
	}
	return words, nil
}

// RunCommand returns the command line a job for this action runs: its
// CommandWords re-quoted for the shell, as upstream stores it, so the
// user's own quoting is normalised.
func (a *Action) RunCommand() (string, error) {
	words, err := a.CommandWords()
	if err != nil {
		return "", err
	}
	return JoinWords(words), nil
}

// ConfigJSON encodes a config value as Python's json.dumps does with its
// defaults (", " and ": " separators, non-ASCII escaped, keys in file order),
// with every ' replaced by \u0027 so the JSON quotes cleanly for a shell.
func ConfigJSON(n *yaml.Node) (string, error) {
	var b strings.Builder
	if err := writeJSON(&b, n, 0); err != nil {
		return "", err
	}
	return strings.ReplaceAll(b.String(), "'", `\u0027`), nil
}

func writeJSON(b *strings.Builder, n *yaml.Node, depth int) error {
	if b.Len() > maxConfigJSON {
		return fmt.Errorf("it is larger than %d bytes as JSON", maxConfigJSON)
	}
	if depth > 100 {
		return fmt.Errorf("it is nested more than 100 levels deep")
	}
	n = resolve(n)
	if n == nil {
		b.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i, e := range mapEntries(n) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, jsonKey(resolve(e.key)))
			b.WriteString(": ")
			if err := writeJSON(b, e.value, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeJSON(b, c, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		writeJSONScalar(b, n)
	default:
		b.WriteString("null")
	}
	return nil
}

// jsonKey is how json.dumps writes a non-string key: null, true, 1, 1.5.
func jsonKey(k *yaml.Node) string {
	var b strings.Builder
	switch k.ShortTag() {
	case "!!null", "!!bool", "!!int", "!!float":
		writeJSONScalar(&b, k)
		return b.String()
	}
	return k.Value
}

func writeJSONScalar(b *strings.Builder, n *yaml.Node) {
	switch n.ShortTag() {
	case "!!null":
		b.WriteString("null")
	case "!!bool":
		if strings.EqualFold(n.Value, "true") {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case "!!int":
		if i, ok := yamlInt(n.Value); ok {
			b.WriteString(i.String())
			return
		}
		writeJSONString(b, n.Value)
	case "!!float":
		f, ok := yamlFloat(n.Value)
		switch {
		case !ok:
			writeJSONString(b, n.Value)
		case math.IsNaN(f):
			b.WriteString("NaN")
		case math.IsInf(f, 1):
			b.WriteString("Infinity")
		case math.IsInf(f, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloatRepr(f))
		}
	default:
		// Strings, and timestamps, which Haven passes on as written.
		writeJSONString(b, n.Value)
	}
}

// writeJSONString writes s as json.dumps does with ensure_ascii: control
// characters and everything beyond ASCII as \uXXXX (surrogate pairs above
// the BMP), and \" \\ \n \r \t \b \f.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r >= 0x7f && r <= 0xffff):
				if r == 0x7f {
					b.WriteRune(r)
					continue
				}
				b.WriteString(`\u` + hex4(r))
			case r > 0xffff:
				r1, r2 := utf16.EncodeRune(r)
				b.WriteString(`\u` + hex4(r1) + `\u` + hex4(r2))
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

func hex4(r rune) string {
	s := strconv.FormatInt(int64(r), 16)
	return strings.Repeat("0", 4-len(s)) + s
}
