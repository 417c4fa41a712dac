package disclosure

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Context is what a researcher says about the outputs of a request (the
// sidecar, release.yaml): for each path or glob, the context OpenSAFELY's
// release form asks for, column classes and justified exceptions.
type Context struct {
	Outputs map[string]*OutputContext `yaml:"outputs"`
}

// OutputContext describes one output (or every output a glob matches).
type OutputContext struct {
	Description string            `yaml:"description"`
	Variables   map[string]string `yaml:"variables"`
	Population  struct {
		Description string `yaml:"description"`
		Size        int    `yaml:"size"`
	} `yaml:"population"`
	Model *struct {
		N          int `yaml:"n"`
		Parameters int `yaml:"parameters"`
		DoF        int `yaml:"dof"`
	} `yaml:"model"`
	Related      []string           `yaml:"related"`
	Controls     string             `yaml:"controls"`
	Columns      map[string]Class   `yaml:"columns"`
	DesignLimits map[string]float64 `yaml:"design_limits"`
	LinkedTable  string             `yaml:"linked_table"`
	Exceptions   []struct {
		Rule          string `yaml:"rule"`
		Cells         []Cell `yaml:"cells"`
		Justification string `yaml:"justification"`
	} `yaml:"exceptions"`
}

// LoadContext reads a sidecar file.
func LoadContext(file string) (*Context, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read context: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Context
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("context %s: %v; the file maps `outputs:` to paths or globs, each with description, population, model, columns, design_limits and exceptions (docs/outputs.md)", file, err)
	}
	return &c, nil
}

// For returns the context of a file path: an exact entry, else the first
// glob (in sorted order) that matches it; nil for none.
func (c *Context) For(p string) *OutputContext {
	if c == nil {
		return nil
	}
	p = filepath.ToSlash(p)
	if oc, ok := c.Outputs[p]; ok {
		return oc
	}
	keys := make([]string, 0, len(c.Outputs))
	for k := range c.Outputs {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		if ok, _ := path.Match(k, p); ok {
			return c.Outputs[k]
		}
	}
	return nil
}
