package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{"a b  c", []string{"a", "b", "c"}, nil},
		{"  ", nil, nil},
		{`a "b c" d`, []string{"a", "b c", "d"}, nil},
		{`a 'b "c' d`, []string{"a", `b "c`, "d"}, nil},
		{`a"b c"d`, []string{"ab cd"}, nil},
		{`a '' b`, []string{"a", "", "b"}, nil},
		{`a\ b`, []string{"a b"}, nil},
		{`"a\"b" "c\d" 'e\f'`, []string{`a"b`, `c\d`, `e\f`}, nil},
		{"a\n  --b\tc\r\n", []string{"a", "--b", "c"}, nil},
		{`--index-date-range "2020-03-01 to 2020-03-01 by week"`, []string{"--index-date-range", "2020-03-01 to 2020-03-01 by week"}, nil},
		{`a "b`, nil, errNoClosingQuote},
		{`a 'b`, nil, errNoClosingQuote},
		{`a \`, nil, errNoEscapedChar},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.in)
		if err != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestQuoteWord(t *testing.T) {
	tests := map[string]string{
		"":              "''",
		"plain.csv":     "plain.csv",
		"a/b-c_d:e,f@%": "a/b-c_d:e,f@%",
		"a b":           "'a b'",
		"qu'ote":        `'qu'"'"'ote'`,
		`{"a": 1}`:      `'{"a": 1}'`,
		"Zoë":           "'Zoë'",
	}
	for in, want := range tests {
		if got := QuoteWord(in); got != want {
			t.Errorf("QuoteWord(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestPathHelpers(t *testing.T) {
	tests := []struct{ in, norm, posix, suffix, parent string }{
		{"output/x.csv", "output/x.csv", "output/x.csv", ".csv", "output"},
		{"x.csv.gz", "x.csv.gz", "x.csv.gz", ".gz", "."},
		{"a//b.csv", "a/b.csv", "a/b.csv", ".csv", "a"},
		{"./a.csv", "a.csv", "a.csv", ".csv", "."},
		{"a/../b.csv", "b.csv", "a/../b.csv", ".csv", "a/.."},
		{"../x.csv", "../x.csv", "../x.csv", ".csv", ".."},
		{"/abs.csv", "/abs.csv", "/abs.csv", ".csv", "/"},
		{"//two.csv", "//two.csv", "//two.csv", ".csv", "//"},
		{"///three.csv", "/three.csv", "/three.csv", ".csv", "/"},
		{"output/", "output", "output", "", "."},
		{".csv", ".csv", ".csv", "", "."},
		{"foo.", "foo.", "foo.", "", "."},
		{"", ".", ".", "", "."},
		{"out/*.csv*", "out/*.csv*", "out/*.csv*", ".csv*", "out"},
	}
	for _, tt := range tests {
		if got := normPath(tt.in); got != tt.norm {
			t.Errorf("normPath(%q) = %q, want %q", tt.in, got, tt.norm)
		}
		if got := purePosixString(tt.in); got != tt.posix {
			t.Errorf("purePosixString(%q) = %q, want %q", tt.in, got, tt.posix)
		}
		if got := pathSuffix(tt.in); got != tt.suffix {
			t.Errorf("pathSuffix(%q) = %q, want %q", tt.in, got, tt.suffix)
		}
		if got := parentDir(tt.in); got != tt.parent {
			t.Errorf("parentDir(%q) = %q, want %q", tt.in, got, tt.parent)
		}
	}
}

func TestCheckPattern(t *testing.T) {
	tests := []struct{ p, level, rule string }{
		{"foo/bar/*.txt", HighlySensitive, ""},
		{"foo/bar/*.txt", ModeratelySensitive, ""},
		{"output/*/x.csv", ModeratelySensitive, ""},
		{"metadata.csv", HighlySensitive, ""},
		{"c:x.csv", HighlySensitive, ""},
		{"output/x.rds", MinimallySensitive, ""},
		{"/abs/path.txt", HighlySensitive, RulePatternAbsolute},
		{"not//canonical.txt", HighlySensitive, RulePatternNotNormal},
		{"path/../traversal.txt", HighlySensitive, RulePatternNotNormal},
		{"c:/windows/absolute.txt", HighlySensitive, RulePatternAbsolute},
		{"recursive/**/glob.pattern", HighlySensitive, RulePatternWildcard},
		{"questionmark?.txt", HighlySensitive, RulePatternWildcard},
		{"/[square]brackets.txt", HighlySensitive, RulePatternWildcard},
		{`\ftest.txt`, HighlySensitive, RulePatternBackslash},
		{"metadata", HighlySensitive, RulePatternNoExtension},
		{"metadata/test.txt", HighlySensitive, RulePatternMetadata},
		{"outputs/*", HighlySensitive, RulePatternNoExtension},
		{"outputs/foo.*", HighlySensitive, RulePatternNoExtension},
		{"outputs/output.rds", ModeratelySensitive, RulePatternL4Type},
		{"outputs/output.pdf", ModeratelySensitive, RulePatternL4Type},
		{"outputs/output.tsv", ModeratelySensitive, RulePatternL4Type},
		{"outputs/output.csv.gz", ModeratelySensitive, RulePatternL4Type},
		{"../x.csv", HighlySensitive, RulePatternParentDir},
		{"a/..", HighlySensitive, RulePatternNoExtension},
	}
	for _, tt := range tests {
		got := ""
		if issue := checkPattern(tt.p, tt.level); issue != nil {
			got = issue.rule
		}
		if got != tt.rule {
			t.Errorf("checkPattern(%q, %s) = %q, want %q", tt.p, tt.level, got, tt.rule)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"output/*.csv", "output/a.csv", true},
		{"output/*.csv", "output/sub/a.csv", false},
		{"output/*/a.csv", "output/sub/a.csv", true},
		{"output/in*.csv", "output/input_2020.csv", true},
		{"output/a*b*c.csv", "output/aXbYc.csv", true},
		{"output/a*b*c.csv", "output/acb.csv", false},
		{"output/*.csv", "output/.csv", true},
		{"output/x.csv", "output/x.csv", true},
		{"output/x.csv", "output/y.csv", false},
	}
	for _, tt := range tests {
		if got := MatchPattern(tt.pattern, tt.path); got != tt.want {
			t.Errorf("MatchPattern(%q, %q) = %v", tt.pattern, tt.path, got)
		}
	}
}

func TestPatternsOverlap(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"output/a.csv", "output/a.csv", true},
		{"output/a.csv", "output/b.csv", false},
		{"output/*.csv", "output/a.csv", true},
		{"output/*.csv", "output/sub/a.csv", false},
		{"output/in*.csv", "output/input*.csv", true},
		{"output/a_*.csv", "output/b_*.csv", false},
		{"output/*_a.csv", "output/*_b.csv", false},
		{"ab*", "*ba", true},
		{"*/x.csv", "output/*.csv", true},
		{"output/*.csv", "output/*.png", false},
	}
	for _, tt := range tests {
		if got := patternStringsOverlap(tt.a, tt.b); got != tt.want {
			t.Errorf("overlap(%q, %q) = %v", tt.a, tt.b, got)
		}
		if got := patternStringsOverlap(tt.b, tt.a); got != tt.want {
			t.Errorf("overlap(%q, %q) = %v (reversed)", tt.b, tt.a, got)
		}
	}
}

func TestOutputSpecAndMatch(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"--output a.csv dataset.py", "a.csv"},
		{"--output=b.csv dataset.py", "b.csv"},
		{"--output='c.csv' dataset.py", "c.csv"},
		{"dataset.py --output d.csv", "d.csv"},
		{"dataset.py --output=e.csv", "e.csv"},
		{"dataset.py --output", ""},
	} {
		words, err := SplitWords(tt.args)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := OutputSpec(words); got != tt.want {
			t.Errorf("OutputSpec(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
	for _, tt := range []struct {
		patterns []string
		spec     string
		want     bool
		expected string
	}{
		{[]string{"foo/bar.csv"}, "foo/bar.csv", true, "foo/bar.csv"},
		{[]string{"foo/baz.csv"}, "foo/bar.csv", false, "foo/bar.csv"},
		{[]string{"foo/bar/*.csv"}, "foo/bar:csv", true, "foo/bar/:csv"},
		{[]string{"foo/bar/dataset.csv", "foo/bar/events.csv"}, "foo/bar:csv", true, "foo/bar/:csv"},
		{[]string{"foo/bar/*.csv"}, "foo/bar/:csv", true, "foo/bar/:csv"},
		{[]string{"foo/bar/*"}, "foo/bar:csv", false, "foo/bar/:csv"},
		{[]string{"foo/bar/*.csv"}, "foo/bar:arrow", false, "foo/bar/:arrow"},
		{[]string{"outputs.arrow"}, "outputs:arrow", false, "outputs/:arrow"},
	} {
		if got := outputPatternsMatchSpec(tt.spec, tt.patterns); got != tt.want {
			t.Errorf("match(%q, %v) = %v", tt.spec, tt.patterns, got)
		}
		if got := expectedPatternForSpec(tt.spec); got != tt.expected {
			t.Errorf("expected(%q) = %q, want %q", tt.spec, got, tt.expected)
		}
	}
}

func TestValidTag(t *testing.T) {
	for _, tag := range []string{"v1", "v2", "v1.2", "v1.2.3", "v1-pre", "v1.2-pre", "dev", "latest", "v0.0.44"} {
		if !ValidTag(tag) {
			t.Errorf("%q should be valid", tag)
		}
	}
	for _, tag := range []string{"", "v", "other", "vnotdigits", "v1x1", "pre", "V1", "latest2", "v1-pre-pre"} {
		if ValidTag(tag) {
			t.Errorf("%q should be invalid", tag)
		}
	}
}

func TestDatabaseActions(t *testing.T) {
	for _, tt := range []struct {
		run  string
		want bool
	}{
		{"ehrql:v1 generate-dataset d.py", true},
		{"ehrql:v1 generate-measures m.py", true},
		{"ehrql:v1", false},
		{"ehrql:v1 assure x.py", false},
		{"sqlrunner:latest query.sql", true},
		{"cohortextractor:latest generate_cohort", true},
		{"cohortextractor:latest generate_codelist_report", true},
		{"cohortextractor:latest generate_measures", false},
		{"databuilder:v0 generate-dataset d.py", true},
		{"python:v2 generate-dataset", false},
	} {
		parts, _ := SplitWords(tt.run)
		img, tag, _ := strings.Cut(parts[0], ":")
		c := Command{Raw: tt.run, Parts: parts, Image: img, Tag: tag}
		if got := c.IsDatabaseAction(); got != tt.want {
			t.Errorf("IsDatabaseAction(%q) = %v", tt.run, got)
		}
	}
}

func TestPythonNumbers(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{
		{3, "3.0"}, {3.5, "3.5"}, {0.1, "0.1"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {-2.5, "-2.5"}, {1.5e300, "1.5e+300"},
		{math.Inf(1), "inf"}, {math.NaN(), "nan"}, {123456789.125, "123456789.125"},
	} {
		if got := pyFloatRepr(tt.f); got != tt.want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	for _, tt := range []struct {
		s    string
		want float64
		ok   bool
	}{
		{"3.0", 3, true}, {" 4 ", 4, true}, {"1_0", 10, true}, {"1e0", 1, true}, {".5", 0.5, true}, {"5.", 5, true},
		{"latest", 0, false}, {"1__0", 0, false}, {"0x10", 0, false}, {"", 0, false}, {"3.0.1", 0, false}, {"_1", 0, false},
	} {
		got, ok := pyFloatString(tt.s)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("pyFloatString(%q) = %v, %v", tt.s, got, ok)
		}
	}
	if f, ok := pyFloatString("Infinity"); !ok || !math.IsInf(f, 1) {
		t.Errorf("Infinity")
	}
}

// TestCorpusValidationCases runs the helper-function cases upstream's tests
// list in validation_cases.tsv.
func TestCorpusValidationCases(t *testing.T) {
	rows := readTSV(t, filepath.Join(corpusDir(t), "pipeline-fixtures", "from-tests", "validation_cases.tsv"))
	n := 0
	for _, row := range rows {
		in, arg, want := row["input"], row["privacy_level_or_spec"], row["expected"]
		switch row["function"] {
		case "validate_glob_pattern":
			n++
			got := "valid"
			if checkPattern(in, arg) != nil {
				got = "InvalidPatternError"
			}
			if got != want {
				t.Errorf("validate_glob_pattern(%q, %s) = %s, want %s", in, arg, got, want)
			}
		case "get_output_spec_from_args":
			n++
			words, _ := SplitWords(in)
			if got, _ := OutputSpec(words); got != want {
				t.Errorf("OutputSpec(%q) = %q, want %q", in, got, want)
			}
		case "output_patterns_match_spec":
			n++
			var patterns []string
			for _, p := range strings.Split(strings.Trim(in, "[]"), ",") {
				patterns = append(patterns, strings.Trim(strings.TrimSpace(p), `"`))
			}
			got := outputPatternsMatchSpec(arg, patterns)
			if (want == "True") != got {
				t.Errorf("output_patterns_match_spec(%v, %q) = %v, want %s", patterns, arg, got, want)
			}
		case "get_output_dirs":
			n++
			var spec map[string]string
			if err := json.Unmarshal([]byte(in[:strings.IndexByte(in, '}')+1]), &spec); err != nil {
				t.Fatalf("get_output_dirs input %q: %v", in, err)
			}
			var dirs []string
			seen := map[string]bool{}
			for _, p := range spec {
				if d := parentDir(p); !seen[d] {
					seen[d] = true
					dirs = append(dirs, d)
				}
			}
			sort.Strings(dirs)
			if got := "{" + strings.Join(dirs, ", ") + "}"; got != want {
				t.Errorf("get_output_dirs(%s) = %s, want %s", in, got, want)
			}
		case "get_feature_flags_for_version":
			n++
			v := &validator{}
			f, _ := pyFloatString(in)
			v.version, v.versionOK = f, f >= 1 && f <= LatestVersion
			if !v.versionOK {
				if !strings.Contains(want, "ValueError") {
					t.Errorf("version %s rejected, want %s", in, want)
				}
				continue
			}
			got := "UNIQUE_OUTPUT_PATH=" + tf(v.uniqueOutputs()) + " EXPECTATIONS_POPULATION=" + tf(v.needExpectations()) +
				" REMOVE_SUPPORT_FOR_COHORT_EXTRACTOR=" + tf(v.noCohortextractor())
			if v.noRunAll() {
				got += " REMOVE_SUPPORT_FOR_RUN_ALL_ACTION=T"
			}
			if v.noLatest() {
				got += " REMOVE_SUPPORT_FOR_LATEST_TAG=T"
			}
			if got != want {
				t.Errorf("features(%s) = %s, want %s", in, got, want)
			}
		default:
			t.Errorf("unknown function %q", row["function"])
		}
	}
	if n != len(rows) || n < 30 {
		t.Errorf("ran %d of %d cases", n, len(rows))
	}
}

func tf(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

// TestOverlapIndexMatchesBruteForce checks the prefix-indexed overlap
// search against comparing every pair, on random patterns.
func TestOverlapIndexMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"output", "out", "o*", "*", "a", "ab*", "*b"}
	names := []string{"x", "xy", "x*", "*y", "in*", "input", "*"}
	exts := []string{".csv", ".png"}
	for round := 0; round < 300; round++ {
		var b strings.Builder
		b.WriteString("version: '1.0'\nactions:\n")
		type pat struct {
			action int
			p      string
		}
		var all []pat
		for a := 0; a < 6; a++ {
			fmt.Fprintf(&b, "  a%d:\n    run: python:v2 p%d\n    outputs:\n      highly_sensitive:\n", a, a)
			for k := 0; k < 1+rng.IntN(2); k++ {
				p := names[rng.IntN(len(names))] + exts[rng.IntN(len(exts))]
				for d := rng.IntN(3); d > 0; d-- {
					p = segs[rng.IntN(len(segs))] + "/" + p
				}
				fmt.Fprintf(&b, "        o%d: '%s'\n", k, p)
				all = append(all, pat{a, p})
			}
		}
		_, probs := Parse("project.yaml", []byte(b.String()))
		warned := map[string]bool{}
		for _, w := range probs.Warnings() {
			if w.Rule == RuleWarnOverlappingOutputs {
				warned[strings.Fields(w.Message)[2]+" "+strings.Fields(w.Message)[5]] = true
			}
		}
		for i, x := range all {
			want := false
			for _, y := range all[:i] {
				if y.action < x.action && patternStringsOverlap(x.p, y.p) {
					want = true
				}
			}
			key := x.p + " a" + strconv.Itoa(x.action)
			if warned[key] != want {
				t.Fatalf("round %d: pattern %s of a%d: warned=%v, brute force says %v\n%s", round, x.p, x.action, warned[key], want, b.String())
			}
		}
	}
}
