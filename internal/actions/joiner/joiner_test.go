package joiner

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/gzip"
)

var update = flag.Bool("update", false, "rewrite golden files")

// result is what one run of the action did.
type result struct {
	code           int
	err            error
	stdout, stderr string
}

// runIn runs the action in dir with an allocator that must be empty
// afterwards.
func runIn(t *testing.T, ctx context.Context, dir string, args ...string) result {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	var stdout, stderr bytes.Buffer
	code, err := run(ctx, dir, args, &stdout, &stderr, mem)
	mem.AssertSize(t, 0)
	if (code == 0) != (err == nil) {
		t.Fatalf("exit code %d with error %v", code, err)
	}
	return result{code, err, stdout.String(), stderr.String()}
}

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte(content)
	if strings.HasSuffix(rel, ".gz") {
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write(data)
		z.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(rel, ".gz") {
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if data, err = io.ReadAll(z); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	return string(data)
}

// files lists the files under dir, relative and slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
		}
		return nil
	})
	return out
}

const rhsCSV = "patient_id,ethnicity,region\n1,3,London\n2,1,\"North East\"\n5,2,\n"

func TestJoinCSV(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		args   []string
		want   map[string]string // output files and their text
		stdout string            // whole stdout when set
		stderr string            // substring of stderr when set
	}{
		{
			name: "left join keeps every lhs row in order, drops rhs-only patients, empties missing matches",
			files: map[string]string{
				"output/input_2020-01-01.csv": "patient_id,age,sbp\n5,40,120\n3,50,\n1,60,130\n1,60,131\n",
				"output/input_end.csv":        rhsCSV,
			},
			args:   []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv"},
			want:   map[string]string{"output/joined/input_2020-01-01.csv": "patient_id,age,sbp,ethnicity,region\n5,40,120,2,\n3,50,,,\n1,60,130,3,London\n1,60,131,3,London\n"},
			stdout: "Joined output/input_2020-01-01.csv with output/input_end.csv: 4 rows -> output/joined/input_2020-01-01.csv\n",
		},
		{
			name: "cells keep their bytes and quoting",
			files: map[string]string{
				"a/l.csv": "\"patient_id\",x,\"y\"\n\"1\",\"quoted\",007\n2,\"a,b\",\"say \"\"hi\"\"\"\n3, spaced ,1.50\n",
				"a/r.csv": "z,patient_id\n\"q,r\",1\n0.10,2\n\"\",3\n",
			},
			args: []string{"--lhs", "a/l.csv", "--rhs", "a/r.csv", "--output-dir", "b"},
			want: map[string]string{"b/l.csv": "\"patient_id\",x,\"y\",z\n\"1\",\"quoted\",007,\"q,r\"\n2,\"a,b\",\"say \"\"hi\"\"\",0.10\n3, spaced ,1.50,\"\"\n"},
		},
		{
			name: "CRLF line ends become LF, line breaks inside quotes are kept, blank lines and BOM dropped",
			files: map[string]string{
				"l.csv": "\xef\xbb\xbfpatient_id,note\r\n1,\"two\r\nlines\"\r\n\r\n2,x\r\n",
				"r.csv": "patient_id,v\r\n2,b\r\n1,a\r\n",
			},
			args: []string{"--lhs", "l.csv", "--rhs", "r.csv", "--output-dir", "out"},
			want: map[string]string{"out/l.csv": "patient_id,note,v\n1,\"two\r\nlines\",a\n2,x,b\n"},
		},
		{
			name: "ids match as numbers, as pandas reads them",
			files: map[string]string{
				"l.csv": "patient_id,a\n007,x\n7.0,y\n+7,z\nabc,w\n,empty\n",
				"r.csv": "patient_id,b\n7,seven\nabc,text\n",
			},
			args: []string{"--lhs", "l.csv", "--rhs", "r.csv", "--output-dir", "out"},
			want: map[string]string{"out/l.csv": "patient_id,a,b\n007,x,seven\n7.0,y,seven\n+7,z,seven\nabc,w,text\n,empty,\n"},
		},
		{
			name: "columns in both files are renamed _x and _y, with a warning",
			files: map[string]string{
				"l.csv": "patient_id,age,sex\n1,40,F\n",
				"r.csv": "patient_id,sex,age,eth\n1,M,41,3\n",
			},
			args:   []string{"--lhs", "l.csv", "--rhs", "r.csv", "--output-dir", "out"},
			want:   map[string]string{"out/l.csv": "patient_id,age_x,sex_x,sex_y,age_y,eth\n1,40,F,M,41,3\n"},
			stderr: "warning: columns age, sex are in both l.csv and r.csv: as cohort-joiner does, the joined file has age_x, sex_x (left-hand values) and age_y, sex_y (right-hand values)",
		},
		{
			name: "an rhs with only patient_id adds nothing",
			files: map[string]string{
				"l.csv": "patient_id,a\n1,x\n2,y\n",
				"r.csv": "patient_id\n1\n",
			},
			args: []string{"--lhs", "l.csv", "--rhs", "r.csv", "--output-dir", "out"},
			want: map[string]string{"out/l.csv": "patient_id,a\n1,x\n2,y\n"},
		},
		{
			name: "header-only lhs, file without a final line break",
			files: map[string]string{
				"l1.csv": "patient_id,a\n",
				"l2.csv": "patient_id,a\n1,x",
				"r.csv":  "patient_id,b\n1,y",
			},
			args: []string{"--lhs", "l?.csv", "--rhs", "r.csv", "--output-dir", "out"},
			want: map[string]string{"out/l1.csv": "patient_id,a,b\n", "out/l2.csv": "patient_id,a,b\n1,x,y\n"},
			stdout: "Joined l1.csv with r.csv: 0 rows -> out/l1.csv\n" +
				"Joined l2.csv with r.csv: 1 row -> out/l2.csv\n",
		},
		{
			name: "glob expands in order, skips hidden files; default output dir; /workspace paths",
			files: map[string]string{
				"output/input_2020-02-01.csv":  "patient_id\n2\n",
				"output/input_2020-01-01.csv":  "patient_id\n1\n",
				"output/.input_2020-03-01.csv": "patient_id\n9\n",
				"output/input_end.csv":         rhsCSV,
			},
			args: []string{"--lhs", "/workspace/output/*_20*.csv", "--rhs=/workspace/output/input_end.csv"},
			want: map[string]string{
				"output/joined/input_2020-01-01.csv": "patient_id,ethnicity,region\n1,3,London\n",
				"output/joined/input_2020-02-01.csv": "patient_id,ethnicity,region\n2,1,\"North East\"\n",
			},
			stdout: "Joined output/input_2020-01-01.csv with output/input_end.csv: 1 row -> output/joined/input_2020-01-01.csv\n" +
				"Joined output/input_2020-02-01.csv with output/input_end.csv: 1 row -> output/joined/input_2020-02-01.csv\n",
		},
		{
			name: "csv.gz in, csv.gz out; mixed with a plain csv rhs",
			files: map[string]string{
				"output/input_2020-01-01.csv.gz": "patient_id,a\n1,x\n2,y\n",
				"output/input_end.csv":           rhsCSV,
			},
			args: []string{"--lhs", "output/input_*.csv.gz", "--rhs", "output/input_end.csv"},
			want: map[string]string{"output/joined/input_2020-01-01.csv.gz": "patient_id,a,ethnicity,region\n1,x,3,London\n2,y,1,\"North East\"\n"},
		},
		{
			name: "a gzip rhs",
			files: map[string]string{
				"l.csv":    "patient_id,a\n1,x\n",
				"r.csv.gz": "patient_id,b\n1,y\n",
			},
			args: []string{"--lhs", "l.csv", "--rhs", "r.csv.gz", "--output-dir", "out"},
			want: map[string]string{"out/l.csv": "patient_id,a,b\n1,x,y\n"},
		},
		{
			name: "the last value of a repeated option wins",
			files: map[string]string{
				"l.csv": "patient_id,a\n1,x\n",
				"r.csv": "patient_id,b\n1,y\n",
			},
			args: []string{"--lhs", "nothing*.csv", "--lhs", "l.csv", "--rhs", "r.csv", "--output-dir", "x", "--output-dir", "out"},
			want: map[string]string{"out/l.csv": "patient_id,a,b\n1,x,y\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for rel, content := range tt.files {
				write(t, dir, rel, content)
			}
			args := slices.Clone(tt.args)
			res := runIn(t, context.Background(), dir, args...)
			if res.err != nil {
				t.Fatalf("error: %v\nstderr: %s", res.err, res.stderr)
			}
			for rel, want := range tt.want {
				if got := read(t, dir, rel); got != want {
					t.Errorf("%s:\n got %q\nwant %q", rel, got, want)
				}
			}
			if tt.stdout != "" && res.stdout != tt.stdout {
				t.Errorf("stdout:\n got %q\nwant %q", res.stdout, tt.stdout)
			}
			if tt.stderr != "" && !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", res.stderr, tt.stderr)
			}
			if tt.stderr == "" && res.stderr != "" {
				t.Errorf("unexpected stderr %q", res.stderr)
			}
			// Nothing but the inputs and the outputs: no temporary files.
			var want []string
			for rel := range tt.files {
				want = append(want, rel)
			}
			for rel := range tt.want {
				want = append(want, rel)
			}
			slices.Sort(want)
			if got := files(t, dir); !slices.Equal(got, want) {
				t.Errorf("files %q, want %q", got, want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	ok := map[string]string{
		"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
		"output/input_end.csv":        "patient_id,b\n1,y\n",
	}
	std := []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv"}
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  []string // substrings of the error
	}{
		{"no option", ok, nil, []string{"--lhs is required"}},
		{"no rhs", ok, []string{"--lhs", "output/input_20*.csv"}, []string{"--rhs is required"}},
		{"unknown option", ok, append(slices.Clone(std), "--outptu-dir", "x"), []string{"unrecognized option --outptu-dir", "did you mean --output-dir"}},
		{"lhs with two values", ok, []string{"--lhs", "output/input_2020-01-01.csv", "output/input_end.csv", "--rhs", "output/input_end.csv"}, []string{`unexpected argument "output/input_end.csv"`}},
		{"lhs matches nothing", ok, []string{"--lhs", "output/input_19*.csv", "--rhs", "output/input_end.csv"}, []string{"--lhs output/input_19*.csv matches no file"}},
		{"lhs file missing", ok, []string{"--lhs", "output/input.csv", "--rhs", "output/input_end.csv"}, []string{"--lhs output/input.csv: no such file"}},
		{"lhs is a folder", ok, []string{"--lhs", "output", "--rhs", "output/input_end.csv"}, []string{"--lhs output: is a folder"}},
		{"rhs missing", ok, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_start.csv"}, []string{"--rhs output/input_start.csv: no such file"}},
		{"rhs is a pattern", ok, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_e*.csv"}, []string{"--rhs takes one file, not a pattern"}},
		{"lhs has no patient_id", map[string]string{
			"output/input_2020-01-01.csv": "id,a\n1,x\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, std, []string{"output/input_2020-01-01.csv: has no patient_id column (its columns are id, a)"}},
		{"rhs has no patient_id", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.csv":        "Patient_ID,b\n1,y\n",
		}, std, []string{"output/input_end.csv: has no patient_id column"}},
		{"duplicate patient_id in rhs", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n\"12\",\"two\nlines\"\n3,z\n12,w\n",
		}, std, []string{"output/input_end.csv:6: patient_id 12 appears again (first on line 3)", "one row per patient"}},
		{"duplicate patient_id in gzip rhs, written differently", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.csv.gz":     "patient_id,b\n7,y\n07,z\n",
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv.gz"}, []string{"output/input_end.csv.gz:3: patient_id 7 appears again (first on line 2)"}},
		{"empty patient_id in rhs", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n,z\n",
		}, std, []string{"output/input_end.csv:3: the row has no patient_id"}},
		{"repeated column name", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a,a\n1,x,y\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, std, []string{`output/input_2020-01-01.csv: the column name "a" appears twice`}},
		{"renamed column clashes", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,age,age_y\n1,4,5\n",
			"output/input_end.csv":        "patient_id,age\n1,y\n",
		}, std, []string{"would make two columns named age_y", "column age_y of output/input_2020-01-01.csv", "column age of output/input_end.csv, renamed"}},
		{"unsupported lhs format", map[string]string{
			"output/input_2020-01-01.txt": "patient_id,a\n1,x\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, []string{"--lhs", "output/input_20*", "--rhs", "output/input_end.csv"}, []string{"output/input_2020-01-01.txt: cannot join this kind of file", ".csv, .csv.gz or .feather"}},
		{"stata rhs", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.dta":        "junk",
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.dta"}, []string{"--rhs output/input_end.dta: Stata files"}},
		{"parquet lhs", map[string]string{
			"output/input_2020-01-01.parquet": "junk",
			"output/input_end.csv":            "patient_id,b\n1,y\n",
		}, []string{"--lhs", "output/input_2020-01-01.parquet", "--rhs", "output/input_end.csv"}, []string{"cannot join this kind of file"}},
		{"output dir is a file", ok, append(slices.Clone(std), "--output-dir", "output/input_end.csv"), []string{"--output-dir output/input_end.csv: is a file, not a folder"}},
		{"output dir is the lhs folder", ok, append(slices.Clone(std), "--output-dir", "output"), []string{"--output-dir output: is the folder of the left-hand file output/input_2020-01-01.csv"}},
		{"output dir is the rhs folder", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"rhs/input_end.csv":           "patient_id,b\n1,y\n",
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "rhs/input_end.csv", "--output-dir", "rhs"}, []string{"--output-dir rhs: is the folder of the right-hand file rhs/input_end.csv"}},
		{"two lhs files with one name", map[string]string{
			"output/a/input.csv": "patient_id,a\n1,x\n",
			"output/b/input.csv": "patient_id,a\n1,x\n",
			"output/end.csv":     "patient_id,b\n1,y\n",
		}, []string{"--lhs", "output/*/input.csv", "--rhs", "output/end.csv"}, []string{"matches output/a/input.csv and output/b/input.csv, which would both be written to output/joined/input.csv"}},
		{"row with too many fields", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n2,y,z\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, std, []string{"output/input_2020-01-01.csv:3: the row has 3 fields, the header has 2"}},
		{"unclosed quote", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n2,\"y\n3,z\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, std, []string{"output/input_2020-01-01.csv:3: a quoted value is never closed"}},
		{"stray quote", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\"y\"\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, std, []string{"output/input_2020-01-01.csv:2: field 2 has a quote"}},
		{"not UTF-8", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,caf\xe9\n",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, std, []string{"output/input_2020-01-01.csv:2: the file is not valid UTF-8 (byte 0xE9)"}},
		{"empty file", map[string]string{
			"output/input_2020-01-01.csv": "",
			"output/input_end.csv":        "patient_id,b\n1,y\n",
		}, std, []string{"output/input_2020-01-01.csv: the file is empty"}},
		{"gz name, plain content", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.csv.gz.txt": "",
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv.gz.txt"}, []string{"cannot join this kind of file"}},
		{"feather v1", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.feather":    "FEA1\x00\x00\x00\x00",
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.feather"}, []string{"output/input_end.feather: this is a Feather version 1 file"}},
		{"damaged feather", map[string]string{
			"output/input_2020-01-01.csv": "patient_id,a\n1,x\n",
			"output/input_end.feather":    "ARROW1\x00\x00garbage garbage garbage",
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.feather"}, []string{"output/input_end.feather: "}},
		{"csv that is not csv", map[string]string{
			"output/input_2020-01-01.feather": "patient_id,a\n1,x\n",
			"output/input_end.csv":            "patient_id,b\n1,y\n",
		}, []string{"--lhs", "output/input_20*.feather", "--rhs", "output/input_end.csv"}, []string{"output/input_2020-01-01.feather: not a valid Feather/Arrow file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for rel, content := range tt.files {
				write(t, dir, rel, content)
			}
			res := runIn(t, context.Background(), dir, tt.args...)
			if res.err == nil {
				t.Fatalf("no error; stdout %q", res.stdout)
			}
			if res.code != 1 {
				t.Errorf("exit code %d, want 1", res.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.err.Error(), w) {
					t.Errorf("error %q does not contain %q", res.err, w)
				}
			}
			if res.stdout != "" {
				t.Errorf("stdout %q: nothing should be reported as joined", res.stdout)
			}
			// Nothing written.
			for _, f := range files(t, dir) {
				if _, ok := tt.files[f]; !ok {
					t.Errorf("unexpected file %s", f)
				}
			}
		})
	}
}

func TestUsageOnStderr(t *testing.T) {
	res := runIn(t, context.Background(), t.TempDir(), "--rhs", "x.csv")
	if res.code != 1 || !strings.Contains(res.stderr, "usage: cohort-joiner --lhs VALUE --rhs VALUE [--output-dir VALUE]") {
		t.Errorf("code %d, stderr %q", res.code, res.stderr)
	}
}

func TestLongRecords(t *testing.T) {
	defer func(n int) { readBuf = n }(readBuf)
	readBuf = 16 // smaller than a record: records are read in pieces
	dir := t.TempDir()
	long := strings.Repeat("abcdefghij", 10)
	write(t, dir, "l.csv", "patient_id,text\n1,"+long+"\n2,\"a\n"+long+"\"\n")
	write(t, dir, "r.csv", "patient_id,more\n2,\""+long+",\"\n1,x\n1,y\n")
	res := runIn(t, context.Background(), dir, "--lhs", "l.csv", "--rhs", "r.csv", "--output-dir", "o")
	if res.err == nil || !strings.Contains(res.err.Error(), "r.csv:4: patient_id 1 appears again (first on line 3)") {
		t.Fatalf("error %v, want the duplicate on line 4", res.err)
	}
	write(t, dir, "r.csv", "patient_id,more\n2,\""+long+",\"\n1,x\n")
	res = runIn(t, context.Background(), dir, "--lhs", "l.csv", "--rhs", "r.csv", "--output-dir", "o")
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := "patient_id,text,more\n1," + long + ",x\n2,\"a\n" + long + "\",\"" + long + ",\"\n"
	if got := read(t, dir, "o/l.csv"); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestGolden joins testdata/golden/input (a small study: weekly cohorts
// and one cohort of fixed variables) and compares every output and the
// progress lines with testdata/golden/want. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "golden", "input")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, "output/"+e.Name(), string(data))
	}
	res := runIn(t, context.Background(), dir, "--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv", "--output-dir", "output/joined")
	if res.err != nil {
		t.Fatal(res.err)
	}
	got := map[string]string{"stdout.txt": res.stdout, "stderr.txt": res.stderr}
	for _, f := range files(t, filepath.Join(dir, "output", "joined")) {
		got[f] = read(t, dir, "output/joined/"+f)
	}
	wantDir := filepath.Join("testdata", "golden", "want")
	if *update {
		os.RemoveAll(wantDir)
		os.MkdirAll(wantDir, 0o755)
		for name, text := range got {
			if err := os.WriteFile(filepath.Join(wantDir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]string{}
	entries, err = os.ReadDir(wantDir)
	if err != nil {
		t.Fatalf("%v (run go test -update to create the golden files)", err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(wantDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		want[e.Name()] = string(data)
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s is missing from the output", name)
		}
	}
	for name, text := range got {
		if w, ok := want[name]; !ok {
			t.Errorf("unexpected output %s", name)
		} else if text != w {
			t.Errorf("%s differs from the golden file (run go test -update if the change is intended):\n got %q\nwant %q", name, text, w)
		}
	}
}

func TestWorkspaceAttacks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.csv")
	if err := os.WriteFile(secret, []byte("patient_id,secret\n1,s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		write(t, dir, "output/input_2020-01-01.csv", "patient_id,a\n1,x\n")
		write(t, dir, "output/input_end.csv", "patient_id,b\n1,y\n")
		return dir
	}
	symlink := func(t *testing.T, target, link string) {
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Skipf("symbolic links unavailable: %v", err)
		}
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		args    []string
		want    string
	}{
		{"output dir leaves the workspace", nil,
			[]string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv", "--output-dir", "../x"},
			"--output-dir ../x: leaves the workspace"},
		{"output dir is absolute", nil,
			[]string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv", "--output-dir", outside},
			"is an absolute path outside the workspace"},
		{"lhs is /etc/passwd", nil,
			[]string{"--lhs", "/etc/passwd", "--rhs", "output/input_end.csv"},
			"--lhs /etc/passwd: is an absolute path outside the workspace"},
		{"lhs pattern leaves the workspace", nil,
			[]string{"--lhs", "../*/secret.csv", "--rhs", "output/input_end.csv"},
			"leaves the workspace"},
		{"lhs climbs out and back", nil,
			[]string{"--lhs", "output/../../secret.csv", "--rhs", "output/input_end.csv"},
			"leaves the workspace"},
		{"rhs is a symlink to a file outside", func(t *testing.T, dir string) {
			symlink(t, secret, filepath.Join(dir, "output", "link.csv"))
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/link.csv"},
			"--rhs output/link.csv: is or goes through a symbolic link"},
		{"rhs is through a symlinked folder", func(t *testing.T, dir string) {
			symlink(t, outside, filepath.Join(dir, "linked"))
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "linked/secret.csv"},
			"--rhs linked/secret.csv: is or goes through a symbolic link"},
		{"lhs is a symlink", func(t *testing.T, dir string) {
			symlink(t, secret, filepath.Join(dir, "output", "input_2019.csv"))
		}, []string{"--lhs", "output/input_2019.csv", "--rhs", "output/input_end.csv"},
			"--lhs output/input_2019.csv: is or goes through a symbolic link"},
		{"lhs pattern only matches symlinks", func(t *testing.T, dir string) {
			symlink(t, outside, filepath.Join(dir, "linked"))
		}, []string{"--lhs", "linked/*.csv", "--rhs", "output/input_end.csv"},
			"--lhs linked/*.csv matches no file"},
		{"output dir is a symlink to outside", func(t *testing.T, dir string) {
			symlink(t, outside, filepath.Join(dir, "output", "joined"))
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv"},
			"--output-dir output/joined: is or goes through a symbolic link"},
		{"output file is a symlink to outside", func(t *testing.T, dir string) {
			symlink(t, secret, filepath.Join(dir, "output", "joined", "input_2020-01-01.csv"))
		}, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv"},
			"is or goes through a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := setup(t)
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			res := runIn(t, context.Background(), dir, tt.args...)
			if res.err == nil {
				t.Fatalf("no error; stdout %q", res.stdout)
			}
			if !strings.Contains(res.err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", res.err, tt.want)
			}
			data, err := os.ReadFile(secret)
			if err != nil || string(data) != "patient_id,secret\n1,s\n" {
				t.Errorf("the file outside the workspace changed: %q, %v", data, err)
			}
			if got := files(t, outside); !slices.Equal(got, []string{"secret.csv"}) {
				t.Errorf("files outside the workspace: %q", got)
			}
		})
	}
}

func TestAbsolutePathInsideWorkspace(t *testing.T) {
	// The executor maps /workspace/... to the same place under dir.
	dir := t.TempDir()
	write(t, dir, "output/input_2020-01-01.csv", "patient_id,a\n1,x\n")
	write(t, dir, "output/input_end.csv", "patient_id,b\n1,y\n")
	res := runIn(t, context.Background(), dir,
		"--lhs", filepath.Join(dir, "output", "input_20*.csv"),
		"--rhs", filepath.Join(dir, "output", "input_end.csv"),
		"--output-dir="+filepath.Join(dir, "output", "j"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.stdout != "Joined output/input_2020-01-01.csv with output/input_end.csv: 1 row -> output/j/input_2020-01-01.csv\n" {
		t.Errorf("stdout %q", res.stdout)
	}
}

func TestCancel(t *testing.T) {
	dir := t.TempDir()
	var big strings.Builder
	big.WriteString("patient_id,a\n")
	for i := range 20000 {
		big.WriteString(strings.Repeat("1", i%3+1))
		big.WriteString(",x\n")
	}
	write(t, dir, "output/input_2020-01-01.csv", big.String())
	write(t, dir, "output/input_2020-02-01.csv", big.String())
	write(t, dir, "output/input_end.csv", "patient_id,b\n1,y\n")
	args := []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv"}

	t.Run("before the start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := runIn(t, ctx, dir, args...)
		if res.code != 1 || !errors.Is(res.err, context.Canceled) {
			t.Fatalf("code %d, error %v: want context.Canceled", res.code, res.err)
		}
		if res.stdout != "" {
			t.Errorf("stdout %q", res.stdout)
		}
		if _, err := os.Stat(filepath.Join(dir, "output", "joined", "input_2020-01-01.csv")); err == nil {
			t.Error("an output was written")
		}
	})
	t.Run("after the first file", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		out := &cancelWriter{cancel: cancel}
		code, err := run(ctx, dir, args, out, io.Discard, mem)
		mem.AssertSize(t, 0)
		if code != 1 || !errors.Is(err, context.Canceled) {
			t.Fatalf("code %d, error %v: want context.Canceled", code, err)
		}
		got := files(t, filepath.Join(dir, "output", "joined"))
		if !slices.Equal(got, []string{"input_2020-01-01.csv"}) {
			t.Errorf("outputs %q: want only the first (and no temporary file)", got)
		}
	})
}

// cancelWriter cancels the run when the first progress line is written.
type cancelWriter struct {
	cancel func()
	buf    bytes.Buffer
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.cancel()
	return w.buf.Write(p)
}

func TestKeys(t *testing.T) {
	tests := []struct {
		in    string
		want  patientKey
		valid bool
	}{
		{"7", patientKey{n: 7, isInt: true}, true},
		{"007", patientKey{n: 7, isInt: true}, true},
		{"+7", patientKey{n: 7, isInt: true}, true},
		{"-7", patientKey{n: -7, isInt: true}, true},
		{"7.0", patientKey{n: 7, isInt: true}, true},
		{"7e2", patientKey{n: 700, isInt: true}, true},
		{"7.5", patientKey{s: "7.5"}, true},
		{"9223372036854775807", patientKey{n: 9223372036854775807, isInt: true}, true},
		{"-9223372036854775808", patientKey{n: -9223372036854775808, isInt: true}, true},
		{"99999999999999999999", patientKey{s: "99999999999999999999"}, true},
		{"abc", patientKey{s: "abc"}, true},
		{"inf", patientKey{s: "inf"}, true},
		{"+", patientKey{s: "+"}, true},
		{"", patientKey{}, false},
	}
	for _, tt := range tests {
		got, ok := textKey(tt.in)
		if ok != tt.valid || got != tt.want {
			t.Errorf("textKey(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.valid)
		}
		gotB, okB := textKey([]byte(tt.in))
		if okB != ok || gotB != got {
			t.Errorf("textKey([]byte(%q)) = %+v, %v; differs from the string form", tt.in, gotB, okB)
		}
	}
	x := newKeyIndex()
	for i, s := range []string{"1", "abc", "7.5"} {
		k, _ := textKey(s)
		x.insert(k, int32(i))
	}
	for _, tt := range []struct {
		in   string
		row  int32
		want bool
	}{{"01", 0, true}, {"1.0", 0, true}, {"abc", 1, true}, {"7.5", 2, true}, {"2", 0, false}, {"", 0, false}, {"ABC", 0, false}} {
		row, ok := x.lookupText([]byte(tt.in))
		if ok != tt.want || (ok && row != tt.row) {
			t.Errorf("lookupText(%q) = %d, %v; want %d, %v", tt.in, row, ok, tt.row, tt.want)
		}
	}
}

func TestHidden(t *testing.T) {
	tests := []struct {
		pattern, match string
		want           bool
	}{
		{"output/*.csv", "output/a.csv", false},
		{"output/*.csv", "output/.a.csv", true},
		{"output/.*.csv", "output/.a.csv", false},
		{"*/a.csv", ".tmp/a.csv", true},
		{".tmp/*.csv", ".tmp/a.csv", false},
		{"output/?a.csv", "output/.a.csv", true},
	}
	for _, tt := range tests {
		if got := hidden(tt.pattern, tt.match); got != tt.want {
			t.Errorf("hidden(%q, %q) = %v, want %v", tt.pattern, tt.match, got, tt.want)
		}
	}
}

func TestSplitFields(t *testing.T) {
	tests := []struct {
		rec    string
		fields []string // raw fields
		bad    int      // field with an error, -1 for none
	}{
		{"a,b,c", []string{"a", "b", "c"}, -1},
		{"", []string{""}, -1},
		{"a,,", []string{"a", "", ""}, -1},
		{`"a,b",c`, []string{`"a,b"`, "c"}, -1},
		{`a,"b""c"`, []string{"a", `"b""c"`}, -1},
		{`"",x,""`, []string{`""`, "x", `""`}, -1},
		{`"a",`, []string{`"a"`, ""}, -1},
		{`a,"b`, nil, 1},
		{`a,"b"c`, nil, 1},
		{`a,b"c`, nil, 1},
	}
	for _, tt := range tests {
		spans, col, msg := splitFields([]byte(tt.rec), nil)
		if tt.bad >= 0 {
			if msg == "" || col != tt.bad {
				t.Errorf("%q: error in field %d (%q), want field %d", tt.rec, col, msg, tt.bad)
			}
			continue
		}
		if msg != "" {
			t.Errorf("%q: %s", tt.rec, msg)
			continue
		}
		var got []string
		for _, s := range spans {
			got = append(got, tt.rec[s.start:s.end])
		}
		if !slices.Equal(got, tt.fields) {
			t.Errorf("%q: fields %q, want %q", tt.rec, got, tt.fields)
		}
	}
	for raw, want := range map[string]string{`"a""b"`: `a"b`, `"a,b"`: "a,b", `""`: "", "x": "x"} {
		spans, _, _ := splitFields([]byte(raw), nil)
		if got := string(unquote([]byte(raw), spans[0])); got != want {
			t.Errorf("unquote(%s) = %q, want %q", raw, got, want)
		}
	}
	for v, want := range map[string]string{"a": "a", "a,b": `"a,b"`, `a"b`: `"a""b"`, "a\nb": "\"a\nb\"", "": "", " a ": " a "} {
		if got := string(appendField(nil, []byte(v))); got != want {
			t.Errorf("appendField(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	tests := []struct {
		v    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {0, 64, "0.0"}, {-2.5, 64, "-2.5"}, {0.1, 64, "0.1"},
		{1e16, 64, "1e+16"}, {123456789012345.6, 64, "123456789012345.6"},
		{1.5e-5, 64, "1.5e-05"}, {0.0001, 64, "0.0001"}, {float64(float32(0.1)), 32, "0.1"},
	}
	for _, tt := range tests {
		if got := string(appendPyFloat(nil, tt.v, tt.bits)); got != tt.want {
			t.Errorf("appendPyFloat(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// writeArrow writes an Arrow IPC file (or stream) of the given batches and
// releases their arrays.
func writeArrow(t *testing.T, dir, rel string, stream bool, schema *arrow.Schema, batches ...[]arrow.Array) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(full)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	if stream {
		w = ipc.NewWriter(f, ipc.WithSchema(schema))
	} else if w, err = ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithLZ4()); err != nil {
		t.Fatal(err)
	}
	for _, cols := range batches {
		rec := array.NewRecordBatch(schema, cols, int64(cols[0].Len()))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		for _, c := range cols {
			c.Release()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readArrow reads an Arrow IPC file's schema and its values as text, one
// row per line ("<null>" for nulls).
func readArrow(t *testing.T, dir, rel string) (*arrow.Schema, []string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatalf("%s is not an Arrow IPC file: %v", rel, err)
	}
	defer r.Close()
	var rows []string
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < int(rec.NumRows()); j++ {
			var cells []string
			for _, c := range rec.Columns() {
				if c.IsNull(j) {
					cells = append(cells, "<null>")
				} else {
					cells = append(cells, c.ValueStr(j))
				}
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
	}
	return r.Schema(), rows
}

func ints64(vs ...int64) arrow.Array {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

func ints32(vs ...int32) arrow.Array {
	b := array.NewInt32Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

func ints16(vs ...int16) arrow.Array {
	b := array.NewInt16Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

// floats builds a float64 array; NaN values are nulls.
func floats(vs ...float64) arrow.Array {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	for _, v := range vs {
		if v != v {
			b.AppendNull()
		} else {
			b.Append(v)
		}
	}
	return b.NewArray()
}

func bools(vs ...bool) arrow.Array {
	b := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

// dates builds a date32 array of days since 1970; -1 is null.
func dates(vs ...int32) arrow.Array {
	b := array.NewDate32Builder(memory.DefaultAllocator)
	defer b.Release()
	for _, v := range vs {
		if v < 0 {
			b.AppendNull()
		} else {
			b.Append(arrow.Date32(v))
		}
	}
	return b.NewArray()
}

// stamps builds a timestamp[ms] array from seconds since 1970.
func stamps(vs ...int64) arrow.Array {
	b := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Millisecond})
	defer b.Release()
	for _, v := range vs {
		b.Append(arrow.Timestamp(v * 1000))
	}
	return b.NewArray()
}

// dict builds a dictionary<index, string> array; "" is null.
func dict(index arrow.DataType, vs ...string) arrow.Array {
	dt := &arrow.DictionaryType{IndexType: index, ValueType: arrow.BinaryTypes.String}
	b := array.NewDictionaryBuilder(memory.DefaultAllocator, dt).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for _, v := range vs {
		if v == "" {
			b.AppendNull()
		} else if err := b.AppendString(v); err != nil {
			panic(err)
		}
	}
	return b.NewArray()
}

// shared builds a dictionary<int32, string> array over values; index -1
// is null. Batches built over one values array share their dictionary, as
// a Feather file's batches must.
func shared(values arrow.Array, idx ...int32) arrow.Array {
	b := array.NewInt32Builder(memory.DefaultAllocator)
	defer b.Release()
	for _, i := range idx {
		if i < 0 {
			b.AppendNull()
		} else {
			b.Append(i)
		}
	}
	ix := b.NewArray()
	defer ix.Release()
	return array.NewDictionaryArray(dictI32, ix, values)
}

func strs(vs ...string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vs, nil)
	return b.NewArray()
}

const day20200101 = 18262 // 2020-01-01 in days since 1970

var (
	dictI32 = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	dictI8  = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	tsMS    = &arrow.TimestampType{Unit: arrow.Millisecond}
)

// lhsFeather writes a two-batch left-hand Feather file with pandas
// metadata, patient ids 1, 3 | 2, 1.
func lhsFeather(t *testing.T, dir, rel string, stream bool) {
	md := arrow.NewMetadata([]string{"pandas", "study"}, []string{`{"columns": []}`, "weekly"})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "patient_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "week", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "sbp", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "code", Type: dictI32, Nullable: true},
		{Name: "seen", Type: tsMS, Nullable: true},
	}, &md)
	codes := strs("a", "b")
	defer codes.Release()
	writeArrow(t, dir, rel, stream, schema,
		[]arrow.Array{ints64(1, 3), dates(day20200101, day20200101), floats(120.5, nan()), bools(true, false), shared(codes, 0, 1), stamps(0, 3600)},
		[]arrow.Array{ints64(2, 1), dates(day20200101+7, -1), floats(99, 100), bools(false, true), shared(codes, 1, -1), stamps(86400, 90000)},
	)
}

func nan() float64 { z := 0.0; return z / z }

// rhsFeather writes a right-hand Arrow stream whose two batches have
// different dictionaries (which a stream may), patient ids 2, 1 | 9.
func rhsFeather(t *testing.T, dir, rel string) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ethnicity", Type: dictI8},
		{Name: "patient_id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "age", Type: arrow.PrimitiveTypes.Int16},
		{Name: "dod", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	writeArrow(t, dir, rel, true, schema,
		[]arrow.Array{dict(arrow.PrimitiveTypes.Int8, "White", "Asian, British"), ints32(2, 1), ints16(40, 50), dates(-1, day20200101+31)},
		[]arrow.Array{dict(arrow.PrimitiveTypes.Int8, "Black"), ints32(9), ints16(60), dates(-1)},
	)
}

func TestJoinArrow(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := "file"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			lhsFeather(t, dir, "output/input_2020-01-01.feather", stream)
			rhsFeather(t, dir, "output/input_end.feather")
			res := runIn(t, context.Background(), dir, "--lhs", "output/input_2020*.feather", "--rhs", "output/input_end.feather")
			if res.err != nil {
				t.Fatal(res.err)
			}
			if want := "Joined output/input_2020-01-01.feather with output/input_end.feather: 4 rows -> output/joined/input_2020-01-01.feather\n"; res.stdout != want {
				t.Errorf("stdout %q, want %q", res.stdout, want)
			}
			schema, rows := readArrow(t, dir, "output/joined/input_2020-01-01.feather")
			wantFields := []string{
				"patient_id: type=int64",
				"week: type=date32, nullable",
				"sbp: type=float64, nullable",
				"flag: type=bool, nullable",
				"code: type=dictionary<values=utf8, indices=int32, ordered=false>, nullable",
				"seen: type=timestamp[ms], nullable",
				"ethnicity: type=dictionary<values=utf8, indices=int8, ordered=false>, nullable",
				"age: type=int16, nullable",
				"dod: type=date32, nullable",
			}
			var gotFields []string
			for _, f := range schema.Fields() {
				gotFields = append(gotFields, f.String())
			}
			if !slices.Equal(gotFields, wantFields) {
				t.Errorf("fields:\n got %q\nwant %q", gotFields, wantFields)
			}
			md := schema.Metadata()
			if md.FindKey("pandas") >= 0 || md.FindKey("study") < 0 || md.Values()[md.FindKey("study")] != "weekly" {
				t.Errorf("metadata %v: want pandas' dropped and the rest kept", md)
			}
			wantRows := []string{
				"1|2020-01-01|120.5|true|a|1970-01-01T00:00:00|Asian, British|50|2020-02-01",
				"3|2020-01-01|<null>|false|b|1970-01-01T01:00:00|<null>|<null>|<null>",
				"2|2020-01-08|99|false|b|1970-01-02T00:00:00|White|40|<null>",
				"1|<null>|100|true|<null>|1970-01-02T01:00:00|Asian, British|50|2020-02-01",
			}
			if !slices.Equal(rows, wantRows) {
				t.Errorf("rows:\n got %q\nwant %q", rows, wantRows)
			}
		})
	}
}

func TestJoinArrowWithCSV(t *testing.T) {
	t.Run("feather lhs, csv rhs: columns typed as pandas reads them", func(t *testing.T) {
		dir := t.TempDir()
		lhsFeather(t, dir, "output/input_2020-01-01.feather", false)
		write(t, dir, "output/input_end.csv", "patient_id,eth,bmi,flag,name,none,ccode\n"+
			"1,3,27.5,True,\"a,b\",,001\n2,NA,19,false,x,,A1\n7,4,,TRUE,,NaN,\n")
		res := runIn(t, context.Background(), dir, "--lhs", "output/input_2020*.feather", "--rhs", "output/input_end.csv")
		if res.err != nil {
			t.Fatal(res.err)
		}
		schema, rows := readArrow(t, dir, "output/joined/input_2020-01-01.feather")
		var types []string
		for _, f := range schema.Fields()[6:] {
			types = append(types, f.Name+":"+f.Type.String())
		}
		if want := []string{"eth:int64", "bmi:float64", "flag_y:bool", "name:utf8", "none:float64", "ccode:utf8"}; !slices.Equal(types, want) {
			t.Errorf("right-hand types %q, want %q", types, want)
		}
		if f := schema.Field(3); f.Name != "flag_x" || f.Type.ID() != arrow.BOOL {
			t.Errorf("left-hand flag is %s, want flag_x: type=bool", f)
		}
		if !strings.Contains(res.stderr, "warning: column flag is in both") {
			t.Errorf("stderr %q: want a warning about flag", res.stderr)
		}
		var tails []string
		for _, r := range rows {
			cells := strings.Split(r, "|")
			tails = append(tails, cells[0]+"|"+strings.Join(cells[6:], "|"))
		}
		want := []string{
			"1|3|27.5|true|a,b|<null>|001",
			"3|<null>|<null>|<null>|<null>|<null>|<null>",
			"2|<null>|19|false|x|<null>|A1",
			"1|3|27.5|true|a,b|<null>|001",
		}
		if !slices.Equal(tails, want) {
			t.Errorf("rows:\n got %q\nwant %q", tails, want)
		}
	})
	t.Run("csv lhs, feather rhs: values written as pandas writes them", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "output/input_2020-01-01.csv", "patient_id,a\n1,x\n3,y\n2,z\n")
		schema := arrow.NewSchema([]arrow.Field{
			{Name: "patient_id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "bmi", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
			{Name: "dob", Type: tsMS},
			{Name: "seen", Type: tsMS},
			{Name: "region", Type: dictI8, Nullable: true},
			{Name: "note", Type: arrow.BinaryTypes.String},
			{Name: "died", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		}, nil)
		writeArrow(t, dir, "output/input_end.feather", false, schema, []arrow.Array{
			ints64(1, 2), floats(27, nan()), bools(true, false), stamps(0, 86400), stamps(0, 90061),
			dict(arrow.PrimitiveTypes.Int8, "North East, England", ""), strs(`say "hi"`, ""), dates(day20200101, -1),
		})
		res := runIn(t, context.Background(), dir, "--lhs", "output/input_20*.csv", "--rhs", "output/input_end.feather")
		if res.err != nil {
			t.Fatal(res.err)
		}
		want := "patient_id,a,bmi,flag,dob,seen,region,note,died\n" +
			"1,x,27.0,True,1970-01-01,1970-01-01 00:00:00,\"North East, England\",\"say \"\"hi\"\"\",2020-01-01\n" +
			"3,y,,,,,,,\n" +
			"2,z,,False,1970-01-02,1970-01-02 01:01:01,,,\n"
		if got := read(t, dir, "output/joined/input_2020-01-01.csv"); got != want {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	})
}

func TestJoinArrowEdges(t *testing.T) {
	idOnly := arrow.NewSchema([]arrow.Field{{Name: "patient_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	t.Run("an rhs with no rows gives nulls", func(t *testing.T) {
		dir := t.TempDir()
		lhsFeather(t, dir, "l.feather", false)
		writeArrow(t, dir, "r.feather", false, idOnly)
		res := runIn(t, context.Background(), dir, "--lhs", "l.feather", "--rhs", "r.feather", "--output-dir", "out")
		if res.err != nil {
			t.Fatal(res.err)
		}
		_, rows := readArrow(t, dir, "out/l.feather")
		if len(rows) != 4 {
			t.Fatalf("%d rows, want 4", len(rows))
		}
		for _, r := range rows {
			if !strings.HasSuffix(r, "|<null>") {
				t.Errorf("row %q: want a null v", r)
			}
		}
	})
	t.Run("an lhs with no batches", func(t *testing.T) {
		dir := t.TempDir()
		writeArrow(t, dir, "l.feather", false, idOnly)
		rhsFeather(t, dir, "r.feather")
		res := runIn(t, context.Background(), dir, "--lhs", "l.feather", "--rhs", "r.feather", "--output-dir", "out")
		if res.err != nil {
			t.Fatal(res.err)
		}
		schema, rows := readArrow(t, dir, "out/l.feather")
		if len(rows) != 0 || schema.NumFields() != 5 {
			t.Errorf("%d rows, %d fields; want 0 and 5", len(rows), schema.NumFields())
		}
	})
	t.Run("text ids match integer ids", func(t *testing.T) {
		dir := t.TempDir()
		s := arrow.NewSchema([]arrow.Field{{Name: "patient_id", Type: arrow.BinaryTypes.String}}, nil)
		writeArrow(t, dir, "l.feather", false, s, []arrow.Array{strs("01", "2", "x")})
		writeArrow(t, dir, "r.feather", false, idOnly, []arrow.Array{ints64(1, 2), ints64(10, 20)})
		res := runIn(t, context.Background(), dir, "--lhs", "l.feather", "--rhs", "r.feather", "--output-dir", "out")
		if res.err != nil {
			t.Fatal(res.err)
		}
		if _, rows := readArrow(t, dir, "out/l.feather"); !slices.Equal(rows, []string{"01|10", "2|20", "x|<null>"}) {
			t.Errorf("rows %q", rows)
		}
	})
	t.Run("an lhs stream whose dictionaries change", func(t *testing.T) {
		dir := t.TempDir()
		rhsFeather(t, dir, "l.arrow")
		writeArrow(t, dir, "r.feather", false, idOnly, []arrow.Array{ints64(1, 2), ints64(10, 20)})
		res := runIn(t, context.Background(), dir, "--lhs", "l.arrow", "--rhs", "r.feather", "--output-dir", "out")
		if res.err == nil || !strings.Contains(res.err.Error(), "l.arrow: a dictionary (categorical) column changes from one record batch to the next") {
			t.Fatalf("error %v", res.err)
		}
		if got := files(t, filepath.Join(dir, "out")); len(got) != 0 {
			t.Errorf("files left in the output folder: %q", got)
		}
	})
	errs := []struct {
		name  string
		write func(t *testing.T, dir string)
		want  string
	}{
		{"duplicate id in an Arrow rhs", func(t *testing.T, dir string) {
			writeArrow(t, dir, "r.feather", false, idOnly, []arrow.Array{ints64(4, 5), ints64(1, 2)}, []arrow.Array{ints64(4), ints64(3)})
		}, "r.feather: patient_id 4 is on rows 1 and 3"},
		{"null id in an Arrow rhs", func(t *testing.T, dir string) {
			b := array.NewInt64Builder(memory.DefaultAllocator)
			b.AppendValues([]int64{1, 0}, []bool{true, false})
			ids := b.NewArray()
			b.Release()
			writeArrow(t, dir, "r.feather", false, idOnly, []arrow.Array{ids, ints64(1, 2)})
		}, "r.feather: row 2 has no patient_id"},
		{"no patient_id in an Arrow rhs", func(t *testing.T, dir string) {
			s := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
			writeArrow(t, dir, "r.feather", false, s, []arrow.Array{ints64(1)})
		}, "r.feather: has no patient_id column (its columns are id)"},
		{"patient_id of a type that is not an id", func(t *testing.T, dir string) {
			s := arrow.NewSchema([]arrow.Field{{Name: "patient_id", Type: arrow.FixedWidthTypes.Date32}}, nil)
			writeArrow(t, dir, "r.feather", false, s, []arrow.Array{dates(1)})
		}, "r.feather: the patient_id column has type date32: patient ids must be integers or text"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			lhsFeather(t, dir, "l.feather", false)
			tt.write(t, dir)
			res := runIn(t, context.Background(), dir, "--lhs", "l.feather", "--rhs", "r.feather", "--output-dir", "out")
			if res.err == nil || !strings.Contains(res.err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", res.err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Error("the output folder was made although nothing could be joined")
			}
		})
	}
}

// BenchmarkJoinCSV joins a 200,000-row weekly cohort with a right-hand
// cohort of as many patients.
func BenchmarkJoinCSV(b *testing.B) {
	dir := b.TempDir()
	const n = 200000
	var lhs, rhs strings.Builder
	lhs.WriteString("patient_id,has_sbp_event,sbp_event_code,sbp_date,bmi\n")
	rhs.WriteString("patient_id,ethnicity,sex,region,date_of_death\n")
	for i := range n {
		fmt.Fprintf(&lhs, "%d,1,198081000000101,2020-01-%02d,%d.5\n", (i*7919)%n, i%28+1, 20+i%15)
		fmt.Fprintf(&rhs, "%d,%d,F,\"Region %d, England\",\n", i, i%5, i%9)
	}
	for _, f := range []struct{ rel, text string }{{"output/input_2020-01-01.csv", lhs.String()}, {"output/input_end.csv", rhs.String()}} {
		full := filepath.Join(dir, filepath.FromSlash(f.rel))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(f.text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(lhs.Len() + rhs.Len()))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Run(context.Background(), dir, []string{"--lhs", "output/input_20*.csv", "--rhs", "output/input_end.csv"}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
