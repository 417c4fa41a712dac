package local

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/haven-tre/haven/internal/executor"
)

// interpreter says how the local executor runs one runtime image on the
// host (Haven decision 5).
type interpreter struct {
	program string   // the host program, looked up on PATH
	aliases []string // a first argument that repeats the tool name, dropped
	install string   // what the user installs to get program
}

// interpreterFor returns the host interpreter of an image name.
func interpreterFor(image string) (interpreter, bool) {
	switch image {
	case "python":
		return interpreter{program: "python3", aliases: []string{"python", "python3"}, install: "Python 3"}, true
	case "r":
		return interpreter{program: "Rscript", aliases: []string{"Rscript", "R"}, install: "R"}, true
	case "jupyter":
		return interpreter{program: "jupyter", aliases: []string{"jupyter"}, install: "Jupyter"}, true
	case "stata-mp":
		return interpreter{program: "stata-mp", aliases: []string{"stata-mp"}, install: "Stata/MP"}, true
	}
	return interpreter{}, false
}

// imageName splits an image reference into its name and tag, dropping any
// registry path: ghcr.io/opensafely-core/python:v2 is python, v2.
func imageName(ref string) (name, tag string) {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		ref = ref[i+1:]
	}
	name, tag, _ = strings.Cut(ref, ":")
	return name, tag
}

// plan is how one job runs: a host program or a native action.
type plan struct {
	image   string       // the image name
	path    string       // the program's absolute path, for a host program
	program string       // the program's name (argv[0])
	native  NativeAction // set for a native action
	aliases []string     // first arguments dropped
}

// planFor decides how def runs, or says why the local executor cannot run
// it and what can.
func planFor(def executor.JobDefinition, pathList string, native map[string]NativeAction) (plan, error) {
	name, _ := imageName(def.Image)
	if act, ok := native[name]; ok && act != nil {
		return plan{image: name, native: act}, nil
	}
	in, ok := interpreterFor(name)
	if !ok {
		return plan{}, &executor.UnavailableError{
			Executor: executorName,
			Image:    def.Image,
			Reason: fmt.Sprintf("Action %s uses %s, which the local executor cannot run; use the docker executor",
				def.Action, def.Image),
		}
	}
	path, err := lookPath(in.program, pathList)
	if err != nil {
		return plan{}, &executor.UnavailableError{
			Executor: executorName,
			Image:    def.Image,
			Reason: fmt.Sprintf("Action %s uses %s, but %s was not found on PATH; install %s or use the docker executor",
				def.Action, def.Image, in.program, in.install),
		}
	}
	return plan{image: name, path: path, program: in.program, aliases: in.aliases}, nil
}

// args returns the job's arguments as the program receives them: a leading
// repeat of the tool name dropped (both `python:v2 python x.py` and
// `python:v2 x.py` appear in real projects) and /workspace mapped to dir.
func (p plan) args(args []string, dir string) []string {
	if len(args) > 0 {
		for _, a := range p.aliases {
			if args[0] == a {
				args = args[1:]
				break
			}
		}
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = mapWorkspace(a, dir)
	}
	return out
}

// mapWorkspace rewrites an argument that names the container's /workspace
// (or a path under it), alone or as the value of an --option=value, to the
// same place under dir.
func mapWorkspace(arg, dir string) string {
	if p, ok := workspacePath(arg, dir); ok {
		return p
	}
	if key, value, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(key, "-") {
		if p, ok := workspacePath(value, dir); ok {
			return key + "=" + p
		}
	}
	return arg
}

// workspacePath maps /workspace and /workspace/... to dir; the rest of the
// path is kept as written.
func workspacePath(s, dir string) (string, bool) {
	if s == "/workspace" {
		return dir, true
	}
	if rest, ok := strings.CutPrefix(s, "/workspace/"); ok {
		return dir + string(filepath.Separator) + filepath.FromSlash(rest), true
	}
	return "", false
}

// lookPath finds an executable program in a PATH-style list. Unlike
// exec.LookPath it searches the list it is given (the jobs' PATH, not
// necessarily the runner's) and never the current directory.
func lookPath(program, pathList string) (string, error) {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		path := filepath.Join(dir, program)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s: %w", program, fs.ErrNotExist)
}
