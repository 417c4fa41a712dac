// Package examples holds Haven's example studies, copies of published
// OpenSAFELY studies adapted to run on artificial data. `haven demo` makes
// git repositories of them; tests run them.
package examples

import "embed"

// FS holds every example study, each in a folder of its name.
//
//go:embed all:flucats all:mechanical-valve-anticoag all:primary-care-covid-codes
var FS embed.FS
