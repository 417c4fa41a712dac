package expect

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/pipeline"
	"go.yaml.in/yaml/v3"
)

const cohortAction = `actions:
  generate_study_population:
    run: cohortextractor:latest generate_cohort --study-definition study_definition
    outputs:
      highly_sensitive:
        cohort: output/input.csv
`

func TestProjectPopulation(t *testing.T) {
	cases := []struct {
		name, src string
		want      int
		err       string
	}{
		{"v1 default", "version: '1.0'\n" + cohortAction, 1000, ""},
		{"v2 ignores the section", "version: '2.0'\nexpectations:\n  population_size: 50\n" + cohortAction, 1000, ""},
		{"v3 declared", "version: '3.0'\nexpectations:\n  population_size: 250\n" + cohortAction, 250, ""},
		{"v3 declared as text", "version: '3.0'\nexpectations:\n  population_size: '5000'\n" + cohortAction, 5000, ""},
		{"v3 zero", "version: '3.0'\nexpectations:\n  population_size: 0\n" + cohortAction, 0, ""},
		{"v3 missing", "version: '3.0'\n" + cohortAction, 0, "project.yaml:1:1: Project must include `expectations` section (add `expectations:` with `population_size: 1000` under it)"},
		{"v3 no population_size", "version: '3.0'\nexpectations:\n  size: 10\n" + cohortAction, 0, "project.yaml:2:1: Project `expectations` section must include `population_size` section"},
		{"v3 not a number", "version: '3.0'\nexpectations:\n  population_size: lots\n" + cohortAction, 0, "project.yaml:3:20: Project expectations population size must be a number"},
		{"v3 negative", "version: '3.0'\nexpectations:\n  population_size: -5\n" + cohortAction, 0, "expectations.population_size is -5"},
		{"v3 huge", "version: '3.0'\nexpectations:\n  population_size: 10000000000000\n" + cohortAction, 0, "more than the 1000000000000 rows"},
		{"v4 ehrql", "version: '4.0'\nactions:\n  a:\n    run: ehrql:v1 generate-dataset analysis/dataset_definition.py --output output/dataset.csv\n    outputs:\n      highly_sensitive:\n        d: output/dataset.csv\n", 0, "version 4.0 has no expectations: cohort-extractor was removed in project version 4"},
		{"v4 with expectations", "version: '4.0'\nexpectations:\n  population_size: 10\nactions: {}\n", 0, "Project includes `expectations` section, which is not supported in this version"},
		{"v4 cohortextractor", "version: '4.0'\n" + cohortAction, 0, "uses cohortextractor actions, which are not supported in this version"},
		{"invalid otherwise", "version: '3.0'\nexpectations:\n  population_size: 10\nactions:\n  a:\n    run: python:latest x.py\n", 0, "project.yaml:5:3:"},
	}
	for _, c := range cases {
		n, err := ProjectPopulation("project.yaml", []byte(c.src))
		if c.err == "" {
			if err != nil || n != c.want {
				t.Errorf("%s: %d, %v; want %d", c.name, n, err, c.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: %d, want an error containing %q", c.name, n, c.err)
			continue
		}
		if !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %q, want it to contain %q", c.name, err, c.err)
		}
		if haven.ErrorCode(err) != haven.EINVALID {
			t.Errorf("%s: code %q", c.name, haven.ErrorCode(err))
		}
	}
}

// corpusRoot finds the shared corpus beside the checkout, as
// internal/pipeline's corpus tests do; it skips when the corpus is absent (a
// user's clone) unless HAVEN_REQUIRE_CORPUS=1.
func corpusRoot(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HAVEN_CORPUS_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(filepath.Dir(d), "shared", "corpus")
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "project-yaml", "SOURCES.tsv")); err != nil {
		if os.Getenv("HAVEN_REQUIRE_CORPUS") == "1" {
			t.Fatalf("corpus not found at %q and HAVEN_REQUIRE_CORPUS=1: %v", dir, err)
		}
		t.Skipf("corpus not found at %q (set HAVEN_CORPUS_DIR to run)", dir)
	}
	return dir
}

func tsvRows(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma, r.LazyQuotes, r.FieldsPerRecord = '\t', true, -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		out = append(out, row)
	}
	return out
}

// Spec 12.9: every project file in the shared corpus gets upstream's
// population_size outcome. The oracle is independent of internal/pipeline:
// upstream's own verdict on each file (from the corpus TSVs) and the file's
// raw version and population_size read with a plain YAML decoder.
func TestCorpusPopulationOutcomes(t *testing.T) {
	root := corpusRoot(t)
	upstreamValid := map[string]bool{} // path relative to root -> upstream loads it
	declared := map[string]int{}       // SOURCES.tsv's expectations(pop=N)
	popRE := regexp.MustCompile(`expectations\(pop=(\d+)\)`)
	for _, r := range tsvRows(t, filepath.Join(root, "project-yaml", "SOURCES.tsv")) {
		rel := filepath.Join("project-yaml", r["filename"])
		upstreamValid[rel] = r["pipeline_result_current"] == "VALID"
		if m := popRE.FindStringSubmatch(r["notable_features"]); m != nil {
			declared[rel], _ = strconv.Atoi(m[1])
		}
	}
	for _, r := range tsvRows(t, filepath.Join(root, "pipeline-fixtures", "EXPECTED.tsv")) {
		obs := r["observed_with_pipeline_643ad18"]
		upstreamValid[filepath.Join("pipeline-fixtures", r["file"])] = !strings.HasPrefix(obs, "INVALID")
	}

	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 200 {
		t.Fatalf("only %d project files under %s", len(files), root)
	}
	outcomes := map[string]int{}
	for _, rel := range files {
		valid, known := upstreamValid[rel]
		if !known {
			t.Errorf("%s: no upstream verdict in the corpus TSVs", rel)
			continue
		}
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		version, pop, hasSection := rawExpectations(src)
		n, err := ProjectPopulation(rel, src)
		switch {
		case !valid:
			outcomes["invalid"]++
			if err == nil {
				t.Errorf("%s: upstream rejects the project, Haven gives population %d", rel, n)
			} else if version == 3 && !hasSection && !strings.Contains(err.Error(), "must include `expectations`") {
				t.Errorf("%s: version 3 without expectations, but the error is %q", rel, err)
			} else if version == 3 && hasSection && pop <= 0 && !strings.Contains(err.Error(), "expectations") {
				t.Errorf("%s: version 3 with a malformed expectations section, but the error is %q", rel, err)
			}
		case version >= 4:
			outcomes["rejected (version 4+)"]++
			if err == nil || !strings.Contains(err.Error(), "cohort-extractor was removed") {
				t.Errorf("%s: version %v, want the removed-in-version-4 error, got %d, %v", rel, version, n, err)
			}
		case version == 3:
			outcomes["declared (version 3)"]++
			if err != nil || n != pop {
				t.Errorf("%s: population %d, %v; want %d", rel, n, err, pop)
			}
			if d, ok := declared[rel]; ok && d != n {
				t.Errorf("%s: population %d, SOURCES.tsv says %d", rel, n, d)
			}
		default:
			outcomes["default 1000 (version < 3)"]++
			if err != nil || n != pipeline.DefaultPopulationSize {
				t.Errorf("%s: version %v: population %d, %v; want the default 1000", rel, version, n, err)
			}
		}
	}
	total := 0
	for _, c := range outcomes {
		total += c
	}
	if total != len(files) {
		t.Errorf("%d outcomes for %d files", total, len(files))
	}
	for _, k := range []string{"invalid", "rejected (version 4+)", "declared (version 3)", "default 1000 (version < 3)"} {
		if outcomes[k] == 0 {
			t.Errorf("no corpus file has the outcome %q: %v", k, outcomes)
		}
	}
	t.Logf("outcomes over %d files: %v", len(files), outcomes)
}

// rawExpectations reads version and expectations.population_size with a
// plain YAML decoder, as Python's float() and int() would take them.
// hasSection is true when the expectations key is there with any value.
func rawExpectations(src []byte) (version float64, pop int, hasSection bool) {
	var doc map[string]any
	if yaml.Unmarshal(src, &doc) != nil {
		return -1, 0, false
	}
	switch v := doc["version"].(type) {
	case string:
		version, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
	default:
		version, _ = number(v)
	}
	raw, present := doc["expectations"]
	if !present || raw == nil {
		return version, 0, false
	}
	e, ok := raw.(map[string]any)
	if !ok {
		return version, 0, true
	}
	switch p := e["population_size"].(type) {
	case string:
		f, _ := strconv.ParseFloat(strings.TrimSpace(p), 64)
		pop = int(f)
	default:
		f, _ := number(p)
		pop = int(f)
	}
	return version, pop, true
}
