// Package actions holds Haven's built-in implementations of the images and
// reusable actions that a study's pipeline names but that a researcher's
// machine would otherwise need Docker for: cohortextractor
// (generate_cohort, generate_measures), cohort-joiner and dataset-report.
// The local executor runs them in-process, in the job's scratch workspace,
// instead of a host program (Haven decision 5). Each lives in its own
// package; every path they touch goes through package workspace.
package actions

import (
	"github.com/haven-tre/haven/internal/actions/cohortextractor"
	"github.com/haven-tre/haven/internal/actions/datasetreport"
	"github.com/haven-tre/haven/internal/actions/joiner"
	"github.com/haven-tre/haven/internal/executor/local"
)

// Native returns the built-in actions by image name, for
// local.Config.Native. The tag is not consulted: each implements the
// behaviour of the version real projects use (cohort-joiner v0.0.44,
// dataset-report v0.0.24, cohortextractor latest).
func Native() map[string]local.NativeAction {
	return map[string]local.NativeAction{
		cohortextractor.Program: cohortextractor.Run,
		"cohort-joiner":         joiner.Run,
		"dataset-report":        datasetreport.Run,
	}
}
