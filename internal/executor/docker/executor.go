// Package docker is the executor that runs each job as a Docker container
// through the Docker Engine API, with upstream OpenSAFELY's isolation: no
// network unless the job is a database action, all capabilities dropped,
// no-new-privileges, a non-root user, CPU and memory limits, and never a
// pull at run time.
//
// The executor keeps no state of its own between calls. Everything it needs
// to answer Status is on disk or in the daemon: the container named
// os-job-<id> and its labels, the scratch directory's marker, and two small
// files beside the scratch directory (the saved results and a time-limit
// marker). A new Executor value, for example after the runner restarted,
// therefore re-attaches to containers that are still running.
package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/outputs"
)

// Defaults used when Options leave a field zero.
const (
	// DefaultImagePrefix is the registry path put before image names
	// (python:v2 becomes ghcr.io/opensafely-core/python:v2).
	DefaultImagePrefix = "ghcr.io/opensafely-core/"
	// DefaultCPUs is the CPU limit of a job that does not set one.
	DefaultCPUs = 2.0
	// DefaultMemory is the memory limit of a job that does not set one.
	DefaultMemory int64 = 4 << 30
	// DefaultBackend is the OPENSAFELY_BACKEND value of a local run.
	DefaultBackend = "expectations"
	// DefaultInspectTimeout bounds a container inspection in Status, after
	// which Status returns executor.ErrRetry (upstream: 15 s).
	DefaultInspectTimeout = 15 * time.Second
	// DefaultLogTail is how many of the last lines of a job's output are
	// kept (upstream: 100,000).
	DefaultLogTail = outputs.MaxLogLines
	// nobody is the container user when the runner itself is root: the
	// isolation rules want a non-root user in the container.
	nobody = "65534:65534"
)

// Client is the part of the Docker Engine API client the executor uses;
// *client.Client from github.com/moby/moby/client satisfies it.
type Client interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, container string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerInspect(ctx context.Context, container string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerLogs(ctx context.Context, container string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerKill(ctx context.Context, container string, options client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerWait(ctx context.Context, container string, options client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerRemove(ctx context.Context, container string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
}

var _ Client = (*client.Client)(nil)

// Options configure an Executor. The zero value is usable: every zero
// field takes the default its comment names.
type Options struct {
	// Logger receives progress lines ("Copying input file: …") and
	// problems; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. It decides prepare and
	// finalize times and when a job has exceeded its time limit.
	Now func() time.Time

	// DefaultCPUs is the CPU limit of a job whose definition has none;
	// 0 means DefaultCPUs. Limits above the daemon's CPU count are lowered
	// to it, so a 1-CPU Docker Desktop still runs jobs.
	DefaultCPUs float64
	// DefaultMemory is the memory limit in bytes of a job whose definition
	// has none; 0 means DefaultMemory (4 GiB).
	DefaultMemory int64

	// User is the container user as "uid:gid". "" means the uid:gid of
	// the process running the executor, so files the job writes through
	// the bind mount stay owned by that user; when that process is root,
	// it means 65534:65534 (nobody). When the executor runs as root,
	// Prepare hands the scratch directory to a numeric User; otherwise
	// User must be able to write the scratch directory (mode 0700, owned
	// by the executor's user), so leave it "". Root ("0", "0:…", "root")
	// is refused.
	User string

	// ImagePrefix is put before an image name without a '/' to make the
	// reference that is looked up (python:v2 → <prefix>python:v2). nil
	// means DefaultImagePrefix; a pointer to "" uses names as they are.
	ImagePrefix *string

	// Labels are added to every container, for example a run label that
	// lets a CLI remove what one run left behind. The haven.* labels win.
	Labels map[string]string
	// Backend is the OPENSAFELY_BACKEND value; "" means DefaultBackend.
	Backend string

	// DatabaseNetwork is the Docker network of database actions. "" means
	// database actions cannot run: Prepare and Execute return an
	// *executor.UnavailableError. Other jobs always get network "none".
	DatabaseNetwork string

	// LogDriver is the container log driver; "" means "local" with
	// upstream's options (max-file=200, max-size=20m, compress=true).
	// The driver must support reading logs back ("local", "json-file",
	// "journald").
	LogDriver string
	// LogOptions are the log driver's options when LogDriver is set.
	LogOptions map[string]string

	// InspectTimeout bounds a container inspection in Status; 0 means
	// DefaultInspectTimeout.
	InspectTimeout time.Duration
	// LogTail is how many of the last output lines are kept in the job
	// log; 0 means DefaultLogTail.
	LogTail int
}

// Executor runs jobs as Docker containers named os-job-<id>. It is safe
// for concurrent use by several goroutines on different jobs.
type Executor struct {
	cli       Client
	closer    io.Closer // set when the executor made cli itself
	log       *slog.Logger
	now       func() time.Time
	cpus      float64
	memory    int64
	user      string
	chownUID  int // -1: never chown the scratch directory
	chownGID  int
	prefix    string
	labels    map[string]string
	backend   string
	dbNetwork string
	logConfig container.LogConfig
	inspectTO time.Duration
	logTail   int
}

var (
	_ executor.Executor = (*Executor)(nil)
	_ executor.Waiter   = (*Executor)(nil)
)

// New returns an executor using cli, which should negotiate the API
// version (github.com/moby/moby/client does by default).
func New(cli Client, opts Options) (*Executor, error) {
	if cli == nil {
		return nil, errors.New("docker executor: no Docker client")
	}
	e := &Executor{
		cli:       cli,
		log:       opts.Logger,
		now:       opts.Now,
		cpus:      opts.DefaultCPUs,
		memory:    opts.DefaultMemory,
		prefix:    DefaultImagePrefix,
		labels:    make(map[string]string, len(opts.Labels)),
		backend:   opts.Backend,
		dbNetwork: opts.DatabaseNetwork,
		inspectTO: opts.InspectTimeout,
		logTail:   opts.LogTail,
		chownUID:  -1,
		chownGID:  -1,
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.cpus <= 0 {
		e.cpus = DefaultCPUs
	}
	if e.memory <= 0 {
		e.memory = DefaultMemory
	}
	if opts.ImagePrefix != nil {
		e.prefix = *opts.ImagePrefix
	}
	for k, v := range opts.Labels {
		e.labels[k] = v
	}
	if e.backend == "" {
		e.backend = DefaultBackend
	}
	if e.inspectTO <= 0 {
		e.inspectTO = DefaultInspectTimeout
	}
	if e.logTail <= 0 {
		e.logTail = DefaultLogTail
	}
	e.logConfig = container.LogConfig{Type: opts.LogDriver, Config: opts.LogOptions}
	if opts.LogDriver == "" {
		e.logConfig = container.LogConfig{Type: "local", Config: map[string]string{
			"max-file": "200", "max-size": "20m", "compress": "true",
		}}
	}

	user, err := containerUser(opts.User, os.Getuid(), os.Getgid())
	if err != nil {
		return nil, err
	}
	e.user = user
	if os.Getuid() == 0 {
		// Root made the scratch directory; hand it to the container user
		// so the job can write there.
		e.chownUID, e.chownGID = numericUser(user)
	}
	return e, nil
}

// NewFromEnv connects to the daemon named by the environment (DOCKER_HOST
// and friends, else the local socket), checks that it answers, and returns
// an executor that closes the connection on Close.
func NewFromEnv(ctx context.Context, opts Options) (*Executor, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker executor: connect to Docker: %w", err)
	}
	if err := Available(ctx, cli); err != nil {
		cli.Close()
		return nil, err
	}
	e, err := New(cli, opts)
	if err != nil {
		cli.Close()
		return nil, err
	}
	e.closer = cli
	return e, nil
}

// Close releases the daemon connection if NewFromEnv made it.
func (e *Executor) Close() error {
	if e.closer == nil {
		return nil
	}
	return e.closer.Close()
}

// Available reports whether the Docker daemon answers, negotiating the API
// version on the way. The CLI's "--executor auto" uses it.
func Available(ctx context.Context, cli Client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("docker daemon not available: %w", err)
	}
	return nil
}

// Name returns "docker".
func (e *Executor) Name() string { return "docker" }

// containerUser returns the container user for the configured value, the
// default being the running process's uid:gid, or nobody for root.
func containerUser(configured string, uid, gid int) (string, error) {
	if configured == "" {
		if uid == 0 {
			return nobody, nil
		}
		return strconv.Itoa(uid) + ":" + strconv.Itoa(gid), nil
	}
	name, _, _ := strings.Cut(configured, ":")
	if name == "0" || name == "root" || name == "" {
		return "", fmt.Errorf("docker executor: container user %q: jobs must not run as root", configured)
	}
	return configured, nil
}

// numericUser splits "uid:gid" into numbers; -1, -1 when it is not numeric.
func numericUser(user string) (uid, gid int) {
	u, g, ok := strings.Cut(user, ":")
	if !ok {
		g = u
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		return -1, -1
	}
	return uid, gid
}

// containerName is the container of a job, as upstream names it.
func containerName(def executor.JobDefinition) string { return "os-job-" + def.ID }

// isNotFound reports a daemon "no such container/image" answer.
func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
