// Package policy holds the rules on which files may leave a secure
// backend (spec §11.3), in one place for the agent, Airlock and the job
// server: the allowed file types, the 16 MiB limit, what a released
// file's name may be, the types files are served with, and the sandbox
// every file's content is served in.
package policy

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/pipeline"
)

// MaxFileSize is the largest file that may be released (16 MiB): the same
// limit the agent applies when it copies outputs to medium privacy.
const MaxFileSize = outputs.DefaultLevel4MaxFileSize

// SizeMessage is how the job server refuses a file over MaxFileSize.
const SizeMessage = "File size should be <16Mb"

// MaxNameLen bounds a file name, in bytes.
const MaxNameLen = 1024

// ContentSecurityPolicy is sent with the content of every output file a
// person views, in Airlock and on the job server: a sandbox with no
// scripts, no same origin, no plugins, nothing fetched but inline images
// and styles.
const ContentSecurityPolicy = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"

// FileTypes returns the suffixes of the files that may be released.
func FileTypes() []string { return slices.Clone(pipeline.Level4FileTypes) }

// Suffix is a file name's suffix as the allow-list spells it (from the
// last dot of the base name, case kept), "" when there is none.
func Suffix(name string) string {
	base := path.Base(name)
	i := strings.LastIndexByte(base, '.')
	if i <= 0 || i == len(base)-1 {
		return ""
	}
	return base[i:]
}

// AllowedType reports whether a file may be shown, requested or
// released: its base name does not start with a dot and its suffix is an
// allowed type.
func AllowedType(name string) bool {
	if strings.HasPrefix(path.Base(name), ".") {
		return false
	}
	return slices.Contains(pipeline.Level4FileTypes, Suffix(name))
}

// CheckName reports why name may not be a released file's name, or nil:
// it must be a clean relative path with '/' separators, with no empty,
// "." or ".." component, no component starting with '.', no control
// characters or backslashes, valid UTF-8, and an allowed type.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a file has no name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("file name %.40q… is longer than %d bytes", name, MaxNameLen)
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
	if s := Suffix(name); !slices.Contains(pipeline.Level4FileTypes, s) {
		return fmt.Errorf("file %q: type %q cannot be released; allowed types are %s", name, s, strings.Join(pipeline.Level4FileTypes, " "))
	}
	return nil
}

// ValidSHA256 reports whether s is 64 lower-case hex digits.
func ValidSHA256(s string) bool {
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

// contentTypes maps each allowed type to the Content-Type its content is
// served with (never sniffed); a .svgz is served decompressed.
var contentTypes = map[string]string{
	".csv":  "text/csv; charset=utf-8",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".svgz": "image/svg+xml",
	".html": "text/html; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
	".log":  "text/plain; charset=utf-8",
	".json": "application/json",
	".md":   "text/markdown; charset=utf-8",
}

// ContentType is the type name's content is served with, "" for a type
// that is not allowed.
func ContentType(name string) string { return contentTypes[Suffix(name)] }

// Gunzip decompresses a .svgz, refusing more than limit bytes of output
// without ever holding more than limit+1 of them (a gzip bomb cannot
// exhaust memory).
func Gunzip(r io.Reader, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, errors.New("it is not gzip-compressed")
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("it decompresses to more than %d MiB", limit>>20)
	}
	if err != nil {
		return nil, errors.New("it is not valid gzip")
	}
	return out, nil
}
