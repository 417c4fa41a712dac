package plan

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/haven-tre/haven/internal/pipeline"
)

// commandWords returns the words a job for action a runs and the stored
// run_command, after the rewriting upstream does when it creates a job
// (spec §9 steps 1 and 2; the reusable-action rewrite of step 3 needs the
// network and is the caller's, as upstream does it after planning).
func commandWords(p *pipeline.Pipeline, a *pipeline.Action, dummyData bool) ([]string, string, error) {
	if len(a.Run.Parts) == 0 {
		return nil, "", fmt.Errorf("action %s in %s has an empty run command: give it an image and a command", a.ID, p.File)
	}
	words, err := a.CommandWords()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p.File, err)
	}
	if dummyData && isGenerateCohort(a) {
		words = appendDummyDataArgs(words, p, a)
	}
	return words, pipeline.JoinWords(words), nil
}

// isGenerateCohort reports whether a runs `cohortextractor:<tag>
// generate_cohort`, the one command the local run rewrites.
func isGenerateCohort(a *pipeline.Action) bool {
	return len(a.Run.Parts) > 1 && strings.HasPrefix(a.Run.Parts[0], "cohortextractor:") && a.Run.Parts[1] == "generate_cohort"
}

// appendDummyDataArgs adds what a dummy-data cohortextractor needs (spec §9
// step 2, upstream cli jobrunner/actions.py): its dummy data file, or the
// population size to generate; and, when every output lies in one
// directory, that directory, even if the user gave one (the last wins).
func appendDummyDataArgs(words []string, p *pipeline.Pipeline, a *pipeline.Action) []string {
	if a.DummyDataFile != "" {
		words = append(words, "--dummy-data-file="+strings.ReplaceAll(a.DummyDataFile, `\`, "/"))
	} else {
		words = append(words, "--expectations-population="+strconv.FormatInt(p.PopulationSize, 10))
	}
	var dir string
	for i, out := range a.Outputs.All() {
		d := path.Dir(out.Pattern)
		if i > 0 && d != dir {
			return words
		}
		dir = d
	}
	if dir != "" {
		words = append(words, "--output-dir="+dir)
	}
	return words
}
