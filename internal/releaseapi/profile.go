package releaseapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/haven-tre/haven/internal/jobserver"
	"github.com/haven-tre/haven/internal/webkit"
)

// Airlock sign-in endpoints (spec §8.1), authenticated with the backend's
// airlock token like the release endpoints. Statuses: 200 the user's
// Profile; 400 a body that is not valid; 401 a missing or unknown
// backend token; 403 an agent token, an inactive backend, a wrong, used
// or expired login token, an unknown user or one who is not a member of
// the calling backend; 429 after too many failed sign-ins for one user
// (jobserver.SignInMaxFailures within jobserver.SignInWindow).
const (
	PathAuthenticate = "/api/airlock/v1/authenticate"
	PathAuthorise    = "/api/airlock/v1/authorise"
)

// AuthenticateRequest is the body of POST PathAuthenticate.
type AuthenticateRequest struct {
	// User is the username or the email address the user typed.
	User string `json:"user"`
	// Token is the login token the user got from the job server.
	Token string `json:"token"`
}

// AuthoriseRequest is the body of POST PathAuthorise: the Airlock asks
// for a signed-in user's current profile (every 15 minutes).
type AuthoriseRequest struct {
	User string `json:"user"` // username
}

// Profile is the answer to authenticate and authorise: what the Airlock
// may let the user do.
type Profile struct {
	Username string `json:"username"`
	Fullname string `json:"fullname"`
	// Workspaces are those the user may request releases from, by name.
	Workspaces map[string]ProfileWorkspace `json:"workspaces"`
	// CopilotedWorkspaces is always empty: Haven has no copilot role.
	CopilotedWorkspaces map[string]ProfileWorkspace `json:"copiloted_workspaces"`
	// OutputChecker: the user may review release requests.
	OutputChecker bool `json:"output_checker"`
	// ReadonlyAccess: the user may view every workspace and request.
	ReadonlyAccess bool `json:"readonly_access"`
}

// ProfileWorkspace is one workspace of a Profile.
type ProfileWorkspace struct {
	Project  ProfileProject `json:"project"`
	Archived bool           `json:"archived"`
}

// ProfileProject is the project of a ProfileWorkspace.
type ProfileProject struct {
	Name    string   `json:"name"`
	Slug    string   `json:"slug"`
	Ongoing bool     `json:"ongoing"`
	Orgs    []string `json:"orgs"`
}

// wireProfile is the answer for p.
func wireProfile(p *jobserver.AirlockProfile) *Profile {
	out := &Profile{
		Username:            p.Username,
		Fullname:            p.Fullname,
		Workspaces:          map[string]ProfileWorkspace{},
		CopilotedWorkspaces: map[string]ProfileWorkspace{},
		OutputChecker:       p.OutputChecker,
		ReadonlyAccess:      p.ReadonlyAccess,
	}
	for name, w := range p.Workspaces {
		orgs := append([]string{}, w.Project.Orgs...)
		out.Workspaces[name] = ProfileWorkspace{Archived: w.Archived, Project: ProfileProject{
			Name: w.Project.Name, Slug: w.Project.Slug, Ongoing: w.Project.Ongoing, Orgs: orgs}}
	}
	return out
}

func (a *API) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	b, err := a.authenticateAirlock(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req AuthenticateRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.User == "" || req.Token == "" {
		a.fail(w, r, errorf(http.StatusBadRequest, `send {"user": "<username or email>", "token": "<the user's Airlock sign-in token>"}`))
		return
	}
	p, err := a.Service.AuthenticateAirlock(r.Context(), b, req.User, req.Token)
	if errors.Is(err, jobserver.ErrAirlockTooManyAttempts) {
		w.Header().Set("Retry-After", strconv.Itoa(int(jobserver.SignInWindow.Seconds())))
		a.fail(w, r, errorf(http.StatusTooManyRequests, "%s", webkit.PublicMessage(err)))
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.Logger.Info("airlock sign-in", "backend", b.Slug, "user", p.Username)
	webkit.WriteJSON(w, http.StatusOK, wireProfile(p))
}

func (a *API) handleAuthorise(w http.ResponseWriter, r *http.Request) {
	b, err := a.authenticateAirlock(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var req AuthoriseRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.User == "" {
		a.fail(w, r, errorf(http.StatusBadRequest, `send {"user": "<username>"}`))
		return
	}
	p, err := a.Service.AirlockProfile(r.Context(), b, req.User)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	webkit.WriteJSON(w, http.StatusOK, wireProfile(p))
}
