package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/haven-tre/haven/internal/artificial/frame"
	"github.com/haven-tre/haven/internal/artificial/meta"
	"go.yaml.in/yaml/v3"
)

// RunOptions configure Generate.
type RunOptions struct {
	Options
	Output       string
	Format       frame.Format
	Shard        int
	Shards       int
	Workers      int // runtime.NumCPU() when 0
	BlockRows    int // frame.DefaultBlockRows when 0
	HavenVersion string
	Progress     func(done, total uint64)
	Now          func() time.Time // the clock, for tests
}

// Manifest records how an output was made: enough to make it again and to
// check it was not changed. It is written beside the output as
// OUTPUT.manifest.json.
type Manifest struct {
	Schema         string   `json:"schema"` // haven.artificial.run/v1
	HavenVersion   string   `json:"haven_version,omitempty"`
	Algorithm      string   `json:"algorithm"`
	Seed           string   `json:"seed"`
	MetadataSHA256 string   `json:"metadata_sha256"`
	Reviewed       bool     `json:"reviewed"`
	Reviewer       string   `json:"reviewer,omitempty"`
	Table          string   `json:"table"`
	Format         string   `json:"format"`
	Rows           uint64   `json:"rows"`       // rows of the whole output
	ShardRows      uint64   `json:"shard_rows"` // rows in this file
	Shard          string   `json:"shard"`      // "i/n"
	BlockRows      int      `json:"block_rows"`
	Output         string   `json:"output"`
	OutputSHA256   string   `json:"output_sha256"`
	OutputBytes    int64    `json:"output_bytes"`
	Columns        []string `json:"columns"`
	Notes          []string `json:"notes,omitempty"`
	StartedAt      string   `json:"started_at"`
	WallSeconds    float64  `json:"wall_seconds"`
	RowsPerSecond  float64  `json:"rows_per_second"`
	PeakRSSBytes   int64    `json:"peak_rss_bytes"`
	Workers        int      `json:"workers"`
}

// ManifestPath is where the manifest of an output goes.
func ManifestPath(output string) string { return output + ".manifest.json" }

// Generate writes one shard of a table to o.Output, atomically, and its
// manifest beside it.
func Generate(ctx context.Context, rel *meta.Release, o RunOptions) (*Manifest, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.BlockRows <= 0 {
		o.BlockRows = frame.DefaultBlockRows
	}
	if o.Seed == "" {
		o.Seed = DefaultSeed
	}
	g, err := New(rel, o.Options)
	if err != nil {
		return nil, err
	}
	md := map[string]string{
		"haven.algorithm":       Algorithm,
		"haven.seed":            o.Seed,
		"haven.metadata_sha256": rel.SHA256(),
		"haven.reviewed":        fmt.Sprint(rel.Reviewed()),
		"haven.rows":            fmt.Sprint(o.Rows),
	}
	start := o.Now()
	var progress func(uint64)
	if o.Progress != nil {
		first, last := frame.Blocks(o.Rows, o.BlockRows, o.Shard, o.Shards)
		total := min(last*uint64(o.BlockRows), o.Rows) - min(first*uint64(o.BlockRows), o.Rows)
		progress = func(done uint64) { o.Progress(done, total) }
	}
	res, err := frame.WriteFile(ctx, g, o.Output, frame.FileOptions{
		Format: o.Format, Rows: o.Rows, BlockRows: o.BlockRows, Shard: o.Shard, Shards: o.Shards,
		Workers: o.Workers, Metadata: md, Progress: progress,
	})
	if err != nil {
		return nil, err
	}
	wall := o.Now().Sub(start).Seconds()
	m := &Manifest{
		Schema: "haven.artificial.run/v1", HavenVersion: o.HavenVersion, Algorithm: Algorithm, Seed: o.Seed,
		MetadataSHA256: rel.SHA256(), Reviewed: rel.Reviewed(), Table: g.Table(), Format: string(o.Format),
		Rows: o.Rows, ShardRows: res.Rows, Shard: fmt.Sprintf("%d/%d", o.Shard, o.Shards), BlockRows: o.BlockRows,
		Output: filepath.Base(o.Output), OutputSHA256: res.SHA256, OutputBytes: res.Bytes,
		Notes: g.Notes(), StartedAt: start.UTC().Format(time.RFC3339), WallSeconds: wall,
		PeakRSSBytes: peakRSS(), Workers: o.Workers,
	}
	if a := rel.Approval(); a != nil {
		m.Reviewer = a.Reviewer
	}
	for _, s := range g.Specs() {
		m.Columns = append(m.Columns, s.Name)
	}
	if wall > 0 {
		m.RowsPerSecond = float64(res.Rows) / wall
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := meta.WriteAtomic(ManifestPath(o.Output), append(b, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

// peakRSS is the process's maximum resident set size so far.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024 // kilobytes on Linux
}

// ParseShard parses "i/n".
func ParseShard(s string) (i, n int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	if _, err := fmt.Sscanf(s, "%d/%d", &i, &n); err != nil || fmt.Sprintf("%d/%d", i, n) != s {
		return 0, 0, fmt.Errorf("--shard %q: write it as i/n, such as 0/4 for the first of four shards", s)
	}
	if n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %s: i must be from 0 to n-1 (shards are numbered from 0)", s)
	}
	return i, n, nil
}

// LoadRules reads a postprocessing rules file (YAML or JSON) with the keys
// of meta.Rules: identifiers, sequences, derived.
func LoadRules(path string) (*meta.Rules, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if tree == nil {
		return nil, fmt.Errorf("%s is empty: a rules file has identifiers, sequences or derived", path)
	}
	j, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var r meta.Rules
	if err := dec.Decode(&r); err != nil {
		msg := err.Error()
		msg = strings.TrimPrefix(msg, "json: ")
		return nil, fmt.Errorf("%s: %s (a rules file has the keys identifiers, sequences and derived; see docs/artificial-data.md)", path, msg)
	}
	return &r, nil
}

// CheckParts reads the manifests of shard files and checks that they are
// shards 0/n to n-1/n, in order, of one run: the same metadata, seed,
// rows, format, block size and algorithm.
func CheckParts(parts []string) error {
	var first *Manifest
	for i, p := range parts {
		raw, err := os.ReadFile(ManifestPath(p))
		if err != nil {
			return fmt.Errorf("%s has no readable manifest (%s): merge checks that parts are the shards of one 'haven data generate' run", p, ManifestPath(p))
		}
		var m Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%s: %v", ManifestPath(p), err)
		}
		if m.Output != filepath.Base(p) {
			return fmt.Errorf("%s describes %s, not %s: was the part renamed? Rename it back or keep the manifest beside its file", ManifestPath(p), m.Output, filepath.Base(p))
		}
		if want := fmt.Sprintf("%d/%d", i, len(parts)); m.Shard != want {
			return fmt.Errorf("%s is shard %s, but in position %d of %d parts it must be shard %s: give every shard, in order", p, m.Shard, i+1, len(parts), want)
		}
		if first == nil {
			first = &m
			continue
		}
		if m.MetadataSHA256 != first.MetadataSHA256 || m.Seed != first.Seed || m.Rows != first.Rows || m.Format != first.Format ||
			m.BlockRows != first.BlockRows || m.Algorithm != first.Algorithm || m.Table != first.Table {
			return fmt.Errorf("%s comes from another run than %s (metadata, seed, rows, format or table differ): merge the shards of one run", p, parts[0])
		}
	}
	return nil
}
