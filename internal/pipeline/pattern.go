package pipeline

import (
	"strings"
	"unicode/utf8"
)

// Privacy levels of outputs.
const (
	HighlySensitive     = "highly_sensitive"
	ModeratelySensitive = "moderately_sensitive"
	MinimallySensitive  = "minimally_sensitive"
)

// Levels lists the privacy levels in the order upstream checks them.
var Levels = []string{HighlySensitive, ModeratelySensitive, MinimallySensitive}

// Level4FileTypes are the file suffixes a moderately_sensitive output may
// have. They are case-sensitive.
var Level4FileTypes = []string{".csv", ".jpg", ".jpeg", ".png", ".svg", ".svgz", ".html", ".txt", ".log", ".json", ".md"}

// levelIndex is a privacy level's index in Levels, or -1.
func levelIndex(level string) int {
	for i, l := range Levels {
		if l == level {
			return i
		}
	}
	return -1
}

func isLevel4FileType(suffix string) bool {
	for _, t := range Level4FileTypes {
		if suffix == t {
			return true
		}
	}
	return false
}

// patternIssue is why an output pattern is invalid.
type patternIssue struct {
	rule   string
	reason string
	hint   string
}

// checkPattern applies the output pattern rules in upstream's order and
// returns the first that fails, or nil. Haven's rule against `..` segments
// runs after the normal-form rule, which catches every `..` but a leading one.
func checkPattern(p, level string) *patternIssue {
	if strings.Contains(p, `\`) {
		return &patternIssue{RulePatternBackslash, "contains back slashes (use forward slashes only)",
			"write paths with forward slashes, e.g. output/results.csv"}
	}
	for _, x := range []string{"**", "?", "["} {
		if strings.Contains(p, x) {
			return &patternIssue{RulePatternWildcard, "contains '" + x + "' (only the * wildcard character is supported)",
				"use * (which matches within one directory) or list the files one by one"}
		}
	}
	suffix := pathSuffix(p)
	if suffix == "" || strings.HasSuffix(suffix, "*") {
		return &patternIssue{RulePatternNoExtension, "output paths must have a file type extension at the end",
			"end the pattern with a file extension, e.g. output/*.csv rather than output/*"}
	}
	if level == ModeratelySensitive && !isLevel4FileType(suffix) {
		return &patternIssue{RulePatternL4Type, purePosixString(p) + " is not an allowed file type for moderately_sensitive outputs",
			"moderately_sensitive outputs may only be " + strings.Join(Level4FileTypes, " ") +
				"; write the output in one of these formats, or label it highly_sensitive"}
	}
	if normPath(p) != p {
		return &patternIssue{RulePatternNotNormal, "is not in standard form (contains double slashes or '..' elements)",
			"write the path as " + normPath(p)}
	}
	if hasDotDotSegment(p) {
		return &patternIssue{RulePatternParentDir, "contains a '..' element, which would point outside the workspace",
			"outputs must stay inside the workspace: remove the '..' element"}
	}
	if p == "metadata" || strings.HasPrefix(p, "metadata/") {
		return &patternIssue{RulePatternMetadata, "should not include the metadata directory",
			"the metadata directory is reserved for job logs; write outputs under output/ instead"}
	}
	if strings.HasPrefix(p, "/") || isWindowsAbsolute(p) {
		return &patternIssue{RulePatternAbsolute, "is an absolute path",
			"output paths are relative to the workspace, e.g. output/results.csv"}
	}
	return nil
}

// hasDotDotSegment reports whether a path has a ".." segment.
func hasDotDotSegment(p string) bool {
	for p != "" {
		seg, rest, _ := strings.Cut(p, "/")
		if seg == ".." {
			return true
		}
		p = rest
	}
	return false
}

// isWindowsAbsolute reports a drive with a root (C:/x) as Windows sees it;
// any single character before the colon counts as a drive.
func isWindowsAbsolute(p string) bool {
	_, n := utf8.DecodeRuneInString(p)
	if n == 0 || len(p) < n+2 || p[n] != ':' {
		return false
	}
	return p[n+1] == '/' || p[n+1] == '\\'
}

// pathSuffix returns the suffix of the final component of a path as
// Python's pathlib (3.10) does: from the last dot, or "" when the name has no
// dot, starts with its only dot, or ends with a dot.
func pathSuffix(p string) string {
	name := pathName(p)
	i := strings.LastIndexByte(name, '.')
	if i > 0 && i < len(name)-1 {
		return name[i:]
	}
	return ""
}

// pathName returns the final component of the path as pathlib parses it
// (empty and "." components are dropped).
func pathName(p string) string {
	parts := strings.Split(p, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] != "" && parts[i] != "." {
			return parts[i]
		}
	}
	return ""
}

// purePosixString renders a path as str(PurePosixPath(p)): repeated slashes
// and "." components collapse, a trailing slash goes, and exactly two
// leading slashes stay.
func purePosixString(p string) string {
	if p == "" {
		return "."
	}
	prefix := ""
	switch {
	case strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///"):
		prefix = "//"
	case strings.HasPrefix(p, "/"):
		prefix = "/"
	}
	var kept []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			kept = append(kept, s)
		}
	}
	out := prefix + strings.Join(kept, "/")
	if out == "" {
		return "."
	}
	return out
}

// normPath is Python's posixpath.normpath.
func normPath(p string) string {
	if p == "" {
		return "."
	}
	initial := 0
	if strings.HasPrefix(p, "/") {
		initial = 1
		if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
			initial = 2
		}
	}
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." {
			continue
		}
		if c != ".." || (initial == 0 && len(out) == 0) || (len(out) > 0 && out[len(out)-1] == "..") {
			out = append(out, c)
		} else if len(out) > 0 {
			out = out[:len(out)-1]
		}
	}
	s := strings.Repeat("/", initial) + strings.Join(out, "/")
	if s == "" {
		return "."
	}
	return s
}

// parentDir is str(PurePosixPath(p).parent).
func parentDir(p string) string {
	s := purePosixString(p)
	i := strings.LastIndexByte(s, '/')
	switch {
	case i < 0:
		return "."
	case s[:i] == "" || s[:i] == "/":
		return s[:i+1]
	}
	return s[:i]
}

// MatchPattern reports whether a workspace-relative path matches an output
// pattern: `*` matches any run of characters except '/', and nothing else is
// special.
func MatchPattern(pattern, path string) bool {
	pSegs := strings.Split(pattern, "/")
	fSegs := strings.Split(path, "/")
	if len(pSegs) != len(fSegs) {
		return false
	}
	for i := range pSegs {
		if !matchSegment(pSegs[i], fSegs[i]) {
			return false
		}
	}
	return true
}

// matchSegment matches one path segment against a glob whose only special
// character is `*`.
func matchSegment(glob, s string) bool {
	parts := strings.Split(glob, "*")
	if len(parts) == 1 {
		return glob == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// segmentsOverlap reports whether two single-segment globs share a match.
func segmentsOverlap(a, b string) bool {
	aw, bw := strings.Contains(a, "*"), strings.Contains(b, "*")
	switch {
	case !aw && !bw:
		return a == b
	case !aw:
		return matchSegment(b, a)
	case !bw:
		return matchSegment(a, b)
	}
	// Both have wildcards. The literal text before the first * of each must
	// agree as far as the shorter goes, and likewise after the last *; the
	// stars can then absorb everything in between.
	ap, as := a[:strings.IndexByte(a, '*')], a[strings.LastIndexByte(a, '*')+1:]
	bp, bs := b[:strings.IndexByte(b, '*')], b[strings.LastIndexByte(b, '*')+1:]
	return (strings.HasPrefix(ap, bp) || strings.HasPrefix(bp, ap)) &&
		(strings.HasSuffix(as, bs) || strings.HasSuffix(bs, as))
}

// PatternSet matches paths against many output patterns at once: literal
// patterns by lookup, wildcard ones one by one (bucketed by segment count).
// A project of a thousand actions has a thousand patterns, nearly all
// literal, and every file of a scratch copy is checked against them all.
type PatternSet struct {
	literal map[string]bool
	wild    map[int][]string // segment count -> wildcard patterns
}

// NewPatternSet builds a PatternSet.
func NewPatternSet(patterns []string) *PatternSet {
	s := &PatternSet{literal: make(map[string]bool, len(patterns)), wild: map[int][]string{}}
	for _, p := range patterns {
		if strings.Contains(p, "*") {
			n := strings.Count(p, "/") + 1
			s.wild[n] = append(s.wild[n], p)
		} else {
			s.literal[p] = true
		}
	}
	return s
}

// Match reports whether path matches any pattern of the set.
func (s *PatternSet) Match(path string) bool {
	if s.literal[path] {
		return true
	}
	for _, p := range s.wild[strings.Count(path, "/")+1] {
		if MatchPattern(p, path) {
			return true
		}
	}
	return false
}
