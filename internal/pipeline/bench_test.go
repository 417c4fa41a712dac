package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/haven-tre/haven/bench/projgen"
	"github.com/haven-tre/haven/internal/gctune"
)

// Benchmarks of Parse (YAML parse plus every validation rule plus the typed
// pipeline and its topological order). bench/pipeline.sh runs them beside a
// PyYAML baseline; docs/benchmarks.md records the figures.

// benchCorpusFile is the corpus file with the most actions (2,191).
const benchCorpusFile = "opensafely__disparities-comparison.yaml"

// benchSizes are the generated project sizes, spread so that memory growth
// per action can be read off B/op.
var benchSizes = []int{1000, 5000, 20000}

// benchSink keeps the parsed pipeline alive so Parse cannot be optimised away.
var benchSink *Pipeline

// BenchmarkParseCorpus parses and validates the largest real project file.
// It is skipped when the shared corpus is absent.
func BenchmarkParseCorpus(b *testing.B) {
	path := filepath.Join(corpusDir(b), "project-yaml", benchCorpusFile)
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, src, 2191, true)
}

// BenchmarkParseGenerated parses and validates generated projects: a chain
// (each action needs the one before) and a fan-out/fan-in (root -> n-2
// middles -> sink), at each of benchSizes actions.
func BenchmarkParseGenerated(b *testing.B) {
	for _, shape := range projgen.Shapes {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("shape=%s/actions=%d", shape, n), func(b *testing.B) {
				src, err := projgen.Generate(shape, n)
				if err != nil {
					b.Fatal(err)
				}
				benchParse(b, src, n, false)
			})
		}
	}
}

// BenchmarkParseGeneratedCLI is the 5,000-action benchmark with the garbage
// collector set as `haven check` sets it for its short life (gctune).
func BenchmarkParseGeneratedCLI(b *testing.B) {
	restore := gctune.ForShortLivedCommand()
	defer restore()
	for _, shape := range projgen.Shapes {
		b.Run(fmt.Sprintf("shape=%s/actions=5000", shape), func(b *testing.B) {
			src, err := projgen.Generate(shape, 5000)
			if err != nil {
				b.Fatal(err)
			}
			benchParse(b, src, 5000, false)
		})
	}
}

// BenchmarkParseWildcardOutputs parses chains whose actions each write one
// wildcard output (output/step_00001_*.csv): a shape the other benchmarks do
// not cover, where the output-overlap warning has to compare wildcard
// patterns with one another. Compare the time per action at the two sizes.
func BenchmarkParseWildcardOutputs(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("actions=%d", n), func(b *testing.B) {
			src, err := projgen.Generate(projgen.Chain, n)
			if err != nil {
				b.Fatal(err)
			}
			// Only the outputs lines end in ".csv" and a blank line.
			src = bytes.ReplaceAll(src, []byte(".csv\n\n"), []byte("_*.csv\n\n"))
			if bytes.Count(src, []byte("_*.csv")) != n {
				b.Fatal("wildcard rewrite missed some outputs")
			}
			benchParse(b, src, n, false)
		})
	}
}

// BenchmarkDecodeYAMLOnly decodes the same inputs into a yaml.Node tree
// with go-yaml and nothing else: the floor Parse cannot go below while it
// uses go-yaml's node decoder. The difference between it and BenchmarkParse*
// is Haven's own checking.
func BenchmarkDecodeYAMLOnly(b *testing.B) {
	b.Run("corpus", func(b *testing.B) {
		src, err := os.ReadFile(filepath.Join(corpusDir(b), "project-yaml", benchCorpusFile))
		if err != nil {
			b.Fatal(err)
		}
		benchDecode(b, src)
	})
	for _, shape := range projgen.Shapes {
		b.Run(fmt.Sprintf("shape=%s/actions=5000", shape), func(b *testing.B) {
			src, err := projgen.Generate(shape, 5000)
			if err != nil {
				b.Fatal(err)
			}
			benchDecode(b, src)
		})
	}
}

func benchDecode(b *testing.B, src []byte) {
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		var doc yaml.Node
		if err := yaml.Unmarshal(src, &doc); err != nil {
			b.Fatal(err)
		}
	}
}

// benchParse checks once that src is a valid project of wantActions actions
// (with no warnings either, unless allowWarnings), then times Parse on it.
// Besides the standard figures it reports ns/action.
func benchParse(b *testing.B, src []byte, wantActions int, allowWarnings bool) {
	b.Helper()
	p, probs := Parse("project.yaml", src)
	if probs.HasErrors() {
		b.Fatalf("benchmark input is invalid (%d problems), first: %v", len(probs), probs[0])
	}
	if len(probs) > 0 && !allowWarnings {
		b.Fatalf("benchmark input has %d warnings, first: %v", len(probs), probs[0])
	}
	if p == nil {
		b.Fatal("benchmark input: Parse returned no pipeline")
	}
	if len(p.Actions) != wantActions {
		b.Fatalf("benchmark input: got %d actions, want %d", len(p.Actions), wantActions)
	}
	if got := len(p.TopologicalOrder()); got != wantActions {
		b.Fatalf("benchmark input: topological order has %d actions, want %d", got, wantActions)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	iters := 0
	for b.Loop() {
		benchSink, _ = Parse("project.yaml", src)
		iters++
	}
	if iters > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters)/float64(wantActions), "ns/action")
	}
}

// TestGeneratedProjectsValid keeps the generator honest in ordinary test
// runs: small projects of both shapes are valid, warning-free and have the
// needs the shape promises; generation is deterministic.
func TestGeneratedProjectsValid(t *testing.T) {
	for _, shape := range projgen.Shapes {
		for _, n := range []int{3, 10, 101} {
			src, err := projgen.Generate(shape, n)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := projgen.Generate(shape, n)
			if string(src) != string(again) {
				t.Errorf("%s/%d: generator is not deterministic", shape, n)
			}
			p, probs := Parse("project.yaml", src)
			if len(probs) > 0 {
				t.Fatalf("%s/%d: %d problems, first: %v", shape, n, len(probs), probs[0])
			}
			if len(p.Actions) != n {
				t.Fatalf("%s/%d: got %d actions", shape, n, len(p.Actions))
			}
			first, last := p.Actions[0], p.Actions[n-1]
			if len(first.Needs) != 0 {
				t.Errorf("%s/%d: first action needs %v", shape, n, first.Needs)
			}
			deps, err := p.Dependencies(last.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(deps) != n-1 {
				t.Errorf("%s/%d: last action depends on %d actions, want %d", shape, n, len(deps), n-1)
			}
			switch shape {
			case projgen.Chain:
				for i := 1; i < n; i++ {
					if a := p.Actions[i]; len(a.Needs) != 1 || a.Needs[0] != p.Actions[i-1].ID {
						t.Fatalf("chain/%d: action %s needs %v", n, a.ID, a.Needs)
					}
				}
			case projgen.FanOutIn:
				if len(last.Needs) != n-2 {
					t.Errorf("fan/%d: sink needs %d actions, want %d", n, len(last.Needs), n-2)
				}
			}
			for _, a := range p.Actions {
				if len(a.Outputs.ModeratelySensitive) != 1 || a.Run.Tag != "v2" {
					t.Fatalf("%s/%d: action %s: outputs %+v, tag %q", shape, n, a.ID, a.Outputs, a.Run.Tag)
				}
			}
		}
	}
}
