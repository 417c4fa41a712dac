package outputs

import (
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/pipeline"
)

// Match finds a job's outputs in root (a scratch workspace, spec §22.1):
// every regular file whose whole root-relative path matches one of spec's
// patterns, where `*` matches any run of characters except '/'. It returns
// each matched file with its privacy level, and the patterns (sorted) that
// matched no file.
//
// Directories, symlinks, FIFOs, sockets and devices are never outputs,
// even when their name matches: a symlink could point anywhere. A file
// matched by patterns of different levels gets the level that exposes it
// least: highly_sensitive, then minimally_sensitive (which, as upstream,
// stays in high privacy only), then moderately_sensitive (the only level
// copied to the medium-privacy workspace). Upstream lets the last pattern
// win; Haven picks the safe one.
func Match(root string, spec map[string]string) (matched map[string]string, unmatchedPatterns []string, err error) {
	t, err := openTree(root, false, 0o755)
	if err != nil {
		return nil, nil, fmt.Errorf("match outputs: %w", err)
	}
	defer t.Close()
	s, err := scanTree(t, spec, time.Time{}, false)
	if err != nil {
		return nil, nil, err
	}
	return s.matched, s.unmatchedPatterns, nil
}

// scan is what a finished job left in its scratch workspace.
type scan struct {
	matched           map[string]string    // output file → level
	mtimes            map[string]time.Time // of each output file
	unmatchedPatterns []string             // patterns that matched no regular file, sorted
	refused           map[string]string    // paths matching a pattern that are not regular files → their kind
	unmatchedOutputs  []string             // files newer than the marker that are not outputs, sorted
}

// scanTree walks a scratch workspace once, matching the patterns and
// collecting the files written after the marker (when haveMarker).
func scanTree(t *tree, spec map[string]string, marker time.Time, haveMarker bool) (*scan, error) {
	patterns := make([]string, 0, len(spec))
	for p := range spec {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	s := &scan{
		matched:           map[string]string{},
		mtimes:            map[string]time.Time{},
		unmatchedPatterns: []string{},
		refused:           map[string]string{},
		unmatchedOutputs:  []string{},
	}
	hits := make(map[string]bool, len(patterns))
	var newer []string
	err := fs.WalkDir(t.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." || p == MarkerFile {
			return nil
		}
		var fi fs.FileInfo
		if d.Type().IsRegular() {
			if fi, err = d.Info(); err != nil {
				return err
			}
			if haveMarker && fi.ModTime().After(marker) {
				newer = append(newer, p)
			}
		}
		for _, pat := range patterns {
			if !pipeline.MatchPattern(pat, p) {
				continue
			}
			if fi == nil {
				s.refused[p] = fileKind(d.Type())
				continue
			}
			hits[pat] = true
			if old, ok := s.matched[p]; !ok || levelRank(spec[pat]) > levelRank(old) {
				s.matched[p] = spec[pat]
			}
			s.mtimes[p] = fi.ModTime()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("match outputs in %s: %w", t.dir, err)
	}
	for _, pat := range patterns {
		if !hits[pat] {
			s.unmatchedPatterns = append(s.unmatchedPatterns, pat)
		}
	}
	for _, p := range newer {
		if _, ok := s.matched[p]; !ok {
			s.unmatchedOutputs = append(s.unmatchedOutputs, p)
		}
	}
	sort.Strings(s.unmatchedOutputs)
	return s, nil
}

// levelRank orders privacy levels by how little they expose a file at run
// time: higher is more private. An unknown level counts as most private.
func levelRank(level string) int {
	switch level {
	case executor.ModeratelySensitive:
		return 1
	case executor.MinimallySensitive:
		return 2
	case executor.HighlySensitive:
		return 3
	}
	return 4
}
