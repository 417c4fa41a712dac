package disclosure

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file writes the context file (the manifest) that the control
// commands declare their controls in: comments, other entries and other
// fields are kept, and the result must load as a Context.

// CheckManifest reports whether a context file can be updated: it exists
// and loads, or it does not exist yet in an existing folder.
func CheckManifest(file string) error {
	_, err := readManifest(file)
	return err
}

// DeclaredControls is the controls string an apply command records in the
// manifest: the steps applied, in order, separated by commas (docs/outputs.md):
//
//	protect:MODE  secondary suppression in that mode (first, for protect)
//	redact<=T     counts from 1 to T redacted
//	redact0       zeros redacted too (profiles where zeros fail)
//	roundB        the other counts rounded to the nearest B, totals recomputed
//	midpoint6     midpoint-6 rounding
//	token=TEXT    the redaction token, when --token replaced the profile's
func DeclaredControls(name string, p *Profile, o ControlOptions, mode string) string {
	t, base := o.Threshold, o.Base
	if t == 0 {
		t = p.T()
	}
	if base == 0 {
		base = p.Rounding.Base
	}
	redact := []string{fmt.Sprintf("redact<=%d", t)}
	if p.Zeros == "fail" {
		redact = append(redact, "redact0")
	}
	round := fmt.Sprintf("round%d", base)
	var steps []string
	switch name {
	case "redact":
		steps = redact
	case "round":
		steps = append(redact, round)
	case "midpoint6":
		steps = []string{"midpoint6"}
	case "protect":
		if mode == "" {
			mode = DefaultProtectMode(p)
		}
		steps = append([]string{"protect:" + mode}, redact...)
		if mode == ProtectRecomputeTotals || p.Rounding.Required {
			steps = append(steps, round)
		}
	default:
		steps = []string{name}
	}
	if tok := strings.TrimSpace(o.Token); tok != "" {
		steps = append(steps, "token="+tok)
	}
	return strings.Join(steps, ",")
}

// RenamedColumns are the new names of the columns a control renamed (the
// audit log's header entries): midpoint6's …_midpoint6 and
// …_midpoint6_derived columns.
func RenamedColumns(entries []AuditEntry) []string {
	var out []string
	for _, e := range entries {
		if e.Row == 0 && e.After != "" {
			out = append(out, e.After)
		}
	}
	return out
}

// readManifest reads a context file as a YAML document whose top is a
// mapping; a file that does not exist, or is empty, gives an empty one. A
// file the checker would refuse (unknown fields, wrong types) is an error.
func readManifest(file string) (*yaml.Node, error) {
	empty := func(head string) *yaml.Node {
		return &yaml.Node{Kind: yaml.DocumentNode, HeadComment: head, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if fi, err := os.Stat(filepath.Dir(file)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("cannot create %s: the folder %s does not exist; create it, or give a manifest in an existing folder", file, filepath.Dir(file))
		}
		return empty(""), nil
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %v", file, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return empty(""), nil
	}
	if _, err := LoadContext(file); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return empty(""), nil // comments only
		}
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s holds more than one YAML document (---): haven reads only the first, so it will not rewrite the file; keep one document in it", file)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return empty(doc.HeadComment), nil
	}
	if top := doc.Content[0]; top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		doc.Content[0] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", HeadComment: top.HeadComment}
	} else if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s is not a mapping: a context file starts with `outputs:`, mapping each path or glob to its context (docs/outputs.md)", file)
	}
	return &doc, nil
}

// UpdateManifest sets the controls of the entry for key in the context
// file, and declares columns (midpoint-6 ones) as counts, keeping every
// other entry and field, and writes the file atomically. An entry that
// does not exist yet starts as a copy of the glob entry that matched key
// (the checker reads an exact entry instead of a glob), whose name is
// returned.
func UpdateManifest(file, key, controls string, columns []string) (string, error) {
	doc, err := readManifest(file)
	if err != nil {
		return "", err
	}
	top := doc.Content[0]
	outputs := yamlMapValue(top, "outputs")
	if outputs == nil {
		outputs = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		yamlAppend(top, yamlString("outputs"), outputs)
	}
	if err := yamlEnsureMapping(outputs, "outputs"); err != nil {
		return "", err
	}
	from := ""
	entry := yamlMapValue(outputs, key)
	if entry == nil {
		entry = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		var globs []string
		for i := 0; i+1 < len(outputs.Content); i += 2 {
			globs = append(globs, outputs.Content[i].Value)
		}
		sort.Strings(globs)
		for _, g := range globs {
			if ok, _ := path.Match(g, key); ok {
				entry, from = yamlCopy(yamlMapValue(outputs, g)), g
				break
			}
		}
		yamlAppend(outputs, yamlString(key), entry)
	}
	if err := yamlEnsureMapping(entry, "the entry "+key); err != nil {
		return "", err
	}
	yamlSet(entry, "controls", yamlString(controls))
	if len(columns) > 0 {
		cols := yamlMapValue(entry, "columns")
		if cols == nil {
			cols = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			yamlAppend(entry, yamlString("columns"), cols)
		}
		if err := yamlEnsureMapping(cols, "the columns of "+key); err != nil {
			return "", err
		}
		for _, c := range columns {
			yamlSet(cols, c, yamlString(string(ClassCount)))
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("cannot encode the manifest: %v", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("cannot encode the manifest: %v", err)
	}
	// The checker must read back what was written.
	dec := yaml.NewDecoder(bytes.NewReader(b.Bytes()))
	dec.KnownFields(true)
	var ctx Context
	if err := dec.Decode(&ctx); err != nil {
		return "", fmt.Errorf("the updated manifest would not load (%v): check %s by hand", err, file)
	}
	if err := WriteFileAtomic(file, b.Bytes()); err != nil {
		return "", err
	}
	return from, nil
}

func yamlString(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// yamlMapValue is the value of key in mapping m, or nil.
func yamlMapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Kind == yaml.ScalarNode && m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func yamlAppend(m, k, v *yaml.Node) { m.Content = append(m.Content, k, v) }

// yamlSet replaces the value of key in m, keeping its comments, or adds it.
func yamlSet(m *yaml.Node, key string, v *yaml.Node) {
	if old := yamlMapValue(m, key); old != nil {
		v.LineComment, v.HeadComment, v.FootComment = old.LineComment, old.HeadComment, old.FootComment
		*old = *v
		return
	}
	yamlAppend(m, yamlString(key), v)
}

// yamlEnsureMapping makes n a mapping it can change: an empty value
// becomes an empty mapping, an alias a copy of what it names.
func yamlEnsureMapping(n *yaml.Node, what string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		c := yamlCopy(n.Alias)
		c.LineComment, c.HeadComment, c.FootComment = n.LineComment, n.HeadComment, n.FootComment
		*n = *c
	}
	switch {
	case n.Kind == yaml.MappingNode:
		return nil
	case n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == ""):
		*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", LineComment: n.LineComment, HeadComment: n.HeadComment, FootComment: n.FootComment}
		return nil
	}
	return fmt.Errorf("%s is not a mapping (line %d): make it one, as in docs/outputs.md", what, n.Line)
}

// yamlCopy copies a node deeply, without its anchor (one anchor per file).
func yamlCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return yamlCopy(n.Alias)
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		c.Content[i] = yamlCopy(x)
	}
	return &c
}
