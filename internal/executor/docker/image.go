package docker

import (
	"context"
	"fmt"
	"strings"

	"github.com/haven-tre/haven/internal/executor"
)

// ImageRef is the local image reference a job's image (python:v2) maps
// to: the prefix and the name, unless the name already names a registry
// path (contains '/').
func (e *Executor) ImageRef(image string) string {
	if strings.Contains(image, "/") {
		return image
	}
	return e.prefix + image
}

// HasImages returns the images (as given, e.g. python:v2) that are not
// present in the daemon's image store. It never pulls.
func (e *Executor) HasImages(ctx context.Context, images []string) (missing []string, err error) {
	for _, image := range images {
		ok, err := e.hasImage(ctx, e.ImageRef(image))
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, image)
		}
	}
	return missing, nil
}

// hasImage reports whether ref is present locally.
func (e *Executor) hasImage(ctx context.Context, ref string) (bool, error) {
	if _, err := e.cli.ImageInspect(ctx, ref); err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return true, nil
}

// requireImage returns an *executor.UnavailableError when the job's image
// is not present: images are made present before jobs start, never pulled
// at run time.
func (e *Executor) requireImage(ctx context.Context, def executor.JobDefinition) error {
	ref := e.ImageRef(def.Image)
	ok, err := e.hasImage(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return &executor.UnavailableError{
			Executor: e.Name(),
			Image:    def.Image,
			Reason: fmt.Sprintf("Docker image %s is not currently available: fetch it before running the job "+
				"(for example: docker pull %s)", ref, ref),
		}
	}
	return nil
}

// requireNetwork returns an *executor.UnavailableError for a database
// action when no database network is configured.
func (e *Executor) requireNetwork(def executor.JobDefinition) error {
	if def.AllowDatabaseAccess && e.dbNetwork == "" {
		return &executor.UnavailableError{
			Executor: e.Name(),
			Image:    def.Image,
			Reason: fmt.Sprintf("Action %s needs database access, which this docker executor is not configured "+
				"for: jobs here run without a network (configure a database network to run database actions)", def.Action),
		}
	}
	return nil
}
