package disclosure

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// survivalFindings lists a report's S findings other than PASS notes as
// "RULE VERDICT row,column" strings, sorted.
func survivalFindings(fr FileReport) []string {
	var out []string
	for _, f := range fr.Findings {
		if f.Verdict == Pass || !strings.HasPrefix(f.Rule, "S") {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %d,%s", f.Rule, f.Verdict, f.Row, f.Column))
	}
	sort.Strings(out)
	return out
}

func checkSurvivalFixture(t *testing.T, file, profile string) FileReport {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "survival", file))
	if err != nil {
		t.Fatal(err)
	}
	return CheckFile(file, data, Options{Profile: mustProfile(t, profile)})
}

func logFindings(t *testing.T, fr FileReport) {
	t.Helper()
	for _, c := range fr.Columns {
		t.Logf("column %q: %s, %s confidence, signals %v", c.Name, c.Class, c.Confidence, c.Signals)
	}
	for _, f := range fr.Findings {
		t.Logf("finding %s %s row %d column %q: %s %v", f.Rule, f.Verdict, f.Row, f.Column, f.Message, f.Evidence)
	}
}

// TestSurvivalRules holds every survival fixture to its exact S findings:
// each of S1, S2 and S3 has true positives and near misses that must not
// fire.
func TestSurvivalRules(t *testing.T) {
	tests := []struct {
		desc, file, profile string
		want                []string
	}{
		// S1
		{"S1: 2 events + 1 censored at day 60 is below 8", "s1_km_small_step.csv", "opensafely",
			[]string{"S1 FAIL 3,n_event"}},
		{"S1: the same step is below 10", "s1_km_small_step.csv", "acro",
			[]string{"S1 FAIL 3,n_event"}},
		{"S1: a midpoint-6 step of 3 (true 1-6) is for a person; a 9 (true 7-12) passes", "s1_midpoint6_three.csv", "opensafely",
			[]string{"S1 REVIEW 3,n_event_midpoint6"}},
		{"S1 near miss: monthly steps that each remove at least 20 people", "s1_nearmiss_monthly.csv", "opensafely", nil},
		{"S1 near miss: a step of exactly min_step (7 + 3 = 10) passes", "s1_nearmiss_exactly_min_step.csv", "acro", nil},
		{"S1: per stratum; the control curve is not compared with the treated one", "s1_stratified.csv", "opensafely",
			[]string{"S1 FAIL 3,n_event"}},
		{"S1: a rounded risk set falling by 5 (true 1-9) may hide fewer than 8", "s1_risk_set_only.csv", "opensafely",
			[]string{"S1 REVIEW 2,n_risk"}},
		{"S1: a rounded risk set falling by 5 (true 1-9) is below 10 whatever the rounding", "s1_risk_set_only.csv", "acro",
			[]string{"S1 FAIL 2,n_risk"}},
		// S2
		{"S2: a risk set shown exactly", "s2_unrounded_risk_set.csv", "acro",
			[]string{"S2 REVIEW 0,n_risk"}},
		{"S2 near miss: the risk set rounded to 5", "s2_nearmiss_rounded_risk_set.csv", "acro", nil},
		{"S2 near miss: midpoint-6 labels in a _midpoint6 risk set", "s1_midpoint6_three.csv", "acro",
			[]string{"S1 REVIEW 3,n_event_midpoint6", "S1 REVIEW 5,n_event_midpoint6"}},
		// S3
		{"S3: 60 weekly steps in one curve", "s3_sixty_steps.csv", "opensafely",
			[]string{"S3 REVIEW 0,days"}},
		{"S3 near miss: 50 weekly steps", "s3_nearmiss_fifty_steps.csv", "opensafely", nil},
		{"S3: daily steps of 10, under twice the minimum of 8", "s3_daily_near_threshold.csv", "opensafely",
			[]string{"S3 REVIEW 0,days"}},
		{"S3 near miss: daily steps of 20", "s3_nearmiss_daily_large_steps.csv", "opensafely", nil},
		{"S3 near miss: steps of 10 a week apart", "s3_nearmiss_weekly_steps.csv", "opensafely", nil},
		{"S3 with acro: daily steps of 10 meet min_step but are under 20", "s3_daily_near_threshold.csv", "acro",
			[]string{"S3 REVIEW 0,days"}},
		// Not life tables.
		{"not a life table: time of day with counts", "nonsurv_time_of_day.csv", "opensafely", nil},
		{"not a life table: an at-risk population that grows (incidence by year)", "nonsurv_incidence_by_year.csv", "opensafely", nil},
		{"not a life table: a risk ratio is not a risk set", "nonsurv_risk_ratio.csv", "opensafely", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.profile, func(t *testing.T) {
			fr := checkSurvivalFixture(t, tt.file, tt.profile)
			got := survivalFindings(fr)
			if !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("%s\nS findings:\n got %q\nwant %q", tt.desc, got, tt.want)
				logFindings(t, fr)
			}
		})
	}
}

// The S1 finding says where the step is, how many left, and how to fix
// it, and its evidence holds the numbers behind it.
func TestSurvivalS1Message(t *testing.T) {
	fr := checkSurvivalFixture(t, "s1_km_small_step.csv", "opensafely")
	var f *Finding
	for i := range fr.Findings {
		if fr.Findings[i].Rule == "S1" {
			f = &fr.Findings[i]
		}
	}
	if f == nil {
		t.Fatal("no S1 finding")
	}
	for _, want := range []string{"time 60 (row 3)", "only 3 leave the risk set", "n_event 2 + n_censor 1", "fewer than 8"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q does not say %q", f.Message, want)
		}
	}
	if !strings.Contains(f.Hint, "coarsen the time steps") || !strings.Contains(f.Hint, "at least 8 people") {
		t.Errorf("hint %q does not say how to fix the step", f.Hint)
	}
	if f.Evidence["leaving"] != 3.0 || f.Evidence["events"] != 2.0 || f.Evidence["censored"] != 1.0 || f.Evidence["min_step"] != 8 || f.Evidence["time"] != "60" {
		t.Errorf("evidence %v", f.Evidence)
	}
	if len(f.Cells) != 1 || f.Cells[0] != (Cell{Row: 3, Col: 4, Column: "n_censor"}) {
		t.Errorf("cells %v, want the censored cell (3, n_censor)", f.Cells)
	}
	if f.Col != 3 || f.Confidence != High {
		t.Errorf("col %d confidence %q, want column 3 with high confidence", f.Col, f.Confidence)
	}
}

// S2 names the rows whose risk set is not rounded.
func TestSurvivalS2Evidence(t *testing.T) {
	fr := checkSurvivalFixture(t, "s2_unrounded_risk_set.csv", "acro")
	for _, f := range fr.Findings {
		if f.Rule != "S2" {
			continue
		}
		if rows, _ := f.Evidence["rows"].([]int); !reflect.DeepEqual(rows, []int{1, 2, 3, 4, 5}) {
			t.Errorf("rows %v, want 1-5", f.Evidence["rows"])
		}
		if !strings.Contains(f.Message, "5 of 5 values are not multiples of 5") || !strings.Contains(f.Hint, "round the risk set to the nearest 5") {
			t.Errorf("message %q, hint %q", f.Message, f.Hint)
		}
		return
	}
	t.Fatal("no S2 finding")
}

// A long daily table with a small step everywhere lists MaxCellFindings
// of them and counts the rest in one more finding; S2 caps its row list
// the same way.
func TestSurvivalCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("time,n_risk,n_event,n_censor\n")
	n, unrounded := 1003, 0
	for i := range 40 {
		fmt.Fprintf(&b, "%d,%d,2,1\n", 30*i, n)
		if n%5 != 0 {
			unrounded++
		}
		n -= 3
	}
	fr := CheckFile("long.csv", []byte(b.String()), Options{Profile: mustProfile(t, "acro")})
	cells, more := 0, 0
	for _, f := range fr.Findings {
		switch {
		case f.Rule == "S1" && f.Row > 0:
			cells++
		case f.Rule == "S1":
			more++
			if f.Evidence["more_cells"] != 15 {
				t.Errorf("overflow finding counts %v more cells, want 15", f.Evidence["more_cells"])
			}
		case f.Rule == "S2":
			if rows := f.Evidence["rows"].([]int); len(rows) != MaxCellFindings || f.Evidence["more_rows"] != unrounded-MaxCellFindings {
				t.Errorf("S2 lists %d rows and %v more, want %d and %d", len(rows), f.Evidence["more_rows"], MaxCellFindings, unrounded-MaxCellFindings)
			}
		}
	}
	if cells != MaxCellFindings || more != 1 {
		t.Errorf("%d S1 cell findings and %d overflow findings, want %d and 1", cells, more, MaxCellFindings)
		logFindings(t, fr)
	}
}

// A site profile without survival_min_step uses min_count.
func TestSurvivalMinStepDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site.yaml")
	profile := "name: site\nmin_count: 12\nrounding: {required: false, base: 5, midpoint6: false}\nzeros: review\nendpoints: review\nredaction_token: \"[REDACTED]\"\n"
	if err := os.WriteFile(path, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "survival", "s1_nearmiss_exactly_min_step.csv"))
	if err != nil {
		t.Fatal(err)
	}
	got := survivalFindings(CheckFile("t.csv", data, Options{Profile: p}))
	// Steps of 10, 20 and 14 people: only 10 (row 2) is below 12.
	if want := []string{"S1 FAIL 2,n_event"}; !reflect.DeepEqual(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}
