package frame

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// FileOptions configure WriteFile.
type FileOptions struct {
	Format    Format
	Rows      uint64 // rows of the whole output, all shards
	BlockRows int    // DefaultBlockRows when 0
	Shard     int    // this shard, in [0, Shards)
	Shards    int    // 1 when 0
	Workers   int
	Metadata  map[string]string // Parquet and Arrow key-value metadata
	Fast      bool              // see WriterOptions.Fast
	Progress  func(rows uint64)
}

// FileResult describes a written file.
type FileResult struct {
	Rows   uint64 // rows in this file
	Bytes  int64
	SHA256 string
	Blocks [2]uint64 // [first, last) block numbers written
}

// WriteFile writes src's rows of one shard to path atomically: to a
// temporary file in the same folder, synced, then renamed, so a reader
// never sees part of an output and an interrupted run leaves nothing.
func WriteFile(ctx context.Context, src Source, path string, o FileOptions) (*FileResult, error) {
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Shard < 0 || o.Shard >= o.Shards {
		return nil, fmt.Errorf("shard %d/%d: the shard number must be from 0 to %d", o.Shard, o.Shards, o.Shards-1)
	}
	if o.BlockRows <= 0 {
		o.BlockRows = DefaultBlockRows
	}
	first, last := Blocks(o.Rows, o.BlockRows, o.Shard, o.Shards)
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h), h: h}
	w, err := NewWriter(o.Format, cw, src.Specs(), WriterOptions{Header: o.Shard == 0, Metadata: o.Metadata, Fast: o.Fast})
	if err != nil {
		return nil, err
	}
	err = Run(ctx, src, w, RunOptions{Rows: o.Rows, BlockRows: o.BlockRows, First: first, Last: last, Workers: o.Workers, Progress: o.Progress})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	rows := min(last*uint64(o.BlockRows), o.Rows) - min(first*uint64(o.BlockRows), o.Rows)
	return &FileResult{Rows: rows, Bytes: cw.n, SHA256: hex.EncodeToString(h.Sum(nil)), Blocks: [2]uint64{first, last}}, nil
}

type countingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// MergeFile merges parts into path atomically (see Merge).
func MergeFile(path string, f Format, parts []string) error {
	for _, p := range parts {
		if same, _ := sameFile(p, path); same {
			return fmt.Errorf("%s is both a part and the output: write the merged file elsewhere", p)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := Merge(tmp, f, parts); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
