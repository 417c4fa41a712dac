package frame

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// Source produces rows: Fill sets rows [start, start+n) of b, and the
// values of a row never depend on which batch or goroutine produced it.
type Source interface {
	Specs() []Spec
	Fill(b *Batch, start uint64, n int) error
}

// DefaultBlockRows is the default number of rows in a block: the unit of
// parallel work, one CSV gzip member, one Parquet row group, one Arrow
// record batch. It is part of the output's identity: the same rows in
// other blocks make other bytes for every format but plain CSV.
const DefaultBlockRows = 65536

// Blocks returns the range of blocks [first, last) of shard i of n, for a
// table of rows rows in blocks of blockRows: shards split on block
// boundaries, so their outputs concatenate to the unsharded output.
func Blocks(rows uint64, blockRows int, i, n int) (first, last uint64) {
	total := (rows + uint64(blockRows) - 1) / uint64(blockRows)
	return total * uint64(i) / uint64(n), total * uint64(i+1) / uint64(n)
}

// RunOptions configure Run.
type RunOptions struct {
	Rows      uint64 // rows in the whole output (all shards)
	BlockRows int    // rows per block; DefaultBlockRows when 0
	First     uint64 // first block to write
	Last      uint64 // one past the last block
	Workers   int    // goroutines filling and encoding blocks; 1 when 0
	// Progress, when set, is called from the writing goroutine after each
	// block with the number of rows written so far.
	Progress func(rows uint64)
}

// Run fills blocks [First, Last) from src on Workers goroutines, encodes
// them with w.Prepare on the same goroutines, and writes them in order.
// At most 2*Workers blocks are in flight, so memory does not grow with the
// row count.
func Run(ctx context.Context, src Source, w Writer, o RunOptions) error {
	if o.BlockRows <= 0 {
		o.BlockRows = DefaultBlockRows
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Last <= o.First {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	specs := src.Specs()
	window := uint64(2 * o.Workers)

	type result struct {
		p   Prepared
		err error
	}
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		done    = map[uint64]result{}
		written = o.First // next block to write
		next    atomic.Uint64
		failed  error
	)
	next.Store(o.First)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for {
				k := next.Add(1) - 1
				if k >= o.Last {
					return
				}
				mu.Lock()
				for k >= written+window && failed == nil && ctx.Err() == nil {
					cond.Wait()
				}
				stop := failed != nil || ctx.Err() != nil
				mu.Unlock()
				if stop {
					return
				}
				start := k * uint64(o.BlockRows)
				n := uint64(o.BlockRows)
				if start+n > o.Rows {
					n = o.Rows - start
				}
				var r result
				b.Reset(specs, start, int(n))
				if r.err = src.Fill(&b, start, int(n)); r.err == nil {
					r.p, r.err = w.Prepare(&b)
				}
				mu.Lock()
				done[k] = r
				cond.Broadcast()
				mu.Unlock()
			}
		}()
	}
	// Wake waiting workers when the context ends.
	stopWatch := context.AfterFunc(ctx, func() {
		mu.Lock()
		cond.Broadcast()
		mu.Unlock()
	})
	defer stopWatch()

	var err error
	for k := o.First; k < o.Last; k++ {
		mu.Lock()
		r, ok := done[k]
		for !ok && ctx.Err() == nil {
			cond.Wait()
			r, ok = done[k]
		}
		delete(done, k)
		mu.Unlock()
		if !ok {
			err = ctx.Err()
			break
		}
		if r.err != nil {
			err = fmt.Errorf("block %d: %w", k, r.err)
			break
		}
		if werr := w.Write(r.p); werr != nil {
			err = werr
			break
		}
		mu.Lock()
		written = k + 1
		cond.Broadcast()
		mu.Unlock()
		if o.Progress != nil {
			end := (k + 1) * uint64(o.BlockRows)
			if end > o.Rows {
				end = o.Rows
			}
			o.Progress(end - o.First*uint64(o.BlockRows))
		}
	}
	mu.Lock()
	if err != nil {
		failed = err
	}
	cond.Broadcast()
	mu.Unlock()
	cancel()
	wg.Wait()
	for _, r := range done {
		if r.p != nil {
			r.p.release()
		}
	}
	return err
}
