package airlock

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/haven-tre/haven/internal/disclosure"
)

// Finding is one automated disclosure finding on a request file, with the
// id a reviewer acknowledges it by.
type Finding struct {
	ID string
	disclosure.Finding
}

// check runs the automated disclosure checker on a frozen file's bytes
// (spec §9.7). It never fails: a file the checker cannot read comes back
// with the checker's own REVIEW finding saying so.
func (s *Service) check(name string, data []byte) (json.RawMessage, []string) {
	rep := disclosure.CheckFile(name, data, disclosure.Options{Profile: s.Profile})
	raw, err := json.Marshal(rep)
	if err != nil { // a report is plain data; this cannot happen
		raw = nil
	}
	return raw, failIDs(withIDs(rep.Findings))
}

// CheckerVersion names the disclosure rules and profile a report was made
// with, so a stored result can be told apart from one made by other rules.
func (s *Service) CheckerVersion() string {
	return fmt.Sprintf("rules %s, profile %s (%.12s)", disclosure.RulesVersion, s.Profile.Name, s.Profile.SHA256)
}

// Report decodes a stored disclosure report; nil for none or one that
// cannot be read.
func Report(raw json.RawMessage) *disclosure.FileReport {
	if len(raw) == 0 {
		return nil
	}
	var rep disclosure.FileReport
	if json.Unmarshal(raw, &rep) != nil {
		return nil
	}
	return &rep
}

// Findings returns a stored report's findings with their ids.
func Findings(raw json.RawMessage) []Finding {
	rep := Report(raw)
	if rep == nil {
		return nil
	}
	return withIDs(rep.Findings)
}

// withIDs gives every finding an id stable for the same report: its rule
// and where it is ("C1@r3c2", "F1@file"), numbered when the same rule
// fires twice in one place.
func withIDs(fs []disclosure.Finding) []Finding {
	out := make([]Finding, len(fs))
	seen := map[string]int{}
	for i, f := range fs {
		id := f.Rule + "@" + place(f)
		seen[id]++
		if n := seen[id]; n > 1 {
			id += "#" + strconv.Itoa(n)
		}
		out[i] = Finding{ID: id, Finding: f}
	}
	return out
}

func place(f disclosure.Finding) string {
	switch {
	case f.Row > 0 && f.Col > 0:
		return fmt.Sprintf("r%dc%d", f.Row, f.Col)
	case f.Col > 0:
		return fmt.Sprintf("c%d", f.Col)
	case f.Row > 0:
		return fmt.Sprintf("r%d", f.Row)
	}
	return "file"
}
