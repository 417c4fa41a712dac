// Package haven holds the domain types shared by every part of Haven, a
// trusted research environment: error kinds with codes, and the small
// interfaces that the pipeline, runner, server and airlock agree on.
package haven
