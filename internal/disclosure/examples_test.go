package disclosure

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

func mustProfile(t testing.TB, name string) *Profile {
	t.Helper()
	p, err := LoadProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// nonPass lists a report's findings other than PASS notes as
// "RULE VERDICT row,column" strings, sorted.
func nonPass(fr FileReport) []string {
	var out []string
	for _, f := range fr.Findings {
		if f.Verdict == Pass {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %d,%s", f.Rule, f.Verdict, f.Row, f.Column))
	}
	sort.Strings(out)
	return out
}

// The worked examples of the disclosure spec (section 11), with the
// findings each must produce and nothing else.
func TestWorkedExamples(t *testing.T) {
	tests := []struct {
		file, profile string
		context       *Context
		want          []string
		verdict       Verdict
	}{
		{"ex1.csv", "opensafely", nil, []string{"C1 FAIL 3,patients"}, Fail},
		{"ex1.csv", "ukllc", nil, []string{"C1 FAIL 3,patients", "C2 FAIL 4,patients"}, Fail},
		{"ex2.csv", "acro", nil, []string{"T2 FAIL 2,female"}, Fail},
		{"ex2b.csv", "opensafely", nil, []string{"T5 REVIEW 2,total"}, Review},
		{"ex3.csv", "opensafely", nil, []string{"C3 FAIL 1,vaccinated", "C3 FAIL 3,vaccinated"}, Fail},
		{"ex4.csv", "opensafely", nil, []string{"C4 FAIL 2,new_diagnoses"}, Fail},
		{"ex5.csv", "opensafely", nil, nil, Pass},
		{"ex5b.csv", "opensafely", nil, []string{
			"C1 REVIEW 1,cases", "C3 REVIEW 2,cases", "C3 REVIEW 1,controls", "C3 REVIEW 2,controls", "C3 REVIEW 3,controls",
			"C3 REVIEW 1,total", "C3 REVIEW 2,total", "C3 REVIEW 3,total",
			"C7 REVIEW 0,cases", "C7 REVIEW 0,controls", "C7 REVIEW 0,total",
		}, Review},
		{"ex6.csv", "opensafely", nil, []string{"R4 REVIEW 0,positivity_percent"}, Review},
		{"ex7.csv", "opensafely", nil, []string{"R3 FAIL 1,percent", "R3 FAIL 2,percent", "R3 FAIL 3,percent"}, Fail},
		{"ex8.csv", "opensafely", nil, []string{"D1 REVIEW 0,"}, Review},
		{"ex10.csv", "opensafely", nil, nil, Pass},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.profile, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "examples", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			fr := CheckFile(tt.file, data, Options{Profile: mustProfile(t, tt.profile), Context: tt.context})
			got := nonPass(fr)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("findings:\n got %q\nwant %q", got, want)
				for _, c := range fr.Columns {
					t.Logf("column %s: %s %s %v", c.Name, c.Class, c.Confidence, c.Signals)
				}
			}
			if fr.Verdict != tt.verdict {
				t.Errorf("verdict %s, want %s", fr.Verdict, tt.verdict)
			}
		})
	}
}

// Example 9: differencing across two files of one request.
func TestWorkedExampleDifferencing(t *testing.T) {
	tests := []struct {
		dir, profile string
		want         Verdict
	}{
		{"ex9", "acro", Fail},
		{"ex9r", "opensafely", Review},
	}
	for _, tt := range tests {
		inputs, err := Expand([]string{filepath.Join("testdata", "examples", tt.dir)})
		if err != nil {
			t.Fatal(err)
		}
		r := Check(inputs, Options{Profile: mustProfile(t, tt.profile)}, "test")
		if len(r.Files) != 2 {
			t.Fatalf("%d files", len(r.Files))
		}
		for _, f := range r.Files {
			got := nonPass(f)
			want := []string{fmt.Sprintf("X1 %s 1,admissions", tt.want)}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s: findings %q, want %q", tt.profile, f.Path, got, want)
			}
		}
		if r.RequestVerdict != tt.want {
			t.Errorf("%s: request verdict %s, want %s", tt.profile, r.RequestVerdict, tt.want)
		}
	}
}
