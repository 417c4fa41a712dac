package meta

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// cleanDoc is metadata every check passes: each check has something to
// examine, and nothing triggers it.
func cleanDoc() *Document {
	bounds := [2]float64{0, 120}
	return &Document{
		Schema:  SchemaV1,
		Dataset: "apc_test",
		SDC:     DefaultSDC,
		Scrape:  ScrapeInfo{HavenVersion: "test", ScrapedAt: "2025-01-31T10:00:00Z", Percentiles: "exact", Inputs: []string{"apc.csv"}},
		Tables: []Table{{
			Name: "apc", RowsN: 100, EntityKey: "PSEUDO_HESID", RowKey: "EPIKEY",
			Fields: []Field{
				{Name: "PSEUDO_HESID", Type: TypeIdentifier, Identifier: &IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9A-Z]{8}", Scope: "entity"}},
				{Name: "EPIKEY", Type: TypeIdentifier, Identifier: &IdentifierSpec{Kind: "integer", Scope: "row"}},
				{Name: "SEX", Type: TypeCategorical, NullN: 5, Values: []Value{{"1", 50}, {"2", 45}}},
				{Name: "DIAG", Type: TypeCategorical, Values: []Value{{"A01", 20}, {"B02", 30}, {"C03", 25}, {"D04", 25}}},
				{Name: "ADMIDATE", Type: TypeDate, Format: "2006-01-02", CoarsestGrain: GrainYear, Bins: []DateBin{
					{"2021-01-01", "2021-01-01", GrainDay, 5},
					{"2021-01-08", "2021-01-14", GrainWeek, 10},
					{"2021-01-29", "2021-01-31", GrainWeek, 10},
					{"2021-02-01", "2021-02-28", GrainMonth, 15},
					{"2021-04-01", "2021-06-30", GrainQuarter, 20},
					{"2022-01-01", "2022-12-31", GrainYear, 40},
				}},
				{Name: "ADMITIME", Type: TypeDatetime, Bins: []DateBin{{"2021-03-01", "2021-03-31", GrainMonth, 100}},
					Hours: []Value{{"0", 30}, {"13", 70}}},
				{Name: "AGE", Type: TypeInteger, NNonNull: 100, Continuous: &Continuous{Step: 25, Cuts: []float64{30, 50, 70}, Bounds: &bounds}},
				{Name: "COST", Type: TypeFloat, NNonNull: 500, Continuous: &Continuous{Step: 1, Cuts: cuts98(), Decimals: 2}},
				{Name: "NOTES", Type: TypeFreeText, Text: &TextShape{Lengths: []Value{{"12", 50}, {"40", 50}}, Letters: 0.8, Spaces: 0.2}},
			},
			Relationships: []Relationship{{Parent: "PSEUDO_HESID", Child: "EPIKEY", MaxChildren: 10,
				Cardinalities: []CardBin{{Min: 1, Max: 1, N: 40}, {Min: 2, Max: 3, N: 20}, {Min: 4, N: 10}}}},
			Postprocess: &Rules{Derived: []Derived{{Name: "AGEBAND", Kind: DerivedBand, From: "AGE", Edges: []float64{0, 18, 65}, Labels: []string{"0-17", "18-64", "65+"}}}},
		}},
	}
}

// cuts98 returns 98 non-decreasing cut-points with two decimals.
func cuts98() []float64 {
	c := make([]float64, 98)
	for i := range c {
		c[i] = float64(i*3) + 0.25
	}
	return c
}

func field(d *Document, name string) *Field { return d.Tables[0].Field(name) }

func check(rep *ReviewReport, id string) CheckResult {
	for _, c := range rep.Checks {
		if c.ID == id {
			return c
		}
	}
	return CheckResult{}
}

func TestReviewClean(t *testing.T) {
	rep := Review(cleanDoc(), ReviewOptions{})
	if rep.Verdict != VerdictPass || len(rep.Findings) != 0 {
		var b bytes.Buffer
		rep.WriteText(&b)
		t.Fatalf("clean metadata: verdict %s, want PASS\n%s", rep.Verdict, b.String())
	}
	ids := map[string]bool{}
	for _, c := range rep.Checks {
		ids[c.ID] = true
		if c.Verdict != VerdictPass {
			t.Errorf("%s: %s, want PASS", c.ID, c.Verdict)
		}
		if c.Checked == 0 {
			t.Errorf("%s examined nothing in the clean fixture, so the fixture does not exercise it", c.ID)
		}
	}
	for _, id := range []string{"AM1", "AM2", "AM3", "AM4", "AM5", "AM6", "AM7", "AM8", "AM9", "AM10", "AM11", "AM12", "AM13", "AM15", "AM16", "AM17"} {
		if !ids[id] {
			t.Errorf("check %s missing from the report", id)
		}
	}
	if rep.Thresholds.MinCount != 5 || rep.Thresholds.RoundBase != 5 || rep.Thresholds.LongValue != 5 || rep.Thresholds.RareCount != 100 {
		t.Errorf("thresholds %+v, want the document's 5/5 and defaults 5/100", rep.Thresholds)
	}
	if len(rep.Ratios) != 2 || rep.Ratios[0].Field != "DIAG" || rep.Ratios[0].Ratio != 25 || rep.Ratios[1].Ratio != 47.5 {
		t.Errorf("ratios %+v, want DIAG 25 then SEX 47.5 (ascending)", rep.Ratios)
	}
}

// TestReviewChecks: one triggering fixture (at least) per check id, each a
// small change to the clean document.
func TestReviewChecks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    ReviewOptions
		mutate  func(d *Document)
		rule    string
		verdict Verdict
		loc     string // the location of a finding with rule and verdict
		msg     string // a part of its message
	}{
		{"AM1 count below k", ReviewOptions{}, func(d *Document) { field(d, "SEX").Values[1].N = 3 },
			"AM1", VerdictFail, "apc.SEX[2]", "below the minimum count 5"},
		{"AM1 count zero", ReviewOptions{}, func(d *Document) { field(d, "DIAG").Values[0].N = 0 },
			"AM1", VerdictFail, "apc.DIAG[A01]", "reveals a value that was suppressed"},
		{"AM1 unrounded", ReviewOptions{}, func(d *Document) { field(d, "SEX").Values[0].N = 52 },
			"AM1", VerdictFail, "apc.SEX[1]", "not a multiple of the rounding base 5"},
		{"AM1 null_n", ReviewOptions{}, func(d *Document) { field(d, "SEX").NullN = 7 },
			"AM1", VerdictFail, "apc.SEX[null_n]", "null_n 7"},
		{"AM1 n_nonnull", ReviewOptions{}, func(d *Document) { field(d, "AGE").NNonNull = 101 },
			"AM1", VerdictFail, "apc.AGE[n_nonnull]", "n_nonnull 101"},
		{"AM1 rows_n", ReviewOptions{}, func(d *Document) { d.Tables[0].RowsN = 12 },
			"AM1", VerdictFail, "apc[rows_n]", "rows_n 12"},
		{"AM1 date bin", ReviewOptions{}, func(d *Document) { field(d, "ADMIDATE").Bins[0].N = 4 },
			"AM1", VerdictFail, "apc.ADMIDATE[2021-01-01]", "below"},
		{"AM1 hour", ReviewOptions{}, func(d *Document) { field(d, "ADMITIME").Hours[0].N = 31 },
			"AM1", VerdictFail, "apc.ADMITIME[hour 0]", "not a multiple"},
		{"AM1 text length", ReviewOptions{}, func(d *Document) { field(d, "NOTES").Text.Lengths[0].N = 1 },
			"AM1", VerdictFail, "apc.NOTES[length 12]", "below"},
		{"AM1 cardinality", ReviewOptions{}, func(d *Document) { d.Tables[0].Relationships[0].Cardinalities[2].N = 2 },
			"AM1", VerdictFail, "apc.PSEUDO_HESID[rows per entity 4+]", "below"},
		{"AM1 stricter review base", ReviewOptions{RoundBase: 10}, func(d *Document) {},
			"AM1", VerdictFail, "apc.SEX[2]", "not a multiple of the rounding base 10"},
		{"AM1 stricter review k", ReviewOptions{MinCount: 10}, func(d *Document) {},
			"AM1", VerdictFail, "apc.ADMIDATE[2021-01-01]", "below the minimum count 10"},

		{"AM2 identifier with values", ReviewOptions{}, func(d *Document) {
			field(d, "PSEUDO_HESID").Values = []Value{{"TEST1", 5}}
		}, "AM2", VerdictFail, "apc.PSEUDO_HESID", "no field marked identifier may carry values"},
		{"AM2 excluded name", ReviewOptions{}, func(d *Document) {
			d.Tables[0].Fields = append(d.Tables[0].Fields, Field{Name: "NEWNHSNO", Type: TypeCategorical, Values: []Value{{"A1", 5}}})
		}, "AM2", VerdictFail, "apc.NEWNHSNO", "known identifier"},
		{"AM2 nhs_number-like name", ReviewOptions{}, func(d *Document) {
			d.Tables[0].Fields = append(d.Tables[0].Fields, Field{Name: "patient_nhs_number", Type: TypeInteger, NNonNull: 100,
				Continuous: &Continuous{Step: 25, Cuts: []float64{1, 2, 3}}})
		}, "AM2", VerdictFail, "apc.patient_nhs_number", "known identifier"},
		{"AM2 identifier with text", ReviewOptions{}, func(d *Document) {
			field(d, "EPIKEY").Text = &TextShape{Lengths: []Value{{"8", 100}}}
		}, "AM2", VerdictFail, "apc.EPIKEY", "carries values (text)"},

		{"AM3 key not identifier", ReviewOptions{}, func(d *Document) {
			f := field(d, "EPIKEY")
			f.Type, f.Identifier = TypeCategorical, nil
		}, "AM3", VerdictFail, "apc.EPIKEY", "row_key EPIKEY is a field of type \"categorical\""},
		{"AM3 parent not a key", ReviewOptions{}, func(d *Document) { d.Tables[0].Relationships[0].Parent = "SEX" },
			"AM3", VerdictFail, "apc.SEX[relationship]", "relationship parent SEX is neither"},
		{"AM3 no parent", ReviewOptions{}, func(d *Document) { d.Tables[0].Relationships[0].Parent = "" },
			"AM3", VerdictFail, "apc[relationships]", "no parent key"},

		{"AM4 identifier-like ratio", ReviewOptions{}, func(d *Document) {
			d.SDC.MinCount, d.SDC.RoundBase = 1, 1
			field(d, "DIAG").Values = []Value{{"A01", 1}, {"B02", 1}, {"C03", 2}}
		}, "AM4", VerdictReview, "apc.DIAG", "ratio of 1.33"},

		{"AM5 length outlier", ReviewOptions{}, func(d *Document) {
			field(d, "DIAG").Values = append(field(d, "DIAG").Values, Value{"X-12-Y-34-Z", 5})
		}, "AM5", VerdictReview, "apc.DIAG[X-12-Y-34-Z]", "11 characters held by 5 records, far from the field's median length 3"},

		{"AM6 NHS number in a frequency table", ReviewOptions{}, func(d *Document) {
			field(d, "DIAG").Values[0].V = "9434765919"
		}, "AM6", VerdictFail, "apc.DIAG[9434765919]", "an NHS number with a valid check digit in a value of the frequency table, held by 20 records"},
		{"AM6 grouped NHS number", ReviewOptions{}, func(d *Document) {
			field(d, "DIAG").Values[0].V = "943-476-5919"
		}, "AM6", VerdictFail, "apc.DIAG[943-476-5919]", "NHS number"},
		{"AM6 NHS number as a cut-point", ReviewOptions{}, func(d *Document) {
			field(d, "AGE").Continuous.Cuts = []float64{30, 50, 9434765919}
		}, "AM6", VerdictReview, "apc.AGE[9434765919]", "in percentile cut-point 3"},
		{"AM7 e-mail", ReviewOptions{}, func(d *Document) { field(d, "DIAG").Values[1].V = "jo@example.com" },
			"AM7", VerdictFail, "apc.DIAG[jo@example.com]", "an e-mail address"},
		{"AM7 e-mail in a label", ReviewOptions{}, func(d *Document) { d.Tables[0].Postprocess.Derived[0].Labels[0] = "a@b.org" },
			"AM7", VerdictReview, "apc.postprocess.derived[AGEBAND][a@b.org]", "a label of a derived band"},
		{"AM8 postcode", ReviewOptions{}, func(d *Document) { field(d, "DIAG").Values[1].V = "M1 1AE" },
			"AM8", VerdictFail, "apc.DIAG[M1 1AE]", "a UK postcode"},
		{"AM9 phone", ReviewOptions{}, func(d *Document) { field(d, "DIAG").Values[1].V = "020 7946 0958" },
			"AM9", VerdictReview, "apc.DIAG[020 7946 0958]", "a UK phone number"},
		{"AM9 long identifier", ReviewOptions{}, func(d *Document) { field(d, "DIAG").Values[1].V = "9434765918" },
			"AM9", VerdictReview, "apc.DIAG[9434765918]", "a long identifier"},
		{"AM10 letters", ReviewOptions{}, func(d *Document) { field(d, "SEX").Values[0].V = "Female" },
			"AM10", VerdictReview, "apc.SEX[Female]", "letters only"},
		{"AM11 whitespace", ReviewOptions{}, func(d *Document) { field(d, "SEX").Values[0].V = "Not known" },
			"AM11", VerdictReview, "apc.SEX[Not known]", "internal white space"},

		{"AM12 misaligned week", ReviewOptions{}, func(d *Document) {
			field(d, "ADMIDATE").Bins[1] = DateBin{"2021-01-09", "2021-01-15", GrainWeek, 10}
		}, "AM12", VerdictFail, "apc.ADMIDATE[2021-01-09..2021-01-15]", "is not one week"},
		{"AM12 overlap", ReviewOptions{}, func(d *Document) {
			f := field(d, "ADMIDATE")
			f.Bins = append(f.Bins, DateBin{"2021-01-01", "2021-01-31", GrainMonth, 10})
		}, "AM12", VerdictFail, "apc.ADMIDATE[2021-01-08..2021-01-14]", "overlaps bin 2021-01-01..2021-01-31"},
		{"AM12 coarser than allowed", ReviewOptions{}, func(d *Document) { field(d, "ADMIDATE").CoarsestGrain = GrainMonth },
			"AM12", VerdictFail, "apc.ADMIDATE[2021-04-01..2021-06-30]", "coarser than the field's coarsest_grain month"},
		{"AM12 bad date", ReviewOptions{}, func(d *Document) { field(d, "ADMIDATE").Bins[0].End = "2021-02-30" },
			"AM12", VerdictFail, "apc.ADMIDATE[2021-01-01..2021-02-30]", "not two dates"},
		{"AM12 day bin of two days", ReviewOptions{}, func(d *Document) { field(d, "ADMIDATE").Bins[0].End = "2021-01-02" },
			"AM12", VerdictFail, "apc.ADMIDATE[2021-01-01..2021-01-02]", "a day bin starts and ends on the same day"},
		{"AM12 quarter misaligned", ReviewOptions{}, func(d *Document) {
			field(d, "ADMIDATE").Bins[4] = DateBin{"2021-03-01", "2021-05-31", GrainQuarter, 20}
		}, "AM12", VerdictFail, "apc.ADMIDATE[2021-03-01..2021-05-31]", "quarter"},
		{"AM12 hour out of range", ReviewOptions{}, func(d *Document) { field(d, "ADMITIME").Hours[1].V = "24" },
			"AM12", VerdictFail, "apc.ADMITIME[hour 24]", "not an hour of the day"},
		{"AM12 unknown grain", ReviewOptions{}, func(d *Document) { field(d, "ADMIDATE").Bins[3].Grain = "fortnight" },
			"AM12", VerdictFail, "apc.ADMIDATE[2021-02-01..2021-02-28]", "not a grain"},

		{"AM13 decreasing", ReviewOptions{}, func(d *Document) { field(d, "AGE").Continuous.Cuts = []float64{30, 70, 50} },
			"AM13", VerdictFail, "apc.AGE[cut 3]", "must not decrease"},
		{"AM13 count", ReviewOptions{}, func(d *Document) { field(d, "AGE").Continuous.Cuts = []float64{30, 50} },
			"AM13", VerdictFail, "apc.AGE[cuts]", "2 cut-points at step 25, want 3"},
		{"AM13 step 1 count", ReviewOptions{}, func(d *Document) { c := field(d, "COST").Continuous; c.Cuts = c.Cuts[:97] },
			"AM13", VerdictFail, "apc.COST[cuts]", "want 98"},
		{"AM13 resolution", ReviewOptions{}, func(d *Document) { field(d, "AGE").NNonNull = 10 },
			"AM13", VerdictFail, "apc.AGE[step]", "fewer than percentile_min_per_bin 5"},
		{"AM13 unrounded", ReviewOptions{}, func(d *Document) { field(d, "COST").Continuous.Cuts[97] = 291.257 },
			"AM13", VerdictFail, "apc.COST[cut 98]", "more than 2 decimals"},
		{"AM13 bad step", ReviewOptions{}, func(d *Document) { field(d, "AGE").Continuous.Step = 20 },
			"AM13", VerdictFail, "apc.AGE[step]", "not a percentile resolution"},
		{"AM13 NaN", ReviewOptions{}, func(d *Document) { field(d, "AGE").Continuous.Cuts[1] = math.NaN() },
			"AM13", VerdictFail, "apc.AGE[cut 2]", "not a number"},

		{"AM15 not top-coded", ReviewOptions{}, func(d *Document) { d.Tables[0].Relationships[0].Cardinalities[2].Max = 9 },
			"AM15", VerdictFail, "apc.PSEUDO_HESID[relationship]", "not top-coded"},
		{"AM15 overlap", ReviewOptions{}, func(d *Document) { d.Tables[0].Relationships[0].Cardinalities[1].Min = 1 },
			"AM15", VerdictFail, "apc.PSEUDO_HESID[rows per entity 1-3]", "overlaps"},
		{"AM15 open bin not last", ReviewOptions{}, func(d *Document) {
			r := &d.Tables[0].Relationships[0]
			r.Cardinalities = []CardBin{{Min: 1, N: 40}, {Min: 2, Max: 3, N: 20}}
		}, "AM15", VerdictFail, "apc.PSEUDO_HESID[rows per entity 1+]", "not the last bin"},
		{"AM15 no bins", ReviewOptions{}, func(d *Document) { d.Tables[0].Relationships[0].Cardinalities = nil },
			"AM15", VerdictFail, "apc.PSEUDO_HESID[relationship]", "no cardinality bins"},
		{"AM15 max_children", ReviewOptions{}, func(d *Document) { d.Tables[0].Relationships[0].MaxChildren = 3 },
			"AM15", VerdictFail, "apc.PSEUDO_HESID[relationship]", "max_children 3 is below the open top bin's 4"},

		{"AM16 review k below scrape", ReviewOptions{MinCount: 3}, func(d *Document) {},
			"AM16", VerdictError, "review_min_count", "review_min_count 3 is below the scrape's 5"},
		{"AM16 review base below scrape", ReviewOptions{RoundBase: 2}, func(d *Document) {},
			"AM16", VerdictError, "review_round_base", "below the scrape's 5"},
		{"AM16 negative", ReviewOptions{MinCount: -1}, func(d *Document) {},
			"AM16", VerdictError, "review_min_count", "must be at least 1"},
		{"AM16 invalid sdc", ReviewOptions{}, func(d *Document) { d.SDC.RoundBase = 0 },
			"AM16", VerdictError, "sdc", "sdc.round_base is 0"},

		{"AM17 no type", ReviewOptions{}, func(d *Document) { field(d, "DIAG").Type = "" },
			"AM17", VerdictFail, "apc.DIAG", "no declared type"},
		{"AM17 unknown type", ReviewOptions{}, func(d *Document) { field(d, "DIAG").Type = "text" },
			"AM17", VerdictFail, "apc.DIAG", `type "text" is not a field type`},
		{"AM17 free text with values", ReviewOptions{}, func(d *Document) {
			field(d, "NOTES").Values = []Value{{"x", 5}}
		}, "AM17", VerdictFail, "apc.NOTES", "free-text field carries values (values)"},
		{"AM17 parts of another type", ReviewOptions{}, func(d *Document) {
			field(d, "SEX").Bins = []DateBin{{"2021-01-01", "2021-01-01", GrainDay, 5}}
		}, "AM17", VerdictFail, "apc.SEX", "a categorical field carries bins"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := cleanDoc()
			tc.mutate(d)
			rep := Review(d, tc.opts)
			var found bool
			for _, f := range rep.Findings {
				if f.Rule == tc.rule && f.Verdict == tc.verdict && f.Location == tc.loc && strings.Contains(f.Message, tc.msg) {
					found = true
					if f.Hint == "" {
						t.Errorf("finding %s has no fix hint", f.Key())
					}
				}
			}
			if !found {
				var b bytes.Buffer
				rep.WriteText(&b)
				t.Fatalf("no %s %s finding at %s saying %q:\n%s", tc.verdict, tc.rule, tc.loc, tc.msg, b.String())
			}
			if c := check(rep, tc.rule); c.Verdict.severity() < tc.verdict.severity() {
				t.Errorf("check %s is %s, want at least %s", tc.rule, c.Verdict, tc.verdict)
			}
			if rep.Verdict.severity() < tc.verdict.severity() {
				t.Errorf("overall verdict %s, want at least %s", rep.Verdict, tc.verdict)
			}
		})
	}
}

func TestReviewDoesNotModify(t *testing.T) {
	d := cleanDoc()
	field(d, "DIAG").Values[0].V = "9434765919"
	before, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	Review(d, ReviewOptions{MinCount: 10, RoundBase: 10})
	after, _ := Encode(d)
	if !bytes.Equal(before, after) {
		t.Error("Review modified the document")
	}
}

func TestReviewVerdicts(t *testing.T) {
	// Only REVIEW findings: the verdict is REVIEW and nothing blocks.
	d := cleanDoc()
	field(d, "SEX").Values[0].V = "Female"
	field(d, "SEX").Values[1].V = "Not known"
	rep := Review(d, ReviewOptions{})
	if rep.Verdict != VerdictReview || len(rep.Blocking()) != 0 || rep.Counts.Review != 2 {
		t.Fatalf("verdict %s, %d blocking, counts %+v; want REVIEW, 0, 2 REVIEW", rep.Verdict, len(rep.Blocking()), rep.Counts)
	}
	if got := strings.Join(rep.Acknowledgements(), "|"); got != "AM10 apc.SEX[Female]|AM11 apc.SEX[Not known]" {
		t.Errorf("acknowledgements %q", got)
	}
	// FAIL outranks ERROR, which outranks REVIEW.
	field(d, "SEX").NullN = 3
	if rep := Review(d, ReviewOptions{MinCount: 1}); rep.Verdict != VerdictFail || rep.Counts.Error != 1 || rep.Counts.Fail != 1 {
		t.Errorf("verdict %s counts %+v, want FAIL with 1 FAIL and 1 ERROR", rep.Verdict, rep.Counts)
	}
	if rep := Review(cleanDoc(), ReviewOptions{MinCount: 1}); rep.Verdict != VerdictError {
		t.Errorf("verdict %s, want ERROR", rep.Verdict)
	}
	// Nil document: an ERROR, no panic.
	if rep := Review(nil, ReviewOptions{}); rep.Verdict != VerdictError {
		t.Errorf("nil document: verdict %s, want ERROR", rep.Verdict)
	}
}

func TestReviewIdentifierSpecOnlyPasses(t *testing.T) {
	d := cleanDoc()
	d.Tables[0].Fields = append(d.Tables[0].Fields, Field{Name: "NHS_NUMBER", Type: TypeIdentifier,
		Identifier: &IdentifierSpec{Kind: "pattern", Pattern: "TEST[0-9]{6}", Scope: "entity"}})
	if rep := Review(d, ReviewOptions{}); rep.Verdict != VerdictPass {
		t.Errorf("a regenerated NHS_NUMBER identifier with no values: verdict %s, want PASS", rep.Verdict)
	}
}

func TestExcludedIdentifierName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"NHS_NUMBER", true}, {"nhs_number", true}, {"NhsNumber", true}, {"NEWNHSNO", true},
		{"HESID", true}, {"hes_id", true}, {"PREFERER", true}, {"patient_id", true}, {"TOKEN_PERSON_ID", true},
		{"PSEUDO_HESID", false}, {"SEX", false}, {"ATTENDKEY", false}, {"", false},
	} {
		if got := IsExcludedIdentifierName(tc.name); got != tc.want {
			t.Errorf("IsExcludedIdentifierName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCutCount(t *testing.T) {
	for step, want := range map[int]int{1: 98, 5: 19, 10: 9, 25: 3, 0: 0} {
		if got := CutCount(step); got != want {
			t.Errorf("CutCount(%d) = %d, want %d", step, got, want)
		}
	}
}

func TestReviewText(t *testing.T) {
	d := cleanDoc()
	field(d, "DIAG").Values[0].V = "9434765919"
	field(d, "DIAG").Values[1].V = "SW1A 1AA"
	field(d, "DIAG").Values[2].V = "jo@example.com"
	rep := Review(d, ReviewOptions{})
	rep.Metadata = "apc.json"
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"review of apc.json (dataset apc_test)\n",
		"AM1   PASS    released counts are at least 5 and multiples of 5 (",
		"AM6   FAIL    no NHS numbers (10 digits with a valid modulus-11 check digit) (",
		"FAIL    AM6   apc.DIAG[9434765919]: an NHS number with a valid check digit in a value of the frequency table, held by 20 records. Fix: ",
		"FAIL    AM8   apc.DIAG[SW1A 1AA]: a UK postcode",
		"FAIL    AM7   apc.DIAG[jo@example.com]: an e-mail address",
		"REVIEW  AM11  apc.DIAG[SW1A 1AA]: internal white space",
		"\nFAIL: 3 FAIL, 0 ERROR and 2 REVIEW findings (AM6, AM7, AM8); the metadata cannot be approved",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// One line per check.
	for _, c := range rep.Checks {
		if n := strings.Count(out, "\n"+c.ID+" "); n != 1 && !strings.HasPrefix(out, c.ID+" ") {
			t.Errorf("check %s has %d lines", c.ID, n)
		}
	}
}

func TestReviewJSON(t *testing.T) {
	d := cleanDoc()
	field(d, "SEX").Values[0].V = "Female"
	rep := Review(d, ReviewOptions{})
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Schema   string `json:"schema"`
		Verdict  string `json:"verdict"`
		Findings []struct {
			Rule, Verdict, Location string
			Evidence                map[string]any
		} `json:"findings"`
		Checks []struct{ ID string } `json:"checks"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Schema != ReviewSchemaV1 || got.Verdict != "REVIEW" || len(got.Checks) != 16 || len(got.Findings) != 1 ||
		got.Findings[0].Location != "apc.SEX[Female]" || got.Findings[0].Evidence["pattern"] != PatternLetters {
		t.Errorf("JSON report: %+v\n%s", got, b.String())
	}
}

func TestShowValue(t *testing.T) {
	for in, want := range map[string]string{
		"A01":                   "A01",
		"a]b":                   `"a]b"`,
		"":                      `""`,
		"x\ny":                  `"x\ny"`,
		"\xff":                  `"\xff"`,
		strings.Repeat("a", 70): strings.Repeat("a", 60) + "…",
	} {
		if got := showValue(in); got != want {
			t.Errorf("showValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReview decodes arbitrary metadata and reviews and renders it: no
// input may panic, and the report's verdict is the worst of its checks.
func FuzzReview(f *testing.F) {
	b, _ := Encode(cleanDoc())
	f.Add(b)
	f.Add([]byte(`{"schema":"haven.artificial.metadata/v1","sdc":{"min_count":5,"round_base":5},"tables":[{"name":"t","fields":[{"name":"a","type":"date","bins":[{"start":"2021-02-29","end":"x","grain":"week","n":-1}],"hours":[{"v":"99","n":1}]},{"name":"b","type":"integer","continuous":{"step":0,"cuts":[1e308,-1e308],"decimals":-4}}],"relationships":[{"parent":"","cardinalities":[{"min":0,"max":-1,"n":0}]}]}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Decode("fuzz.json", raw)
		if err != nil {
			return
		}
		rep := Review(d, ReviewOptions{})
		worst := VerdictPass
		for _, c := range rep.Checks {
			worst = worseVerdict(worst, c.Verdict)
		}
		if rep.Verdict != worst {
			t.Fatalf("verdict %s, worst check %s", rep.Verdict, worst)
		}
		var out bytes.Buffer
		if err := WriteHTML(&out, d, rep); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteText(&out); err != nil {
			t.Fatal(err)
		}
	})
}
