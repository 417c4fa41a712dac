package releaseapi

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/pipeline"
)

// MaxFileSize is the largest file a release may hold (spec §11.3): the
// same limit the agent applies when it copies outputs.
const MaxFileSize = outputs.DefaultLevel4MaxFileSize

// maxNameLen bounds a file name, in bytes.
const maxNameLen = 1024

// sizeMessage is the create answer for a file over MaxFileSize.
const sizeMessage = "File size should be <16Mb"

// suffix is a file name's suffix as the allow-list spells it ("" when
// there is none).
func suffix(name string) string {
	base := path.Base(name)
	i := strings.LastIndexByte(base, '.')
	if i <= 0 || i == len(base)-1 {
		return ""
	}
	return base[i:]
}

// checkName reports why name may not be a released file's name, or nil:
// it must be a clean relative path with '/' separators, with no empty,
// "." or ".." component, no component starting with '.', no control
// characters or backslashes, valid UTF-8, and an allowed type.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a file has no name")
	case len(name) > maxNameLen:
		return fmt.Errorf("file name %.40q… is longer than %d bytes", name, maxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("file name %q is not valid UTF-8", name)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("file name %q is absolute: give the path relative to the workspace", name)
	case strings.ContainsRune(name, '\\'):
		return fmt.Errorf("file name %q contains a backslash: separate folders with '/'", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("file name %q contains a control character", name)
		}
	}
	for _, part := range strings.Split(name, "/") {
		switch {
		case part == "" || part == ".":
			return fmt.Errorf("file name %q is not a clean path: remove empty and '.' components", name)
		case part == "..":
			return fmt.Errorf("file name %q contains '..': give the path relative to the workspace, inside it", name)
		case strings.HasPrefix(part, "."):
			return fmt.Errorf("file name %q has a component starting with '.': hidden files cannot be released", name)
		}
	}
	if s := suffix(name); !slices.Contains(pipeline.Level4FileTypes, s) {
		return fmt.Errorf("file %q: type %q cannot be released; allowed types are %s", name, s, strings.Join(pipeline.Level4FileTypes, " "))
	}
	return nil
}

// checkLevel refuses metadata that says the file is anything but
// moderately_sensitive: nothing else may leave a backend.
func checkLevel(what string, meta map[string]string) error {
	if level, ok := meta["level"]; ok && level != pipeline.ModeratelySensitive {
		return fmt.Errorf("%s: level %q cannot be released; only %s outputs can", what, level, pipeline.ModeratelySensitive)
	}
	return nil
}

// validSHA256 reports whether s is 64 lower-case hex digits.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// contentTypes maps each allowed type to the Content-Type it is served
// with (never sniffed).
var contentTypes = map[string]string{
	".csv":  "text/csv; charset=utf-8",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".svgz": "image/svg+xml", // served decompressed
	".html": "text/html; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
	".log":  "text/plain; charset=utf-8",
	".json": "application/json",
	".md":   "text/markdown; charset=utf-8",
}
