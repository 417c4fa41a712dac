package pipeline

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// renderCases are the projects under testdata/render; each folder holds a
// project.yaml and the golden graph.txt, graph.dot and graph.mmd.
var renderCases = []string{"single", "diamond", "chain-reverse", "odd-names", "empty"}

// renderExt is the golden file extension of each format.
var renderExt = map[string]string{"text": "txt", "dot": "dot", "mermaid": "mmd"}

// loadRenderCase parses testdata/render/NAME/project.yaml, which must be
// valid.
func loadRenderCase(t *testing.T, name string) *Pipeline {
	t.Helper()
	path := filepath.Join("testdata", "render", name, FileName)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, probs := Parse(path, src)
	if probs.HasErrors() || p == nil {
		t.Fatalf("%s is invalid:\n%s", path, probs.Error())
	}
	return p
}

// renderGolden compares got with a golden file, or rewrites it with -update.
func renderGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/pipeline -run TestRender -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func TestRenderGolden(t *testing.T) {
	for _, name := range renderCases {
		p := loadRenderCase(t, name)
		for _, format := range GraphFormats {
			t.Run(name+"/"+format, func(t *testing.T) {
				var b bytes.Buffer
				if err := p.Render(&b, format); err != nil {
					t.Fatal(err)
				}
				renderGolden(t, filepath.Join("testdata", "render", name, "graph."+renderExt[format]), b.String())

				// Rendering is deterministic.
				var again bytes.Buffer
				if err := p.Render(&again, format); err != nil {
					t.Fatal(err)
				}
				if again.String() != b.String() {
					t.Errorf("a second render differs:\n%s\n---\n%s", b.String(), again.String())
				}
			})
		}
	}
}

func TestRenderFormatsListed(t *testing.T) {
	if len(GraphFormats) != len(renderExt) {
		t.Fatalf("GraphFormats = %v; this test knows %d formats", GraphFormats, len(renderExt))
	}
	for _, f := range GraphFormats {
		if _, ok := renderExt[f]; !ok {
			t.Errorf("format %q has no golden extension in this test", f)
		}
	}
}

var (
	dotNode     = regexp.MustCompile(`^  ("(?:[^"\\]|\\.)*")( \[[^]]*\])?;$`)
	dotEdge     = regexp.MustCompile(`^  ("(?:[^"\\]|\\.)*") -> ("(?:[^"\\]|\\.)*");$`)
	mermaidNode = regexp.MustCompile(`^  (a\d+)\["([^"]*)"\]$`)
	mermaidEdge = regexp.MustCompile(`^  (a\d+) --> (a\d+)$`)
)

// TestRenderStructure checks, without golden files, that every format shows
// each action once and each need as one edge, in dependency order.
func TestRenderStructure(t *testing.T) {
	for _, name := range renderCases {
		t.Run(name, func(t *testing.T) {
			p := loadRenderCase(t, name)
			order := p.TopologicalOrder()
			edges := 0
			for _, a := range p.Actions {
				edges += len(a.Needs)
			}

			var text bytes.Buffer
			if err := p.Render(&text, "text"); err != nil {
				t.Fatal(err)
			}
			var listed []string
			for _, l := range strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n") {
				if l == "" || strings.HasPrefix(l, "  ") {
					continue
				}
				id, _, _ := strings.Cut(l, "  [")
				listed = append(listed, id)
			}
			if strings.Join(listed, "\x00") != strings.Join(order, "\x00") {
				t.Errorf("text lists %q, want topological order %q", listed, order)
			}
			if n := strings.Count(text.String(), "─ needs "); n != edges {
				t.Errorf("text shows %d needs, want %d", n, edges)
			}

			var dot bytes.Buffer
			if err := p.Render(&dot, "dot"); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(dot.String(), "\n")
			if lines[0] != "digraph pipeline {" || lines[len(lines)-2] != "}" || lines[len(lines)-1] != "" {
				t.Fatalf("dot output is not one digraph:\n%s", dot.String())
			}
			nodes, dotEdges := map[string]bool{}, 0
			for _, l := range lines[1 : len(lines)-2] {
				if m := dotEdge.FindStringSubmatch(l); m != nil {
					if !nodes[m[1]] || !nodes[m[2]] {
						t.Errorf("dot edge %s before its nodes are declared", l)
					}
					dotEdges++
				} else if m := dotNode.FindStringSubmatch(l); m != nil {
					if nodes[m[1]] {
						t.Errorf("dot node %s declared twice", m[1])
					}
					nodes[m[1]] = true
				} else if l != "  rankdir=LR;" && l != "  node [shape=box];" {
					t.Errorf("unexpected dot line %q", l)
				}
			}
			if len(nodes) != len(p.Actions) || dotEdges != edges {
				t.Errorf("dot has %d nodes and %d edges, want %d and %d", len(nodes), dotEdges, len(p.Actions), edges)
			}

			var mm bytes.Buffer
			if err := p.Render(&mm, "mermaid"); err != nil {
				t.Fatal(err)
			}
			lines = strings.Split(strings.TrimSuffix(mm.String(), "\n"), "\n")
			if lines[0] != "flowchart LR" {
				t.Fatalf("mermaid output does not start with a flowchart:\n%s", mm.String())
			}
			ids, mmEdges := map[string]int{}, 0
			for _, l := range lines[1:] {
				if m := mermaidEdge.FindStringSubmatch(l); m != nil {
					from, ok1 := ids[m[1]]
					to, ok2 := ids[m[2]]
					if !ok1 || !ok2 {
						t.Errorf("mermaid edge %q names an undeclared node", l)
					} else if from >= to {
						t.Errorf("mermaid edge %q runs against the topological order", l)
					}
					mmEdges++
				} else if m := mermaidNode.FindStringSubmatch(l); m != nil {
					ids[m[1]] = len(ids)
					if strings.ContainsAny(m[2], `"<>`) {
						t.Errorf("mermaid label %q holds an unescaped \" < or >", m[2])
					}
				} else {
					t.Errorf("unexpected mermaid line %q", l)
				}
			}
			if len(ids) != len(p.Actions) || mmEdges != edges {
				t.Errorf("mermaid has %d nodes and %d edges, want %d and %d", len(ids), mmEdges, len(p.Actions), edges)
			}
		})
	}
}

func TestRenderDiamondOrder(t *testing.T) {
	p := loadRenderCase(t, "diamond")
	got := p.TopologicalOrder()
	// extract must come first and report last; left before right keeps file
	// order between the two branches.
	if strings.Join(got, " ") != "extract left right report" {
		t.Errorf("order %v, want [extract left right report]", got)
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	p := loadRenderCase(t, "single")
	for _, f := range []string{"", "svg", "TEXT", "Dot", " mermaid"} {
		var b bytes.Buffer
		err := p.Render(&b, f)
		if err == nil {
			t.Errorf("Render(%q) succeeded", f)
			continue
		}
		if !strings.Contains(err.Error(), "text, dot, mermaid") {
			t.Errorf("Render(%q): error %q does not list the formats", f, err)
		}
		if b.Len() != 0 {
			t.Errorf("Render(%q) wrote %q", f, b.String())
		}
	}
}

type failingWriter struct{}

var errWrite = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestRenderWriteError(t *testing.T) {
	p := loadRenderCase(t, "diamond")
	for _, f := range GraphFormats {
		if err := p.Render(failingWriter{}, f); !errors.Is(err, errWrite) {
			t.Errorf("Render(%q) to a failing writer: %v, want %v", f, err, errWrite)
		}
	}
}

// Action names may hold any character upstream accepts, control characters
// included; each graph format must keep one action on one line.
func TestRenderControlCharactersInNames(t *testing.T) {
	src := "version: '5.0'\nactions:\n" +
		"  \"first\\nline\":\n    run: python:v2 python a.py\n    outputs: {moderately_sensitive: {a: output/a.csv}}\n" +
		"  second:\n    run: python:v2 python b.py\n    needs: [\"first\\nline\"]\n    outputs: {moderately_sensitive: {b: output/b.csv}}\n"
	p, probs := Parse("project.yaml", []byte(src))
	if probs.HasErrors() {
		t.Fatal(probs.Error())
	}
	for _, f := range GraphFormats {
		var b bytes.Buffer
		if err := p.Render(&b, f); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"text": 3, "dot": 7, "mermaid": 4}[f]
		if n := strings.Count(b.String(), "\n"); n != want {
			t.Errorf("%s: %d lines, want %d:\n%s", f, n, want, b.String())
		}
	}
}
