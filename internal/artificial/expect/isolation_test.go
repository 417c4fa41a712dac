package expect

import (
	"go/build"
	"strings"
	"testing"
)

// The expectations generator never reads record-level data: neither it nor
// anything it imports may depend on the packages that read real tables.
func TestNoRecordReaders(t *testing.T) {
	const module = "github.com/haven-tre/haven/"
	forbidden := []string{module + "internal/artificial/scrape", module + "internal/artificial/records"}
	seen := map[string]bool{}
	var walk func(path, dir string, chain []string)
	walk = func(path, dir string, chain []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, f := range forbidden {
			if path == f || strings.HasPrefix(path, f+"/") {
				t.Errorf("expect depends on %s through %s", path, strings.Join(chain, " -> "))
			}
		}
		pkg, err := build.Import(path, dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, module) || imp == strings.TrimSuffix(module, "/") {
				walk(imp, pkg.Dir, append(chain, imp))
			}
		}
	}
	walk(module+"internal/artificial/expect", ".", []string{"expect"})
	if len(seen) < 4 {
		t.Errorf("walked only %v: the import walk is broken", seen)
	}
}
