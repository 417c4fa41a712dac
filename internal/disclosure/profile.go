package disclosure

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed profiles/*.yaml
var builtinProfiles embed.FS

// Profile is a site's disclosure rules: thresholds, rounding, limits and
// allowed file types. Profiles are YAML, never code; a profile may extend
// another (`extends: acro`) and override any of its keys.
type Profile struct {
	Name     string `json:"name"`
	Extends  string `json:"-"`
	MinCount int    `json:"min_count"` // the smallest safe count; T = MinCount-1
	Rounding struct {
		Required  bool `json:"required"`
		Base      int  `json:"base"`
		Midpoint6 bool `json:"midpoint6"`
	} `json:"rounding"`
	Zeros      string `json:"zeros"` // allow, review or fail
	ZeroAsMask bool   `json:"zero_as_mask"`
	Dominance  bool   `json:"dominance"`
	MinDoF     int    `json:"min_dof"`
	// SurvivalMinStep is the fewest people who may leave a life table's
	// risk set at one step.
	SurvivalMinStep int    `json:"survival_min_step"`
	Endpoints       string `json:"endpoints"` // review or fail
	Limits          struct {
		MaxBytes   int64 `json:"max_bytes"`    // 0: no limit
		MaxCSVRows int   `json:"max_csv_rows"` // 0: no limit
	} `json:"limits"`
	// FileTypes, when not empty, is the allow-list of extensions;
	// FileTypesBlocked is a deny-list used when FileTypes is empty.
	FileTypes        []string `json:"file_types"`
	FileTypesBlocked []string `json:"file_types_blocked"`
	GeographyPolicy  bool     `json:"geography_policy"`
	HTMLStyles       Verdict  `json:"html_styles"`
	RedactionToken   string   `json:"redaction_token"`
	NonExceptable    []string `json:"non_exceptable"`
	// Tokens added to the built-in missing and redaction tokens.
	MissingTokens   []string `json:"missing_tokens"`
	RedactionTokens []string `json:"redaction_tokens"`

	// SHA256 is the hash of the resolved profile's canonical JSON.
	SHA256 string `json:"-"`
}

// T is the largest unsafe non-zero count.
func (p *Profile) T() int { return p.MinCount - 1 }

// AllowsType reports whether a file extension (with its dot, any case)
// may be released.
func (p *Profile) AllowsType(ext string) bool {
	ext = strings.ToLower(ext)
	if len(p.FileTypes) > 0 {
		return slices.Contains(p.FileTypes, ext)
	}
	return !slices.Contains(p.FileTypesBlocked, ext)
}

// Exceptable reports whether findings of a rule may be downgraded by a
// justification.
func (p *Profile) Exceptable(rule string) bool { return !slices.Contains(p.NonExceptable, rule) }

// BuiltinProfiles lists the names of the profiles Haven ships.
func BuiltinProfiles() []string {
	entries, _ := fs.ReadDir(builtinProfiles, "profiles")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// profileAliases are other names of built-in profiles.
var profileAliases = map[string]string{"sdap": "acro"}

// LoadProfile returns a built-in profile by name (opensafely, acro or its
// alias sdap, ukllc) or reads one from a YAML file (a path ending in .yaml
// or .yml, or containing a slash).
func LoadProfile(nameOrPath string) (*Profile, error) {
	m, err := resolveProfile(nameOrPath, nil)
	if err != nil {
		return nil, err
	}
	canon, err := json.Marshal(m) // maps marshal with sorted keys, no spaces
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", nameOrPath, err)
	}
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile %s: %v; see docs/outputs.md for the profile keys", nameOrPath, err)
	}
	sum := sha256.Sum256(canon)
	p.SHA256 = hex.EncodeToString(sum[:])
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("profile %s: %w", nameOrPath, err)
	}
	for i, t := range p.FileTypes {
		p.FileTypes[i] = strings.ToLower(t)
	}
	for i, t := range p.FileTypesBlocked {
		p.FileTypesBlocked[i] = strings.ToLower(t)
	}
	return &p, nil
}

func (p *Profile) validate() error {
	switch {
	case p.Name == "":
		return errors.New("the profile has no name: add `name: <name>`")
	case p.MinCount < 1:
		return fmt.Errorf("min_count is %d: it must be at least 1", p.MinCount)
	case p.Rounding.Base < 1:
		return fmt.Errorf("rounding.base is %d: it must be at least 1", p.Rounding.Base)
	case p.Zeros != "allow" && p.Zeros != "review" && p.Zeros != "fail":
		return fmt.Errorf("zeros is %q: use allow, review or fail", p.Zeros)
	case p.Endpoints != "review" && p.Endpoints != "fail":
		return fmt.Errorf("endpoints is %q: use review or fail", p.Endpoints)
	case p.RedactionToken == "":
		return errors.New("redaction_token is empty: set the text that replaces a redacted cell, e.g. \"[REDACTED]\"")
	}
	return nil
}

// resolveProfile reads a profile and merges it over the one it extends,
// as a generic map (the form that is hashed).
func resolveProfile(nameOrPath string, seen []string) (map[string]any, error) {
	if slices.Contains(seen, nameOrPath) {
		return nil, fmt.Errorf("profile %s extends itself: %s", nameOrPath, strings.Join(append(seen, nameOrPath), " -> "))
	}
	var data []byte
	var err error
	isFile := strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") || strings.ContainsRune(nameOrPath, filepath.Separator) || strings.Contains(nameOrPath, "/")
	if isFile {
		data, err = os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("read profile: %w", err)
		}
	} else {
		name := nameOrPath
		if a, ok := profileAliases[name]; ok {
			name = a
		}
		data, err = builtinProfiles.ReadFile("profiles/" + name + ".yaml")
		if err != nil {
			return nil, fmt.Errorf("unknown profile %q: use one of %s, or a path to a YAML file", nameOrPath, strings.Join(BuiltinProfiles(), ", "))
		}
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("profile %s is not valid YAML: %v", nameOrPath, err)
	}
	if m == nil {
		return nil, fmt.Errorf("profile %s is empty", nameOrPath)
	}
	parent, _ := m["extends"].(string)
	delete(m, "extends")
	if parent == "" {
		return m, nil
	}
	if isFile && !strings.ContainsAny(parent, "/") && (strings.HasSuffix(parent, ".yaml") || strings.HasSuffix(parent, ".yml")) {
		parent = filepath.Join(filepath.Dir(nameOrPath), parent)
	}
	base, err := resolveProfile(parent, append(seen, nameOrPath))
	if err != nil {
		return nil, err
	}
	return mergeMaps(base, m), nil
}

// mergeMaps returns base with over's keys set on it, merging nested maps.
func mergeMaps(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeMaps(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}
