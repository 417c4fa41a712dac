package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FileName is the name of a project's pipeline definition.
const FileName = "project.yaml"

// Load reads and validates DIR/project.yaml. The error is for a file that
// cannot be read; problems in its content come back as Problems.
func Load(dir string) (*Pipeline, Problems, error) {
	path := filepath.Join(dir, FileName)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	p, probs := Parse(path, src)
	return p, probs, nil
}

// Parse validates project.yaml source. file names the source in problems.
// It returns every problem found, sorted by position, and the typed
// pipeline when there is no error (warnings allowed); nil otherwise.
//
// Upstream OpenSAFELY stops at its first error; Parse carries on, skipping
// only the checks that depend on something already wrong, and records the
// order upstream checks things in, so Problems.First is upstream's error.
func Parse(file string, src []byte) (*Pipeline, Problems) {
	r := Check(file, src)
	return r.Pipeline, r.Problems
}

// Report is the outcome of checking a project file.
type Report struct {
	File     string
	Problems Problems // every problem, sorted by position
	// Version is the format version when it could be read, else 0.
	Version float64
	// Actions names the actions found, in file order, even when the file is
	// invalid.
	Actions []string
	// Pipeline is the typed pipeline, or nil when there is any error.
	Pipeline *Pipeline
}

// Valid reports whether the project has no errors.
func (r *Report) Valid() bool { return !r.Problems.HasErrors() }

// Check validates project.yaml source and reports everything it found.
func Check(file string, src []byte) *Report {
	v := &validator{file: file}
	v.run(src)
	v.probs.sortByPosition()
	r := &Report{File: file, Problems: v.probs}
	if v.versionOK {
		r.Version = v.version
	}
	for _, st := range v.actions {
		r.Actions = append(r.Actions, st.action.ID)
	}
	if !v.probs.HasErrors() {
		r.Pipeline = v.pipeline()
	}
	return r
}

// Upstream's precedence steps (docs/rules.md, spec §12).
const (
	stepYAML = iota
	stepTopKeys
	stepVersion
	stepVersionRange
	stepActions
	stepAction
	stepCohortextractor
	stepLatest
	stepRunDuplicate
	stepOutputDuplicate
	stepNeedsUnknown
	stepExpectations
	stepCycle
	stepOverlap
)

// Sub-steps of one action's checks (step 5a to 5j).
const (
	subName = iota
	subBody
	subRequired
	subUnknownKey
	subTypes
	subOutputs
	subRun
	subNeeds
	subCohort
	subDataset
)

var (
	cohortRE  = regexp.MustCompile(`^cohortextractor:\S+ generate_cohort`)
	datasetRE = regexp.MustCompile(`^(ehrql|databuilder):\S+ generate[-_]dataset`)
)

type validator struct {
	file  string
	probs Problems
	root  *yaml.Node

	version   float64
	versionOK bool

	actionIDs map[string]int // action id -> index of its first definition
	actions   []*actionState

	populationSize  int64
	hasExpectations bool

	suggestions int // spelling suggestions made so far
}

// maxSuggestions bounds the spelling suggestions for unknown needs, each of
// which compares against every action name.
const maxSuggestions = 20

// actionState is one action while it is checked: what parsed and what did not.
type actionState struct {
	index    int
	key      *yaml.Node
	action   *Action
	runNode  *yaml.Node
	runOK    bool // run parsed: Parts, Image and Tag are set
	outputOK bool // outputs are structurally sound (patterns may still be bad)
	// needNodes are the string needs entries, parallel to action.Needs.
	needNodes []*yaml.Node
	// patterns that passed every pattern rule, for the overlap warning.
	goodOutputs []Output
	// outputNodes are the pattern nodes, parallel to action.Outputs.All().
	outputNodes []*yaml.Node
}

func (v *validator) add(sev Severity, n *yaml.Node, rule, msg, hint string, prec precedence) {
	pos := Position{1, 1}
	if n != nil {
		pos = Position{n.Line, n.Column}
	}
	v.addAt(sev, pos, rule, msg, hint, prec)
}

func (v *validator) addAt(sev Severity, pos Position, rule, msg, hint string, prec precedence) {
	v.probs = append(v.probs, Problem{
		Severity: sev, Rule: rule, File: v.file, Line: pos.Line, Column: pos.Column,
		Message: msg, Hint: hint, precedence: prec,
	})
}

func (v *validator) errorAt(n *yaml.Node, rule, msg, hint string, prec precedence) {
	v.add(SeverityError, n, rule, msg, hint, prec)
}

func (v *validator) run(src []byte) {
	root, yprobs := parseYAML(v.file, src)
	v.probs = append(v.probs, yprobs...)
	if root == nil {
		if len(yprobs) == 0 {
			v.errorAt(nil, RuleTopNotMapping, "the project file is empty",
				"start it with `version: '5.0'` and an `actions:` section", pr(stepYAML, 1))
		}
		return
	}
	if r := resolve(root); r.Kind != yaml.MappingNode {
		v.errorAt(root, RuleTopNotMapping, "the project file must be a mapping of `version`, `expectations` and `actions`",
			"start it with `version: '5.0'` and an `actions:` section", pr(stepYAML, 1))
		return
	}
	v.root = root
	top := mapEntries(root)
	var versionE, actionsE, expectationsE *entry
	var unknown []entry
	for i := range top {
		switch top[i].name {
		case "version":
			versionE = &top[i]
		case "actions":
			actionsE = &top[i]
		case "expectations":
			expectationsE = &top[i]
		default:
			unknown = append(unknown, top[i])
		}
	}
	if len(unknown) > 0 {
		v.errorAt(unknown[0].key, RuleTopUnknownKey,
			fmt.Sprintf("Unexpected parameters (%s) in project", joinNames(unknown)),
			"the top level holds only version, expectations and actions; if this is an action, indent it under `actions:`",
			pr(stepTopKeys))
	}
	v.checkVersion(versionE)
	v.checkActions(actionsE)
	v.checkAcrossActions()
	v.checkExpectations(expectationsE)
	v.checkCycles()
	v.checkOverlaps()
}

func joinNames(es []entry) string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = keyText(e.key)
	}
	return strings.Join(names, ", ")
}

// keyText renders a mapping key as upstream prints it (None for null).
func keyText(n *yaml.Node) string {
	if isNull(n) {
		return "None"
	}
	return resolve(n).Value
}

func (v *validator) checkVersion(e *entry) {
	if e == nil || isNull(e.value) {
		var at *yaml.Node = v.root
		if e != nil {
			at = e.key
		}
		v.errorAt(at, RuleVersionMissing,
			fmt.Sprintf("Project file must have a `version` attribute specifying which version of the project configuration format it uses (current latest version is %d)", LatestVersion),
			"add `version: '5.0'` at the top of the file", pr(stepVersion))
		return
	}
	f, ok := pyFloatNode(e.value)
	if !ok {
		v.errorAt(e.value, RuleVersionNotNumber, fmt.Sprintf("`version` must be a number between 1 and %d", LatestVersion),
			"write the version as a number, e.g. version: '5.0'", pr(stepVersion))
		return
	}
	if !(f >= 1 && f <= LatestVersion) {
		v.errorAt(e.value, RuleVersionOutOfRange, fmt.Sprintf("`version` must be a number between 1 and %d", LatestVersion),
			fmt.Sprintf("the versions are 1 to %d; use version: '5.0' for a new project", LatestVersion), pr(stepVersionRange))
		return
	}
	v.version, v.versionOK = f, true
	if f != LatestVersion {
		v.add(SeverityWarning, e.value, RuleWarnOldVersion,
			fmt.Sprintf("Your project file is using an old version (%s); consider updating to version %d", pyFloatRepr(f), LatestVersion),
			"", pr(stepVersion, 1))
	}
}

// Feature flags by version, as upstream's features table sets them.
func (v *validator) uniqueOutputs() bool { return v.versionOK && v.version >= 2 }
func (v *validator) needExpectations() bool {
	return v.versionOK && v.version >= 3 && v.version <= 3
}
func (v *validator) noCohortextractor() bool { return v.versionOK && v.version >= 4 }
func (v *validator) noRunAll() bool          { return v.versionOK && v.version >= 5 }
func (v *validator) noLatest() bool          { return v.versionOK && v.version >= 5 }

func (v *validator) checkActions(e *entry) {
	if e == nil || !isMapping(e.value) {
		at := v.root
		if e != nil {
			at = e.value
			if isNull(e.value) {
				at = e.key
			}
		}
		v.errorAt(at, RuleActionsNotMapping, "Project `actions` section must be a dictionary of key/value pairs",
			"list the actions under `actions:`, each as `name:` followed by its indented run and outputs", pr(stepActions))
		return
	}
	entries := mapEntries(e.value)
	v.actionIDs = make(map[string]int, len(entries))
	for i, ae := range entries {
		id := keyText(ae.key)
		if _, dup := v.actionIDs[id]; dup {
			v.errorAt(ae.key, RuleYAMLDuplicateKey, fmt.Sprintf("found duplicate action name %q", id),
				"two actions have the same name (one written as a number, one as text); rename one of them", pr(stepYAML, ae.key.Line, ae.key.Column))
			continue
		}
		v.actionIDs[id] = i
	}
	for i, ae := range entries {
		v.checkAction(i, ae)
	}
}

// actionFields holds an action's known keys; a zero entry is an absent key.
type actionFields struct {
	run, outputs, needs, config, dummyDataFile entry
}

// slot returns where a known key goes, or nil for an unknown key.
func (f *actionFields) slot(e entry) *entry {
	if !isString(e.key) {
		return nil
	}
	switch e.name {
	case "run":
		return &f.run
	case "outputs":
		return &f.outputs
	case "needs":
		return &f.needs
	case "config":
		return &f.config
	case "dummy_data_file":
		return &f.dummyDataFile
	}
	return nil
}

// has reports whether the required key run or outputs is present.
func (f *actionFields) has(name string) bool {
	if name == "run" {
		return f.run.key != nil
	}
	return f.outputs.key != nil
}

func (v *validator) checkAction(i int, ae entry) {
	id := keyText(ae.key)
	st := &actionState{index: i, key: ae.key, action: &Action{ID: id, Pos: Position{ae.key.Line, ae.key.Column}}}
	v.actions = append(v.actions, st)
	p := func(sub int, more ...int) precedence { return pr(stepAction, i, sub).then(3, more...) }

	if id == RunAll && v.versionOK {
		if v.noRunAll() {
			v.errorAt(ae.key, RuleActionReservedName, "`run_all` is a reserved action name and is not allowed for user-defined actions.",
				"rename the action; `opensafely run run_all` already runs every action", p(subName))
		} else {
			v.add(SeverityWarning, ae.key, RuleWarnRunAllName,
				"`run_all` is a reserved action name; user-defined actions with this name are ignored and will raise an error in later versions.",
				"rename the action", p(subName))
		}
	}
	if !isMapping(ae.value) {
		v.errorAt(ae.key, RuleActionNotMapping, fmt.Sprintf("Configuration for action %s must be a dictionary of key/value pairs", id),
			"give the action an indented `run:` and `outputs:`", p(subBody))
		return
	}
	var fields actionFields
	var unknown []entry
	for _, fe := range mapEntries(ae.value) {
		if f := fields.slot(fe); f != nil {
			*f = fe
		} else {
			unknown = append(unknown, fe)
		}
	}
	for j, key := range []string{"run", "outputs"} {
		if !fields.has(key) {
			rule := RuleActionMissingRun
			hint := "add a line `run: image:tag arguments`, e.g. `run: python:v2 python analysis/model.py`"
			if key == "outputs" {
				rule = RuleActionMissingOutputs
				hint = "add an `outputs:` section naming the files the action writes under a privacy level"
			}
			v.errorAt(ae.key, rule, fmt.Sprintf("Action %s must contain a configuration for '%s'", id, key), hint, p(subRequired, j))
		}
	}
	if len(unknown) > 0 {
		v.errorAt(unknown[0].key, RuleActionUnknownKey, fmt.Sprintf("Unexpected parameters (%s) in action %s", joinNames(unknown), id),
			"an action may have only run, needs, outputs, config and dummy_data_file", p(subUnknownKey))
	}

	// Field types, in upstream's order.
	outputsE, hasOutputs := fields.outputs, fields.outputs.key != nil
	outputsOK := hasOutputs && isMapping(outputsE.value)
	if hasOutputs && !outputsOK {
		v.errorAt(valueOrKey(outputsE), RuleActionOutputsType, fmt.Sprintf("`outputs` section for action %s must be a dictionary of key/value pairs", id),
			"put each privacy level on its own indented line, e.g. `highly_sensitive:` and under it `dataset: output/dataset.csv`", p(subTypes, 0))
	}
	runE, hasRun := fields.run, fields.run.key != nil
	runOK := hasRun && isString(runE.value)
	if hasRun && !runOK {
		v.errorAt(valueOrKey(runE), RuleActionRunType, fmt.Sprintf("`run` section for action %s must be a string", id),
			"write the command on one line after `run:`, e.g. `run: python:v2 python analysis/model.py`", p(subTypes, 1))
	}
	needsE, hasNeeds := fields.needs, fields.needs.key != nil
	needsOK := hasNeeds && isSequence(needsE.value)
	if hasNeeds && !needsOK && !isNull(needsE.value) {
		v.errorAt(needsE.value, RuleActionNeedsType, fmt.Sprintf("`needs` section for action %s must be a list", id),
			"write the actions as a list, e.g. `needs: [generate_dataset, prepare_data]`", p(subTypes, 2))
	}
	if ce := fields.config; ce.key != nil && !isNull(ce.value) {
		if isMapping(ce.value) {
			st.action.Config = resolve(ce.value)
			if _, err := ConfigJSON(st.action.Config); err != nil {
				v.errorAt(ce.value, RuleActionConfigJSON, fmt.Sprintf("`config` section for action %s cannot be passed to the action: %v", id, err),
					"config is passed to the action as JSON on its command line: keep it small and free of self-references", p(subTypes, 3))
			}
		} else {
			v.errorAt(ce.value, RuleActionConfigType, fmt.Sprintf("`config` section for action %s must be a dictionary of key/value pairs", id),
				"give config as indented key: value pairs", p(subTypes, 3))
		}
	}
	if de := fields.dummyDataFile; de.key != nil && !isNull(de.value) {
		if isString(de.value) {
			st.action.DummyDataFile = resolve(de.value).Value
		} else {
			v.errorAt(de.value, RuleActionDummyDataType, fmt.Sprintf("`dummy_data_file` section for action %s must be a string", id),
				"give the path of the dummy data file, e.g. `dummy_data_file: test-data/dummy.csv`", p(subTypes, 4))
		}
	}

	if outputsOK {
		st.outputOK = v.checkOutputs(st, outputsE, p(subOutputs))
	}
	if runOK {
		st.runNode = runE.value
		st.runOK = v.checkRun(st, resolve(runE.value).Value, p(subRun))
	}
	if needsOK {
		v.checkNeeds(st, needsE.value, p(subNeeds))
	}
	if st.runOK && st.outputOK {
		raw := st.action.Run.Raw
		if cohortRE.MatchString(raw) {
			v.checkCohortOutputs(st, p(subCohort))
		}
		if datasetRE.MatchString(raw) {
			v.checkDatasetOutputs(st, p(subDataset))
		}
	}
}

func valueOrKey(e entry) *yaml.Node {
	if isNull(e.value) {
		return e.key
	}
	return e.value
}

// checkOutputs checks the outputs mapping and records its patterns. It
// reports whether the structure is sound enough for the command-specific
// checks.
func (v *validator) checkOutputs(st *actionState, oe entry, prec precedence) bool {
	id := st.action.ID
	p := func(more ...int) precedence { return prec.then(3, more...) }
	var levels [3]entry // by index in Levels; a zero entry is absent
	nLevels := 0
	var unknown []entry
	for _, le := range mapEntries(oe.value) {
		li := -1
		if isString(le.key) {
			li = levelIndex(le.name)
		}
		switch {
		case li < 0:
			unknown = append(unknown, le)
		case !isNull(le.value):
			levels[li] = le
			nLevels++
		}
	}
	sound := true
	if nLevels == 0 {
		v.errorAt(oe.key, RuleOutputsNoLevel, "must specify at least one output of: highly_sensitive, moderately_sensitive, minimally_sensitive",
			fmt.Sprintf("put the outputs of action %s under a privacy level, e.g. `highly_sensitive:` for data about patients", id), p(0))
		sound = false
	}
	if len(unknown) > 0 {
		v.errorAt(unknown[0].key, RuleOutputsUnknownLevel, fmt.Sprintf("Unexpected parameters (%s) in `outputs` section for action %s", joinNames(unknown), id),
			"the privacy levels are highly_sensitive, moderately_sensitive and minimally_sensitive", p(1))
	}
	for li, level := range Levels {
		le := levels[li]
		if le.key == nil {
			continue
		}
		if !isMapping(le.value) {
			v.errorAt(le.value, RuleOutputsLevelType, fmt.Sprintf("`%s` section for action %s must be a dictionary of key/value pairs", level, id),
				"name each output, e.g. `dataset: output/dataset.csv`", p(2+li))
			sound = false
			continue
		}
		st.action.Outputs.markPresent(level)
		for j, fe := range mapEntries(le.value) {
			if !isString(fe.value) {
				v.errorAt(valueOrKey(fe), RuleOutputNotString, fmt.Sprintf("`%s` output for action %s must be a string", keyText(fe.key), id),
					"give the output's path as text, e.g. output/results.csv", p(2+li, j, 0))
				sound = false
				continue
			}
			pat := resolve(fe.value).Value
			out := Output{Name: keyText(fe.key), Pattern: pat, Level: level, Pos: Position{fe.value.Line, fe.value.Column}}
			st.action.Outputs.add(out)
			st.outputNodes = append(st.outputNodes, fe.value) // parallel to Outputs.All()
			if issue := checkPattern(pat, level); issue != nil {
				v.errorAt(fe.value, issue.rule, fmt.Sprintf("Output path %s is invalid: %s", pat, issue.reason), issue.hint, p(2+li, j, 1))
			} else {
				st.goodOutputs = append(st.goodOutputs, out)
			}
		}
	}
	return sound
}

func (v *validator) checkRun(st *actionState, raw string, prec precedence) bool {
	id := st.action.ID
	st.action.Run.Raw = raw
	if raw == "" {
		v.errorAt(st.runNode, RuleRunEmpty, fmt.Sprintf("run must have a value, %s has an empty run key", id),
			"give the command to run, e.g. `run: python:v2 python analysis/model.py`", prec)
		return false
	}
	parts, at, err := splitWords(raw)
	if err != nil {
		what := "an unbalanced quote"
		if err == errNoEscapedChar {
			what = "a backslash with nothing after it"
		}
		v.addAt(SeverityError, scalarOffsetPos(st.runNode, at), RuleRunUnbalancedQuote, fmt.Sprintf("Action %s has %s in its run command", id, what),
			"close every ' and \" in the command, or escape a literal quote with a backslash", prec)
		return false
	}
	if len(parts) == 0 {
		v.errorAt(st.runNode, RuleRunEmpty, fmt.Sprintf("run must have a value, %s has an empty run key", id),
			"give the command to run, e.g. `run: python:v2 python analysis/model.py`", prec)
		return false
	}
	name, tag, _ := strings.Cut(parts[0], ":")
	if !ValidTag(tag) {
		v.errorAt(st.runNode, RuleRunTag, fmt.Sprintf("Action command %s must have a version specified in the form :vN (e.g. %s:v2)", name, name),
			"tags are vN (v1, v2, v1.2.3, v1-pre), dev or latest", prec)
		return false
	}
	st.action.Run.Parts, st.action.Run.Image, st.action.Run.Tag = parts, name, tag
	return true
}

func (v *validator) checkNeeds(st *actionState, n *yaml.Node, prec precedence) {
	id := st.action.ID
	entries := resolve(n).Content
	var listed map[string]bool // for long lists; short ones are scanned
	if len(entries) > 8 {
		listed = make(map[string]bool, len(entries))
	}
	for k, e := range entries {
		if !isString(e) {
			got := "null"
			if r := resolve(e); r.Kind == yaml.ScalarNode && !isNull(r) {
				got = r.Value
			} else if r.Kind == yaml.MappingNode {
				got = "a mapping"
			} else if r.Kind == yaml.SequenceNode {
				got = "a list"
			}
			v.errorAt(e, RuleNeedsNotString, fmt.Sprintf("`needs` entries for action %s must be action names (strings), got %s", id, got),
				"quote the name if it looks like a number, e.g. needs: ['2017']", prec.then(3, k))
			continue
		}
		name := resolve(e).Value
		if strings.Contains(name, " ") {
			v.errorAt(e, RuleNeedsSpace, fmt.Sprintf("`needs` actions should be separated with commas, but %s needs `%s`", id, name),
				"separate the actions with commas, e.g. needs: [a, b]", prec.then(3, k))
			continue
		}
		if listed != nil {
			if listed[name] {
				continue // listed twice: one dependency all the same
			}
			listed[name] = true
		} else if slices.Contains(st.action.Needs, name) {
			continue
		}
		st.action.Needs = append(st.action.Needs, name)
		st.needNodes = append(st.needNodes, e)
	}
}

func (v *validator) checkCohortOutputs(st *actionState, prec precedence) {
	a := st.action
	if n := a.Outputs.NumLevels(); n != 1 {
		v.errorAt(st.key, RuleCohortOneLevel, fmt.Sprintf("A `generate_cohort` action must have exactly one output; %s had %d", a.ID, n),
			"put every output of generate_cohort under highly_sensitive", prec)
		return
	}
	dirSet := map[string]bool{}
	for _, o := range a.Outputs.all() {
		dirSet[parentDir(o.Pattern)] = true
	}
	if len(dirSet) == 1 {
		return
	}
	for _, w := range a.Run.Parts {
		if w == "--output-dir" || strings.HasPrefix(w, "--output-dir=") {
			return
		}
	}
	dirs := make([]string, 0, len(dirSet))
	for d := range dirSet {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var b strings.Builder
	fmt.Fprintf(&b, "generate_cohort command should produce output in only one directory, found %d:", len(dirs))
	for _, d := range dirs {
		fmt.Fprintf(&b, "\n - %s/", d)
	}
	v.errorAt(st.key, RuleCohortOneDir, b.String(),
		"write every output to one directory, or pass --output-dir to generate_cohort", prec)
}

func (v *validator) checkDatasetOutputs(st *actionState, prec precedence) {
	a := st.action
	if len(a.Outputs.ModeratelySensitive) > 0 || len(a.Outputs.MinimallySensitive) > 0 {
		v.errorAt(st.key, RuleDatasetLevel, fmt.Sprintf("`%s` action uses `generate-dataset` and so all outputs must be labelled `highly_sensitive`", a.ID),
			"a dataset holds patient-level data: label its outputs highly_sensitive", prec)
		return
	}
	spec, _ := OutputSpec(a.Run.Parts)
	if spec == "" {
		v.errorAt(st.runNode, RuleDatasetNoOutput, fmt.Sprintf("`%s` action does not provide an `--output` argument specifying where the results of `generate-dataset` should be stored", a.ID),
			"add e.g. `--output output/dataset.csv.gz` to the command and list the same path under highly_sensitive", prec)
		return
	}
	var patterns []string
	for _, o := range a.Outputs.HighlySensitive {
		patterns = append(patterns, o.Pattern)
	}
	if outputPatternsMatchSpec(spec, patterns) {
		return
	}
	v.errorAt(st.runNode, RuleDatasetOutputMismatch,
		fmt.Sprintf("output specification must match the `--output` argument in the `run` command\n              got: %s\nbut was expecting: %s",
			strings.Join(patterns, ", "), expectedPatternForSpec(spec)),
		"make the highly_sensitive output the same path as --output", prec)
}

// splitDirectoryAndExtension splits ehrQL's `dir:ext` output syntax; ext is
// "" for a plain file path.
func splitDirectoryAndExtension(spec string) (dir, ext string) {
	p := purePosixString(spec)
	name := pathName(p)
	parent := parentDir(p)
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return p, ""
	}
	if i == 0 {
		return parent, "." + name[1:]
	}
	if parent == "." {
		return name[:i], "." + name[i+1:]
	}
	return strings.TrimSuffix(parent, "/") + "/" + name[:i], "." + name[i+1:]
}

func outputPatternsMatchSpec(spec string, patterns []string) bool {
	dir, ext := splitDirectoryAndExtension(spec)
	if ext == "" {
		for _, p := range patterns {
			if p == spec {
				return true
			}
		}
		return false
	}
	glob := dir + "/*" + ext
	for _, p := range patterns {
		if !fnmatch(p, glob) {
			return false
		}
	}
	return true
}

func expectedPatternForSpec(spec string) string {
	dir, ext := splitDirectoryAndExtension(spec)
	if ext == "" {
		return spec
	}
	return dir + "/:" + ext[1:]
}

func (v *validator) checkAcrossActions() {
	// 6 and 7: features removed in later versions.
	for _, st := range v.actions {
		if !st.runOK {
			continue
		}
		img := st.action.Run.Parts[0]
		if v.noCohortextractor() && strings.HasPrefix(img, "cohortextractor") {
			v.errorAt(st.runNode, RuleCohortextractorRemoved, fmt.Sprintf("Action %s uses cohortextractor actions, which are not supported in this version.", st.action.ID),
				"port the study definition to ehrQL, or keep the project at version 3", pr(stepCohortextractor, st.index))
		}
		if v.noLatest() && strings.HasSuffix(img, ":latest") {
			v.errorAt(st.runNode, RuleLatestTag, fmt.Sprintf("Action %s uses `%s`, which is not supported. Provide a version e.g. `:v2` instead", st.action.ID, img),
				"pin the image to a version, e.g. "+st.action.Run.Image+":v2", pr(stepLatest, st.index))
		}
	}
	// 8: the same run command twice.
	firstRun := make(map[string]int, len(v.actions)) // run string -> first action
	seen := map[string][]string{}                    // run string -> actions, once repeated
	for i, st := range v.actions {
		if !st.runOK {
			continue
		}
		raw := st.action.Run.Raw
		if f, dup := firstRun[raw]; !dup {
			firstRun[raw] = i
			continue
		} else if seen[raw] == nil {
			seen[raw] = []string{v.actions[f].action.ID}
		}
		if prev := seen[raw]; len(prev) > 0 {
			v.errorAt(st.runNode, RuleRunDuplicate, fmt.Sprintf("Action %s has the same 'run' command as other actions: %s", st.action.ID, strings.Join(prev, " ,")),
				"two actions that run the same command would write the same outputs; remove one, or make their commands differ", pr(stepRunDuplicate, st.index))
		}
		seen[raw] = append(seen[raw], st.action.ID)
	}
	// 9: the same output pattern twice (version 2 on).
	if v.uniqueOutputs() {
		first := make(map[string]string, len(v.actions))
		for _, st := range v.actions {
			for j, o := range st.action.Outputs.all() {
				if owner, dup := first[o.Pattern]; dup {
					v.errorAt(st.outputNodes[j], RuleOutputDuplicate, fmt.Sprintf("Output path %s is not unique", o.Pattern),
						fmt.Sprintf("action %s already writes this path; each output path may be listed once", owner), pr(stepOutputDuplicate, st.index, j))
				} else {
					first[o.Pattern] = st.action.ID
				}
			}
		}
	}
	// 10: needs naming actions that do not exist.
	for _, st := range v.actions {
		for k, n := range st.action.Needs {
			if _, ok := v.actionIDs[n]; !ok {
				v.errorAt(st.needNodes[k], RuleNeedsUnknown, fmt.Sprintf("Action `%s` references an unknown action in its `needs` list: %s", st.action.ID, n),
					v.suggestAction(n), pr(stepNeedsUnknown, st.index, k))
			}
		}
	}
}

// suggestAction names the action closest in spelling to an unknown one.
func (v *validator) suggestAction(name string) string {
	v.suggestions++
	if v.suggestions > maxSuggestions {
		return "check the spelling against the action names under `actions:`"
	}
	best, bestD := "", 4
	for _, st := range v.actions {
		if diff := len(name) - len(st.action.ID); diff >= bestD || -diff >= bestD {
			continue
		}
		if d := EditDistance(name, st.action.ID); d < bestD {
			best, bestD = st.action.ID, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %s?", best)
	}
	return "check the spelling against the action names under `actions:`"
}

var expectationKeys = map[string]bool{"population_size": true}

func (v *validator) checkExpectations(e *entry) {
	if !v.versionOK {
		return
	}
	present := e != nil && !isNull(e.value)
	switch {
	case v.noCohortextractor():
		if present {
			v.errorAt(e.key, RuleExpectationsForbidden,
				"Project includes `expectations` section, which is not supported in this version. This section is only applicable to deprecated cohortextractor actions; you can safely remove it.",
				"delete the expectations section", pr(stepExpectations, 0))
		}
		return
	case !v.needExpectations():
		v.populationSize, v.hasExpectations = DefaultPopulationSize, true
		return
	}
	if !present {
		at := v.root
		if e != nil {
			at = e.key
		}
		v.errorAt(at, RuleExpectationsMissing, "Project must include `expectations` section",
			"add `expectations:` with `population_size: 1000` under it", pr(stepExpectations, 0))
		return
	}
	if !isMapping(e.value) {
		v.errorAt(e.value, RuleExpectationsNotMapping, "Project `expectations` section must be a dictionary of key/value pairs",
			"write `population_size: 1000` on an indented line under `expectations:`", pr(stepExpectations, 1))
		return
	}
	var pop *entry
	var unknown []entry
	entries := mapEntries(e.value)
	for i := range entries {
		if entries[i].name == "population_size" && isString(entries[i].key) {
			pop = &entries[i]
		} else {
			unknown = append(unknown, entries[i])
		}
	}
	if pop == nil {
		v.errorAt(e.key, RuleExpectationsNoPopulation, "Project `expectations` section must include `population_size` section",
			"add `population_size: 1000` under `expectations:`", pr(stepExpectations, 2))
	}
	if len(unknown) > 0 {
		v.errorAt(unknown[0].key, RuleExpectationsUnknownKey, fmt.Sprintf("Unexpected parameters (%s) in project `expectations` section", joinNames(unknown)),
			"expectations holds only population_size", pr(stepExpectations, 3))
	}
	if pop == nil {
		return
	}
	n, ok := pyIntNode(pop.value)
	if !ok {
		v.errorAt(valueOrKey(*pop), RuleExpectationsPopulationType, "Project expectations population size must be a number",
			"give a whole number, e.g. population_size: 1000", pr(stepExpectations, 4))
		return
	}
	if n.IsInt64() {
		v.populationSize = n.Int64()
	}
	v.hasExpectations = true
}

func (v *validator) checkCycles() {
	g := newGraph(v.actions, v.actionIDs)
	for _, cyc := range g.cycles() {
		names := make([]string, len(cyc))
		for i, idx := range cyc {
			names[i] = v.actions[idx].action.ID
		}
		path := strings.Join(append(names, names[0]), " -> ")
		st := v.actions[cyc[0]]
		// Point at the needs entry that closes the first step of the cycle.
		at := st.key
		next := v.actions[cyc[1%len(cyc)]].action.ID
		for k, n := range st.action.Needs {
			if n == next {
				at = st.needNodes[k]
				break
			}
		}
		v.errorAt(at, RuleNeedsCycle, "Dependency cycle in `needs`: "+path,
			"an action cannot depend on its own outputs, directly or through others: remove one of these needs", pr(stepCycle, cyc[0]))
	}
}

func (v *validator) pipeline() *Pipeline {
	p := &Pipeline{
		File:            v.file,
		Version:         v.version,
		PopulationSize:  v.populationSize,
		HasExpectations: v.hasExpectations,
		byID:            v.actionIDs,
		Actions:         make([]*Action, len(v.actions)),
	}
	for i, st := range v.actions {
		p.Actions[i] = st.action
	}
	p.order = topoOrder(p.Actions, p.byID)
	return p
}

// EditDistance is the Levenshtein distance, capped at 64 for speed on long
// names; it drives "did you mean" suggestions.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalarOffsetPos is the position of byte offset off within a scalar's
// value, where the value is written on one line with nothing escaped; else
// the scalar's own position.
func scalarOffsetPos(n *yaml.Node, off int) Position {
	pos := Position{n.Line, n.Column}
	val := n.Value
	if strings.ContainsAny(val, "\n\r") || off < 0 || off > len(val) {
		return pos
	}
	shift := 0
	switch n.Style {
	case 0:
	case yaml.SingleQuotedStyle:
		if strings.Contains(val, "'") {
			return pos
		}
		shift = 1
	case yaml.DoubleQuotedStyle:
		if strings.ContainsAny(val, "\\\"") {
			return pos
		}
		shift = 1
	default:
		return pos
	}
	pos.Column += shift + utf8.RuneCountInString(val[:off])
	return pos
}
