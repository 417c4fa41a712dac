package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haven-tre/haven/internal/artificial/meta"
)

// smallMetadata writes a small, clean metadata file and returns its path.
func smallMetadata(t *testing.T) string {
	t.Helper()
	d := &meta.Document{Schema: meta.SchemaV1, Dataset: "demo", SDC: meta.DefaultSDC, Tables: []meta.Table{{
		Name: "demo", RowsN: 1000,
		Fields: []meta.Field{
			{Name: "patient_id", Type: meta.TypeIdentifier, Identifier: &meta.IdentifierSpec{Kind: "integer", Scope: "row"}},
			{Name: "sex", Type: meta.TypeCategorical, Values: []meta.Value{{V: "F", N: 510}, {V: "M", N: 490}}},
			{Name: "admitted", Type: meta.TypeDate, NullN: 100, NNonNull: 900, Bins: []meta.DateBin{{Start: "2021-01-01", End: "2021-01-31", Grain: meta.GrainMonth, N: 900}}},
		},
	}}}
	p := filepath.Join(t.TempDir(), "demo.json")
	if _, err := meta.WriteFile(p, d); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDataGenerateNeedsApproval(t *testing.T) {
	m := smallMetadata(t)
	out := filepath.Join(filepath.Dir(m), "out.csv")
	r := run(t, "data", "generate", "--metadata", m, "--rows", "100", "--output", out)
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, "has not been approved") || !strings.Contains(r.stderr, "--unreviewed") {
		t.Errorf("stderr does not explain the approval: %s", r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an output was written from unapproved metadata")
	}

	r = run(t, "data", "generate", "--metadata", m, "--rows", "100", "--output", out, "--unreviewed", "--json")
	r.wantCode(t, 0)
	if !strings.Contains(r.stderr, "not approved") {
		t.Errorf("no warning about unreviewed metadata: %s", r.stderr)
	}
	var man struct {
		Reviewed bool   `json:"reviewed"`
		Rows     uint64 `json:"rows"`
		SHA      string `json:"output_sha256"`
	}
	b, err := os.ReadFile(out + ".manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil || man.Reviewed || man.Rows != 100 || len(man.SHA) != 64 {
		t.Errorf("manifest %s: %+v, %v", b, man, err)
	}
	data, _ := os.ReadFile(out)
	if lines := strings.Count(string(data), "\n"); lines != 101 {
		t.Errorf("%d lines, want a header and 100 rows", lines)
	}
}

func TestDataGenerateApprovedAndChanged(t *testing.T) {
	m := smallMetadata(t)
	if _, _, err := meta.Approve(m, meta.ReviewOptions{}, meta.ApproveOptions{Reviewer: "A. Checker"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(filepath.Dir(m), "out.parquet")
	r := run(t, "data", "generate", "--metadata", m, "--rows", "1000", "--output", out)
	r.wantCode(t, 0)
	if !strings.Contains(r.stdout, "approved by A. Checker") {
		t.Errorf("stdout does not name the reviewer: %s", r.stdout)
	}
	// One byte changed after approval: refused.
	raw, _ := os.ReadFile(m)
	raw = []byte(strings.Replace(string(raw), `"n":510`, `"n":515`, 1))
	if err := os.WriteFile(m, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, "data", "generate", "--metadata", m, "--rows", "1000", "--output", out)
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, "changed after it was approved") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestDataGenerateShardsAndMerge(t *testing.T) {
	m := smallMetadata(t)
	dir := filepath.Dir(m)
	gen := func(out string, extra ...string) {
		t.Helper()
		args := append([]string{"data", "generate", "--unreviewed", "--metadata", m, "--rows", "200000", "--seed", "x", "--output", out}, extra...)
		run(t, args...).wantCode(t, 0)
	}
	for _, ext := range []string{"csv", "parquet"} {
		whole := filepath.Join(dir, "whole."+ext)
		gen(whole)
		var parts []string
		for _, s := range []string{"0/3", "1/3", "2/3"} {
			p := filepath.Join(dir, "part"+s[:1]+"."+ext)
			gen(p, "--shard", s)
			parts = append(parts, p)
		}
		merged := filepath.Join(dir, "merged."+ext)
		run(t, append([]string{"data", "merge", "--output", merged}, parts...)...).wantCode(t, 0)
		a, _ := os.ReadFile(whole)
		b, _ := os.ReadFile(merged)
		if string(a) != string(b) || len(a) == 0 {
			t.Errorf("%s: merged shards (%d bytes) differ from the unsharded output (%d bytes)", ext, len(b), len(a))
		}
	}
	// Parts in the wrong order: a CSV part after the first with a header.
	r := run(t, "data", "merge", "--output", filepath.Join(dir, "bad.csv"), filepath.Join(dir, "part1.csv"), filepath.Join(dir, "part0.csv"))
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, "part1.csv is shard 1/3, but in position 1 of 2 parts it must be shard 0/2") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestDataGenerateUsage(t *testing.T) {
	m := smallMetadata(t)
	out := filepath.Join(filepath.Dir(m), "o.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--metadata", m, "--output", out}, "--rows"},
		{[]string{"--metadata", m, "--rows", "5", "--output", out, "--shard", "4/4"}, "from 0 to n-1"},
		{[]string{"--metadata", m, "--rows", "5", "--output", out, "--shard", "one"}, "write it as i/n"},
		{[]string{"--metadata", m, "--rows", "5", "--output", filepath.Join(filepath.Dir(m), "o.xlsx")}, "cannot tell the format"},
		{[]string{"--metadata", m, "--rows", "5", "--output", out, "--format", "xml"}, "unknown format"},
	} {
		r := run(t, append([]string{"data", "generate", "--unreviewed"}, c.args...)...)
		r.wantCode(t, 2)
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: stderr %q, want %q", c.args, r.stderr, c.want)
		}
	}
	// A metadata file that is not metadata.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"schema": "x"`), 0o644)
	r := run(t, "data", "generate", "--unreviewed", "--metadata", bad, "--rows", "5", "--output", out)
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, "bad.json") {
		t.Errorf("stderr does not name the file: %s", r.stderr)
	}
}
