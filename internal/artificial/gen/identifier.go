package gen

import (
	"fmt"
	"math/bits"
	"strings"
	"unsafe"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/rng"
)

// Pattern is a parsed identifier pattern: literals, character classes
// such as [0-9A-Z], and fixed repetition {n}. Every value it makes has the
// same length.
type Pattern struct {
	template []byte   // the value with class slots unset
	slots    []int    // positions of class slots in template
	classes  []string // the characters of each slot's class, in order
	space    uint64   // number of distinct values, saturated at 2^62
	prefix   string   // the leading literal run
}

const maxSpace = 1 << 62

// ParsePattern parses an identifier pattern.
func ParsePattern(p string) (*Pattern, error) {
	pt := &Pattern{space: 1}
	literal := true
	for i := 0; i < len(p); {
		var atom string // the characters this atom may take
		isClass := false
		switch c := p[i]; c {
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("pattern %q: the class at column %d has no closing ]", p, i+1)
			}
			set, err := classChars(p[i+1 : i+end])
			if err != nil {
				return nil, fmt.Errorf("pattern %q: class at column %d: %v", p, i+1, err)
			}
			atom, isClass = set, true
			i += end + 1
		case '\\':
			if i+1 >= len(p) {
				return nil, fmt.Errorf("pattern %q ends with a lone backslash", p)
			}
			atom = p[i+1 : i+2]
			i += 2
		case '*', '+', '?', '(', ')', '|', '.', '^', '$', ']', '}':
			return nil, fmt.Errorf("pattern %q: %q at column %d is not supported: use literals, classes such as [0-9A-Z] and fixed repetition {n} (identifiers have one length)", p, c, i+1)
		case '{':
			return nil, fmt.Errorf("pattern %q: repetition at column %d follows nothing", p, i+1)
		default:
			atom = p[i : i+1]
			i++
		}
		reps := 1
		if i < len(p) && p[i] == '{' {
			end := strings.IndexByte(p[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("pattern %q: the repetition at column %d has no closing }", p, i+1)
			}
			body := p[i+1 : i+end]
			if strings.ContainsAny(body, ",") {
				return nil, fmt.Errorf("pattern %q: variable repetition {%s} is not allowed: identifiers have a fixed length, write {n}", p, body)
			}
			if _, err := fmt.Sscanf(body, "%d", &reps); err != nil || reps < 1 || reps > 128 || fmt.Sprint(reps) != body {
				return nil, fmt.Errorf("pattern %q: repetition {%s} must be a whole number from 1 to 128", p, body)
			}
			i += end + 1
		}
		for r := 0; r < reps; r++ {
			if !isClass && len(atom) == 1 {
				pt.template = append(pt.template, atom[0])
				if literal {
					pt.prefix += atom
				}
				continue
			}
			literal = false
			pt.slots = append(pt.slots, len(pt.template))
			pt.classes = append(pt.classes, atom)
			pt.template = append(pt.template, atom[0])
			hi, lo := bits.Mul64(pt.space, uint64(len(atom)))
			if hi != 0 || lo > maxSpace {
				pt.space = maxSpace
			} else {
				pt.space = lo
			}
		}
	}
	if len(pt.template) == 0 {
		return nil, fmt.Errorf("pattern is empty")
	}
	return pt, nil
}

// classChars expands the inside of a [...] class.
func classChars(body string) (string, error) {
	if body == "" {
		return "", fmt.Errorf("empty class")
	}
	if body[0] == '^' {
		return "", fmt.Errorf("negated classes are not supported: list the characters")
	}
	seen := [256]bool{}
	var out []byte
	for i := 0; i < len(body); i++ {
		lo := body[i]
		hi := lo
		if i+2 < len(body) && body[i+1] == '-' {
			hi = body[i+2]
			i += 2
		}
		if hi < lo {
			return "", fmt.Errorf("range %c-%c is reversed", lo, hi)
		}
		for c := int(lo); c <= int(hi); c++ {
			if c < 0x21 || c > 0x7e {
				return "", fmt.Errorf("only printable ASCII characters other than space may be in a class")
			}
			if !seen[c] {
				seen[c] = true
				out = append(out, byte(c))
			}
		}
	}
	return string(out), nil
}

// Space is the number of distinct values (saturated at 2^62).
func (p *Pattern) Space() uint64 { return p.space }

// Prefix is the pattern's leading literal run.
func (p *Pattern) Prefix() string { return p.prefix }

// Len is the length of every value.
func (p *Pattern) Len() int { return len(p.template) }

// AppendValue appends value number v (below Space) to dst.
func (p *Pattern) AppendValue(dst []byte, v uint64) []byte {
	s := len(dst)
	dst = append(dst, p.template...)
	for j := len(p.slots) - 1; j >= 0; j-- {
		cl := p.classes[j]
		n := uint64(len(cl))
		dst[s+p.slots[j]] = cl[v%n]
		v /= n
	}
	return dst
}

// identifier compiles an identifier column: values are the images of the
// row (or entity) number under a keyed bijection onto the pattern's
// values, so they are distinct by construction.
func (g *Generator) identifier(name string, id meta.IdentifierSpec, prefix string) (frame.Spec, column, error) {
	spec := frame.Spec{Name: name, Decimals: -1}
	entity := false
	switch id.Scope {
	case "row", "":
	case "entity":
		entity = true
	default:
		return spec, nil, fmt.Errorf("identifier scope %q: use row or entity", id.Scope)
	}
	key := g.key(g.table.Name, name, "identifier")
	switch id.Kind {
	case "integer":
		spec.Kind = frame.Int
		domain := 10 * g.rows
		if domain < 10 {
			domain = 10
		}
		return spec, &intIDCol{perm: rng.NewPerm(domain, key, 0), entity: entity}, nil
	case "pattern", "":
		spec.Kind = frame.String
		if id.Pattern == "" {
			return spec, nil, fmt.Errorf("a pattern identifier needs a pattern, such as %s[0-9A-Z]{12}", prefix)
		}
		p, err := ParsePattern(id.Pattern)
		if err != nil {
			return spec, nil, err
		}
		if !strings.HasPrefix(p.prefix, prefix) {
			return spec, nil, fmt.Errorf("pattern %q does not start with the reserved prefix %q: generated identifiers must be told apart from real ones, so write %s%s", id.Pattern, prefix, prefix, id.Pattern)
		}
		if p.space < g.rows {
			return spec, nil, fmt.Errorf("pattern %q has %d distinct values, fewer than the %d rows: lengthen it", id.Pattern, p.space, g.rows)
		}
		spec.Plain = plain(string(p.template)) && plain(strings.Join(p.classes, ""))
		return spec, &patternIDCol{pat: p, perm: rng.NewPerm(p.space, key, 0), entity: entity}, nil
	}
	return spec, nil, fmt.Errorf("identifier kind %q: use pattern or integer", id.Kind)
}

type intIDCol struct {
	perm   rng.Perm
	entity bool
}

func (ic *intIDCol) fill(c *frame.Column, start uint64, n int, ent []uint64) {
	for i := 0; i < n; i++ {
		k := start + uint64(i)
		if ic.entity && ent != nil {
			k = ent[i]
		}
		c.Ints[i] = int64(ic.perm.At(k))
	}
}

type patternIDCol struct {
	pat    *Pattern
	perm   rng.Perm
	entity bool
}

func (pc *patternIDCol) fill(c *frame.Column, start uint64, n int, ent []uint64) {
	l := pc.pat.Len()
	arena := make([]byte, 0, n*l)
	for i := 0; i < n; i++ {
		k := start + uint64(i)
		if pc.entity && ent != nil {
			k = ent[i]
			if i > 0 && ent[i-1] == k {
				c.Strs[i] = c.Strs[i-1]
				continue
			}
		}
		s := len(arena)
		arena = pc.pat.AppendValue(arena, pc.perm.At(k))
		c.Strs[i] = unsafe.String(unsafe.SliceData(arena[s:]), l)
	}
}
