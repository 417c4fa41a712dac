package disclosure

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ctlProfile loads a built-in profile for the control tests.
func ctlProfile(t testing.TB, name string) *Profile {
	t.Helper()
	p, err := LoadProfile(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// unsafeRules are the rules whose FAIL a control must never leave behind.
var unsafeRules = []string{"C1", "C3", "C4", "T2", "T3"}

// failures lists a checked output's FAIL findings of the given rules.
func failures(t testing.TB, out []byte, p *Profile, rules ...string) []string {
	t.Helper()
	fr := CheckFile("out.csv", out, Options{Profile: p, IgnoreLimits: true})
	var bad []string
	for _, f := range fr.Findings {
		if f.Verdict == Fail && slices.Contains(rules, f.Rule) {
			bad = append(bad, fmt.Sprintf("%s at %s: %s", f.Rule, f.Location(), f.Message))
		}
	}
	return bad
}

// records splits CSV bytes into records, for comparing cells.
func records(t testing.TB, data []byte) [][]string {
	t.Helper()
	recs, _, err := splitRecords(strings.TrimPrefix(string(data), "\xef\xbb\xbf"))
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, data)
	}
	return recs
}

// checkAudit fails unless the audit lists exactly the cells (and headers)
// that differ between in and out, with their before and after texts.
func checkAudit(t testing.TB, in, out []byte, audit []AuditEntry) {
	t.Helper()
	a, b := records(t, in), records(t, out)
	if len(a) != len(b) {
		t.Fatalf("the output has %d records, the input %d", len(b), len(a))
	}
	type key struct {
		row int
		col string
	}
	want := map[key][2]string{}
	for r := range a {
		if len(a[r]) != len(b[r]) {
			t.Fatalf("record %d has %d fields, the input %d", r, len(b[r]), len(a[r]))
		}
		for c := range a[r] {
			if a[r][c] != b[r][c] {
				want[key{r, strings.TrimSpace(a[0][c])}] = [2]string{strings.TrimSpace(a[r][c]), strings.TrimSpace(b[r][c])}
			}
		}
	}
	got := map[key][2]string{}
	for _, e := range audit {
		k := key{e.Row, e.Column}
		if _, dup := got[k]; dup {
			t.Errorf("the audit lists row %d, column %s twice", e.Row, e.Column)
		}
		if e.Reason == "" {
			t.Errorf("the audit entry for row %d, column %s has no reason", e.Row, e.Column)
		}
		got[k] = [2]string{e.Before, e.After}
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("row %d, column %s changed (%q -> %q) but is not in the audit", k.row, k.col, w[0], w[1])
		} else if g != w {
			t.Errorf("row %d, column %s: the audit says %q -> %q, the files %q -> %q", k.row, k.col, g[0], g[1], w[0], w[1])
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("the audit lists row %d, column %s (%q -> %q) but the cell did not change", k.row, k.col, g[0], g[1])
		}
	}
}

func TestRoundTables(t *testing.T) {
	tests := []struct {
		name, profile string
		opts          ControlOptions
		in, want      string
	}{
		{
			name: "spec example 1", profile: "opensafely",
			in:   "age_band,patients\n18-39,125\n40-59,240\n60-79,6\n80+,0\n",
			want: "age_band,patients\n18-39,125\n40-59,240\n60-79,[REDACTED]\n80+,0\n",
		},
		{
			name: "spec example 1, zeros fail", profile: "ukllc",
			in:   "age_band,patients\n18-39,125\n40-59,240\n60-79,6\n80+,0\n",
			want: "age_band,patients\n18-39,125\n40-59,240\n60-79,[REDACTED]\n80+,[REDACTED]\n",
		},
		{
			name: "spec example 3", profile: "opensafely",
			in:   "region,registered,vaccinated\nEast,48210,31544\nLondon,51975,30125\nNorth West,39870,26651\n",
			want: "region,registered,vaccinated\nEast,48210,31545\nLondon,51975,30125\nNorth West,39870,26650\n",
		},
		{
			name: "half up, and 8 becomes 10", profile: "opensafely",
			in:   "group,n\na,8\nb,12\nc,13\nd,7\ne,2\n",
			want: "group,n\na,10\nb,10\nc,15\nd,[REDACTED]\ne,[REDACTED]\n",
		},
		{
			name: "a total column and a total row become sums of the displayed cells", profile: "opensafely",
			in:   "ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,3,41,44\nAsian,302,288,590\nTotal,1515,1514,3029\n",
			want: "ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,[REDACTED],40,40\nAsian,300,290,590\nTotal,1510,1515,3025\n",
		},
		{
			name: "a rate is recomputed from the rounded counts, and redacted with them", profile: "opensafely",
			in:   "group,events,population,percent\nA,13,200,6.5\nB,52,1003,5.18\nC,5,400,1.25\n",
			want: "group,events,population,percent\nA,15,200,7.5\nB,50,1005,4.98\nC,[REDACTED],400,[REDACTED]\n",
		},
		{
			name: "percent shares are recomputed from the rounded counts (spec example 7)", profile: "opensafely",
			in:   "vaccine_status,n,percent\nUnvaccinated,1238,24.29\nOne dose,861,16.90\nTwo doses,2997,58.81\n",
			want: "vaccine_status,n,percent\nUnvaccinated,1240,24.34\nOne dose,860,16.88\nTwo doses,2995,58.78\n",
		},
		{
			name: "named columns only", profile: "opensafely", opts: ControlOptions{Columns: []string{"vaccinated"}},
			in:   "region,registered,vaccinated\nEast,48211,31544\n",
			want: "region,registered,vaccinated\nEast,48211,31545\n",
		},
		{
			name: "threshold, base and token overrides", profile: "acro", opts: ControlOptions{Threshold: 4, Base: 10, Token: "suppressed"},
			in:   "group,n\na,4\nb,5\nc,14\nd,15\n",
			want: "group,n\na,suppressed\nb,10\nc,10\nd,20\n",
		},
		{
			name: "raw text kept, quoting only where needed, \\n endings, no thousands separators", profile: "opensafely",
			in:   "\"region\",\"n\", note \r\n\"North, East\",\"1,000\",\"said \"\"hi\"\"\"\r\n\"South\",\"1,234\",x\r\n",
			want: "region,n, note \n\"North, East\",\"1,000\",\"said \"\"hi\"\"\"\nSouth,1235,x\n",
		},
		{
			name: "an ehrQL measures ratio printed at full precision is recomputed at full precision", profile: "opensafely",
			in:   "measure,interval_start,interval_end,ratio,numerator,denominator,region\nm,2024-01-01,2024-01-31,0.2510460251046025,120,478,East\nm,2024-01-01,2024-01-31,0.16279069767441862,35,215,London\n",
			want: "measure,interval_start,interval_end,ratio,numerator,denominator,region\nm,2024-01-01,2024-01-31,0.25,120,480,East\nm,2024-01-01,2024-01-31,0.16279069767441862,35,215,London\n",
		},
		{
			name: "a byte-order mark and % signs are kept", profile: "opensafely",
			in:   "\xef\xbb\xbfgroup,n,pct\na,13,13.0%\nb,87,87.0%\n",
			want: "\xef\xbb\xbfgroup,n,pct\na,15,15.0%\nb,85,85.0%\n",
		},
		{
			name: "a long table's total rows sum their own group", profile: "opensafely",
			in:   "age,sex,n\n0-39,F,101\n0-39,M,99\n0-39,All,200\n40+,F,52\n40+,M,48\n40+,All,100\n",
			want: "age,sex,n\n0-39,F,100\n0-39,M,100\n0-39,All,200\n40+,F,50\n40+,M,50\n40+,All,100\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ctlProfile(t, tt.profile)
			o := tt.opts
			o.Profile = p
			out, audit, err := Round([]byte(tt.in), o)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("Round:\n got %q\nwant %q", out, tt.want)
			}
			checkAudit(t, []byte(tt.in), out, audit)
			if tt.opts.Threshold == 0 && tt.opts.Base == 0 && len(tt.opts.Columns) == 0 {
				if bad := failures(t, out, p, append(unsafeRules, "R1", "R3")...); len(bad) > 0 {
					t.Errorf("the output fails the check:\n%s\n%s", strings.Join(bad, "\n"), out)
				}
			}
		})
	}
}

func TestRoundAuditReasons(t *testing.T) {
	in := "ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,3,41,44\n"
	_, audit, err := Round([]byte(in), ControlOptions{Profile: ctlProfile(t, "opensafely")})
	if err != nil {
		t.Fatal(err)
	}
	want := []AuditEntry{
		{Row: 2, Column: "female", Before: "3", After: "[REDACTED]", Reason: "redacted: 3 is at or below 7"},
		{Row: 2, Column: "male", Before: "41", After: "40", Reason: "rounded to the nearest 5"},
		{Row: 2, Column: "total", Before: "44", After: "40", Reason: "recomputed as the sum of the displayed cells"},
	}
	if !slices.Equal(audit, want) {
		t.Errorf("audit:\n got %+v\nwant %+v", audit, want)
	}
	csv := string(AuditCSV(audit))
	if !strings.HasPrefix(csv, "row,column,before,after,reason\n2,female,3,[REDACTED],redacted: 3 is at or below 7\n") {
		t.Errorf("AuditCSV:\n%s", csv)
	}
}

func TestRedactTables(t *testing.T) {
	tests := []struct {
		name, profile, in, want string
	}{
		{"spec example 1", "opensafely",
			"age_band,patients\n18-39,125\n40-59,240\n60-79,6\n80+,0\n",
			"age_band,patients\n18-39,125\n40-59,240\n60-79,[REDACTED]\n80+,0\n"},
		{"zeros fail", "ukllc",
			"age_band,patients\n18-39,125\n60-79,9\n80+,0\n",
			"age_band,patients\n18-39,125\n60-79,[REDACTED]\n80+,[REDACTED]\n"},
		{"no rounding, rates with a redacted part are redacted", "opensafely",
			"group,events,population,percent\nA,13,200,6.5\nB,5,400,1.25\n",
			"group,events,population,percent\nA,13,200,6.5\nB,[REDACTED],400,[REDACTED]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, audit, err := Redact([]byte(tt.in), ControlOptions{Profile: ctlProfile(t, tt.profile)})
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("Redact:\n got %q\nwant %q", out, tt.want)
			}
			checkAudit(t, []byte(tt.in), out, audit)
		})
	}
}

func TestMidpoint6Tables(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"spec example 5",
			"age_band,cases,controls,total\n18-39,1,139,140\n40-59,26,217,243\n60+,13,92,105\n",
			"age_band,cases_midpoint6,controls_midpoint6,total_midpoint6_derived\n18-39,3,141,144\n40-59,27,219,246\n60+,15,93,108\n"},
		{"0, 1-6, 7-12, 13",
			"group,n\na,0\nb,1\nc,6\nd,7\ne,12\nf,13\n",
			"group,n_midpoint6\na,0\nb,3\nc,3\nd,9\ne,9\nf,15\n"},
		{"already suffixed: no rename, idempotent",
			"group,n_midpoint6\na,3\nb,9\nc,15\n",
			"group,n_midpoint6\na,3\nb,9\nc,15\n"},
		{"a total row becomes the sum",
			"group,n\na,1\nb,8\nTotal,9\n",
			"group,n_midpoint6\na,3\nb,9\nTotal,12\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ctlProfile(t, "opensafely")
			out, audit, err := Midpoint6([]byte(tt.in), ControlOptions{Profile: p})
			expectControl(t, "Midpoint6", tt.in, tt.want, p, out, audit, err)
		})
	}
}

// Every x is within the band its midpoint-6 value labels: v-2 <= x <= v+3.
func TestMidpoint6Bounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("group,n\n")
	for x := 1; x <= 600; x++ {
		fmt.Fprintf(&b, "g%d,%d\n", x, x)
	}
	out, _, err := Midpoint6([]byte(b.String()), ControlOptions{Profile: ctlProfile(t, "opensafely")})
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, out)
	if len(recs) != 601 {
		t.Fatalf("%d records, want 601", len(recs))
	}
	for x := 1; x <= 600; x++ {
		v, err := strconv.Atoi(recs[x][1])
		if err != nil {
			t.Fatalf("row %d: %v", x, err)
		}
		if v%6 != 3 || v-2 > x || x > v+3 {
			t.Errorf("midpoint6(%d) = %d: want v mod 6 = 3 and v-2 <= x <= v+3", x, v)
		}
	}
}

func TestProtectTables(t *testing.T) {
	tests := []struct {
		name, profile, mode, in, want string
	}{
		{"complementary keeps true totals (spec example 2)", "acro", ProtectComplementary,
			"ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,3,41,44\nAsian,302,288,590\nTotal,1515,1514,3029\n",
			"ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,[REDACTED],[REDACTED],44\nAsian,[REDACTED],[REDACTED],590\nTotal,1515,1514,3029\n"},
		{"complementary is the default without required rounding", "acro", "",
			"group,a,b,total\nx,3,20,23\ny,30,40,70\n",
			"group,a,b,total\nx,[REDACTED],[REDACTED],23\ny,30,40,70\n"},
		{"complementary rounds when the profile requires it", "opensafely", ProtectComplementary,
			"group,a,b,total\nx,3,21,24\ny,31,42,73\nTotal,34,63,97\n",
			"group,a,b,total\nx,[REDACTED],[REDACTED],25\ny,[REDACTED],[REDACTED],75\nTotal,35,65,95\n"},
		{"recompute-totals is the opensafely default", "opensafely", "",
			"ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,3,41,44\n",
			"ethnicity,female,male,total\nWhite,1210,1185,2395\nMixed,[REDACTED],40,40\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ctlProfile(t, tt.profile)
			out, audit, err := Protect([]byte(tt.in), ControlOptions{Profile: p}, tt.mode)
			expectControl(t, "Protect", tt.in, tt.want, p, out, audit, err)
		})
	}
}

func TestControlErrors(t *testing.T) {
	os := ctlProfile(t, "opensafely")
	acro := ctlProfile(t, "acro")
	table := "age_band,patients\n18-39,125\n"
	tests := []struct {
		name string
		run  func() error
		want []string
	}{
		{"unknown column", func() error {
			_, _, err := Round([]byte(table), ControlOptions{Profile: os, Columns: []string{"cases"}})
			return err
		}, []string{`column "cases" is not in the table`, "age_band, patients"}},
		{"ragged rows", func() error {
			_, _, err := Round([]byte("a,n\nx,1,2\n"), ControlOptions{Profile: os})
			var pe *ParseError
			if err != nil && !errors.As(err, &pe) {
				return fmt.Errorf("not a *ParseError: %w", err)
			}
			return err
		}, []string{"line 2", "ragged"}},
		{"stacked tables", func() error {
			_, _, err := Redact([]byte("a,n\nx,10\n\nb,m\ny,20\n"), ControlOptions{Profile: os})
			return err
		}, []string{"2 stacked tables", "lines 1, 4", "one file per table"}},
		{"no profile", func() error {
			_, _, err := Round([]byte(table), ControlOptions{})
			return err
		}, []string{"no disclosure profile"}},
		{"unknown token", func() error {
			_, _, err := Round([]byte(table), ControlOptions{Profile: os, Token: "hidden"})
			return err
		}, []string{`"hidden" is not a redaction token`, "[REDACTED]"}},
		{"token 0 without zero_as_mask", func() error {
			_, _, err := Round([]byte(table), ControlOptions{Profile: acro, Token: "0"})
			return err
		}, []string{"zero_as_mask"}},
		{"negative threshold", func() error {
			_, _, err := Round([]byte(table), ControlOptions{Profile: os, Threshold: -1})
			return err
		}, []string{"threshold is -1"}},
		{"midpoint-6 under acro", func() error {
			_, _, err := Midpoint6([]byte(table), ControlOptions{Profile: acro})
			return err
		}, []string{"does not recognise midpoint-6", "round"}},
		{"composite cells", func() error {
			_, _, err := Round([]byte("a,n\nx,12 (3.4%)\n"), ControlOptions{Profile: os})
			return err
		}, []string{"split it into a count column and a percent column"}},
		{"bogus protect mode", func() error {
			_, _, err := Protect([]byte(table), ControlOptions{Profile: os}, "bogus")
			return err
		}, []string{`unknown protect mode "bogus"`, "recompute-totals", "complementary"}},
		{"protect cannot fix columns it was told to leave", func() error {
			_, _, err := Protect([]byte("group,n_a,n_b\nx,3,21\ny,31,42\n"), ControlOptions{Profile: os, Columns: []string{"n_a"}}, "")
			return err
		}, []string{"protect could not reach a safe table", "C3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// randomTable builds a table of 2-6 rows with a label column, 2-4 count
// columns of values 0..400 (often small), and sometimes a total column and
// a total row.
func randomTable(rng *rand.Rand) string {
	rows := 2 + rng.IntN(5)
	ncols := 2 + rng.IntN(3)
	totalCol, totalRow := rng.IntN(2) == 0, rng.IntN(2) == 0
	vals := make([][]int, rows)
	for r := range vals {
		vals[r] = make([]int, ncols)
		for c := range vals[r] {
			switch rng.IntN(4) {
			case 0:
				vals[r][c] = rng.IntN(12)
			default:
				vals[r][c] = rng.IntN(401)
			}
		}
	}
	var b strings.Builder
	b.WriteString("group")
	for c := range ncols {
		fmt.Fprintf(&b, ",n_%c", 'a'+c)
	}
	if totalCol {
		b.WriteString(",total")
	}
	b.WriteString("\n")
	line := func(label string, v []int) {
		b.WriteString(label)
		sum := 0
		for _, x := range v {
			fmt.Fprintf(&b, ",%d", x)
			sum += x
		}
		if totalCol {
			fmt.Fprintf(&b, ",%d", sum)
		}
		b.WriteString("\n")
	}
	sums := make([]int, ncols)
	for r := range vals {
		line(fmt.Sprintf("g%d", r+1), vals[r])
		for c, x := range vals[r] {
			sums[c] += x
		}
	}
	if totalRow {
		line("Total", sums)
	}
	return b.String()
}

// countCells calls f for every count cell (column n_* or total) of a CSV.
func countCells(t testing.TB, data []byte, f func(r int, col, raw string, total bool)) {
	recs := records(t, data)
	for r := 1; r < len(recs); r++ {
		for c := 1; c < len(recs[r]); c++ {
			h := recs[0][c]
			f(r, h, recs[r][c], h == "total" || recs[r][0] == "Total")
		}
	}
}

func TestControlProperties(t *testing.T) {
	osp := ctlProfile(t, "opensafely")
	acro := ctlProfile(t, "acro")
	T, base := osp.T(), osp.Rounding.Base
	rng := rand.New(rand.NewPCG(20260401, 7))
	// Coverage: the random tables must exercise totals and secondary
	// suppression, or the properties prove little.
	var recomputed, secondary, redacted int
	for i := range 300 {
		in := []byte(randomTable(rng))
		name := fmt.Sprintf("table %d", i)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("%s: %s\ninput:\n%s", name, fmt.Sprintf(format, args...), in)
		}

		// Round: safe, never changes a rounded value above T, audited.
		out, audit, err := Round(in, ControlOptions{Profile: osp})
		if err != nil {
			fail("Round: %v", err)
			continue
		}
		if bad := failures(t, out, osp, unsafeRules...); len(bad) > 0 {
			fail("Round output fails:\n%s\noutput:\n%s", strings.Join(bad, "\n"), out)
		}
		checkAudit(t, in, out, audit)
		if slices.ContainsFunc(audit, func(e AuditEntry) bool { return strings.HasPrefix(e.Reason, "recomputed as the sum") }) {
			recomputed++
		}
		if slices.ContainsFunc(audit, func(e AuditEntry) bool { return strings.HasPrefix(e.Reason, "redacted") }) {
			redacted++
		}
		before := records(t, in)
		countCells(t, out, func(r int, col, raw string, total bool) {
			c := slices.Index(before[0], col)
			x, err := strconv.Atoi(before[r][c])
			if err == nil && !total && x > T && x%base == 0 && raw != before[r][c] {
				fail("Round changed (%d, %s) from %d to %s, already a multiple of %d above %d", r, col, x, raw, base, T)
			}
		})

		// Redact: no count in [1, T] is left.
		out, audit, err = Redact(in, ControlOptions{Profile: osp})
		if err != nil {
			fail("Redact: %v", err)
			continue
		}
		checkAudit(t, in, out, audit)
		countCells(t, out, func(r int, col, raw string, _ bool) {
			if x, err := strconv.Atoi(raw); err == nil && x >= 1 && x <= T {
				fail("Redact left %d at (%d, %s)", x, r, col)
			}
		})

		// Protect, both modes, under opensafely; complementary under acro.
		for _, tc := range []struct {
			p     *Profile
			mode  string
			rules []string
		}{
			{osp, ProtectRecomputeTotals, unsafeRules},
			{osp, ProtectComplementary, unsafeRules},
			{acro, ProtectComplementary, []string{"T2"}},
		} {
			out, audit, err := Protect(in, ControlOptions{Profile: tc.p}, tc.mode)
			if err != nil {
				fail("Protect %s under %s: %v", tc.mode, tc.p.Name, err)
				continue
			}
			checkAudit(t, in, out, audit)
			if tc.mode == ProtectComplementary && slices.ContainsFunc(audit, func(e AuditEntry) bool { return strings.HasPrefix(e.Reason, "secondary suppression") }) {
				secondary++
			}
			if bad := failures(t, out, tc.p, tc.rules...); len(bad) > 0 {
				fail("Protect %s under %s fails:\n%s\noutput:\n%s", tc.mode, tc.p.Name, strings.Join(bad, "\n"), out)
			}
		}
	}
	if recomputed < 50 || secondary < 50 || redacted < 100 {
		t.Errorf("the random tables exercise too little: %d with totals recomputed, %d with secondary suppression, %d with redactions", recomputed, secondary, redacted)
	}
	t.Logf("%d tables with totals recomputed, %d protect runs with secondary suppression, %d tables with redactions", recomputed, secondary, redacted)
}

func TestProtectNextSmallest(t *testing.T) {
	tests := []struct {
		name, profile, in, want string
	}{
		{"a small suppressed total takes every cell equal to the next-smallest value", "acro",
			"group,patients\na,3\nb,20\nc,20\nd,45\nTotal,88\n",
			"group,patients\na,[REDACTED]\nb,[REDACTED]\nc,[REDACTED]\nd,45\nTotal,88\n"},
		{"suppressed cells that add up to more than T need nothing more", "acro",
			"group,patients\na,5\nb,6\nc,40\nTotal,51\n",
			"group,patients\na,[REDACTED]\nb,[REDACTED]\nc,40\nTotal,51\n"},
		{"zeros are never the next-smallest value", "acro",
			"group,patients\na,4\nb,0\nc,30\nd,50\nTotal,84\n",
			"group,patients\na,[REDACTED]\nb,0\nc,[REDACTED]\nd,50\nTotal,84\n"},
		{"rows with a total column, each on its own", "acro",
			"group,a,b,c,total\nx,2,15,30,47\ny,40,50,60,150\n",
			"group,a,b,c,total\nx,[REDACTED],[REDACTED],30,47\ny,40,50,60,150\n"},
		{"rounded afterwards when the profile requires it", "opensafely",
			"group,patients\na,3\nb,20\nd,46\nTotal,69\n",
			"group,patients\na,[REDACTED]\nb,[REDACTED]\nd,45\nTotal,70\n"},
		{"ukllc: a redacted zero is a small group too", "ukllc",
			"group,patients\na,0\nb,25\nc,40\nTotal,65\n",
			"group,patients\na,[REDACTED]\nb,[REDACTED]\nc,40\nTotal,65\n"},
		{"an input redaction counts as total less the shown cells", "acro",
			"group,patients\na,[REDACTED]\nb,20\nc,45\nTotal,70\n",
			"group,patients\na,[REDACTED]\nb,[REDACTED]\nc,45\nTotal,70\n"},
		{"the total goes when no other cell is left", "acro",
			"group,patients\na,3\nb,0\nTotal,20\n",
			"group,patients\na,[REDACTED]\nb,0\nTotal,[REDACTED]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ctlProfile(t, tt.profile)
			out, audit, err := Protect([]byte(tt.in), ControlOptions{Profile: p}, ProtectNextSmallest)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("Protect next-smallest:\n got %q\nwant %q", out, tt.want)
			}
			checkAudit(t, []byte(tt.in), out, audit)
			if bad := failures(t, out, p, unsafeRules...); len(bad) > 0 {
				t.Errorf("the output fails the check:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
	t.Run("audit reason", func(t *testing.T) {
		_, audit, err := Protect([]byte("group,patients\na,3\nb,20\nd,45\nTotal,68\n"), ControlOptions{Profile: ctlProfile(t, "acro")}, ProtectNextSmallest)
		if err != nil {
			t.Fatal(err)
		}
		want := AuditEntry{Row: 2, Column: "patients", Before: "20", After: "[REDACTED]",
			Reason: "secondary suppression (next-smallest): the suppressed cells of column patients add up to 3, at or below 9"}
		if !slices.Contains(audit, want) {
			t.Errorf("audit %+v\nlacks %+v", audit, want)
		}
	})
	t.Run("unknown modes name it", func(t *testing.T) {
		_, _, err := Protect([]byte("group,patients\na,3\n"), ControlOptions{Profile: ctlProfile(t, "acro")}, "next_smallest")
		if err == nil || !strings.Contains(err.Error(), ProtectNextSmallest) {
			t.Errorf("error %v does not offer %s", err, ProtectNextSmallest)
		}
	})
}

// tableLines lists the lines of a randomTable: each row across the count
// columns to the total column, and each count column down to the Total
// row. Cells are [record row, column] in the CSV's records.
func tableLines(recs [][]string) (lines [][][2]int, totals [][2]int) {
	header := recs[0]
	totalCol := slices.Index(header, "total")
	totalRow := -1
	for r := 1; r < len(recs); r++ {
		if recs[r][0] == "Total" {
			totalRow = r
		}
	}
	if totalCol > 0 {
		for r := 1; r < len(recs); r++ {
			var cells [][2]int
			for c := 1; c < totalCol; c++ {
				cells = append(cells, [2]int{r, c})
			}
			lines, totals = append(lines, cells), append(totals, [2]int{r, totalCol})
		}
	}
	if totalRow > 0 {
		for c := 1; c < len(header); c++ {
			var cells [][2]int
			for r := 1; r < len(recs); r++ {
				if r != totalRow {
					cells = append(cells, [2]int{r, c})
				}
			}
			lines, totals = append(lines, cells), append(totals, [2]int{totalRow, c})
		}
	}
	return lines, totals
}

// TestProtectNextSmallestProperties: for random tables under each profile,
// next-smallest either writes a table in which no line with a shown total
// has suppressed cells adding up to a small number (1..T, or 0 where zeros
// are redacted), and which the checker finds no T2 (or other unsafe) FAIL
// in, or, for a table with both row and column totals only, refuses
// loudly. A table with one kind of total is always protected.
func TestProtectNextSmallestProperties(t *testing.T) {
	profiles := []*Profile{ctlProfile(t, "opensafely"), ctlProfile(t, "acro"), ctlProfile(t, "ukllc")}
	rng := rand.New(rand.NewPCG(20260402, 11))
	var extra, oneWay, twoWay, refused int
	for i := range 400 {
		in := []byte(randomTable(rng))
		before := records(t, in)
		lines, totals := tableLines(before)
		crossed := slices.Contains(before[0], "total") && slices.ContainsFunc(before, func(rec []string) bool { return rec[0] == "Total" })
		for _, p := range profiles {
			T := p.T()
			fail := func(format string, args ...any) {
				t.Helper()
				t.Errorf("table %d under %s: %s\ninput:\n%s", i, p.Name, fmt.Sprintf(format, args...), in)
			}
			out, audit, err := Protect(in, ControlOptions{Profile: p}, ProtectNextSmallest)
			if err != nil {
				if !crossed || !strings.Contains(err.Error(), "protect could not reach a safe table") {
					fail("Protect next-smallest: %v", err)
				}
				refused++
				continue
			}
			if crossed {
				twoWay++
			} else if len(lines) > 0 {
				oneWay++
			}
			checkAudit(t, in, out, audit)
			if slices.ContainsFunc(audit, func(e AuditEntry) bool { return strings.HasPrefix(e.Reason, "secondary suppression (next-smallest)") }) {
				extra++
			}
			if bad := failures(t, out, p, unsafeRules...); len(bad) > 0 {
				fail("the output fails the check:\n%s\noutput:\n%s", strings.Join(bad, "\n"), out)
			}
			after := records(t, out)
			hidden := func(c [2]int) bool { return after[c[0]][c[1]] == p.RedactionToken }
			for li, cells := range lines {
				if hidden(totals[li]) {
					continue
				}
				n, sum := 0, 0
				for _, c := range cells {
					if hidden(c) {
						x, err := strconv.Atoi(before[c[0]][c[1]])
						if err != nil {
							t.Fatal(err)
						}
						n++
						sum += x
					}
				}
				if n > 0 && sum <= T && (sum >= 1 || p.Zeros == "fail") {
					fail("a line with total at %v shows its total while only %d cell(s) adding up to %d are suppressed (T = %d)\noutput:\n%s", totals[li], n, sum, T, out)
				}
			}
		}
	}
	if extra < 100 || oneWay < 200 || twoWay < 50 {
		t.Errorf("the random tables exercise too little: %d runs with next-smallest suppression, %d one-way and %d two-way tables protected", extra, oneWay, twoWay)
	}
	t.Logf("%d runs with next-smallest suppression; %d one-way and %d two-way tables protected; %d two-way tables refused", extra, oneWay, twoWay, refused)
}

// expectControl checks a control's result: no error, the expected table,
// an audit log that accounts for every changed cell, and an output the
// checker passes under the same profile.
func expectControl(t *testing.T, control, in, want string, p *Profile, out []byte, audit []AuditEntry, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != want {
		t.Errorf("%s:\n got %q\nwant %q", control, out, want)
	}
	checkAudit(t, []byte(in), out, audit)
	if bad := failures(t, out, p, unsafeRules...); len(bad) > 0 {
		t.Errorf("the output fails the check:\n%s", strings.Join(bad, "\n"))
	}
}
