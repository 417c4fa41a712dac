package disclosure

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The disclosure corpus: small outputs a researcher could plausibly
// produce, in testdata/corpus, with the verdict and findings a trained
// output checker expects of each in testdata/corpus/expected.txt. Every
// implemented rule has a true positive and a near miss there.

const corpusDir = "testdata/corpus"

// corpusRules are the implemented rules, each of which must fire in some
// fixture and be nearly, but not, triggered by another.
var corpusRules = []string{
	"F1", "F2a", "F2b", "F3", "F5", "F6", "F6s", "F7a", "F7b", "F7c", "F7d", "F7e",
	"C0", "C1", "C2", "C3", "C4", "C5", "C6", "C7",
	"T2", "T3", "T5",
	"R1", "R3", "R4", "R5",
	"M1", "M2", "M3",
	"D1", "D3",
}

// corpusCase is one expectation: a fixture checked under a profile.
type corpusCase struct {
	line     int // of "file:" in expected.txt; 0 for generated inputs
	desc     string
	file     string
	profile  string
	verdict  Verdict
	findings []string // sorted "RULE VERDICT row,column"
	nearMiss []string // rules the fixture must not trigger
	data     []byte   // generated inputs; nil to read file from corpusDir
}

// parseCorpus reads expected.txt: blocks separated by blank lines, each
// with comment lines (the description) and the keys file, profile,
// verdict, findings and near-miss.
func parseCorpus(t *testing.T) []corpusCase {
	t.Helper()
	path := filepath.Join(corpusDir, "expected.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []corpusCase
	var cur corpusCase
	var seen map[string]bool
	// flush ends a block; comments followed by a blank line and no keys
	// (such as the file's header) belong to no block.
	flush := func(end int) {
		if seen == nil {
			cur = corpusCase{}
			return
		}
		for _, k := range []string{"file", "profile", "verdict", "findings"} {
			if !seen[k] {
				t.Fatalf("%s:%d: the block has no %s:", path, end, k)
			}
		}
		if cur.desc == "" {
			t.Fatalf("%s:%d: the block for %s has no comment saying what it shows", path, cur.line, cur.file)
		}
		for _, r := range cur.nearMiss {
			for _, f := range cur.findings {
				if strings.HasPrefix(f, r+" ") {
					t.Fatalf("%s:%d: %s is listed as a near miss of %s but expects %q", path, cur.line, cur.file, r, f)
				}
			}
		}
		cases = append(cases, cur)
		cur, seen = corpusCase{}, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			flush(n)
			continue
		case strings.HasPrefix(line, "#"):
			if seen != nil {
				t.Fatalf("%s:%d: a comment inside a block; comments go before file:", path, n)
			}
			cur.desc = strings.TrimSpace(cur.desc + " " + strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s:%d: want key: value, got %q", path, n, line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if seen == nil {
			seen = map[string]bool{}
		}
		if seen[key] {
			t.Fatalf("%s:%d: %s: given twice in one block", path, n, key)
		}
		seen[key] = true
		switch key {
		case "file":
			cur.file, cur.line = val, n
		case "profile":
			cur.profile = val
		case "verdict":
			v, err := ParseVerdict(val)
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			cur.verdict = v
		case "findings":
			if val != "none" {
				for _, f := range strings.Split(val, "; ") {
					cur.findings = append(cur.findings, strings.TrimSpace(f))
				}
				sort.Strings(cur.findings)
			}
		case "near-miss":
			for _, r := range strings.Split(val, ",") {
				cur.nearMiss = append(cur.nearMiss, strings.TrimSpace(r))
			}
		default:
			t.Fatalf("%s:%d: unknown key %q (file, profile, verdict, findings, near-miss)", path, n, key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush(n)
	return cases
}

// corpusGenerated are the inputs too big to commit: files around the
// OpenSAFELY limits of 16 MiB and 5000 CSV rows.
func corpusGenerated() []corpusCase {
	const maxBytes = 16 << 20
	// A figure: the checker hashes an image but does not read it, so the
	// limit costs no parsing time.
	png := func(size int) []byte {
		b := make([]byte, size)
		copy(b, "\x89PNG\r\n\x1a\n")
		return b
	}
	csv := func(rows int) []byte {
		var b bytes.Buffer
		b.WriteString("date,admissions\n")
		d := time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range rows {
			fmt.Fprintf(&b, "%s,%d\n", d.AddDate(0, 0, i).Format("2006-01-02"), 10+5*(i%40))
		}
		return b.Bytes()
	}
	big, exact := png(maxBytes+1), png(maxBytes)
	over, at := csv(5001), csv(5000)
	return []corpusCase{
		{desc: "F2a: a high-resolution figure one byte over 16 MiB", file: "generated_figure_over.png", profile: "opensafely",
			verdict: Fail, findings: []string{"F2a FAIL 0,", "F7e REVIEW 0,"}, data: big},
		{desc: "F2a near miss: a figure of exactly 16 MiB", file: "generated_figure_exact.png", profile: "opensafely",
			verdict: Review, findings: []string{"F7e REVIEW 0,"}, nearMiss: []string{"F2a"}, data: exact},
		{desc: "F2a near miss: ACRO has no size limit", file: "generated_figure_over.png", profile: "acro",
			verdict: Review, findings: []string{"F7e REVIEW 0,"}, nearMiss: []string{"F2a"}, data: big},
		{desc: "F2b: daily admissions over 5001 days", file: "generated_daily_5001.csv", profile: "opensafely",
			verdict: Fail, findings: []string{"F2b FAIL 0,"}, data: over},
		{desc: "F2b near miss: exactly 5000 rows", file: "generated_daily_5000.csv", profile: "opensafely",
			verdict: Pass, nearMiss: []string{"F2b"}, data: at},
		{desc: "F2b near miss: ACRO has no row limit", file: "generated_daily_5001.csv", profile: "acro",
			verdict: Pass, nearMiss: []string{"F2b"}, data: over},
	}
}

func TestCorpus(t *testing.T) {
	cases := append(parseCorpus(t), corpusGenerated()...)
	profiles := map[string]*Profile{}
	for _, c := range cases {
		name := c.file + "/" + c.profile
		t.Run(name, func(t *testing.T) {
			p := profiles[c.profile]
			if p == nil {
				p = mustProfile(t, c.profile)
				profiles[c.profile] = p
			}
			data := c.data
			if data == nil {
				var err error
				data, err = os.ReadFile(filepath.Join(corpusDir, c.file))
				if err != nil {
					t.Fatal(err)
				}
			}
			fr := CheckFile(c.file, data, Options{Profile: p})
			got := nonPass(fr)
			where := "generated"
			if c.line > 0 {
				where = fmt.Sprintf("expected.txt:%d", c.line)
			}
			bad := false
			if !reflect.DeepEqual(got, c.findings) && !(len(got) == 0 && len(c.findings) == 0) {
				t.Errorf("%s (%s): %s\nfindings:\n got %s\nwant %s", c.file, where, c.desc, corpusList(got), corpusList(c.findings))
				bad = true
			}
			if fr.Verdict != c.verdict {
				t.Errorf("%s (%s): verdict %s, want %s", c.file, where, fr.Verdict, c.verdict)
				bad = true
			}
			if bad {
				for _, col := range fr.Columns {
					t.Logf("column %q: %s, %s confidence, signals %v", col.Name, col.Class, col.Confidence, col.Signals)
				}
				for _, f := range fr.Findings {
					t.Logf("finding %s %s row %d column %q: %s %v", f.Rule, f.Verdict, f.Row, f.Column, f.Message, f.Evidence)
				}
			}
		})
	}
}

func corpusList(fs []string) string {
	if len(fs) == 0 {
		return "none"
	}
	return strings.Join(fs, "; ")
}

// TestCorpusCoverage checks the corpus itself: every fixture has an
// expectation and every expectation a fixture; there are at least 60
// fixtures; every implemented rule has a true positive and a near miss,
// and C2 has both under each zeros policy.
func TestCorpusCoverage(t *testing.T) {
	cases := parseCorpus(t)
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	expected := map[string]bool{}
	for _, c := range cases {
		expected[c.file] = true
	}
	var fixtures []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == "expected.txt" {
			continue
		}
		fixtures = append(fixtures, e.Name())
		if !expected[e.Name()] {
			t.Errorf("%s has no block in expected.txt", e.Name())
		}
	}
	for f := range expected {
		if !slices.Contains(fixtures, f) {
			t.Errorf("expected.txt names %s, which is not in %s", f, corpusDir)
		}
	}
	if len(fixtures) < 60 {
		t.Errorf("%d fixtures, want at least 60", len(fixtures))
	}
	all := append(cases, corpusGenerated()...)
	fired, missed := map[string]bool{}, map[string]bool{}
	zeros := map[string]string{}
	for _, name := range []string{"opensafely", "acro", "ukllc"} {
		zeros[name] = mustProfile(t, name).Zeros
	}
	for _, c := range all {
		if _, ok := zeros[c.profile]; !ok {
			t.Errorf("%s: unknown profile %q", c.file, c.profile)
		}
		for _, f := range c.findings {
			rule := strings.Fields(f)[0]
			fired[rule] = true
			if rule == "C2" {
				fired["C2/"+zeros[c.profile]] = true
			}
		}
		for _, r := range c.nearMiss {
			missed[r] = true
			if r == "C2" {
				missed["C2/"+zeros[c.profile]] = true
			}
		}
	}
	want := append([]string(nil), corpusRules...)
	want = append(want, "C2/allow", "C2/review", "C2/fail")
	for _, r := range want {
		if !fired[r] {
			t.Errorf("no fixture expects %s to fire", r)
		}
		if !missed[r] {
			t.Errorf("no fixture is a near miss of %s", r)
		}
	}
}
