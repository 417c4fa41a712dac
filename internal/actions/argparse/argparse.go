// Package argparse parses the long options of Haven's native actions the
// way the Python tools they stand in for do (argparse): `--name value` and
// `--name=value`, the last occurrence of a single-valued option winning,
// options that take one or more values (`nargs="+"`), and switches. Errors
// name the program and the option and say how to fix the command.
package argparse

import (
	"fmt"
	"slices"
	"strings"

	"github.com/haven-tre/haven/internal/pipeline"
)

// Option describes one long option.
type Option struct {
	Name     string // without the leading dashes: "output-dir"
	Multi    bool   // takes one or more values; repeated options add to them
	Switch   bool   // takes no value
	Required bool
	Default  string // for a single-valued option not given
	Help     string // one line, for the usage text
}

// Values are the parsed options, by name.
type Values struct {
	single map[string]string
	multi  map[string][]string
	given  map[string]bool
}

// Get returns a single-valued option's value (its default if not given).
func (v Values) Get(name string) string { return v.single[name] }

// List returns a multi-valued option's values, in order.
func (v Values) List(name string) []string { return v.multi[name] }

// Has reports whether the option was given on the command line.
func (v Values) Has(name string) bool { return v.given[name] }

// Error is a mistake in a native action's command line.
type Error struct {
	Program string
	Msg     string
	Usage   string
}

func (e *Error) Error() string { return e.Program + ": " + e.Msg }

// Parse parses argv (the words after the program and any sub-command)
// against opts. Positional words are refused: native actions take options
// only.
func Parse(program string, opts []Option, argv []string) (Values, error) {
	v := Values{single: map[string]string{}, multi: map[string][]string{}, given: map[string]bool{}}
	byName := map[string]*Option{}
	for i := range opts {
		o := &opts[i]
		byName[o.Name] = o
		if !o.Multi && !o.Switch {
			v.single[o.Name] = o.Default
		}
	}
	fail := func(format string, args ...any) (Values, error) {
		return Values{}, &Error{Program: program, Msg: fmt.Sprintf(format, args...), Usage: Usage(program, opts)}
	}
	for i := 0; i < len(argv); i++ {
		w := argv[i]
		if !strings.HasPrefix(w, "--") || w == "--" {
			return fail("unexpected argument %q: every argument is an option (%s)", w, names(opts))
		}
		name, value, hasValue := strings.Cut(w[2:], "=")
		o, ok := byName[name]
		if !ok {
			hint := ""
			if s := closest(name, opts); s != "" {
				hint = fmt.Sprintf("; did you mean --%s?", s)
			} else {
				hint = fmt.Sprintf("; the options are %s", names(opts))
			}
			return fail("unrecognized option --%s%s", name, hint)
		}
		v.given[name] = true
		switch {
		case o.Switch:
			if hasValue {
				return fail("--%s takes no value: write --%s alone", name, name)
			}
			v.single[name] = "true"
		case o.Multi:
			if hasValue {
				v.multi[name] = append(v.multi[name], value)
			}
			for i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "--") {
				i++
				v.multi[name] = append(v.multi[name], argv[i])
			}
			if len(v.multi[name]) == 0 {
				return fail("--%s needs at least one value: write --%s VALUE [VALUE ...]", name, name)
			}
		default:
			if !hasValue {
				if i+1 >= len(argv) || strings.HasPrefix(argv[i+1], "--") {
					return fail("--%s needs a value: write --%s VALUE", name, name)
				}
				i++
				value = argv[i]
			}
			v.single[name] = value
		}
	}
	for _, o := range opts {
		if o.Required && !v.given[o.Name] {
			return fail("the option --%s is required: add --%s VALUE to the action's run command", o.Name, o.Name)
		}
	}
	return v, nil
}

// Usage is the usage text of a program's options.
func Usage(program string, opts []Option) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s", program)
	for _, o := range opts {
		w := "--" + o.Name
		switch {
		case o.Switch:
		case o.Multi:
			w += " VALUE [VALUE ...]"
		default:
			w += " VALUE"
		}
		if !o.Required {
			w = "[" + w + "]"
		}
		b.WriteString(" " + w)
	}
	b.WriteString("\n")
	for _, o := range opts {
		if o.Help != "" {
			fmt.Fprintf(&b, "  --%-24s %s\n", o.Name, o.Help)
		}
	}
	return b.String()
}

func names(opts []Option) string {
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = "--" + o.Name
	}
	return strings.Join(out, ", ")
}

// closest is the option name nearest to name, if near enough to be a typo.
func closest(name string, opts []Option) string {
	best, bestD := "", 3
	for _, o := range opts {
		if d := pipeline.EditDistance(name, o.Name); d < bestD {
			best, bestD = o.Name, d
		}
	}
	return best
}

// Contains reports whether opts has an option called name.
func Contains(opts []Option, name string) bool {
	return slices.ContainsFunc(opts, func(o Option) bool { return o.Name == name })
}
