package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/artificial/meta"
	"github.com/haven-tre/haven/internal/artificial/scrape"
)

// scrapeFixture writes a patients table and an events table.
func scrapeFixture(t *testing.T) (dir, patients, events string) {
	t.Helper()
	dir = t.TempDir()
	var p, e strings.Builder
	p.WriteString("patient_id,sex,dob,bmi,nhs\n")
	e.WriteString("patient_id,event_id,code\n")
	ev := 0
	for i := 0; i < 600; i++ {
		fmt.Fprintf(&p, "%d,%s,%s,%d.%d,%010d\n", 880000+i, []string{"M", "F"}[i%2], meta.DayString(int32(-2000+i*7)), 18+i%20, i%10, 9000000000-i*37)
		for j := 0; j < 1+i%4; j++ {
			ev++
			fmt.Fprintf(&e, "%d,%d,C%d\n", 880000+i, 5550000+ev, i%6)
		}
	}
	patients = filepath.Join(dir, "patients.csv")
	events = filepath.Join(dir, "events.csv")
	os.WriteFile(patients, []byte(p.String()), 0o644)
	os.WriteFile(events, []byte(e.String()), 0o644)
	return dir, patients, events
}

func TestDataScrape(t *testing.T) {
	dir, patients, events := scrapeFixture(t)
	out := filepath.Join(dir, "cohort.json")
	r := run(t, "data", "scrape", "--input", patients, "-i", events, "--relationship", "patient_id:event_id",
		"--id-columns", "nhs", "--threshold", "8", "--output", out, "--dataset", "cohort")
	r.wantCode(t, exitOK)
	if r.stderr != "" {
		t.Errorf("stderr is not a terminal, yet got %q", r.stderr)
	}
	doc, raw, err := meta.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Dataset != "cohort" || doc.SDC.MinCount != 8 || doc.SDC.RoundBase != 5 || len(doc.Tables) != 2 {
		t.Fatalf("document: dataset %q sdc %+v tables %d", doc.Dataset, doc.SDC, len(doc.Tables))
	}
	if doc.Scrape.HavenVersion == "" || !strings.HasSuffix(doc.Scrape.ScrapedAt, "Z") {
		t.Errorf("scrape info %+v", doc.Scrape)
	}
	if f := doc.Table("patients").Field("nhs"); f.Type != meta.TypeIdentifier {
		t.Errorf("nhs: %+v", f)
	}
	if et := doc.Table("events"); et.EntityKey != "patient_id" || et.RowKey != "event_id" || len(et.Relationships) != 1 {
		t.Errorf("events keys %q %q %+v", et.EntityKey, et.RowKey, et.Relationships)
	}
	for i := 0; i < 600; i++ {
		for _, v := range []string{fmt.Sprint(880000 + i), fmt.Sprintf("%010d", 9000000000-i*37)} {
			if bytes.Contains(raw, []byte(v)) {
				t.Fatalf("identifier %s is in the metadata", v)
			}
		}
	}
	for _, want := range []string{"wrote " + out, "table patients (patients.csv): rows_n 600", "sex", "categorical", "relationship patient_id -> event_id",
		"haven data review " + out} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	noANSI(t, "scrape summary", r.stdout)

	// --json: machine summary with the file's hash.
	r = run(t, "data", "scrape", "--input", patients, "--output", out, "--json")
	r.wantCode(t, exitOK)
	var js struct {
		Output, SHA256, Dataset string
		Tables                  []scrape.TableSummary
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	_, raw, _ = meta.Load(out)
	if js.SHA256 != meta.SHA256(raw) || js.Dataset != "patients" || len(js.Tables) != 1 || len(js.Tables[0].Fields) != 5 {
		t.Errorf("json summary %+v", js)
	}
}

func TestDataScrapeUsage(t *testing.T) {
	dir, patients, _ := scrapeFixture(t)
	out := filepath.Join(dir, "m.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", out}, "no input"},
		{[]string{"--input", patients}, "no output"},
		{[]string{"--input", patients, "--output", out, "--threshold", "0"}, "--threshold 0"},
		{[]string{"--input", patients, "--output", out, "--rounding", "-1"}, "--rounding -1"},
		{[]string{"--input", patients, "--output", out, "--relationship", "patient_id"}, "no colon"},
		{[]string{"--input", patients, "--output", patients}, "is also an input"},
		{[]string{patients, "--output", out}, "unexpected argument"},
		{[]string{"--input", patients, "--output", out, "--threshold", "x"}, "invalid argument"},
	} {
		r := run(t, append([]string{"data", "scrape"}, tc.args...)...)
		r.wantCode(t, exitUsage)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a usage error wrote the output")
	}
}

func TestDataScrapeInvalidInput(t *testing.T) {
	dir := t.TempDir()
	ragged := filepath.Join(dir, "ragged.csv")
	os.WriteFile(ragged, []byte("a,b,c\n1,2,3\n4,5\n"), 0o644)
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, nil, 0o644)
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("a,b\n1,2\n"), 0o644)
	out := filepath.Join(dir, "m.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", ragged, "--output", out}, ragged + ":3: row 2 has 2 fields, the header has 3"},
		{[]string{"--input", empty, "--output", out}, "the file is empty: a CSV needs a header row"},
		{[]string{"--input", filepath.Join(dir, "none.csv"), "--output", out}, "no such file"},
		{[]string{"--input", filepath.Join(dir, "x.xlsx"), "--output", out}, "unknown file type"},
		{[]string{"--input", good, "--output", filepath.Join(dir, "no", "m.json")}, "does not exist; create it first"},
		{[]string{"--input", good, "--output", dir}, "it is a folder"},
		{[]string{"--input", good, "--output", out, "--relationship", "pid:"}, `no input has the parent column "pid"`},
		{[]string{"--input", good, "--output", out, "--id-columns", "A"}, `--id-columns names "A"`},
	} {
		r := run(t, append([]string{"data", "scrape"}, tc.args...)...)
		r.wantCode(t, exitInvalid)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, r.stderr, tc.want)
		}
		noStackTrace(t, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("invalid input wrote the output")
	}
}

func TestDataScrapeHelp(t *testing.T) {
	r := run(t, "data", "scrape", "--help")
	r.wantCode(t, exitOK)
	for _, want := range []string{"Exit codes:", "Examples:", "--input", "--relationship", "--id-columns", "--threshold", "--rounding", "--json", "NA, NULL, null or NaN"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestScrapeProgressLine(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &scrapeProgress{w: &buf, now: func() time.Time { return now }}
	p.update(scrape.Progress{Input: "/x/apc.csv", Done: 3 << 20, Total: 12 << 20})
	p.update(scrape.Progress{Input: "/x/apc.csv", Done: 4 << 20, Total: 12 << 20}) // too soon: skipped
	now = now.Add(time.Second)
	p.update(scrape.Progress{Input: "/x/apc.csv", Done: 6 << 20, Total: 12 << 20})
	p.finish()
	got := buf.String()
	want := "\rscraping apc.csv: 3.0 MiB of 12.0 MiB (25%)\rscraping apc.csv: 6.0 MiB of 12.0 MiB (50%)\r" + strings.Repeat(" ", 43) + "\r"
	if got != want {
		t.Errorf("progress output\n%q\nwant\n%q", got, want)
	}
	noANSI(t, "progress", got)
	var nilProgress *scrapeProgress
	nilProgress.finish() // no progress on a non-terminal: finish is a no-op
}
