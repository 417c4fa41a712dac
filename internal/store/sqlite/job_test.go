package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/haven-tre/haven"
)

func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func newJob(id, action string, created time.Time) *haven.Job {
	j := &haven.Job{
		ID: id, RequestID: "req0000000", Workspace: "ws", Action: action,
		Image: "python:v2", Args: []string{"python", "a.py"}, RunCommand: "python:v2 python a.py",
		OutputSpec:          map[string]string{"output/*.csv": "moderately_sensitive"},
		RequiresOutputsFrom: []string{"prev"}, WaitForJobIDs: []string{"j0"},
		CreatedAt: created,
	}
	j.SetCode(haven.StatusCreated, "", created)
	return j
}

func TestJobsRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)
	a, b := newJob("aaaa", "a", t0), newJob("bbbb", "b", t0.Add(time.Second))
	if err := db.CreateJobs(ctx, []*haven.Job{a, b}); err != nil {
		t.Fatal(err)
	}
	b.SetCode(haven.StatusExecuting, "", t0.Add(2*time.Second))
	exit := 3
	b.ExitCode = &exit
	b.Outputs = map[string]string{"output/x.csv": "moderately_sensitive"}
	b.SetCode(haven.StatusNonzeroExit, "Job exited with an error", t0.Add(3*time.Second))
	b.Cancelled = true
	if err := db.UpdateJob(ctx, b); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db2, err := Open(ctx, path) // reopen: migrations are not applied twice
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	got, err := db2.Job(ctx, "bbbb")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Errorf("round trip\n got  %+v\n want %+v", got, b)
	}
	all, err := db2.WorkspaceJobs(ctx, "ws")
	if err != nil || len(all) != 2 || all[0].ID != "aaaa" {
		t.Fatalf("WorkspaceJobs = %v, %v", all, err)
	}
	active, err := db2.ActiveJobs(ctx, "ws")
	if err != nil || len(active) != 1 || active[0].ID != "aaaa" {
		t.Fatalf("ActiveJobs = %v, %v", active, err)
	}
	if _, err := db2.Job(ctx, "nope"); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("missing job error %v", err)
	}
	if err := db2.UpdateJob(ctx, newJob("nope", "x", t0)); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("update of a missing job: %v", err)
	}
}

func TestCreateJobsIsAtomic(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	t0 := time.Now().UTC()
	if err := db.CreateJobs(ctx, []*haven.Job{newJob("x", "a", t0)}); err != nil {
		t.Fatal(err)
	}
	// The second batch repeats an id: nothing of it may be stored.
	err := db.CreateJobs(ctx, []*haven.Job{newJob("y", "b", t0), newJob("x", "a", t0)})
	if err == nil {
		t.Fatal("duplicate id accepted")
	}
	if _, err := db.Job(ctx, "y"); haven.ErrorCode(err) != haven.ENOTFOUND {
		t.Errorf("half a batch was stored: %v", err)
	}
}

func TestConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	t0 := time.Now().UTC()
	var jobs []*haven.Job
	for _, id := range []string{"a", "b", "c", "d"} {
		jobs = append(jobs, newJob(id, id, t0))
	}
	if err := db.CreateJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func(j *haven.Job) {
			defer wg.Done()
			for _, c := range []haven.StatusCode{haven.StatusPreparing, haven.StatusPrepared, haven.StatusExecuting, haven.StatusExecuted, haven.StatusSucceeded} {
				j.SetCode(c, "", time.Now())
				if err := db.UpdateJob(ctx, j); err != nil {
					t.Error(err)
				}
			}
		}(j)
	}
	wg.Wait()
	all, _ := db.WorkspaceJobs(ctx, "ws")
	for _, j := range all {
		if j.StatusCode != haven.StatusSucceeded || j.State != haven.StateSucceeded || j.CompletedAt.IsZero() || j.StartedAt.IsZero() {
			t.Errorf("job %s: %s/%s started %v completed %v", j.ID, j.State, j.StatusCode, j.StartedAt, j.CompletedAt)
		}
	}
}

func TestWALMode(t *testing.T) {
	db, _ := openTest(t)
	var mode string
	if err := db.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}
