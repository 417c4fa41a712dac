package web

import (
	"context"
	"sync"

	"github.com/haven-tre/haven/internal/store"
)

// cache keeps the facts pages show about organisations, projects, users,
// backends and workspaces that never change once created (names, slugs,
// a workspace's project, repo and branch), so a page listing 25 job
// requests costs a handful of queries rather than one per row. Anything
// that can change (archived, paused, last seen, roles) is always read
// from the store. Misses are not cached.
type cache struct {
	st         store.Store
	orgs       memo[int64, *store.Org]
	projects   memo[int64, *store.Project]
	projectIDs memo[string, int64] // by slug
	users      memo[int64, userFacts]
	backends   memo[int64, backendFacts]
	workspaces memo[int64, workspaceFacts]
	wsIDs      memo[string, int64] // by name
	// finished holds complete job requests with their jobs: a request
	// whose status is final and whose jobs are all final never changes
	// again (final codes are sticky, and cancelling a complete request
	// does nothing), so its page needs neither query twice.
	finished memo[int64, finishedRequest]
}

// finishedRequest is a complete job request and its final jobs.
type finishedRequest struct {
	jr   *store.JobRequest
	jobs []*store.Job
}

// finishedRequest returns a cached complete request, if there is one.
func (c *cache) finishedRequest(id int64) (finishedRequest, bool) {
	c.finished.mu.RLock()
	defer c.finished.mu.RUnlock()
	f, ok := c.finished.m[id]
	return f, ok
}

// noteRequest caches a request and its jobs when both are final.
func (c *cache) noteRequest(jr *store.JobRequest, jobs []*store.Job) {
	if store.IsActive(jr.Status) {
		return
	}
	for _, j := range jobs {
		if !j.StatusCode.IsFinal() {
			return
		}
	}
	c.finished.get(jr.ID, func() (finishedRequest, error) { return finishedRequest{jr: jr, jobs: jobs}, nil })
}

// userFacts are a user's unchanging names.
type userFacts struct {
	Username string
	Fullname string
}

// backendFacts are a backend's unchanging names.
type backendFacts struct {
	ID   int64
	Slug string
	Name string
	// ArtificialData is set when the backend is created (haven server
	// admin create-backend --artificial-data) and not expected to change.
	ArtificialData bool
}

// workspaceFacts are a workspace's unchanging fields.
type workspaceFacts struct {
	ID        int64
	Name      string
	ProjectID int64
	RepoURL   string
	Branch    string
}

func newCache(st store.Store) *cache { return &cache{st: st} }

// memoLimit bounds each map; a full map is emptied and refilled.
const memoLimit = 20000

type memo[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *memo[K, V]) get(k K, load func() (V, error)) (V, error) {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= memoLimit {
		c.m = make(map[K]V)
	}
	c.m[k] = v
	c.mu.Unlock()
	return v, nil
}

func (c *cache) org(ctx context.Context, id int64) (*store.Org, error) {
	return c.orgs.get(id, func() (*store.Org, error) { return c.st.Org(ctx, id) })
}

func (c *cache) project(ctx context.Context, id int64) (*store.Project, error) {
	return c.projects.get(id, func() (*store.Project, error) { return c.st.Project(ctx, id) })
}

func (c *cache) projectBySlug(ctx context.Context, slug string) (*store.Project, error) {
	id, err := c.projectIDs.get(slug, func() (int64, error) {
		p, err := c.st.ProjectBySlug(ctx, slug)
		if err != nil {
			return 0, err
		}
		c.projects.get(p.ID, func() (*store.Project, error) { return p, nil })
		return p.ID, nil
	})
	if err != nil {
		return nil, err
	}
	return c.project(ctx, id)
}

func (c *cache) user(ctx context.Context, id int64) (userFacts, error) {
	return c.users.get(id, func() (userFacts, error) {
		u, err := c.st.User(ctx, id)
		if err != nil {
			return userFacts{}, err
		}
		return userFacts{Username: u.Username, Fullname: u.Fullname}, nil
	})
}

func (c *cache) backend(ctx context.Context, id int64) (backendFacts, error) {
	return c.backends.get(id, func() (backendFacts, error) {
		b, err := c.st.Backend(ctx, id)
		if err != nil {
			return backendFacts{}, err
		}
		return backendFacts{ID: b.ID, Slug: b.Slug, Name: b.Name, ArtificialData: b.ArtificialData}, nil
	})
}

func factsOf(w *store.Workspace) workspaceFacts {
	return workspaceFacts{ID: w.ID, Name: w.Name, ProjectID: w.ProjectID, RepoURL: w.RepoURL, Branch: w.Branch}
}

func (c *cache) workspace(ctx context.Context, id int64) (workspaceFacts, error) {
	return c.workspaces.get(id, func() (workspaceFacts, error) {
		w, err := c.st.Workspace(ctx, id)
		if err != nil {
			return workspaceFacts{}, err
		}
		return factsOf(w), nil
	})
}

func (c *cache) workspaceByName(ctx context.Context, name string) (workspaceFacts, error) {
	id, err := c.wsIDs.get(name, func() (int64, error) {
		w, err := c.st.WorkspaceByName(ctx, name)
		if err != nil {
			return 0, err
		}
		c.workspaces.get(w.ID, func() (workspaceFacts, error) { return factsOf(w), nil })
		return w.ID, nil
	})
	if err != nil {
		return workspaceFacts{}, err
	}
	return c.workspace(ctx, id)
}
