package pipeline

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Graph formats accepted by Render.
var GraphFormats = []string{"text", "dot", "mermaid"}

// Render writes the action graph in a format: "text" (actions in the order
// they can run, each with what it needs), "dot" (Graphviz) or "mermaid".
// Edges point from an action to the actions that use its outputs.
func (p *Pipeline) Render(w io.Writer, format string) error {
	switch format {
	case "text":
		return p.renderText(w)
	case "dot":
		return p.renderDOT(w)
	case "mermaid":
		return p.renderMermaid(w)
	}
	return fmt.Errorf("unknown graph format %q: use one of %s", format, strings.Join(GraphFormats, ", "))
}

func (p *Pipeline) renderText(w io.Writer) error {
	var b strings.Builder
	for _, id := range p.order {
		a := p.Action(id)
		b.WriteString(textName(id))
		if lv := levelSummary(a); lv != "" {
			b.WriteString("  [" + lv + "]")
		}
		b.WriteByte('\n')
		for i, n := range a.Needs {
			branch := "├─"
			if i == len(a.Needs)-1 {
				branch = "└─"
			}
			b.WriteString("  " + branch + " needs " + textName(n) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// levelSummary says which privacy levels an action writes.
func levelSummary(a *Action) string {
	var parts []string
	for _, l := range Levels {
		if n := len(a.Outputs.Level(l)); n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", l, n))
		}
	}
	return strings.Join(parts, ", ")
}

func (p *Pipeline) renderDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, id := range p.order {
		a := p.Action(id)
		attrs := ""
		if len(a.Outputs.ModeratelySensitive) > 0 {
			attrs = " [style=filled, fillcolor=\"#e8f4e8\"]"
		} else if len(a.Outputs.HighlySensitive) > 0 {
			attrs = " [style=filled, fillcolor=\"#fbe9e7\"]"
		}
		fmt.Fprintf(&b, "  %s%s;\n", strconv.Quote(id), attrs)
	}
	for _, id := range p.order {
		for _, n := range p.Action(id).Needs {
			fmt.Fprintf(&b, "  %s -> %s;\n", strconv.Quote(n), strconv.Quote(id))
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *Pipeline) renderMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	node := map[string]string{}
	for i, id := range p.order {
		node[id] = fmt.Sprintf("a%d", i)
		label := mermaidLabel(id)
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", node[id], label)
	}
	for _, id := range p.order {
		for _, n := range p.Action(id).Needs {
			fmt.Fprintf(&b, "  %s --> %s\n", node[n], node[id])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// textName shows an action name as written, or Go-quoted when it holds
// control characters, so one action stays on one line.
func textName(id string) string {
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return strconv.Quote(id)
		}
	}
	return id
}

// mermaidLabel escapes a name for a quoted Mermaid label with Mermaid's
// entity codes (#quot; and the like; # itself first).
func mermaidLabel(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r == '#':
			b.WriteString("#35;")
		case r == '"':
			b.WriteString("#quot;")
		case r == '<':
			b.WriteString("#lt;")
		case r == '>':
			b.WriteString("#gt;")
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, "#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
