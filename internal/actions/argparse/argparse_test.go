package argparse

import (
	"errors"
	"strings"
	"testing"
)

var opts = []Option{
	{Name: "output-dir", Default: "output"},
	{Name: "input-files", Multi: true, Required: true},
	{Name: "skip-existing", Switch: true},
}

func TestParse(t *testing.T) {
	tests := []struct {
		argv       []string
		dir, files string
		skip       bool
	}{
		{[]string{"--input-files", "a.csv"}, "output", "a.csv", false},
		{[]string{"--input-files=a.csv", "b.csv", "--output-dir", "x", "--skip-existing"}, "x", "a.csv|b.csv", true},
		{[]string{"--output-dir=x", "--output-dir=y", "--input-files", "a", "--input-files", "b"}, "y", "a|b", false},
		{[]string{"--input-files", "a", "--output-dir="}, "", "a", false},
	}
	for _, tt := range tests {
		v, err := Parse("prog", opts, tt.argv)
		if err != nil {
			t.Fatalf("%q: %v", tt.argv, err)
		}
		if v.Get("output-dir") != tt.dir || strings.Join(v.List("input-files"), "|") != tt.files || v.Has("skip-existing") != tt.skip {
			t.Errorf("%q: dir=%q files=%q skip=%v", tt.argv, v.Get("output-dir"), v.List("input-files"), v.Has("skip-existing"))
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{}, "prog: the option --input-files is required"},
		{[]string{"x.csv"}, `prog: unexpected argument "x.csv"`},
		{[]string{"--input-files", "a", "--ouput-dir", "x"}, "unrecognized option --ouput-dir; did you mean --output-dir?"},
		{[]string{"--input-files", "a", "--zzz"}, "unrecognized option --zzz; the options are --output-dir, --input-files, --skip-existing"},
		{[]string{"--input-files"}, "--input-files needs at least one value"},
		{[]string{"--input-files", "a", "--output-dir"}, "--output-dir needs a value"},
		{[]string{"--input-files", "a", "--skip-existing=yes"}, "--skip-existing takes no value"},
	}
	for _, tt := range tests {
		_, err := Parse("prog", opts, tt.argv)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.argv, err, tt.want)
			continue
		}
		if !strings.HasPrefix(e.Usage, "usage: prog [--output-dir VALUE] --input-files VALUE [VALUE ...] [--skip-existing]") {
			t.Errorf("usage = %q", e.Usage)
		}
	}
}
