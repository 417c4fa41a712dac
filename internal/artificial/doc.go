// Package artificial is the home of Haven's artificial data: scrape
// (record readers and metadata, the only packages that read real tables),
// meta (the metadata contract, review and approval), gen (the generator),
// expect (OpenSAFELY expectations), frame (column batches and writers),
// rng (deterministic randomness) and compare (fidelity). Its own tests are
// the end-to-end round trip. See docs/artificial-data.md.
package artificial
