package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/actions"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/docker"
	"github.com/haven-tre/haven/internal/executor/local"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/pipeline"
)

// A local run removes finished jobs' scratch workspaces when it ends, or
// sooner once this many jobs or bytes of copies wait (outputs.Trash).
const (
	trashMaxJobs  = 10_000
	trashMaxBytes = 1 << 30
)

// Executor kinds for --executor.
const (
	executorAuto   = "auto"
	executorLocal  = "local"
	executorDocker = "docker"
)

// pipelineImages lists the image:tag of every action, as containers run
// them (the literal tag).
func pipelineImages(p *pipeline.Pipeline) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range p.Actions {
		ref := a.Run.Image + ":" + a.Run.Tag
		if !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	return out
}

// chooseExecutor builds the executor --executor asks for. auto picks
// docker when the daemon answers and every image the pipeline uses is
// present, else local; the second result says why, for the user.
//
// The local executor hands finished jobs' scratch workspaces to trash,
// which the caller empties when the run ends.
func (a *app) chooseExecutor(ctx context.Context, kind string, p *pipeline.Pipeline, trash *outputs.Trash) (executor.Executor, string, error) {
	newLocal := func() executor.Executor {
		return local.New(local.Config{Trash: trash, Listing: outputs.NewCodeListing(), Native: actions.Native()})
	}
	switch kind {
	case executorLocal:
		return newLocal(), "as asked with --executor local", nil
	case executorDocker:
		d, err := docker.NewFromEnv(ctx, docker.Options{})
		if err != nil {
			return nil, "", haven.Errorf(haven.EINVALID, "the docker executor needs a running Docker daemon: %v; start Docker, or use --executor local", err)
		}
		missing, err := d.HasImages(ctx, pipelineImages(p))
		if err != nil {
			return nil, "", &haven.Error{Code: haven.EINTERNAL, Message: "cannot list Docker images", Err: err}
		}
		if len(missing) > 0 {
			refs := make([]string, len(missing))
			for i, m := range missing {
				refs[i] = d.ImageRef(m)
			}
			d.Close()
			return nil, "", haven.Errorf(haven.EINVALID, "these images are not in Docker: %s; haven never pulls while it runs jobs: pull or load them first, or use --executor local",
				strings.Join(refs, ", "))
		}
		return d, "as asked with --executor docker", nil
	case executorAuto:
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		d, err := docker.NewFromEnv(dctx, docker.Options{})
		if err != nil {
			return newLocal(), "Docker is not available", nil
		}
		missing, err := d.HasImages(dctx, pipelineImages(p))
		switch {
		case err != nil:
			d.Close()
			return newLocal(), "Docker could not list its images", nil
		case len(missing) > 0:
			d.Close()
			return newLocal(), fmt.Sprintf("Docker has no image for %s, and haven never pulls during a run", strings.Join(missing, ", ")), nil
		}
		return d, "Docker answers and has every image", nil
	}
	return nil, "", usageError{fmt.Errorf("unknown --executor %q: use auto, local or docker", kind)}
}
