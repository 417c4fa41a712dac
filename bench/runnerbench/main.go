// Command runnerbench runs a project the way `haven run run_all -j N
// --executor local` does (cmd/haven/cmd_run.go), in-process, so that the
// runner can be profiled: the same pipeline check, SQLite store, planner,
// runner and local executor, with progress lines written to stdout as the
// CLI writes them, but no end-of-run summary. It is a benchmark harness
// for bench/runner.sh, not a tool.
//
//	go run ./bench/runnerbench -dir DAG -j 2 [-cpuprofile cpu.out] [-memprofile mem.out]
//
// -retry-prepare-race retries a Prepare that failed because a temporary
// file of a concurrent Finalize (output/.haven-*.tmp, internal/outputs
// tree.writeFile) vanished while PrepareScratch was copying the project
// (see docs/benchmarks.md); the retries are counted and printed. It only
// exists so that the rest of the run can be measured while that race is
// open; PrepareScratch is idempotent, so a retry is safe.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/executor"
	"github.com/haven-tre/haven/internal/executor/local"
	"github.com/haven-tre/haven/internal/outputs"
	"github.com/haven-tre/haven/internal/pipeline"
	"github.com/haven-tre/haven/internal/plan"
	"github.com/haven-tre/haven/internal/runner"
	"github.com/haven-tre/haven/internal/store/sqlite"
)

func main() {
	dir := flag.String("dir", ".", "the folder that holds project.yaml")
	workers := flag.Int("j", 2, "how many jobs run at once")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	memprofile := flag.String("memprofile", "", "write a heap profile (allocations) here at the end")
	retry := flag.Bool("retry-prepare-race", false, "retry a Prepare that failed on a vanished output/.haven-*.tmp")
	phases := flag.Bool("phases", false, "print how long jobs spend between status codes (from the events' times)")
	flag.Parse()
	if err := run(*dir, *workers, *cpuprofile, *memprofile, *retry, *phases); err != nil {
		fmt.Fprintln(os.Stderr, "runnerbench:", err)
		os.Exit(1)
	}
}

func run(dir string, workers int, cpuprofile, memprofile string, retry, phases bool) error {
	ctx := context.Background()
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	projectDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join(projectDir, pipeline.FileName))
	if err != nil {
		return err
	}
	r := pipeline.Check(filepath.Join(projectDir, pipeline.FileName), src)
	if !r.Valid() {
		return fmt.Errorf("project.yaml is invalid: %v", r.Problems.Errors())
	}
	p := r.Pipeline
	workspace := filepath.Base(projectDir)
	metadata := filepath.Join(projectDir, "metadata")
	if err := os.MkdirAll(metadata, 0o755); err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, filepath.Join(metadata, "db.sqlite"))
	if err != nil {
		return err
	}
	defer store.Close()

	trash := outputs.NewTrash(10_000, 1<<30) // as cmd/haven
	defer trash.Empty()
	var exec executor.Executor = local.New(local.Config{Trash: trash, Listing: outputs.NewCodeListing()})
	rp := &retryPrepare{Executor: exec}
	if retry {
		exec = rp
	}
	var events atomic.Int64
	var seen sync.Mutex
	times := map[string]map[haven.StatusCode]time.Time{} // job id -> first event time per code
	cfg := runner.Config{
		Store: store, Executor: exec, Pipeline: p, Workspace: workspace,
		ProjectDir: projectDir, WorkspaceDir: projectDir,
		ScratchRoot: filepath.Join(metadata, "volumes"), LogDir: filepath.Join(metadata, "jobs"),
		DeferSync:  true, // as cmd/haven
		MaxWorkers: workers, CPUCount: 2, MemoryLimit: 4 << 30,
		PollInterval: 50 * time.Millisecond, // as cmd/haven/cmd_run.go
		OnEvent: func(e runner.Event) {
			events.Add(1)
			if phases {
				seen.Lock()
				if times[e.JobID] == nil {
					times[e.JobID] = map[haven.StatusCode]time.Time{}
				}
				if _, ok := times[e.JobID][e.Code]; !ok {
					times[e.JobID][e.Code] = time.Now()
				}
				seen.Unlock()
			}
			fmt.Fprintln(os.Stdout, e.Action+": "+strings.ReplaceAll(e.Message, "\n", "\n    "))
		},
	}
	rn := runner.New(cfg)
	if _, err := rn.Recover(ctx); err != nil {
		return err
	}
	history, err := store.WorkspaceJobs(ctx, workspace)
	if err != nil {
		return err
	}
	latest := plan.LatestPerAction(history, p, func(*haven.Job) bool { return true })
	req := plan.Request{
		ID: fmt.Sprintf("%010x", time.Now().UnixNano()&0xffffffffff), Workspace: workspace,
		RequestedActions: []string{"run_all"}, CodelistsOK: true, Backend: "expectations", Database: "dummy",
	}
	jobs, err := plan.Plan(p, req, latest, time.Now())
	if err != nil {
		return err
	}
	if err := store.CreateJobs(ctx, jobs); err != nil {
		return err
	}
	if err := rn.Run(ctx, jobs); err != nil {
		return err
	}
	if err := outputs.SyncFS(projectDir); err != nil {
		return err
	}
	if err := trash.Empty(); err != nil {
		return err
	}
	elapsed := time.Since(start)
	failed := 0
	for _, j := range jobs {
		if j.State != haven.StateSucceeded {
			failed++
			if failed <= 5 {
				fmt.Fprintf(os.Stderr, "%s: %s\n", j.Action, j.StatusMessage)
			}
		}
	}
	if memprofile != "" {
		f, err := os.Create(memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "runnerbench: %d jobs, %d failed, %d events, %d prepare retries, %.2fs, %.1f ms per job per worker, heap in use at end %.1f MB, total allocated %.1f MB, GC cycles %d\n",
		len(jobs), failed, events.Load(), rp.retries.Load(), elapsed.Seconds(),
		elapsed.Seconds()*1000*float64(workers)/float64(len(jobs)),
		float64(ms.HeapInuse)/(1<<20), float64(ms.TotalAlloc)/(1<<20), ms.NumGC)
	if phases {
		printPhases(times, elapsed, workers, len(jobs))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d jobs did not succeed", failed, len(jobs))
	}
	return nil
}

// retryPrepare retries Prepare when PrepareScratch lost the race with a
// concurrent Finalize's temporary file.
type retryPrepare struct {
	executor.Executor
	retries atomic.Int64
}

func (r *retryPrepare) Prepare(ctx context.Context, def executor.JobDefinition) (executor.Status, error) {
	for attempt := 0; ; attempt++ {
		st, err := r.Executor.Prepare(ctx, def)
		if err != nil && attempt < 50 && strings.Contains(err.Error(), ".haven-") && strings.Contains(err.Error(), ".tmp: no such file") {
			r.retries.Add(1)
			continue
		}
		return st, err
	}
}

// Wait passes the local executor's Waiter through, so the runner does not
// fall back to polling.
func (r *retryPrepare) Wait(ctx context.Context, def executor.JobDefinition) error {
	if w, ok := r.Executor.(executor.Waiter); ok {
		return w.Wait(ctx, def)
	}
	return nil
}

// printPhases prints the mean and median time jobs spent between
// consecutive status codes. Each event is emitted after its transition is
// written to the store, so a phase includes that write.
func printPhases(times map[string]map[haven.StatusCode]time.Time, elapsed time.Duration, workers, jobs int) {
	steps := []struct {
		from, to haven.StatusCode
		what     string
	}{
		{haven.StatusPreparing, haven.StatusPrepared, "Prepare (PrepareScratch) + store write"},
		{haven.StatusPrepared, haven.StatusExecuting, "store write"},
		{haven.StatusExecuting, haven.StatusExecuted, "Execute + the process + Wait + Status + store write"},
		{haven.StatusExecuted, haven.StatusFinalizing, "store write"},
		{haven.StatusFinalizing, haven.StatusFinalized, "Finalize (outputs, logs) + store write"},
		{haven.StatusFinalized, haven.StatusSucceeded, "store write"},
	}
	slot := elapsed.Seconds() * 1000 * float64(workers) / float64(jobs)
	fmt.Fprintf(os.Stderr, "phases (ms per job; wall x %d / jobs = %.2f ms):\n", workers, slot)
	total := 0.0
	for _, st := range steps {
		var d []float64
		for _, m := range times {
			a, okA := m[st.from]
			b, okB := m[st.to]
			if okA && okB {
				d = append(d, float64(b.Sub(a).Microseconds())/1000)
			}
		}
		if len(d) == 0 {
			continue
		}
		sort.Float64s(d)
		mean := 0.0
		for _, x := range d {
			mean += x
		}
		mean /= float64(len(d))
		total += mean
		fmt.Fprintf(os.Stderr, "  %-11s -> %-11s mean %7.2f  median %7.2f  p90 %7.2f  %s\n", st.from, st.to, mean, d[len(d)/2], d[len(d)*9/10], st.what)
	}
	fmt.Fprintf(os.Stderr, "  between jobs (cleanup, inputsFor, scheduling, first store write): %.2f ms per job\n", slot-total)
}
