package executortest

import (
	"encoding/json"
	"fmt"
)

// Behaviour describes what a job under test does, independently of how an
// executor expresses it. The job first appends Files, then prints Stdout and
// Stderr, then either sleeps until it is killed (Sleep) or exits with
// ExitCode.
type Behaviour struct {
	// Files maps workspace-relative paths to content the job appends to them
	// (creating the file and its directories). Appending, not writing, lets
	// the suite see a job that was started twice.
	Files map[string]string `json:"files,omitempty"`
	// Stdout and Stderr are lines the job prints, in order.
	Stdout []string `json:"stdout,omitempty"`
	Stderr []string `json:"stderr,omitempty"`
	// ExitCode is the job's exit status.
	ExitCode int `json:"exit,omitempty"`
	// Sleep makes the job run (far) longer than any test, until terminated.
	Sleep bool `json:"sleep,omitempty"`
}

// Encode returns b as one JSON word, suitable as a job argument.
func (b Behaviour) Encode() string {
	data, err := json.Marshal(b)
	if err != nil {
		// A struct of strings, ints and bools always marshals.
		panic(fmt.Sprintf("encode behaviour: %v", err))
	}
	return string(data)
}

// DecodeBehaviour parses a word produced by Behaviour.Encode.
func DecodeBehaviour(word string) (Behaviour, error) {
	var b Behaviour
	if err := json.Unmarshal([]byte(word), &b); err != nil {
		return Behaviour{}, fmt.Errorf("decode behaviour %q: %w", word, err)
	}
	return b, nil
}

// pythonProgram carries out a Behaviour given as its first argument. It uses
// only the standard library, so any image or host with Python 3 runs it.
const pythonProgram = `import json, os, sys, time
b = json.loads(sys.argv[1])
for p, c in sorted((b.get("files") or {}).items()):
    d = os.path.dirname(p)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(p, "a") as f:
        f.write(c)
for line in b.get("stdout") or []:
    print(line, flush=True)
for line in b.get("stderr") or []:
    print(line, file=sys.stderr, flush=True)
if b.get("sleep"):
    time.sleep(86400)
sys.exit(b.get("exit", 0))
`

// PythonArgs returns the arguments that make a Python 3 interpreter carry
// out b (`python3 -c <program> <behaviour>`), for executors whose jobs run
// the python image or a host python3.
func PythonArgs(b Behaviour) []string {
	return []string{"-c", pythonProgram, b.Encode()}
}
