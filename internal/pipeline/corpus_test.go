package pipeline

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The corpus tests hold Haven to upstream's verdicts on real project files
// and on upstream's own test cases (../shared/corpus, beside the checkout).

// corpusDir finds the shared corpus, or skips the test when it is absent
// (a user's clone); HAVEN_REQUIRE_CORPUS=1 turns that skip into a failure.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("HAVEN_CORPUS_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(filepath.Dir(d), "shared", "corpus")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "project-yaml", "SOURCES.tsv")); err != nil {
		if os.Getenv("HAVEN_REQUIRE_CORPUS") == "1" {
			t.Fatalf("corpus not found at %q and HAVEN_REQUIRE_CORPUS=1: %v", dir, err)
		}
		t.Skipf("corpus not found at %q (set HAVEN_CORPUS_DIR to run the parity tests)", dir)
	}
	return dir
}

func readTSV(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

var spaceRun = regexp.MustCompile(`\s+`)

// gist normalises a message for comparison: lines joined with " | " as the
// corpus joins them, and runs of white space folded.
func gist(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.TrimSpace(spaceRun.ReplaceAllString(strings.Join(lines, " | "), " "))
}

var invalidPrefix = regexp.MustCompile(`^INVALID: ProjectValidationError: Invalid project:(?: project\.yaml)? \| `)

// checkVerdict compares Haven's verdict on one file with upstream's recorded
// result.
func checkVerdict(t *testing.T, name string, src []byte, upstream string) {
	t.Helper()
	p, probs := Parse("project.yaml", src)
	first, invalid := probs.First()
	switch {
	case upstream == "VALID":
		if invalid {
			t.Errorf("%s: upstream accepts it, Haven rejects it:\n%s", name, probs.Error())
		} else if p == nil {
			t.Errorf("%s: valid but no pipeline returned", name)
		}
	case strings.HasPrefix(upstream, "INVALID: TypeError"):
		// Upstream crashes; Haven must reject cleanly with a position.
		if !invalid {
			t.Errorf("%s: upstream crashes (%s), Haven accepts it", name, upstream)
		} else if first.Line < 1 {
			t.Errorf("%s: error without a position: %v", name, first)
		}
	case strings.HasPrefix(upstream, "INVALID: ProjectValidationError: while "):
		// A YAML loader error: the gist is the "found …" sentence.
		if !invalid {
			t.Fatalf("%s: upstream rejects it (%s), Haven accepts it", name, upstream)
		}
		if strings.Contains(upstream, "found duplicate key") {
			want := regexp.MustCompile(`found duplicate key "[^"]*"`).FindString(upstream)
			if first.Rule != RuleYAMLDuplicateKey || !strings.Contains(first.Message, want) {
				t.Errorf("%s: first error\n  got  %s\n  want %s", name, first, want)
			}
		} else if first.Rule != RuleYAMLSyntax {
			t.Errorf("%s: first error %s, want a yaml-syntax error", name, first)
		}
	case strings.HasPrefix(upstream, "INVALID"):
		if !invalid {
			t.Fatalf("%s: upstream rejects it (%s), Haven accepts it", name, upstream)
		}
		want := gist(strings.ReplaceAll(invalidPrefix.ReplaceAllString(upstream, ""), " | ", "\n"))
		if got := gist(first.Message); got != want {
			t.Errorf("%s: first error differs from upstream's\n  got  %s [%s]\n  want %s", name, got, first.Rule, want)
		}
	default:
		t.Fatalf("%s: unknown upstream verdict %q", name, upstream)
	}
}

func TestCorpusProjectYAMLVerdicts(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "project-yaml")
	rows := readTSV(t, filepath.Join(dir, "SOURCES.tsv"))
	if len(rows) != 115 {
		t.Errorf("SOURCES.tsv has %d rows, want 115", len(rows))
	}
	valid := 0
	for _, row := range rows {
		name := row["filename"]
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		verdict := row["pipeline_result_current"]
		if verdict == "VALID" {
			valid++
		}
		t.Run(name, func(t *testing.T) { checkVerdict(t, name, src, verdict) })
	}
	if valid != 78 {
		t.Errorf("%d files are valid upstream, want 78", valid)
	}
}

func TestCorpusRejectionRules(t *testing.T) {
	// The spec's tally of why the 37 invalid corpus files fail.
	dir := filepath.Join(corpusDir(t), "project-yaml")
	counts := map[string]int{}
	for _, row := range readTSV(t, filepath.Join(dir, "SOURCES.tsv")) {
		src, err := os.ReadFile(filepath.Join(dir, row["filename"]))
		if err != nil {
			t.Fatal(err)
		}
		if _, probs := Parse("project.yaml", src); probs.HasErrors() {
			first, _ := probs.First()
			counts[first.Rule]++
		}
	}
	want := map[string]int{
		RulePatternL4Type: 23, RulePatternNoExtension: 8, RuleYAMLDuplicateKey: 2,
		RuleVersionNotNumber: 1, RuleTopUnknownKey: 1, RuleNeedsUnknown: 1, RuleNeedsNotString: 1,
	}
	for rule, n := range want {
		if counts[rule] != n {
			t.Errorf("first-error rule %s: %d files, want %d", rule, counts[rule], n)
		}
	}
	for rule, n := range counts {
		if _, ok := want[rule]; !ok {
			t.Errorf("unexpected first-error rule %s on %d files", rule, n)
		}
	}
}

func TestCorpusFixtureVerdicts(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "pipeline-fixtures")
	rows := readTSV(t, filepath.Join(dir, "EXPECTED.tsv"))
	if len(rows) < 100 {
		t.Errorf("EXPECTED.tsv has %d rows, want at least 100", len(rows))
	}
	for _, row := range rows {
		name := row["file"]
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		expected := row["expected"]
		observed := row["observed_with_pipeline_643ad18"]
		t.Run(name, func(t *testing.T) {
			if expected == "LEGACY-PATTERNS" {
				// Not a load test: all output patterns of the file.
				p, probs := Parse("project.yaml", src)
				if probs.HasErrors() {
					t.Fatalf("unexpected errors: %s", probs.Error())
				}
				var got []string
				seen := map[string]bool{}
				for _, a := range p.Actions {
					for _, o := range a.Outputs.All() {
						if !seen[o.Pattern] {
							seen[o.Pattern] = true
							got = append(got, o.Pattern)
						}
					}
				}
				for _, w := range []string{"output/*.csv", "output/graph_*.png", "output/input.csv"} {
					if !seen[w] {
						t.Errorf("patterns %v lack %s", got, w)
					}
				}
				return
			}
			checkVerdict(t, name, src, observed)
			_, probs := Parse("project.yaml", src)
			if strings.Contains(expected, "WARNING") && len(probs.Warnings()) == 0 {
				t.Errorf("upstream warns, Haven does not")
			}
			if ok := !probs.HasErrors(); ok != strings.HasPrefix(expected, "VALID") {
				t.Errorf("verdict: Haven valid=%v, upstream test expects %s", ok, expected)
			}
		})
	}
}
