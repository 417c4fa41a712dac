package docker

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"

	"github.com/haven-tre/haven/internal/executor"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestContainerSpec pins the create request a job becomes, against
// testdata/container.golden (rewrite with -update).
func TestContainerSpec(t *testing.T) {
	def := executor.JobDefinition{
		ID:          "abc123",
		Workspace:   "ws",
		Action:      "analyse",
		Image:       "python:v2",
		Args:        []string{"analysis/model.py", "--flag"},
		Env:         map[string]string{"STATA_LICENSE": "licence text", "HOME": "/home/override"},
		CPUCount:    1.5,
		MemoryLimit: 2 << 30,
		Timeout:     time.Hour,
	}
	got := containerSpec(def, spec{
		Image:      "ghcr.io/opensafely-core/python:v2",
		ScratchDir: "/srv/scratch/abc123",
		User:       "1000:1000",
		CPUs:       1.5,
		Memory:     2 << 30,
		Network:    "none",
		Backend:    "expectations",
		Labels:     map[string]string{"run": "r1", LabelJob: "spoofed"},
		LogConfig:  container.LogConfig{Type: "local", Config: map[string]string{"max-size": "20m"}},
	})
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	golden := filepath.Join("testdata", "container.golden")
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(b) != string(want) {
		t.Errorf("container spec differs from %s (run with -update to accept):\n%s", golden, b)
	}
}

// TestLimits checks the defaults and the lowering of CPUs to what the
// daemon has.
func TestLimits(t *testing.T) {
	e := &Executor{cpus: DefaultCPUs, memory: DefaultMemory}
	for _, c := range []struct {
		name       string
		cpus       float64
		memory     int64
		ncpu       int
		wantCPUs   float64
		wantMemory int64
	}{
		{"defaults", 0, 0, 0, 2, 4 << 30},
		{"job's own", 0.5, 1 << 20, 8, 0.5, 1 << 20},
		{"more CPUs than the daemon", 4, 0, 2, 2, 4 << 30},
		{"default above a 1-CPU daemon", 0, 0, 1, 1, 4 << 30},
	} {
		cpus, memory := e.limits(executor.JobDefinition{CPUCount: c.cpus, MemoryLimit: c.memory}, c.ncpu)
		if cpus != c.wantCPUs || memory != c.wantMemory {
			t.Errorf("%s: limits = %v, %d; want %v, %d", c.name, cpus, memory, c.wantCPUs, c.wantMemory)
		}
	}
}

// TestContainerUser checks the container user: the caller's ids, nobody
// for root, and never root.
func TestContainerUser(t *testing.T) {
	for _, c := range []struct {
		configured string
		uid, gid   int
		want       string
		wantErr    bool
	}{
		{"", 1000, 100, "1000:100", false},
		{"", 0, 0, "65534:65534", false},
		{"2000:2000", 0, 0, "2000:2000", false},
		{"jobs", 1000, 1000, "jobs", false},
		{"0", 1000, 1000, "", true},
		{"0:1000", 1000, 1000, "", true},
		{"root", 1000, 1000, "", true},
		{":1000", 1000, 1000, "", true},
	} {
		got, err := containerUser(c.configured, c.uid, c.gid)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("containerUser(%q, %d, %d) = %q, %v; want %q (error %v)", c.configured, c.uid, c.gid, got, err, c.want, c.wantErr)
		}
	}
	for user, want := range map[string][2]int{"1000:100": {1000, 100}, "1000": {1000, 1000}, "jobs": {-1, -1}, "1000:staff": {-1, -1}} {
		if uid, gid := numericUser(user); uid != want[0] || gid != want[1] {
			t.Errorf("numericUser(%q) = %d, %d; want %v", user, uid, gid, want)
		}
	}
}

// TestImageRef checks how image names map to local references.
func TestImageRef(t *testing.T) {
	none, custom := "", "registry.example/os/"
	for _, c := range []struct {
		prefix *string
		image  string
		want   string
	}{
		{nil, "python:v2", "ghcr.io/opensafely-core/python:v2"},
		{&none, "python:v2", "python:v2"},
		{&custom, "ehrql:v1", "registry.example/os/ehrql:v1"},
		{nil, "ghcr.io/other/tool:v3", "ghcr.io/other/tool:v3"},
	} {
		e, err := New(nopClient{}, Options{ImagePrefix: c.prefix})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.ImageRef(c.image); got != c.want {
			t.Errorf("ImageRef(%q) with prefix %v = %q, want %q", c.image, c.prefix, got, c.want)
		}
	}
}

// nopClient stands in for the daemon in tests that never call it.
type nopClient struct{ Client }

// TestLineTail checks that the log keeps the last lines, completes an
// unfinished last line, and copes with lines split across writes.
func TestLineTail(t *testing.T) {
	for _, c := range []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"empty", 3, nil, ""},
		{"fewer", 3, []string{"a\nb\n"}, "a\nb\n"},
		{"more", 3, []string{"1\n2\n3\n", "4\n5\n"}, "3\n4\n5\n"},
		{"split", 2, []string{"on", "e\ntw", "o\n"}, "one\ntwo\n"},
		{"unfinished", 2, []string{"a\nb\nc"}, "b\nc\n"},
		{"wraps twice", 2, []string{"1\n2\n3\n4\n5\n6\n7\n"}, "6\n7\n"},
	} {
		lt := &lineTail{max: c.max}
		for _, w := range c.writes {
			if n, err := lt.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: Write = %d, %v", c.name, n, err)
			}
		}
		if got := string(lt.Bytes()); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
