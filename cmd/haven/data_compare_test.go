package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/gen"
	"github.com/haven-tre/haven/internal/artificial/meta"
)

// compareDoc is small metadata with a frequency table, dates, a
// continuous field and an identifier.
func compareDoc() *meta.Document {
	return &meta.Document{
		Schema: meta.SchemaV1, Dataset: "ward", SDC: meta.DefaultSDC,
		Tables: []meta.Table{{
			Name: "stays", RowsN: 20000,
			Fields: []meta.Field{
				{Name: "stay_id", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9A-Z]{8}", Scope: "row"}},
				{Name: "ward", Type: meta.TypeCategorical, NullN: 1000, Values: []meta.Value{{V: "A", N: 10000}, {V: "B", N: 6000}, {V: "C", N: 3000}}},
				{Name: "admitted", Type: meta.TypeDate, Bins: []meta.DateBin{
					{Start: "2022-01-01", End: "2022-12-31", Grain: meta.GrainYear, N: 15000},
					{Start: "2023-01-01", End: "2023-03-31", Grain: meta.GrainQuarter, N: 5000}}},
				{Name: "weight", Type: meta.TypeFloat, NNonNull: 20000, Continuous: &meta.Continuous{Step: 25, Cuts: []float64{60, 70, 85}, Decimals: 1}},
			},
		}},
	}
}

// compareFiles writes the metadata and a file generated from gen (the
// metadata itself, or a deliberately different one) and returns their
// paths.
func compareFiles(t *testing.T, genDoc *meta.Document) (metaPath, output string) {
	t.Helper()
	dir := t.TempDir()
	metaPath = filepath.Join(dir, "stays.json")
	if _, err := meta.WriteFile(metaPath, compareDoc()); err != nil {
		t.Fatal(err)
	}
	raw, err := meta.Encode(genDoc)
	if err != nil {
		t.Fatal(err)
	}
	output = filepath.Join(dir, "stays.csv")
	if _, err := gen.Generate(context.Background(), meta.Unreviewed(genDoc, raw), gen.RunOptions{
		Options: gen.Options{Rows: 20000}, Output: output, Format: frame.CSV, Workers: 2,
	}); err != nil {
		t.Fatal(err)
	}
	return metaPath, output
}

func TestDataCompareClose(t *testing.T) {
	metaPath, output := compareFiles(t, compareDoc())
	r := run(t, "data", "compare", "--metadata", metaPath, "--input", output)
	r.wantCode(t, 0)
	for _, want := range []string{"FIELD", "ward", "categorical", "tvd", "admitted", "tvd (bins)", "ks", "weight", "stay_id", "prefix share", "verdict: close (4 of 4 fields close)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	noANSI(t, "stdout", r.stdout)
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestDataCompareFarExitsOne(t *testing.T) {
	wrong := compareDoc()
	wrong.Tables[0].Fields[1].Values = []meta.Value{{V: "A", N: 3000}, {V: "B", N: 6000}, {V: "C", N: 10000}}
	metaPath, output := compareFiles(t, wrong)
	r := run(t, "data", "compare", "--metadata", metaPath, "--input", output)
	r.wantCode(t, 1)
	if !strings.Contains(r.stdout, "verdict: far (3 of 4 fields close)") || !strings.Contains(r.stdout, "  - ward: tvd 0.3684, above the limit 0.0200") {
		t.Errorf("stdout does not name the far field:\n%s", r.stdout)
	}
	// A looser threshold makes it close.
	r = run(t, "data", "compare", "--metadata", metaPath, "--input", output, "--max-tvd", "0.4")
	r.wantCode(t, 0)
}

func TestDataCompareMissingColumn(t *testing.T) {
	fewer := compareDoc()
	fewer.Tables[0].Fields = fewer.Tables[0].Fields[:3]
	metaPath, output := compareFiles(t, fewer)
	r := run(t, "data", "compare", "--metadata", metaPath, "--input", output)
	r.wantCode(t, 1)
	if !strings.Contains(r.stdout, `column "weight" of the metadata is missing from the file`) || !strings.Contains(r.stdout, "missing: weight") {
		t.Errorf("stdout does not name the missing column:\n%s", r.stdout)
	}
}

func TestDataCompareJSON(t *testing.T) {
	metaPath, output := compareFiles(t, compareDoc())
	r := run(t, "data", "compare", "--metadata", metaPath, "--input", output, "--json", "--max-ks", "0.05")
	r.wantCode(t, 0)
	var rep struct {
		Schema         string `json:"schema"`
		Metadata       string `json:"metadata"`
		MetadataSHA256 string `json:"metadata_sha256"`
		Verdict        string `json:"verdict"`
		Rows           int64  `json:"rows"`
		Thresholds     struct {
			MaxKS float64 `json:"max_ks"`
		} `json:"thresholds"`
		Fields []struct {
			Name     string `json:"name"`
			Verdict  string `json:"verdict"`
			Measures []struct {
				Name  string  `json:"name"`
				Value float64 `json:"value"`
			} `json:"measures"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	raw, _ := os.ReadFile(metaPath)
	if rep.Schema != "haven.artificial.compare/v1" || rep.Verdict != "close" || rep.Rows != 20000 ||
		rep.Metadata != metaPath || rep.MetadataSHA256 != meta.SHA256(raw) || rep.Thresholds.MaxKS != 0.05 {
		t.Errorf("report: %+v", rep)
	}
	if len(rep.Fields) != 4 || rep.Fields[1].Name != "ward" || rep.Fields[1].Measures[0].Name != "tvd" {
		t.Errorf("fields: %+v", rep.Fields)
	}
}

func TestDataCompareUsageAndInputErrors(t *testing.T) {
	metaPath, output := compareFiles(t, compareDoc())
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"schema": "something else"}`), 0o644)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no flags", nil, 2, "--metadata and --input are required"},
		{"no input", []string{"--metadata", metaPath}, 2, "--metadata and --input are required"},
		{"a threshold above 1", []string{"--metadata", metaPath, "--input", output, "--max-tvd", "1.5"}, 2, "--max-tvd 1.5: give a number from 0 to 1"},
		{"a negative threshold", []string{"--metadata", metaPath, "--input", output, "--max-null-diff", "-1"}, 2, "--max-null-diff -1"},
		{"not a number", []string{"--metadata", metaPath, "--input", output, "--max-ks", "tight"}, 2, "invalid argument"},
		{"an argument", []string{"--metadata", metaPath, "--input", output, "extra"}, 2, "unknown command"},
		{"no metadata file", []string{"--metadata", filepath.Join(dir, "nope.json"), "--input", output}, 1, "nope.json: no such metadata file: check the path"},
		{"not metadata", []string{"--metadata", bad, "--input", output}, 1, `bad.json: schema is "something else", want "haven.artificial.metadata/v1"`},
		{"no input file", []string{"--metadata", metaPath, "--input", filepath.Join(dir, "nope.csv")}, 1, "nope.csv: no such file: check the path"},
		{"an unknown table", []string{"--metadata", metaPath, "--input", output, "--table", "beds"}, 1, `the metadata has no table "beds": it has stays`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, append([]string{"data", "compare"}, c.args...)...)
			r.wantCode(t, c.code)
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, r.stderr)
			}
			noStackTrace(t, r.stderr)
			if r.stdout != "" {
				t.Errorf("stdout: %s", r.stdout)
			}
		})
	}
}

func TestDataCompareHelp(t *testing.T) {
	r := run(t, "data", "compare", "--help")
	r.wantCode(t, 0)
	for _, want := range []string{"Exit codes:", "0  every field close", "--max-tvd", "--max-ks", "--max-null-diff", "--json", "haven data compare --metadata apc.json --input apc.csv"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
