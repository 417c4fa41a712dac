package pipeline

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzFile is the name Parse is given; every problem must carry it.
const fuzzFile = "fuzz/project.yaml"

// fuzzCorpusDir finds the shared corpus as corpusDir does, but returns ""
// instead of skipping or failing when it is absent: fuzz targets seed from it
// when they can and run on their own seeds when they cannot.
func fuzzCorpusDir() string {
	if d := os.Getenv("HAVEN_CORPUS_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "corpus")
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// corpusSeeds returns every project-yaml/*.yaml and pipeline-fixtures/**/*.yaml
// file of the shared corpus, or nothing when there is no corpus.
func corpusSeeds() [][]byte {
	dir := fuzzCorpusDir()
	if dir == "" {
		return nil
	}
	var seeds [][]byte
	matches, _ := filepath.Glob(filepath.Join(dir, "project-yaml", "*.yaml"))
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			seeds = append(seeds, b)
		}
	}
	_ = filepath.WalkDir(filepath.Join(dir, "pipeline-fixtures"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			seeds = append(seeds, b)
		}
		return nil
	})
	return seeds
}

// aliasBomb nests levels of lists, each holding nine aliases of the one
// before: "billion laughs" expands to 9^levels strings. It sits in an
// action's config, so the project is valid and RunCommand has to bound it.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("version: '5.0'\nactions:\n  bomb:\n    run: python:v2 python bomb.py\n")
	b.WriteString("    outputs: {moderately_sensitive: {o: output/o.csv}}\n    config:\n")
	b.WriteString(`      l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]` + "\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "      l%d: &l%d [%s]\n", i, i, refs)
	}
	return b.String()
}

// mergeBomb nests merge keys, each merging nine aliases of the mapping
// before, under actions: merging naively costs 9^levels.
func mergeBomb(levels int) string {
	var b strings.Builder
	b.WriteString("version: '5.0'\nm0: &m0 {k: 1}\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 9), ", ")
		fmt.Fprintf(&b, "m%d: &m%d {<<: [%s]}\n", i, i, refs)
	}
	fmt.Fprintf(&b, "actions: {<<: *m%d}\n", levels)
	return b.String()
}

// trickySeeds are hand-written inputs for corners of YAML and of the
// project format.
var trickySeeds = []string{
	// Empty and nearly empty.
	"",
	"\n",
	"---\n",
	"~\n",
	"# just a comment\n",
	"[]\n",
	"'version'\n",
	// Tabs, which YAML forbids for indentation.
	"version: '5.0'\nactions:\n\ta:\n\t\trun: python:v2 python a.py\n",
	"version:\t'5.0'\nactions: {a: {run: \"python:v2\tpython a.py\", outputs: {highly_sensitive: {d: output/d.csv}}}}\n",
	// Windows line endings and a byte order mark.
	"\ufeffversion: '5.0'\r\nactions:\r\n  a:\r\n    run: python:v2 python a.py\r\n    outputs:\r\n      highly_sensitive:\r\n        d: output/d.csv\r\n",
	// Anchors and aliases: a whole action reused, and an alias as a key.
	"version: '5.0'\nactions:\n  a: &act\n    run: python:v2 python a.py\n    outputs: {highly_sensitive: {d: output/d.csv}}\n  b: *act\n",
	"version: '5.0'\nname: &n a\nactions:\n  *n : {run: python:v2 python a.py, outputs: {highly_sensitive: {d: output/d.csv}}}\n  b: {run: python:v2 python b.py, needs: [*n], outputs: {highly_sensitive: {e: output/e.csv}}}\n",
	"version: &v '5.0'\nactions: {a: {run: *v, outputs: *v}}\n",
	// An alias to its own enclosing node.
	"version: '5.0'\nactions: &a {x: *a}\n",
	"version: '5.0'\nactions:\n  x: &x\n    run: python:v2 python a.py\n    outputs: {moderately_sensitive: {o: output/o.csv}}\n    config: {self: *x}\n",
	// Billion laughs, in config (valid) and at the top level (invalid).
	aliasBomb(9),
	"version: '5.0'\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nactions: {a: {run: python:v2 python a.py, needs: *d, outputs: {highly_sensitive: {d: output/d.csv}}}}\n",
	// Merge keys: an action built on a base, merges of lists, a merge of a
	// scalar, a mapping merged into itself, and nested merges.
	"version: '5.0'\nactions:\n  base: &base\n    run: python:v2 python a.py\n    outputs: {highly_sensitive: {d: output/d.csv}}\n  b:\n    <<: *base\n    run: python:v2 python b.py\n",
	"version: '5.0'\nx: &x {run: python:v2 python a.py}\ny: &y {outputs: {highly_sensitive: {d: output/d.csv}}}\nactions: {a: {<<: [*x, *y]}}\n",
	"version: '5.0'\nactions: {a: {<<: 5, run: python:v2 python a.py}}\n",
	"version: '5.0'\nactions: &a {<<: *a}\n",
	"<<: {version: '5.0', actions: {}}\n",
	mergeBomb(8),
	// Tags: custom, Python-specific and YAML's own.
	"version: !!python/object:os.system '5.0'\nactions: {}\n",
	"version: !custom 5\nactions: {}\n",
	"!<tag:example.com,2000:app/foo> {version: '5.0', actions: {}}\n",
	"version: !!str 5\nactions: !!map {}\n",
	"version: !!float '5'\nactions: {a: {run: !!binary aGVsbG8=, outputs: {highly_sensitive: {d: !!timestamp 2001-12-14}}}}\n",
	"version: '5.0'\nactions: !!set {a, b}\n",
	// Several documents.
	"version: '5.0'\nactions: {}\n---\nversion: '5.0'\nactions: {}\n",
	"---\n...\n---\n",
	"version: '5.0'\nactions: {}\n...\n",
	"%YAML 1.1\n---\nversion: '5.0'\nactions: {}\n",
	// Numbers for version: huge, tiny, odd bases, specials.
	"version: 1e400\nactions: {}\n",
	"version: -1e400\nactions: {}\n",
	"version: 99999999999999999999999999999999999999999999\nactions: {}\n",
	"version: 4.99999999999999999999999\nactions: {}\n",
	"version: 5.0000000000000001\nactions: {}\n",
	"version: 0x5\nactions: {}\n",
	"version: 0o5\nactions: {}\n",
	"version: 1_000\nactions: {}\n",
	"version: .nan\nactions: {}\n",
	"version: -.inf\nactions: {}\n",
	"version: '  5  '\nactions: {}\n",
	"version: 5e-324\nactions: {}\n",
	"version: [5]\nactions: {}\n",
	"version: true\nactions: {}\n",
	// Not UTF-8.
	"version: '5.0'\nactions:\n  \xff\xfe: {run: python:v2 python a.py}\n",
	"\xfe\xff\x00v\x00e\x00r",
	"version: '5\xc3'\n",
	"version: '5.0'\nactions: {a\x00b: {}}\n",
	// Deep nesting.
	"version: '5.0'\nactions: {a: {run: python:v2 python a.py, needs: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + ", outputs: {highly_sensitive: {d: output/d.csv}}}}\n",
	"version: '5.0'\nactions: {a: {run: python:v2 python a.py, config: " + strings.Repeat("{a: ", 500) + "1" + strings.Repeat("}", 500) + ", outputs: {highly_sensitive: {d: output/d.csv}}}}\n",
	strings.Repeat("[", 20000),
	// Keys that are not plain strings.
	"version: '5.0'\nactions: {? [a, b] : {run: python:v2 python a.py}}\n",
	"version: '5.0'\nactions: {null: {run: python:v2 python a.py, outputs: {highly_sensitive: {d: output/d.csv}}}, 1: {run: python:v2 python b.py, outputs: {highly_sensitive: {e: output/e.csv}}}, '1': {run: python:v2 python c.py, outputs: {highly_sensitive: {f: output/f.csv}}}}\n",
	"version: 5\nversion: 5\nactions: {}\n",
	// Needs: cycles, self, unknown, spaces, numbers.
	"version: '5.0'\nactions:\n  a: {run: python:v2 python a.py, needs: [b], outputs: {highly_sensitive: {d: output/a.csv}}}\n  b: {run: python:v2 python b.py, needs: [a], outputs: {highly_sensitive: {d: output/b.csv}}}\n  c: {run: python:v2 python c.py, needs: [c], outputs: {highly_sensitive: {d: output/c.csv}}}\n",
	"version: '5.0'\nactions:\n  a: {run: python:v2 python a.py, needs: [a b, 2017, ~, [x], {y: z}, nope], outputs: {highly_sensitive: {d: output/a.csv}}}\n",
	// Run lines: quotes, escapes, empty, tags.
	"version: '5.0'\nactions:\n  a: {run: \"python:v2 python 'a.py\", outputs: {highly_sensitive: {d: output/a.csv}}}\n  b: {run: 'python:v2 python b.py \\', outputs: {highly_sensitive: {d: output/b.csv}}}\n  c: {run: '', outputs: {highly_sensitive: {d: output/c.csv}}}\n  d: {run: '   ', outputs: {highly_sensitive: {d: output/d.csv}}}\n  e: {run: ':v1 x', outputs: {highly_sensitive: {d: output/e.csv}}}\n  f: {run: python, outputs: {highly_sensitive: {d: output/f.csv}}}\n",
	// A version 3 project with expectations, run_all and cohortextractor.
	"version: '3.0'\nexpectations: {population_size: 1e3}\nactions:\n  run_all: {run: cohortextractor:latest generate_cohort --output-dir=output, outputs: {highly_sensitive: {c: output/input.csv, d: other/input2.csv}}}\n",
	// Output patterns.
	"version: '5.0'\nactions:\n  a: {run: ehrql:v1 generate-dataset d.py --output output/:csv, outputs: {highly_sensitive: {d: 'output/*.csv', e: '../x.csv', f: 'C:\\x.csv', g: '/abs.csv', h: 'output/**', i: 'output/x', j: 'metadata/x.csv'}}}\n",
}

// FuzzParse checks that Parse never panics and that what it returns is
// consistent: a valid pipeline with a sound order, or errors with positions.
func FuzzParse(f *testing.F) {
	for _, s := range corpusSeeds() {
		f.Add(s)
	}
	for _, s := range trickySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkParseResult(t, src)
	})
}

func checkParseResult(t *testing.T, src []byte) {
	t.Helper()
	p, probs := Parse(fuzzFile, src)

	for i, pr := range probs {
		if pr.Line < 1 || pr.Column < 1 {
			t.Errorf("problem %d has no position: %v", i, pr)
		}
		if pr.Rule == "" || pr.Message == "" {
			t.Errorf("problem %d has an empty rule or message: %#v", i, pr)
		}
		if pr.File != fuzzFile {
			t.Errorf("problem %d names file %q, want %q", i, pr.File, fuzzFile)
		}
		if pr.Severity != SeverityError && pr.Severity != SeverityWarning {
			t.Errorf("problem %d has severity %q", i, pr.Severity)
		}
		if i > 0 {
			prev := probs[i-1]
			if prev.Line > pr.Line || (prev.Line == pr.Line && prev.Column > pr.Column) {
				t.Errorf("problems out of order: %v before %v", prev, pr)
			}
		}
	}

	first, invalid := probs.First()
	if invalid != probs.HasErrors() {
		t.Fatalf("First() = %v, but HasErrors() = %v", invalid, probs.HasErrors())
	}
	if invalid {
		if p != nil {
			t.Errorf("an invalid project returned a pipeline; errors:\n%s", probs.Error())
		}
		if !first.IsError() {
			t.Errorf("First() returned a %s: %v", first.Severity, first)
		}
		if probs.Error() == "" {
			t.Error("Problems.Error() is empty for an invalid project")
		}
		return
	}
	if p == nil {
		t.Fatalf("no errors but no pipeline; problems: %v", probs)
	}
	checkValidPipeline(t, p)
}

// checkValidPipeline checks a pipeline Parse accepted.
func checkValidPipeline(t *testing.T, p *Pipeline) {
	t.Helper()
	if p.File != fuzzFile {
		t.Errorf("pipeline file %q, want %q", p.File, fuzzFile)
	}
	if !(p.Version >= 1 && p.Version <= LatestVersion) {
		t.Errorf("valid pipeline with version %v", p.Version)
	}
	order := p.TopologicalOrder()
	if len(order) != len(p.Actions) {
		t.Fatalf("topological order has %d actions, the pipeline %d: %q", len(order), len(p.Actions), order)
	}
	at := make(map[string]int, len(order))
	for i, id := range order {
		if _, dup := at[id]; dup {
			t.Fatalf("action %q appears twice in the topological order %q", id, order)
		}
		at[id] = i
	}
	for _, a := range p.Actions {
		i, ok := at[a.ID]
		if !ok {
			t.Fatalf("action %q is missing from the topological order %q", a.ID, order)
		}
		if p.Action(a.ID) != a {
			t.Errorf("Action(%q) does not return the action", a.ID)
		}
		for _, n := range a.Needs {
			j, ok := at[n]
			if !ok {
				t.Errorf("action %q needs %q, which is not an action", a.ID, n)
			} else if j >= i {
				t.Errorf("action %q comes before %q, which it needs: %q", a.ID, n, order)
			}
		}
		if len(a.Run.Parts) == 0 {
			t.Errorf("action %q has no run words", a.ID)
		}
		// RunCommand may fail (a config too big for a command line) but must
		// not panic, and what it returns must split back into words.
		cmd, err := a.RunCommand()
		if err == nil {
			if _, err := SplitWords(cmd); err != nil {
				t.Errorf("RunCommand of %q = %q does not split: %v", a.ID, cmd, err)
			}
		}
	}
	if _, err := p.Dependencies(p.AllActions()...); err != nil {
		t.Errorf("Dependencies: %v", err)
	}
	for _, f := range GraphFormats {
		if err := p.Render(io.Discard, f); err != nil {
			t.Errorf("Render(%s): %v", f, err)
		}
	}
}

// TestFuzzSeeds runs the FuzzParse properties over the hand-written seeds
// with their names, so a failure says which corner broke. (go test also runs
// them through FuzzParse, without names.)
func TestFuzzSeeds(t *testing.T) {
	for i, s := range trickySeeds {
		name := s
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(fmt.Sprintf("%02d:%q", i, name), func(t *testing.T) {
			checkParseResult(t, []byte(s))
		})
	}
}

// FuzzQuoteWords checks that a quoted word splits back into itself, alone
// and among other words.
func FuzzQuoteWords(f *testing.F) {
	for _, s := range []string{
		"", " ", "a", "a b", "'", `"`, `\`, `'"'"'`, "it's", `say "hi"`, "tab\there", "new\nline",
		"--config", `{"a": 1}`, "$HOME", "`id`", "a;b", "*", "~", "#", "é", "📈", "\r\n", "\x7f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			t.Skip("NUL cannot be in a command-line word")
		}
		q := QuoteWord(s)
		words, err := SplitWords(q)
		if err != nil {
			t.Fatalf("SplitWords(QuoteWord(%q) = %q): %v", s, q, err)
		}
		if len(words) != 1 || words[0] != s {
			t.Fatalf("SplitWords(QuoteWord(%q) = %q) = %q, want [%q]", s, q, words, s)
		}
		in := []string{"python:v2", s, "--config", s}
		out, err := SplitWords(JoinWords(in))
		if err != nil || strings.Join(out, "\x00") != strings.Join(in, "\x00") {
			t.Fatalf("SplitWords(JoinWords(%q)) = %q, %v", in, out, err)
		}
	})
}
