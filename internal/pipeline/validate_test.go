package pipeline

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// v5 wraps one action body (indented four spaces) in a version 5 project.
func v5(body string) string {
	return "version: '5.0'\nactions:\n  a:\n" + body
}

// v3 wraps action definitions (indented two spaces) in a version 3 project.
func v3(actions string) string {
	return "version: '3.0'\nexpectations:\n  population_size: 1000\nactions:\n" + actions
}

const okOutputs = "    outputs:\n      highly_sensitive:\n        d: output/d.csv\n"

// TestRules covers every rule: the first error (by upstream precedence), its
// rule code, message and position.
func TestRules(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		rule      string
		msg       string // the whole message
		line, col int
	}{
		// Step 0: YAML.
		{"yaml syntax", "version: 5\nactions:\n\ta: 1\n", RuleYAMLSyntax, "YAML syntax error: found character that cannot start any token", 3, 1},
		{"duplicate key", "version: 5\nversion: 4\nactions: {}\n", RuleYAMLDuplicateKey, `found duplicate key "version" with value "4" (original value: "5")`, 2, 1},
		{"duplicate null key value", "test:\ntest:\n", RuleYAMLDuplicateKey, `found duplicate key "test" with value "None" (original value: "None")`, 2, 1},
		{"custom tag", "version: !python/object 5\nactions: {}\n", RuleYAMLTag, `could not determine a constructor for the tag "!python/object"`, 1, 10},
		{"two documents", "version: 5\nactions: {}\n---\nversion: 5\n", RuleYAMLSyntax, "expected a single document in the stream, but found another document", 3, 1},
		{"empty file", "", RuleTopNotMapping, "the project file is empty", 1, 1},
		{"top is a list", "- a\n- b\n", RuleTopNotMapping, "the project file must be a mapping of `version`, `expectations` and `actions`", 1, 1},
		{"complex key", "? [a, b]\n: 1\nversion: 5\nactions: {}\n", RuleYAMLSyntax, "found an unhashable key: mapping keys must be plain values, not lists or mappings", 1, 3},
		// Steps 1 to 4: the top level.
		{"unknown top keys", "version: 5\nfoo: 1\nactions: {}\nbar: 2\n", RuleTopUnknownKey, "Unexpected parameters (foo, bar) in project", 2, 1},
		{"version missing", "actions: {}\n", RuleVersionMissing, "Project file must have a `version` attribute specifying which version of the project configuration format it uses (current latest version is 5)", 1, 1},
		{"version null", "version:\nactions: {}\n", RuleVersionMissing, "Project file must have a `version` attribute specifying which version of the project configuration format it uses (current latest version is 5)", 1, 1},
		{"version not number", "version: latest\nactions: {}\n", RuleVersionNotNumber, "`version` must be a number between 1 and 5", 1, 10},
		{"version list", "version: [5]\nactions: {}\n", RuleVersionNotNumber, "`version` must be a number between 1 and 5", 1, 10},
		{"version 0", "version: 0\nactions: {}\n", RuleVersionOutOfRange, "`version` must be a number between 1 and 5", 1, 10},
		{"version 6", "version: '6'\nactions: {}\n", RuleVersionOutOfRange, "`version` must be a number between 1 and 5", 1, 10},
		{"version -1", "version: -1\nactions: {}\n", RuleVersionOutOfRange, "`version` must be a number between 1 and 5", 1, 10},
		{"version nan", "version: nan\nactions: {}\n", RuleVersionOutOfRange, "`version` must be a number between 1 and 5", 1, 10},
		{"version huge", "version: 1e999\nactions: {}\n", RuleVersionOutOfRange, "`version` must be a number between 1 and 5", 1, 10},
		{"actions missing", "version: 5\n", RuleActionsNotMapping, "Project `actions` section must be a dictionary of key/value pairs", 1, 1},
		{"actions list", "version: 5\nactions: [a]\n", RuleActionsNotMapping, "Project `actions` section must be a dictionary of key/value pairs", 2, 10},
		// Step 5: each action.
		{"run_all in v5", "version: 5\nactions:\n  run_all:\n    run: python:v2 x\n" + okOutputs, RuleActionReservedName, "`run_all` is a reserved action name and is not allowed for user-defined actions.", 3, 3},
		{"action null", "version: 5\nactions:\n  a:\n", RuleActionNotMapping, "Configuration for action a must be a dictionary of key/value pairs", 3, 3},
		{"action string", "version: 5\nactions:\n  a: python:v2 x\n", RuleActionNotMapping, "Configuration for action a must be a dictionary of key/value pairs", 3, 3},
		{"run missing", v5(okOutputs), RuleActionMissingRun, "Action a must contain a configuration for 'run'", 3, 3},
		{"outputs missing", v5("    run: python:v2 x\n"), RuleActionMissingOutputs, "Action a must contain a configuration for 'outputs'", 3, 3},
		{"unknown action key", v5("    run: python:v2 x\n    extra: 1\n    more: 2\n" + okOutputs), RuleActionUnknownKey, "Unexpected parameters (extra, more) in action a", 5, 5},
		{"outputs type", v5("    run: python:v2 x\n    outputs: output/x.csv\n"), RuleActionOutputsType, "`outputs` section for action a must be a dictionary of key/value pairs", 5, 14},
		{"run type", v5("    run: [python:v2, x]\n" + okOutputs), RuleActionRunType, "`run` section for action a must be a string", 4, 10},
		{"run null", v5("    run:\n" + okOutputs), RuleActionRunType, "`run` section for action a must be a string", 4, 5},
		{"needs type", v5("    run: python:v2 x\n    needs: b\n" + okOutputs), RuleActionNeedsType, "`needs` section for action a must be a list", 5, 12},
		{"config type", v5("    run: python:v2 x\n    config: 3\n" + okOutputs), RuleActionConfigType, "`config` section for action a must be a dictionary of key/value pairs", 5, 13},
		{"config self reference", v5("    run: python:v2 x\n    config: &c {self: *c}\n" + okOutputs), RuleActionConfigJSON, "`config` section for action a cannot be passed to the action: it is nested more than 100 levels deep", 5, 13},
		{"dummy data type", v5("    run: python:v2 x\n    dummy_data_file: [a]\n" + okOutputs), RuleActionDummyDataType, "`dummy_data_file` section for action a must be a string", 5, 22},
		{"no level", v5("    run: python:v2 x\n    outputs:\n      foo:\n        d: output/d.csv\n"), RuleOutputsNoLevel, "must specify at least one output of: highly_sensitive, moderately_sensitive, minimally_sensitive", 5, 5},
		{"only null level", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n"), RuleOutputsNoLevel, "must specify at least one output of: highly_sensitive, moderately_sensitive, minimally_sensitive", 5, 5},
		{"unknown level", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/d.csv\n      extra:\n        e: output/e.csv\n"), RuleOutputsUnknownLevel, "Unexpected parameters (extra) in `outputs` section for action a", 8, 7},
		{"level type", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive: output/d.csv\n"), RuleOutputsLevelType, "`highly_sensitive` section for action a must be a dictionary of key/value pairs", 6, 25},
		{"output not string", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        dataset: 3\n"), RuleOutputNotString, "`dataset` output for action a must be a string", 7, 18},
		{"backslash", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: 'output\\d.csv'\n"), RulePatternBackslash, `Output path output\d.csv is invalid: contains back slashes (use forward slashes only)`, 7, 12},
		{"double star", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/**/d.csv\n"), RulePatternWildcard, "Output path output/**/d.csv is invalid: contains '**' (only the * wildcard character is supported)", 7, 12},
		{"question mark", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/d?.csv\n"), RulePatternWildcard, "Output path output/d?.csv is invalid: contains '?' (only the * wildcard character is supported)", 7, 12},
		{"bracket", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/[ab].csv\n"), RulePatternWildcard, "Output path output/[ab].csv is invalid: contains '[' (only the * wildcard character is supported)", 7, 12},
		{"no extension", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/*\n"), RulePatternNoExtension, "Output path output/* is invalid: output paths must have a file type extension at the end", 7, 12},
		{"star extension", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/foo.*\n"), RulePatternNoExtension, "Output path output/foo.* is invalid: output paths must have a file type extension at the end", 7, 12},
		{"l4 type", v5("    run: python:v2 x\n    outputs:\n      moderately_sensitive:\n        d: output//model.rds\n"), RulePatternL4Type, "Output path output//model.rds is invalid: output/model.rds is not an allowed file type for moderately_sensitive outputs", 7, 12},
		{"l4 case", v5("    run: python:v2 x\n    outputs:\n      moderately_sensitive:\n        d: output/t.CSV\n"), RulePatternL4Type, "Output path output/t.CSV is invalid: output/t.CSV is not an allowed file type for moderately_sensitive outputs", 7, 12},
		{"not normal", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/../x.csv\n"), RulePatternNotNormal, "Output path output/../x.csv is invalid: is not in standard form (contains double slashes or '..' elements)", 7, 12},
		{"dot slash", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: ./x.csv\n"), RulePatternNotNormal, "Output path ./x.csv is invalid: is not in standard form (contains double slashes or '..' elements)", 7, 12},
		{"leading dotdot", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: ../x.csv\n"), RulePatternParentDir, "Output path ../x.csv is invalid: contains a '..' element, which would point outside the workspace", 7, 12},
		{"metadata", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: metadata/x.csv\n"), RulePatternMetadata, "Output path metadata/x.csv is invalid: should not include the metadata directory", 7, 12},
		{"absolute", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: /x.csv\n"), RulePatternAbsolute, "Output path /x.csv is invalid: is an absolute path", 7, 12},
		{"windows absolute", v5("    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: c:/x.csv\n"), RulePatternAbsolute, "Output path c:/x.csv is invalid: is an absolute path", 7, 12},
		{"run empty", v5("    run: ''\n" + okOutputs), RuleRunEmpty, "run must have a value, a has an empty run key", 4, 10},
		{"run blank", v5("    run: '   '\n" + okOutputs), RuleRunEmpty, "run must have a value, a has an empty run key", 4, 10},
		{"unbalanced quote", v5("    run: python:v2 python \"x.py\n" + okOutputs), RuleRunUnbalancedQuote, "Action a has an unbalanced quote in its run command", 4, 27},
		{"unbalanced quote quoted", v5("    run: 'python:v2 \"x'\n" + okOutputs), RuleRunUnbalancedQuote, "Action a has an unbalanced quote in its run command", 4, 21},
		{"unbalanced quote folded", v5("    run: >\n      python:v2 \"x\n" + okOutputs), RuleRunUnbalancedQuote, "Action a has an unbalanced quote in its run command", 4, 10},
		{"trailing backslash", v5("    run: python:v2 x \\\n" + okOutputs), RuleRunUnbalancedQuote, "Action a has a backslash with nothing after it in its run command", 4, 22},
		{"no tag", v5("    run: python x\n" + okOutputs), RuleRunTag, "Action command python must have a version specified in the form :vN (e.g. python:v2)", 4, 10},
		{"bad tag", v5("    run: python:v1x1 x\n" + okOutputs), RuleRunTag, "Action command python must have a version specified in the form :vN (e.g. python:v2)", 4, 10},
		{"needs int", "version: 5\nactions:\n  '2017':\n    run: python:v2 x\n" + okOutputs + "  b:\n    run: python:v2 y\n    needs: [2017]\n" + okOutputs, RuleNeedsNotString, "`needs` entries for action b must be action names (strings), got 2017", 10, 13},
		{"needs null entry", v5("    run: python:v2 x\n    needs: [~]\n" + okOutputs), RuleNeedsNotString, "`needs` entries for action a must be action names (strings), got null", 5, 13},
		{"needs space", v5("    run: python:v2 x\n    needs: [b c]\n" + okOutputs), RuleNeedsSpace, "`needs` actions should be separated with commas, but a needs `b c`", 5, 13},
		{"cohort levels", v3("  a:\n    run: cohortextractor:latest generate_cohort\n    outputs:\n      highly_sensitive:\n        c: output/input.csv\n      moderately_sensitive:\n        m: output/m.csv\n"), RuleCohortOneLevel, "A `generate_cohort` action must have exactly one output; a had 2", 5, 3},
		{"cohort dirs", v3("  a:\n    run: cohortextractor:latest generate_cohort\n    outputs:\n      highly_sensitive:\n        c: output/input.csv\n        d: other/input.csv\n"), RuleCohortOneDir, "generate_cohort command should produce output in only one directory, found 2:\n - other/\n - output/", 5, 3},
		{"dataset level", v5("    run: ehrql:v1 generate-dataset d.py --output output/d.csv\n    outputs:\n      moderately_sensitive:\n        d: output/d.csv\n"), RuleDatasetLevel, "`a` action uses `generate-dataset` and so all outputs must be labelled `highly_sensitive`", 3, 3},
		{"dataset no output", v5("    run: ehrql:v1 generate-dataset d.py\n" + okOutputs), RuleDatasetNoOutput, "`a` action does not provide an `--output` argument specifying where the results of `generate-dataset` should be stored", 4, 10},
		{"dataset mismatch", v5("    run: ehrql:v1 generate-dataset d.py --output=output/e.csv\n" + okOutputs), RuleDatasetOutputMismatch, "output specification must match the `--output` argument in the `run` command\n              got: output/d.csv\nbut was expecting: output/e.csv", 4, 10},
		// Steps 6 to 12: across actions.
		{"cohortextractor in v4", "version: 4\nactions:\n  a:\n    run: cohortextractor:latest generate_cohort\n" + okOutputs, RuleCohortextractorRemoved, "Action a uses cohortextractor actions, which are not supported in this version.", 4, 10},
		{"latest in v5", v5("    run: r:latest x.R\n" + okOutputs), RuleLatestTag, "Action a uses `r:latest`, which is not supported. Provide a version e.g. `:v2` instead", 4, 10},
		{"duplicate run", "version: 5\nactions:\n  a:\n    run: python:v2 x\n" + okOutputs + "  b:\n    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        e: output/e.csv\n  c:\n    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        f: output/f.csv\n",
			RuleRunDuplicate, "Action b has the same 'run' command as other actions: a", 9, 10},
		{"duplicate output", "version: 2\nactions:\n  a:\n    run: python:v2 x\n" + okOutputs + "  b:\n    run: python:v2 y\n" + okOutputs, RuleOutputDuplicate, "Output path output/d.csv is not unique", 12, 12},
		{"needs unknown", v5("    run: python:v2 x\n    needs: [nope]\n" + okOutputs), RuleNeedsUnknown, "Action `a` references an unknown action in its `needs` list: nope", 5, 13},
		{"expectations missing v3", "version: 3\nactions: {}\n", RuleExpectationsMissing, "Project must include `expectations` section", 1, 1},
		{"expectations null v3", "version: 3\nexpectations:\nactions: {}\n", RuleExpectationsMissing, "Project must include `expectations` section", 2, 1},
		{"expectations list", "version: 3\nexpectations: [1]\nactions: {}\n", RuleExpectationsNotMapping, "Project `expectations` section must be a dictionary of key/value pairs", 2, 15},
		{"expectations no population", "version: 3\nexpectations:\n  size: 3\nactions: {}\n", RuleExpectationsNoPopulation, "Project `expectations` section must include `population_size` section", 2, 1},
		{"expectations extra", "version: 3\nexpectations:\n  population_size: 3\n  extra: 1\nactions: {}\n", RuleExpectationsUnknownKey, "Unexpected parameters (extra) in project `expectations` section", 4, 3},
		{"population not number", "version: 3\nexpectations:\n  population_size: many\nactions: {}\n", RuleExpectationsPopulationType, "Project expectations population size must be a number", 3, 20},
		{"population inf", "version: 3\nexpectations:\n  population_size: .inf\nactions: {}\n", RuleExpectationsPopulationType, "Project expectations population size must be a number", 3, 20},
		{"expectations in v4", "version: 4\nexpectations: {}\nactions: {}\n", RuleExpectationsForbidden, "Project includes `expectations` section, which is not supported in this version. This section is only applicable to deprecated cohortextractor actions; you can safely remove it.", 2, 1},
		{"self cycle", v5("    run: python:v2 x\n    needs: [a]\n" + okOutputs), RuleNeedsCycle, "Dependency cycle in `needs`: a -> a", 5, 13},
		{"cycle", "version: 5\nactions:\n  a:\n    run: python:v2 x\n    needs: [b]\n" + okOutputs + "  b:\n    run: python:v2 y\n    needs: [a]\n    outputs:\n      highly_sensitive:\n        e: output/e.csv\n",
			RuleNeedsCycle, "Dependency cycle in `needs`: a -> b -> a", 5, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, probs := Parse("project.yaml", []byte(tt.src))
			first, ok := probs.First()
			if !ok {
				t.Fatalf("no error; problems: %v", probs)
			}
			if p != nil {
				t.Errorf("invalid project returned a pipeline")
			}
			if first.Rule != tt.rule || first.Message != tt.msg {
				t.Errorf("first error\n  got  [%s] %q\n  want [%s] %q\nall: %s", first.Rule, first.Message, tt.rule, tt.msg, probs.Error())
			}
			if first.Line != tt.line || first.Column != tt.col {
				t.Errorf("position %d:%d, want %d:%d", first.Line, first.Column, tt.line, tt.col)
			}
			if first.File != "project.yaml" || first.Severity != SeverityError {
				t.Errorf("file %q severity %q", first.File, first.Severity)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name, src, rule, msg string
	}{
		{"old version", "version: '3.0'\nexpectations:\n  population_size: 10\nactions: {}\n", RuleWarnOldVersion, "Your project file is using an old version (3.0); consider updating to version 5"},
		{"old version int", "version: 4\nactions: {}\n", RuleWarnOldVersion, "Your project file is using an old version (4.0); consider updating to version 5"},
		{"run_all before v5", "version: 4\nactions:\n  run_all:\n    run: python:v2 x\n" + okOutputs, RuleWarnRunAllName, "`run_all` is a reserved action name; user-defined actions with this name are ignored and will raise an error in later versions."},
		{"overlap", "version: 5\nactions:\n  a:\n    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/input_*.csv\n  b:\n    run: python:v2 y\n    outputs:\n      highly_sensitive:\n        e: output/input_2020.csv\n",
			RuleWarnOverlappingOutputs, "Output pattern output/input_2020.csv of action b overlaps output/input_*.csv (action a): a file matching both would be claimed by both actions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, probs := Parse("project.yaml", []byte(tt.src))
			if probs.HasErrors() {
				t.Fatalf("unexpected errors: %s", probs.Error())
			}
			if p == nil {
				t.Fatal("valid project returned no pipeline")
			}
			var found bool
			for _, w := range probs.Warnings() {
				if w.Rule == tt.rule && w.Message == tt.msg {
					found = true
				}
			}
			if !found {
				t.Errorf("warning [%s] %q not found in %v", tt.rule, tt.msg, probs)
			}
		})
	}
}

func TestNoWarningForVersion5AndDistinctOutputs(t *testing.T) {
	src := "version: '5.0'\nactions:\n  a:\n    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        d: output/a_*.csv\n  b:\n    run: python:v2 y\n    outputs:\n      highly_sensitive:\n        e: output/b_*.csv\n        f: output/sub/a_1.csv\n"
	_, probs := Parse("project.yaml", []byte(src))
	if len(probs) != 0 {
		t.Errorf("want no problems, got %v", probs)
	}
}

// TestAllProblemsReported checks that validation goes on past the first
// error, lists problems by position, and keeps upstream's first error.
func TestAllProblemsReported(t *testing.T) {
	src := `version: '5.0'
actions:
  extract:
    run: ehrql:v1 generate-dataset analysis/dataset.py --output output/dataset.csv.gz
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv.gz
  model:
    run: r:v2 analysis/model.R "output/dataset.csv.gz
    needs: [extract]
    outputs:
      moderately_sensitive:
        model: output/model.rds
  report:
    run: python:v2 analysis/report.py
    needs: [extarct]
    outputs:
      moderately_sensitive:
        table: output/table.csv
`
	_, probs := Parse("project.yaml", []byte(src))
	var got []string
	for _, p := range probs.Errors() {
		got = append(got, p.Rule+"@"+strconv.Itoa(p.Line)+":"+strconv.Itoa(p.Column))
	}
	want := []string{"run-unbalanced-quote@9:32", "pattern-l4-type@13:16", "needs-unknown@16:13"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("errors %v, want %v", got, want)
	}
	// Upstream checks the outputs of an action before its run line.
	first, _ := probs.First()
	if first.Rule != RulePatternL4Type {
		t.Errorf("first error %s, want pattern-l4-type", first)
	}
	for _, p := range probs {
		if p.Rule == RuleNeedsUnknown && !strings.Contains(p.Hint, "did you mean extract?") {
			t.Errorf("needs-unknown hint %q does not suggest extract", p.Hint)
		}
	}
}

func TestNoCascade(t *testing.T) {
	// A broken action body hides that action's field checks; a pattern that
	// is not a string skips the pattern rules; an unusable version skips
	// version-dependent rules.
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"action not mapping", "version: 5\nactions:\n  a: 3\n  b:\n    run: python:v2 x\n    needs: [a]\n" + okOutputs, []string{RuleActionNotMapping}},
		{"bad version", "version: x\nexpectations: {}\nactions:\n  a:\n    run: cohortextractor:latest generate_cohort\n" + okOutputs, []string{RuleVersionNotNumber}},
		{"pattern not string", v5("    run: python:v2 x\n    outputs:\n      moderately_sensitive:\n        d: [output/x.rds]\n"), []string{RuleOutputNotString}},
		{"bad run skips dataset rules", v5("    run: ehrql:v1x generate-dataset d.py\n    outputs:\n      moderately_sensitive:\n        d: output/d.csv\n"), []string{RuleRunTag}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := Parse("project.yaml", []byte(tt.src))
			var got []string
			for _, p := range probs.Errors() {
				got = append(got, p.Rule)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("errors %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrecedenceFollowsUpstream(t *testing.T) {
	tests := []struct {
		name, src, rule string
	}{
		// Unknown top-level keys are checked before the version.
		{"top key before version", "foo: 1\nactions: {}\n", RuleTopUnknownKey},
		// Action i's every check comes before action i+1's first.
		{"earlier action wins", "version: 5\nactions:\n  a:\n    run: python x\n" + okOutputs + "  b:\n    run: python:v2 y\n    extra: 1\n" + okOutputs, RuleRunTag},
		// Unknown action keys come before missing outputs? No: missing
		// run/outputs come first.
		{"missing before unknown", v5("    run: python:v2 x\n    extra: 1\n"), RuleActionMissingOutputs},
		// The outputs type comes before the run type.
		{"outputs type before run type", v5("    run: 3\n    outputs: 3\n"), RuleActionOutputsType},
		// highly_sensitive patterns are checked before moderately_sensitive
		// ones whatever the file order.
		{"level order", v5("    run: python:v2 x\n    outputs:\n      moderately_sensitive:\n        m: output/m.rds\n      highly_sensitive:\n        h: output/*\n"), RulePatternNoExtension},
		// Duplicate run (step 8) before unknown needs (step 10).
		{"run dup before needs", "version: 5\nactions:\n  a:\n    run: python:v2 x\n    needs: [zz]\n" + okOutputs + "  b:\n    run: python:v2 x\n    outputs:\n      highly_sensitive:\n        e: output/e.csv\n", RuleRunDuplicate},
		// Unknown needs (step 10) before expectations (11) before cycles (12).
		{"needs before expectations", "version: 3\nactions:\n  a:\n    run: python:v2 x\n    needs: [zz, a]\n" + okOutputs, RuleNeedsUnknown},
		{"expectations before cycle", "version: 3\nactions:\n  a:\n    run: python:v2 x\n    needs: [a]\n" + okOutputs, RuleExpectationsMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := Parse("project.yaml", []byte(tt.src))
			first, ok := probs.First()
			if !ok || first.Rule != tt.rule {
				t.Errorf("first error %v, want %s; all: %s", first, tt.rule, probs.Error())
			}
		})
	}
}

func TestSortedByPosition(t *testing.T) {
	src := "version: 5\nactions:\n  a:\n    run: python x\n    needs: [zz]\n    outputs:\n      moderately_sensitive:\n        m: output/m.rds\n"
	_, probs := Parse("project.yaml", []byte(src))
	for i := 1; i < len(probs); i++ {
		a, b := probs[i-1], probs[i]
		if a.Line > b.Line || (a.Line == b.Line && a.Column > b.Column) {
			t.Errorf("problems out of order: %v before %v", a, b)
		}
	}
	var got []string
	for _, p := range probs.Errors() {
		got = append(got, p.Rule)
	}
	if want := "run-tag,needs-unknown,pattern-l4-type"; strings.Join(got, ",") != want {
		t.Errorf("errors %v, want %s", got, want)
	}
}

func TestVersionFeatures(t *testing.T) {
	cohort := "  a:\n    run: cohortextractor:latest generate_cohort --output-dir=output\n    outputs:\n      highly_sensitive:\n        c: output/input.csv\n"
	tests := []struct {
		version string
		exp     string
		valid   bool
		pop     int64
	}{
		{"1", "", true, 1000},
		{"1", "expectations: nonsense\n", true, 1000},
		{"2", "", true, 1000},
		{"2.5", "", true, 1000},
		{"3", "expectations:\n  population_size: '250'\n", true, 250},
		{"3", "expectations:\n  population_size: 12.7\n", true, 12},
		{"3.0", "", false, 0},
		{"3.5", "", true, 1000},
		{"4", "", false, 0},
		{"true", "", true, 1000}, // float(True) is 1.0 upstream
	}
	for _, tt := range tests {
		t.Run(tt.version+tt.exp, func(t *testing.T) {
			src := "version: " + tt.version + "\n" + tt.exp + "actions:\n" + cohort
			p, probs := Parse("project.yaml", []byte(src))
			if (p != nil) != tt.valid {
				t.Fatalf("valid=%v, want %v: %v", p != nil, tt.valid, probs)
			}
			if p != nil && p.PopulationSize != tt.pop {
				t.Errorf("population size %d, want %d", p.PopulationSize, tt.pop)
			}
		})
	}
}

func TestModel(t *testing.T) {
	src := `version: '4.0'
actions:
  generate_dataset:
    run: ehrql:v1 generate-dataset analysis/dataset_definition.py --output output/dataset.csv.gz
    outputs:
      highly_sensitive:
        dataset: output/dataset.csv.gz
  prepare:
    run: python:latest python analysis/prepare.py "qu'ote.csv"
    needs: [generate_dataset]
    config:
      files: ["male.csv", "qu'ote.csv"]
      n: 3
      ratio: 0.5
      flag: true
      none: null
      name: "Zoë"
    outputs:
      highly_sensitive:
        cohort: output/prepared_*.csv
      moderately_sensitive:
        counts: output/counts.csv
  report:
    run: jupyter:v2 jupyter nbconvert report.ipynb
    needs: [prepare, generate_dataset]
    outputs:
      moderately_sensitive:
        html: output/report.html
  minimal:
    run: minimal-action:v1.1.0 output/input.csv
    outputs:
      minimally_sensitive:
        x: output/x.txt
  run_all:
    run: python:v2 python nothing.py
    outputs:
      highly_sensitive:
        n: output/n.csv
`
	p, probs := Parse("project.yaml", []byte(src))
	if p == nil {
		t.Fatalf("invalid: %s", probs.Error())
	}
	if got := strings.Join(p.AllActions(), ","); got != "generate_dataset,prepare,report,minimal" {
		t.Errorf("AllActions %s", got)
	}
	if got := strings.Join(p.TopologicalOrder(), ","); got != "generate_dataset,prepare,report,minimal,run_all" {
		t.Errorf("TopologicalOrder %s", got)
	}
	gd := p.Action("generate_dataset")
	if !gd.IsDatabaseAction() || gd.Run.Image != "ehrql" || gd.Run.Tag != "v1" {
		t.Errorf("generate_dataset: %+v", gd.Run)
	}
	prep := p.Action("prepare")
	if prep.IsDatabaseAction() || prep.Run.IsReusableAction() {
		t.Errorf("prepare is not a database or reusable action")
	}
	if len(prep.Outputs.HighlySensitive) != 1 || prep.Outputs.ModeratelySensitive[0].Pattern != "output/counts.csv" {
		t.Errorf("prepare outputs %+v", prep.Outputs)
	}
	cmd, err := prep.RunCommand()
	if err != nil {
		t.Fatal(err)
	}
	want := `python:latest python analysis/prepare.py 'qu'"'"'ote.csv' --config '{"files": ["male.csv", "qu\u0027ote.csv"], "n": 3, "ratio": 0.5, "flag": true, "none": null, "name": "Zo\u00eb"}'`
	if cmd != want {
		t.Errorf("RunCommand\n  got  %s\n  want %s", cmd, want)
	}
	if c, _ := p.Action("report").RunCommand(); c != "jupyter:v2 jupyter nbconvert report.ipynb" {
		t.Errorf("without config the run string is kept: %s", c)
	}
	if !p.Action("minimal").Run.IsReusableAction() {
		t.Errorf("minimal-action is a reusable action")
	}
	deps, err := p.Dependencies("report")
	if err != nil || strings.Join(deps, ",") != "generate_dataset,prepare" {
		t.Errorf("Dependencies(report) = %v, %v", deps, err)
	}
	if _, err := p.Dependencies("nope"); err == nil {
		t.Errorf("Dependencies of an unknown action should fail")
	}
	if got := strings.Join(p.Images(), ","); got != "ehrql:v1,python:v1,jupyter:v2,minimal-action:v1.1.0,python:v2" {
		t.Errorf("Images %s", got)
	}
	if got := strings.Join(p.Dependents("generate_dataset"), ","); got != "prepare,report" {
		t.Errorf("Dependents %s", got)
	}
}

func TestJobID(t *testing.T) {
	for _, tt := range []struct{ rap, action, want string }{
		{"abcdefgh23456789", "generate_dataset", "rfzajqkfrp766yxc"},
		{"a1b2c3d4e5f6g7h8", "run_model", "coijsru5xyqscdff"},
		{"0123456789", "analyse_data", "oiyyafm4ofethzof"},
	} {
		if got := JobID(tt.rap, tt.action); got != tt.want {
			t.Errorf("JobID(%q, %q) = %q, want %q", tt.rap, tt.action, got, tt.want)
		}
	}
}

// TestRulesDocumented keeps docs/rules.md complete: every rule code the
// validator can report has a row there.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range AllRules {
		if !strings.Contains(string(doc), "| `"+r+"` |") {
			t.Errorf("rule %s has no row in docs/rules.md", r)
		}
	}
}

func TestNeedsListedTwice(t *testing.T) {
	src := "version: 5\nactions:\n  a:\n    run: python:v2 x\n" + okOutputs + "  b:\n    run: python:v2 y\n    needs: [a, a]\n    outputs:\n      highly_sensitive:\n        e: output/e.csv\n"
	p, probs := Parse("project.yaml", []byte(src))
	if p == nil {
		t.Fatal(probs.Error())
	}
	if got := p.Action("b").Needs; len(got) != 1 || got[0] != "a" {
		t.Errorf("needs %v, want [a]", got)
	}
}
