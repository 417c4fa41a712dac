package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor/docker/dockertest"
)

// TestRunWithDocker runs a pipeline through the docker executor from the
// command line. The image is the toy interpreter the Docker tests build
// without a registry, tagged under the name `haventoy:v1` resolves to, so
// `--executor auto` finds every image present and picks docker.
func TestRunWithDocker(t *testing.T) {
	cli := dockertest.Client(t)
	toy := dockertest.ToyImage(t, cli)
	const ref = "ghcr.io/opensafely-core/haventoy:v1"
	ctx := context.Background()
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: toy, Target: ref}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{}) })

	dir := project(t, map[string]string{"project.yaml": `version: '5.0'
actions:
  write:
    run: haventoy:v1 echo writing write output/table.csv band,n
    outputs:
      moderately_sensitive:
        table: output/table.csv
  copy:
    run: haventoy:v1 cat output/table.csv write output/copy.csv done
    needs: [write]
    outputs:
      moderately_sensitive:
        copy: output/copy.csv
  hungry:
    run: haventoy:v1 alloc 256
    outputs:
      highly_sensitive:
        none: output/none.csv
`})
	r := runHaven(t, dir, "run", "write", "copy")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "Using the docker executor (Docker answers and has every image)") {
		t.Errorf("auto did not pick docker:\n%s", r.stdout)
	}
	if got := readFile(t, filepath.Join(dir, "output", "table.csv")); got != "band,n" {
		t.Errorf("table.csv = %q", got)
	}
	if log := readFile(t, filepath.Join(dir, "metadata", "copy.log")); !strings.Contains(log, "band,n") {
		t.Errorf("copy.log lacks the job's output:\n%s", log)
	}

	// Out of memory is reported as such, with the limit.
	r = runHaven(t, dir, "run", "hungry", "--executor", "docker", "--memory", "64M")
	r.want(t, 1)
	if !strings.Contains(r.stdout, "Job exited with an error: Job ran out of memory (limit was 0.06GB)") {
		t.Errorf("no out-of-memory message:\n%s", r.stdout)
	}
}
