package outputs

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/haven-tre/haven/internal/executor"
)

func TestMatch(t *testing.T) {
	const (
		high = executor.HighlySensitive
		mod  = executor.ModeratelySensitive
		min  = executor.MinimallySensitive
	)
	tests := []struct {
		name          string
		files         []string          // regular files
		dirs          []string          // empty directories
		links         map[string]string // link → target
		fifos         []string
		spec          map[string]string
		wantMatched   map[string]string
		wantUnmatched []string
		wantRefused   map[string]string
	}{
		{
			name:        "star stays within one directory",
			files:       []string{"output/a.csv", "output/sub/b.csv", "output/c.txt"},
			spec:        map[string]string{"output/*.csv": mod},
			wantMatched: map[string]string{"output/a.csv": mod},
		},
		{
			name:        "star in a directory component",
			files:       []string{"output/x/t.csv", "output/y/t.csv", "output/y/z/t.csv"},
			spec:        map[string]string{"output/*/t.csv": high},
			wantMatched: map[string]string{"output/x/t.csv": high, "output/y/t.csv": high},
		},
		{
			name:          "whole path must match",
			files:         []string{"a/output/a.csv", "output/a.csv.bak"},
			spec:          map[string]string{"output/*.csv": mod},
			wantMatched:   map[string]string{},
			wantUnmatched: []string{"output/*.csv"},
		},
		{
			name:          "a directory matching a pattern is not an output",
			dirs:          []string{"output/model.csv"},
			spec:          map[string]string{"output/*.csv": mod},
			wantMatched:   map[string]string{},
			wantUnmatched: []string{"output/*.csv"},
			wantRefused:   map[string]string{"output/model.csv": "directory"},
		},
		{
			name:          "a symlink matching a pattern is refused",
			files:         []string{"real.txt"},
			links:         map[string]string{"output/link.csv": "../real.txt"},
			spec:          map[string]string{"output/*.csv": mod},
			wantMatched:   map[string]string{},
			wantUnmatched: []string{"output/*.csv"},
			wantRefused:   map[string]string{"output/link.csv": "symlink"},
		},
		{
			name:          "a FIFO matching a pattern is refused",
			fifos:         []string{"output/pipe.csv"},
			spec:          map[string]string{"output/*.csv": mod},
			wantMatched:   map[string]string{},
			wantUnmatched: []string{"output/*.csv"},
			wantRefused:   map[string]string{"output/pipe.csv": "named pipe (FIFO)"},
		},
		{
			name:          "files under a symlinked directory are not outputs",
			files:         []string{"elsewhere/a.csv"},
			links:         map[string]string{"output": "elsewhere"},
			spec:          map[string]string{"output/*.csv": mod},
			wantMatched:   map[string]string{},
			wantUnmatched: []string{"output/*.csv"},
		},
		{
			name:          "unmatched patterns are sorted",
			files:         []string{"output/a.csv"},
			spec:          map[string]string{"output/*.csv": mod, "z/*.png": mod, "b/x.txt": high},
			wantMatched:   map[string]string{"output/a.csv": mod},
			wantUnmatched: []string{"b/x.txt", "z/*.png"},
		},
		{
			name:        "highly beats moderately",
			files:       []string{"output/a.csv"},
			spec:        map[string]string{"output/*.csv": mod, "output/a.csv": high},
			wantMatched: map[string]string{"output/a.csv": high},
		},
		{
			name:        "minimally (high privacy only) beats moderately",
			files:       []string{"output/a.csv"},
			spec:        map[string]string{"output/*.csv": mod, "output/a.csv": min},
			wantMatched: map[string]string{"output/a.csv": min},
		},
		{
			name:          "the marker is never an output",
			files:         []string{MarkerFile},
			spec:          map[string]string{"*-timestamp": high, ".opensafely-*": high},
			wantMatched:   map[string]string{},
			wantUnmatched: []string{"*-timestamp", ".opensafely-*"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				write(t, filepath.Join(root, f), "x")
			}
			for _, d := range tt.dirs {
				mkdir(t, filepath.Join(root, d))
			}
			for l, target := range tt.links {
				symlink(t, target, filepath.Join(root, l))
			}
			for _, f := range tt.fifos {
				mkdir(t, filepath.Dir(filepath.Join(root, f)))
				if err := syscall.Mkfifo(filepath.Join(root, f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			matched, unmatched, err := Match(root, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(matched, tt.wantMatched) {
				t.Errorf("matched = %v, want %v", matched, tt.wantMatched)
			}
			if tt.wantUnmatched == nil {
				tt.wantUnmatched = []string{}
			}
			if !reflect.DeepEqual(unmatched, tt.wantUnmatched) {
				t.Errorf("unmatched = %q, want %q", unmatched, tt.wantUnmatched)
			}
			tr, err := openTree(root, false, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			s, err := scanTree(tr, tt.spec, time.Time{}, false)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRefused == nil {
				tt.wantRefused = map[string]string{}
			}
			if !reflect.DeepEqual(s.refused, tt.wantRefused) {
				t.Errorf("refused = %v, want %v", s.refused, tt.wantRefused)
			}
		})
	}
}

func TestScanFindsNewFiles(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{MarkerFile, "old.txt", "output/a.csv", "output/new.txt", "tmp/scratch.txt"} {
		write(t, filepath.Join(root, f), "x")
	}
	settle(t, root, preparedTime)
	for _, f := range []string{"output/a.csv", "output/new.txt", "tmp/scratch.txt"} {
		if err := os.Chtimes(filepath.Join(root, f), writtenTime, writtenTime); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := openTree(root, false, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	s, err := scanTree(tr, map[string]string{"output/*.csv": executor.ModeratelySensitive}, preparedTime, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"output/new.txt", "tmp/scratch.txt"}
	if !reflect.DeepEqual(s.unmatchedOutputs, want) {
		t.Errorf("unmatched outputs = %q, want %q", s.unmatchedOutputs, want)
	}
}
