package pipeline

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/haven-tre/haven/internal/pyfmt"
)

// Upstream converts `version` with Python's float() and population_size with
// int(). These helpers accept exactly what those accept, so a project that
// loads upstream loads here and one that fails there fails here.

var (
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
	nan    = math.NaN()
)

const pyDigits = `[0-9](?:_?[0-9])*`

var (
	pyFloatRE = regexp.MustCompile(`^[+-]?(?:(?:` + pyDigits + `)?\.` + pyDigits + `|` + pyDigits + `\.?)(?:[eE][+-]?` + pyDigits + `)?$`)
	pyIntRE   = regexp.MustCompile(`^[+-]?` + pyDigits + `$`)
)

// pyStrip removes the whitespace Python's float() and int() ignore.
func pyStrip(s string) string {
	return strings.TrimSpace(s)
}

// pyFloatString converts a string as Python's float(str) does.
func pyFloatString(s string) (float64, bool) {
	t := pyStrip(s)
	switch strings.ToLower(strings.TrimLeft(t, "+")) {
	case "inf", "infinity":
		return posInf, true
	case "-inf", "-infinity":
		return negInf, true
	case "nan", "-nan":
		return nan, true
	}
	if !pyFloatRE.MatchString(t) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// pyFloatNode converts a YAML value as float(value) does after upstream's
// loader has constructed it. ok is false where Python raises TypeError or
// ValueError.
func pyFloatNode(n *yaml.Node) (float64, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!str":
		return pyFloatString(n.Value)
	case "!!int":
		i, ok := yamlInt(n.Value)
		if !ok {
			return 0, false
		}
		f, _ := new(big.Float).SetInt(i).Float64()
		return f, true
	case "!!float":
		return yamlFloat(n.Value)
	case "!!bool":
		if strings.EqualFold(n.Value, "true") {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// pyIntNode converts a YAML value as int(value) does. ok is false where Python
// raises (TypeError, ValueError, or OverflowError for an infinite float).
func pyIntNode(n *yaml.Node) (*big.Int, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return nil, false
	}
	switch n.ShortTag() {
	case "!!str":
		t := pyStrip(n.Value)
		if !pyIntRE.MatchString(t) {
			return nil, false
		}
		i, ok := new(big.Int).SetString(strings.ReplaceAll(strings.TrimPrefix(t, "+"), "_", ""), 10)
		return i, ok
	case "!!int":
		return yamlInt(n.Value)
	case "!!float":
		f, ok := yamlFloat(n.Value)
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, false
		}
		i, _ := big.NewFloat(math.Trunc(f)).Int(nil)
		return i, true
	case "!!bool":
		if strings.EqualFold(n.Value, "true") {
			return big.NewInt(1), true
		}
		return big.NewInt(0), true
	}
	return nil, false
}

// pyFloatRepr formats a float as Python's repr() does.
func pyFloatRepr(f float64) string { return pyfmt.Float(f) }
