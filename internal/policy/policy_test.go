package policy

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func TestCheckNameAndAllowedType(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"output/a.csv", true},
		{"a.csv", true},
		{"output/deep/er/chart.svgz", true},
		{"output/report.md", true},
		{"output/x.jpeg", true},
		{"output/a b.csv", true},
		{"output/ünïcode.csv", true},
		{"", false},
		{"../x.csv", false},
		{"/etc/passwd", false},
		{"a/../../b.csv", false},
		{"a/./b.csv", false},
		{".hidden.csv", false},
		{"output/.hidden.csv", false},
		{"x.exe", false},
		{"output/table", false},
		{"output/.csv", false},
		{"output/a.csv.", false},
		{"output/a.CSV", false},
		{"output/", false},
		{"output//a.csv", false},
		{`a\b.csv`, false},
		{"a\x00.csv", false},
		{"a\xff.csv", false},
		{strings.Repeat("a", 1100) + ".csv", false},
	} {
		err := CheckName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
		// A valid name always has an allowed type.
		if err == nil && !AllowedType(tc.name) {
			t.Errorf("AllowedType(%q) = false for a valid name", tc.name)
		}
	}
}

func TestAllowedTypeAndContentType(t *testing.T) {
	for _, tc := range []struct {
		name, ctype string
		ok          bool
	}{
		{"output/a.csv", "text/csv; charset=utf-8", true},
		{"chart.svgz", "image/svg+xml", true},
		{"notes.md", "text/markdown; charset=utf-8", true},
		{"a.CSV", "", false},
		{".hidden.csv", "text/csv; charset=utf-8", false}, // the type is known, the name is hidden
		{"model.rds", "", false},
		{"noext", "", false},
		{"trailing.", "", false},
	} {
		if got := AllowedType(tc.name); got != tc.ok {
			t.Errorf("AllowedType(%q) = %v, want %v", tc.name, got, tc.ok)
		}
		if got := ContentType(tc.name); got != tc.ctype {
			t.Errorf("ContentType(%q) = %q, want %q", tc.name, got, tc.ctype)
		}
	}
	for _, ext := range FileTypes() {
		if ContentType("x"+ext) == "" {
			t.Errorf("allowed type %s has no content type", ext)
		}
	}
}

func TestValidSHA256(t *testing.T) {
	good := strings.Repeat("ab", 32)
	for s, want := range map[string]bool{
		good: true, strings.ToUpper(good): false, good[:63]: false, good + "0": false,
		strings.Repeat("g", 64): false, "": false,
	} {
		if got := ValidSHA256(s); got != want {
			t.Errorf("ValidSHA256(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestGunzipCapsOutput(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte{'a'}, 1<<20+1))
	zw.Close()
	if _, err := Gunzip(bytes.NewReader(buf.Bytes()), 1<<20); err == nil || !strings.Contains(err.Error(), "more than 1 MiB") {
		t.Fatalf("a bomb over the cap: %v", err)
	}
	out, err := Gunzip(bytes.NewReader(buf.Bytes()), 2<<20)
	if err != nil || len(out) != 1<<20+1 {
		t.Fatalf("within the cap: %d bytes, %v", len(out), err)
	}
	if _, err := Gunzip(strings.NewReader("<svg/>"), 1<<20); err == nil {
		t.Fatal("plain text is not gzip")
	}
}
