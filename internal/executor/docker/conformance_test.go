package docker

import (
	"testing"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/executortest"
)

// TestConformance runs the executor conformance suite against the real
// daemon, with the toy image carrying out the suite's behaviours.
func TestConformance(t *testing.T) {
	cli := testClient(t)
	image := toyImage(t, cli)
	executortest.Run(t, func(t *testing.T) executor.Executor {
		return newTestExecutor(t, cli, Options{})
	}, executortest.Env{
		Job: func(b executortest.Behaviour) (string, []string) {
			return image, []string{"behave", b.Encode()}
		},
		WritesFiles: true,
	})
}
