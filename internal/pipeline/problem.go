package pipeline

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a problem blocks the pipeline.
type Severity string

// Severities. Errors make a project invalid; warnings never do.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Rule codes. They are stable: users and tests rely on them, and
// docs/rules.md documents each one.
const (
	RuleYAMLSyntax       = "yaml-syntax"
	RuleYAMLDuplicateKey = "yaml-duplicate-key"
	RuleYAMLTag          = "yaml-tag"
	RuleTopNotMapping    = "top-not-mapping"
	RuleTopUnknownKey    = "top-unknown-key"

	RuleVersionMissing    = "version-missing"
	RuleVersionNotNumber  = "version-not-number"
	RuleVersionOutOfRange = "version-out-of-range"
	RuleWarnOldVersion    = "warn-old-version"

	RuleActionsNotMapping = "actions-not-mapping"

	RuleActionReservedName   = "action-reserved-name"
	RuleWarnRunAllName       = "warn-run-all-name"
	RuleActionNotMapping     = "action-not-mapping"
	RuleActionMissingRun     = "action-missing-run"
	RuleActionMissingOutputs = "action-missing-outputs"
	RuleActionUnknownKey     = "action-unknown-key"
	RuleActionOutputsType    = "action-outputs-type"
	RuleActionRunType        = "action-run-type"
	RuleActionNeedsType      = "action-needs-type"
	RuleActionConfigType     = "action-config-type"
	RuleActionConfigJSON     = "action-config-json"
	RuleActionDummyDataType  = "action-dummy-data-type"

	RuleOutputsNoLevel      = "outputs-no-level"
	RuleOutputsUnknownLevel = "outputs-unknown-level"
	RuleOutputsLevelType    = "outputs-level-type"
	RuleOutputNotString     = "output-not-string"

	RulePatternBackslash   = "pattern-backslash"
	RulePatternWildcard    = "pattern-wildcard"
	RulePatternNoExtension = "pattern-no-extension"
	RulePatternL4Type      = "pattern-l4-type"
	RulePatternNotNormal   = "pattern-not-normal"
	RulePatternParentDir   = "pattern-parent-dir"
	RulePatternMetadata    = "pattern-metadata"
	RulePatternAbsolute    = "pattern-absolute"

	RuleRunEmpty           = "run-empty"
	RuleRunUnbalancedQuote = "run-unbalanced-quote"
	RuleRunTag             = "run-tag"

	RuleNeedsNotString = "needs-not-string"
	RuleNeedsSpace     = "needs-space"

	RuleCohortOneLevel        = "cohort-one-level"
	RuleCohortOneDir          = "cohort-one-dir"
	RuleDatasetLevel          = "dataset-level"
	RuleDatasetNoOutput       = "dataset-no-output"
	RuleDatasetOutputMismatch = "dataset-output-mismatch"

	RuleCohortextractorRemoved = "cohortextractor-removed"
	RuleLatestTag              = "latest-tag"
	RuleRunDuplicate           = "run-duplicate"
	RuleOutputDuplicate        = "output-duplicate"
	RuleNeedsUnknown           = "needs-unknown"

	RuleExpectationsMissing        = "expectations-missing"
	RuleExpectationsNotMapping     = "expectations-not-mapping"
	RuleExpectationsNoPopulation   = "expectations-no-population"
	RuleExpectationsPopulationType = "expectations-population-type"
	RuleExpectationsUnknownKey     = "expectations-unknown-key"
	RuleExpectationsForbidden      = "expectations-forbidden"

	RuleNeedsCycle             = "needs-cycle"
	RuleWarnOverlappingOutputs = "warn-overlapping-outputs"
)

// AllRules lists every rule code, in upstream precedence order.
var AllRules = []string{
	RuleYAMLSyntax,
	RuleYAMLDuplicateKey,
	RuleYAMLTag,
	RuleTopNotMapping,
	RuleTopUnknownKey,
	RuleVersionMissing,
	RuleVersionNotNumber,
	RuleVersionOutOfRange,
	RuleWarnOldVersion,
	RuleActionsNotMapping,
	RuleActionReservedName,
	RuleWarnRunAllName,
	RuleActionNotMapping,
	RuleActionMissingRun,
	RuleActionMissingOutputs,
	RuleActionUnknownKey,
	RuleActionOutputsType,
	RuleActionRunType,
	RuleActionNeedsType,
	RuleActionConfigType,
	RuleActionConfigJSON,
	RuleActionDummyDataType,
	RuleOutputsNoLevel,
	RuleOutputsUnknownLevel,
	RuleOutputsLevelType,
	RuleOutputNotString,
	RulePatternBackslash,
	RulePatternWildcard,
	RulePatternNoExtension,
	RulePatternL4Type,
	RulePatternNotNormal,
	RulePatternParentDir,
	RulePatternMetadata,
	RulePatternAbsolute,
	RuleRunEmpty,
	RuleRunUnbalancedQuote,
	RuleRunTag,
	RuleNeedsNotString,
	RuleNeedsSpace,
	RuleCohortOneLevel,
	RuleCohortOneDir,
	RuleDatasetLevel,
	RuleDatasetNoOutput,
	RuleDatasetOutputMismatch,
	RuleCohortextractorRemoved,
	RuleLatestTag,
	RuleRunDuplicate,
	RuleOutputDuplicate,
	RuleNeedsUnknown,
	RuleExpectationsMissing,
	RuleExpectationsNotMapping,
	RuleExpectationsNoPopulation,
	RuleExpectationsPopulationType,
	RuleExpectationsUnknownKey,
	RuleExpectationsForbidden,
	RuleNeedsCycle,
	RuleWarnOverlappingOutputs,
}

// Problem is one thing wrong with a project file: where it is, which rule it
// breaks, and what to do about it.
type Problem struct {
	Severity Severity
	Rule     string // one of the Rule* codes
	File     string // the path as the user named it
	Line     int    // 1-based; 0 when the problem has no position
	Column   int    // 1-based
	Message  string // the message, worded as upstream OpenSAFELY words it
	Hint     string // how to fix it, when there is more to say than the message

	// precedence orders problems the way upstream checks them, so the
	// smallest is the one upstream would report (see Problems.First).
	precedence precedence
}

// precedence is a key in upstream's check order: step, action index, then
// finer positions; unused places are zero. Keys compare element by element.
type precedence [6]int

// pr builds a precedence key from its leading parts.
func pr(parts ...int) precedence {
	var k precedence
	copy(k[:], parts)
	return k
}

// then returns the key with more parts placed after the used ones.
func (k precedence) then(n int, more ...int) precedence {
	copy(k[n:], more)
	return k
}

// IsError reports whether the problem blocks the project.
func (p Problem) IsError() bool { return p.Severity == SeverityError }

// String formats the problem as FILE:LINE:COL: SEVERITY[RULE]: MESSAGE.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s[%s]: %s", p.File, p.Line, p.Column, p.Severity, p.Rule, p.Message)
}

// Problems is a list of problems found in one project file.
type Problems []Problem

// HasErrors reports whether any problem is an error.
func (ps Problems) HasErrors() bool {
	for _, p := range ps {
		if p.IsError() {
			return true
		}
	}
	return false
}

// Errors returns only the errors.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns only the warnings.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// First returns the error upstream OpenSAFELY would report, which is the one
// its checks reach first, and false when there is no error.
func (ps Problems) First() (Problem, bool) {
	var best Problem
	found := false
	for _, p := range ps {
		if !p.IsError() {
			continue
		}
		if !found || comparePrecedence(p.precedence, best.precedence) < 0 {
			best, found = p, true
		}
	}
	return best, found
}

// Error joins the errors, one per line, so Problems can be returned as an error.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps.Errors() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// sortByPosition orders problems by line, then column, then precedence, so a
// reader sees them in file order.
func (ps Problems) sortByPosition() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return comparePrecedence(a.precedence, b.precedence) < 0
	})
}

func comparePrecedence(a, b precedence) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
