package web

import (
	"net/http"
	"regexp"
	"strconv"
)

// Patterns every path parameter must match before anything is looked up;
// anything else is a 404.
var (
	projectSlug   = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9_]{0,99}$`)
	workspaceName = regexp.MustCompile(`^[-a-zA-Z0-9_]{1,200}$`)
	backendSlug   = regexp.MustCompile(`^[a-zA-Z0-9][-a-zA-Z0-9_]{0,63}$`)
	jobIdentifier = regexp.MustCompile(`^[a-z0-9]{1,16}$`)
	commitSHA     = regexp.MustCompile(`^[0-9a-f]{40}$`)
	requestNumber = regexp.MustCompile(`^[1-9][0-9]{0,15}$`)
)

// pathParams are the validated path parameters of a request.
type pathParams struct {
	Project   string
	Workspace string
	JR        int64
	Job       string
	Ref       string
	Backend   string
}

// params reads and validates the named path parameters; ok is false when
// any is malformed.
func params(r *http.Request, names ...string) (p pathParams, ok bool) {
	for _, n := range names {
		v := r.PathValue(n)
		switch n {
		case "project":
			if !projectSlug.MatchString(v) {
				return p, false
			}
			p.Project = v
		case "workspace":
			if !workspaceName.MatchString(v) {
				return p, false
			}
			p.Workspace = v
		case "jr":
			if !requestNumber.MatchString(v) {
				return p, false
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return p, false
			}
			p.JR = n
		case "job":
			if !jobIdentifier.MatchString(v) {
				return p, false
			}
			p.Job = v
		case "ref":
			if !commitSHA.MatchString(v) {
				return p, false
			}
			p.Ref = v
		case "backend":
			if !backendSlug.MatchString(v) {
				return p, false
			}
			p.Backend = v
		default:
			return p, false
		}
	}
	return p, true
}
