package outputs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// csvOf builds a CSV with a header and n data rows.
func csvOf(header string, n int) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,x\n", i)
	}
	return b.String()
}

func TestCheckLevel4(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name     string
		file     string
		size     int64 // 0: the content's length
		content  string
		excluded bool
		message  string
		rows     *int
		cols     *int
	}{
		{name: "exactly 16 MiB is allowed", file: "output/big.txt", size: 16 * mib},
		{name: "16 MiB and a byte is excluded", file: "output/big.txt", size: 16*mib + 1, excluded: true,
			message: "File size of 16.0Mb is larger that limit of 16.0Mb."},
		{name: "17.25 MiB", file: "output/big.csv", size: 17*mib + mib/4, excluded: true,
			message: "File size of 17.25Mb is larger that limit of 16.0Mb."},
		{name: "size beats type", file: "output/big.rds", size: 20 * mib, excluded: true,
			message: "File size of 20.0Mb is larger that limit of 16.0Mb."},
		{name: "type", file: "output/model.rds", content: "x", excluded: true,
			message: "File type of .rds is not valid level 4 file"},
		{name: "type is case-sensitive", file: "output/t.CSV", content: "a\n1\n", excluded: true,
			message: "File type of .CSV is not valid level 4 file"},
		{name: "no suffix", file: "output/README", content: "x", excluded: true,
			message: "File type of  is not valid level 4 file"},
		{name: "5000 rows are allowed", file: "output/t.csv", content: csvOf("a,b", 5000), rows: ptrInt(5000), cols: ptrInt(2)},
		{name: "5001 rows are excluded", file: "output/t.csv", content: csvOf("a,b", 5001), excluded: true,
			message: "File row count (5001) exceeds maximum allowed rows (5000)", rows: ptrInt(5001), cols: ptrInt(2)},
		{name: "patient_id column", file: "output/t.csv", content: csvOf("patient_id,b", 3), excluded: true,
			message: "File has patient_id column", rows: ptrInt(3), cols: ptrInt(2)},
		{name: "patient_id after a byte-order mark", file: "output/t.csv", content: "\ufeff" + csvOf("patient_id,b", 1), excluded: true,
			message: "File has patient_id column", rows: ptrInt(1), cols: ptrInt(2)},
		{name: "patient_id only as a whole field", file: "output/t.csv", content: csvOf("patient_ids,my_patient_id", 2),
			rows: ptrInt(2), cols: ptrInt(2)},
		{name: "quoted patient_id header", file: "output/t.csv", content: "\"patient_id\",b\n1,2\n", excluded: true,
			message: "File has patient_id column", rows: ptrInt(1), cols: ptrInt(2)},
		{name: "both CSV reasons joined by a comma", file: "output/t.csv", content: csvOf("patient_id,b", 5001), excluded: true,
			message: "File has patient_id column,File row count (5001) exceeds maximum allowed rows (5000)", rows: ptrInt(5001), cols: ptrInt(2)},
		{name: "quoted newlines do not start records", file: "output/t.csv",
			content: "a,b\n" + strings.Repeat("\"line one\nline two\",x\n", 5000), rows: ptrInt(5000), cols: ptrInt(2)},
		{name: "empty file", file: "output/t.csv", content: "", rows: ptrInt(0), cols: ptrInt(0)},
		{name: "header only", file: "output/t.csv", content: "a,b,c\n", rows: ptrInt(0), cols: ptrInt(0)},
		{name: "header only, patient_id", file: "output/t.csv", content: "patient_id\n", excluded: true,
			message: "File has patient_id column", rows: ptrInt(0), cols: ptrInt(0)},
		{name: "blank lines are not rows", file: "output/t.csv", content: "a\n\n1\n\n2\n", rows: ptrInt(2), cols: ptrInt(1)},
		{name: "not a CSV check for other types", file: "output/t.txt", content: "patient_id\n1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size == 0 {
				size = int64(len(tt.content))
			}
			opened := false
			c, err := checkLevel4(tt.file, size, DefaultLevel4MaxFileSize, DefaultLevel4MaxCSVRows, func() (io.ReadCloser, error) {
				opened = true
				return io.NopCloser(strings.NewReader(tt.content)), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if c.excluded != tt.excluded || c.message != tt.message {
				t.Errorf("got excluded=%v %q, want excluded=%v %q", c.excluded, c.message, tt.excluded, tt.message)
			}
			if !equalIntPtr(c.rows, tt.rows) || !equalIntPtr(c.cols, tt.cols) {
				t.Errorf("got rows=%v cols=%v, want rows=%v cols=%v", show(c.rows), show(c.cols), show(tt.rows), show(tt.cols))
			}
			if opened && (size > DefaultLevel4MaxFileSize || !strings.HasSuffix(tt.file, ".csv")) {
				t.Errorf("the file was read although only its size or type decides")
			}
			if tt.excluded {
				if !strings.Contains(c.note, tt.file) || !strings.Contains(c.note, "*not* been copied to Level 4") {
					t.Errorf("note does not name the file and say it was not copied:\n%s", c.note)
				}
			} else if c.note != "" {
				t.Errorf("note for an allowed file: %q", c.note)
			}
		})
	}
}

func TestCheckLevel4Notes(t *testing.T) {
	open := func(s string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
	}
	c, err := checkLevel4("output/t.csv", 100, DefaultLevel4MaxFileSize, 2, open(csvOf("patient_id,b", 3)))
	if err != nil {
		t.Fatal(err)
	}
	want := "\nThe file:\n\noutput/t.csv\n\nhas not been made available in level 4 because it has a `patient_id` column.\n\n" +
		"As such, it has *not* been copied to Level 4 storage.\n\n" +
		"Patient level data is not allowed by policy in level 4.\n\n" +
		"You should change this file's privacy to `highly_sensitive` in your\n" +
		"project.yaml. Or, if is aggregrate data, you should remove the patient_id\n" +
		"column from your data.\n\n" +
		"\n\n" +
		"\nThe file:\n\noutput/t.csv\n\ncontained 3 rows, which is above the limit for moderately_sensitive files of\n2 rows.\n\n" +
		"As such, it has *not* been copied to Level 4 storage. Please contact tech-support for\nfurther assistance.\n"
	if c.note != want {
		t.Errorf("note:\n%q\nwant:\n%q", c.note, want)
	}
	if c.message != "File has patient_id column,File row count (3) exceeds maximum allowed rows (2)" {
		t.Errorf("message %q", c.message)
	}

	c, err = checkLevel4("output/big.csv", 17*(1<<20)+(1<<18), DefaultLevel4MaxFileSize, 5000, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = "\nThe file:\n\noutput/big.csv\n\nwas 17.25Mb, which is above the limit for moderately_sensitive files of\n16.0Mb.\n\n" +
		"As such, it has *not* been copied to Level 4 storage. Please double check that\noutput/big.csv contains only aggregate information, and is an appropriate size to\nbe able to be output checked.\n"
	if c.note != want {
		t.Errorf("size note:\n%q\nwant:\n%q", c.note, want)
	}
}

func TestCheckLevel4ReadError(t *testing.T) {
	_, err := checkLevel4("output/t.csv", 10, DefaultLevel4MaxFileSize, 5000, func() (io.ReadCloser, error) {
		return nil, errors.New("boom")
	})
	if err == nil {
		t.Fatal("a file that cannot be opened must fail the check, not pass it")
	}
}

func TestMegabytes(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		bytes int64
		want  string
	}{
		{16 * mib, "16.0"},
		{16*mib + 1, "16.0"},
		{17*mib + mib/4, "17.25"},
		{16*mib + mib/2, "16.5"},
		{16*mib + mib/8, "16.12"}, // 16.125: an exact tie, rounded to even as Python does
		{16*mib + 3*mib/8, "16.38"},
		{1, "0.0"},
		{0, "0.0"},
		{1 << 30, "1024.0"},
	} {
		if got := megabytes(tt.bytes); got != tt.want {
			t.Errorf("megabytes(%d) = %q, want %q", tt.bytes, got, tt.want)
		}
	}
}

func TestPathSuffix(t *testing.T) {
	for name, want := range map[string]string{
		"a.csv": ".csv", "a.csv.gz": ".gz", ".csv": "", "a.": "", "a": "", "..": "", "a..b": ".b",
	} {
		if got := pathSuffix(name); got != want {
			t.Errorf("pathSuffix(%q) = %q, want %q", name, got, want)
		}
	}
}

func ptrInt(n int) *int { return &n }

func equalIntPtr(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func show(p *int) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}
