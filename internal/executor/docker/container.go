package docker

import (
	"maps"
	"math"
	"slices"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
)

// Labels every job container carries, so a restarted runner or a clean-up
// command can find them.
const (
	LabelJob       = "haven.job"
	LabelWorkspace = "haven.workspace"
	LabelAction    = "haven.action"
)

// spec is what containerSpec needs beyond the job definition.
type spec struct {
	Image      string // the local image reference
	ScratchDir string // the host directory mounted at /workspace
	User       string // uid:gid
	CPUs       float64
	Memory     int64 // bytes
	Network    string
	Backend    string
	Labels     map[string]string
	LogConfig  container.LogConfig
}

// containerSpec translates a job into the container create request:
// upstream's `docker run --init --name os-job-<id> --network none
// --cap-drop ALL --security-opt no-new-privileges --user … --cpus …
// --memory …` with the scratch workspace at /workspace. Environment values
// travel in the request body, never on a command line.
func containerSpec(def executor.JobDefinition, s spec) client.ContainerCreateOptions {
	env := map[string]string{
		"HOME":               "/tmp", // so a non-root user has a writable home
		"OPENSAFELY_BACKEND": s.Backend,
	}
	maps.Copy(env, def.Env)
	envList := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		envList = append(envList, k+"="+env[k])
	}

	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelJob] = def.ID
	labels[LabelWorkspace] = def.Workspace
	labels[LabelAction] = def.Action

	init := true
	return client.ContainerCreateOptions{
		Name: containerName(def),
		Config: &container.Config{
			Image:      s.Image,
			Cmd:        slices.Clone(def.Args), // the image's entrypoint runs them
			Env:        envList,
			WorkingDir: "/workspace",
			User:       s.User,
			Labels:     labels,
		},
		HostConfig: &container.HostConfig{
			Mounts: []mount.Mount{{
				Type:   mount.TypeBind,
				Source: s.ScratchDir,
				Target: "/workspace",
			}},
			NetworkMode: container.NetworkMode(s.Network),
			Init:        &init,
			CapDrop:     []string{"ALL"},
			SecurityOpt: []string{"no-new-privileges"},
			LogConfig:   s.LogConfig,
			Resources: container.Resources{
				NanoCPUs: int64(math.Round(s.CPUs * 1e9)),
				Memory:   s.Memory,
				// No swap beyond the limit, so a job that needs more memory
				// than it was given is OOM-killed and told so, rather than
				// crawling through swap.
				MemorySwap: s.Memory,
			},
		},
	}
}

// limits returns the CPU and memory limits of a job: its own or the
// executor's defaults, with CPUs lowered to what the daemon has (ncpu 0
// means unknown).
func (e *Executor) limits(def executor.JobDefinition, ncpu int) (cpus float64, memory int64) {
	cpus, memory = def.CPUCount, def.MemoryLimit
	if cpus <= 0 {
		cpus = e.cpus
	}
	if ncpu > 0 && cpus > float64(ncpu) {
		cpus = float64(ncpu)
	}
	if memory <= 0 {
		memory = e.memory
	}
	return cpus, memory
}

// network is the container's network mode: none, or the database network
// for database actions.
func (e *Executor) network(def executor.JobDefinition) string {
	if def.AllowDatabaseAccess {
		return e.dbNetwork
	}
	return "none"
}
