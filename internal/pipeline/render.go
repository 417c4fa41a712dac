package pipeline

import (
	"fmt"
	"io"
	"strconv"
	"strings"
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
		a := p.byID[id]
		b.WriteString(id)
		if lv := levelSummary(a); lv != "" {
			b.WriteString("  [" + lv + "]")
		}
		b.WriteByte('\n')
		for i, n := range a.Needs {
			branch := "├─"
			if i == len(a.Needs)-1 {
				branch = "└─"
			}
			b.WriteString("  " + branch + " needs " + n + "\n")
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
		a := p.byID[id]
		attrs := ""
		if len(a.Outputs.ModeratelySensitive) > 0 {
			attrs = " [style=filled, fillcolor=\"#e8f4e8\"]"
		} else if len(a.Outputs.HighlySensitive) > 0 {
			attrs = " [style=filled, fillcolor=\"#fbe9e7\"]"
		}
		fmt.Fprintf(&b, "  %s%s;\n", strconv.Quote(id), attrs)
	}
	for _, id := range p.order {
		for _, n := range p.byID[id].Needs {
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
		label := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(id)
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", node[id], label)
	}
	for _, id := range p.order {
		for _, n := range p.byID[id].Needs {
			fmt.Fprintf(&b, "  %s --> %s\n", node[n], node[id])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
