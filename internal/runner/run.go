package runner

import (
	"context"
	"fmt"
	"sync"

	"github.com/haven-tre/haven"
)

// Run drives jobs (already stored, as planned) to final states, at most
// MaxWorkers at a time, each starting once the jobs it waits for have
// succeeded. A job whose dependency failed becomes dependency_failed, and
// so on down the chain.
//
// The run stops early when ctx is cancelled (the jobs still active are
// cancelled by user) or, without ContinueOnError, when a job fails (the
// jobs still active are cancelled with a message saying so). Run returns
// an error only when the runner itself cannot go on (the store fails); job
// failures are in the jobs' states.
func (r *Runner) Run(ctx context.Context, jobs []*haven.Job) error {
	defer r.waitCleanups()
	s := &schedule{
		r:          r,
		jobs:       map[string]*haven.Job{},
		waiting:    map[string]int{},
		dependents: map[string][]string{},
		stop:       make(chan struct{}),
		done:       make(chan result),
		slots:      make(chan struct{}, r.cfg.MaxWorkers),
	}
	for _, j := range jobs {
		s.jobs[j.ID] = j
	}
	var ready []*haven.Job
	for _, j := range jobs {
		if j.StatusCode.IsFinal() {
			continue
		}
		s.unfinished++
		blocked := false
		for _, w := range j.WaitForJobIDs {
			dep, inRun := s.jobs[w]
			if !inRun {
				// Waited-for jobs outside this run are looked up once.
				var err error
				if dep, err = s.outsider(ctx, j.Workspace, w); err != nil {
					return err
				}
			}
			switch {
			case dep == nil || (dep.State == haven.StateFailed):
				blocked = true
				s.failedDeps = append(s.failedDeps, j)
			case dep.State != haven.StateSucceeded:
				s.waiting[j.ID]++
				s.dependents[w] = append(s.dependents[w], j.ID)
			}
		}
		if !blocked && s.waiting[j.ID] == 0 {
			ready = append(ready, j)
		}
	}
	return s.loop(ctx, ready)
}

// result is a finished lifecycle.
type result struct {
	job *haven.Job
	err error
}

// schedule is the state of one Run.
type schedule struct {
	r          *Runner
	jobs       map[string]*haven.Job
	waiting    map[string]int      // job id -> dependencies not yet succeeded
	dependents map[string][]string // job id -> jobs waiting for it
	failedDeps []*haven.Job        // jobs blocked from the start by a failed dependency
	unfinished int

	stopOnce sync.Once
	stop     chan struct{}
	stopMsg  string
	mu       sync.Mutex
	done     chan result
	slots    chan struct{} // one token per job executing (MaxWorkers)
}

func (s *schedule) outsider(ctx context.Context, workspace, id string) (*haven.Job, error) {
	all, err := s.r.cfg.Store.WorkspaceJobs(ctx, workspace)
	if err != nil {
		return nil, fmt.Errorf("look up job %s: %w", id, err)
	}
	for _, j := range all {
		if j.ID == id {
			return j, nil
		}
	}
	return nil, nil
}

// halt stops the run: no new jobs start, and active ones are cancelled with
// msg.
func (s *schedule) halt(msg string) {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopMsg = msg
		s.mu.Unlock()
		close(s.stop)
	})
}

func (s *schedule) message() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopMsg
}

func (s *schedule) loop(ctx context.Context, ready []*haven.Job) error {
	r := s.r
	running := 0
	var fatal error
	for _, j := range s.failedDeps {
		if err := s.dependencyFailed(ctx, j); err != nil {
			return err
		}
	}
	exited := make(chan struct{})
	defer close(exited)
	go func() {
		select {
		case <-ctx.Done():
			s.halt(msgCancelledByUser)
		case <-s.stop:
		case <-exited:
		}
	}()
	for s.unfinished > 0 {
		// Start what can start.
		// Up to twice as many lifecycles as workers: jobs being prepared or
		// finalized do not hold one of the MaxWorkers execution slots.
		for running < 2*r.cfg.MaxWorkers && len(ready) > 0 && !stopped(s.stop) {
			j := ready[0]
			ready = ready[1:]
			running++
			go func() {
				err := r.lifecycle(ctx, j, s.slots, s.stop, s.message)
				s.done <- result{j, err}
			}()
		}
		if running == 0 {
			if stopped(s.stop) {
				// Nothing is running and nothing may start: cancel the rest.
				for _, j := range s.jobs {
					if !j.StatusCode.IsFinal() {
						j.Cancelled = true
						if err := r.transition(ctx, j, haven.StatusCancelledByUser, s.message()); err != nil {
							return err
						}
						s.unfinished--
					}
				}
				break
			}
			if len(ready) == 0 {
				// Every remaining job waits on something that will never
				// finish here: a bug, but never a hang.
				return fmt.Errorf("%d jobs are waiting on jobs that are not running", s.unfinished)
			}
			continue
		}
		res := <-s.done
		running--
		s.unfinished--
		if res.err != nil {
			fatal = res.err
			s.halt(msgCancelledByUser)
			continue
		}
		j := res.job
		switch {
		case j.State == haven.StateSucceeded:
			for _, d := range s.dependents[j.ID] {
				s.waiting[d]--
				if s.waiting[d] == 0 && !s.jobs[d].StatusCode.IsFinal() {
					ready = append(ready, s.jobs[d])
				}
			}
		case j.StatusCode == haven.StatusCancelledByUser:
			// Part of a stop already under way.
		default:
			if err := s.cascade(ctx, j); err != nil {
				return err
			}
			if !r.cfg.ContinueOnError {
				s.halt(msgOtherJobFailed)
			}
		}
	}
	return fatal
}

// dependencyFailed marks a job, and everything waiting on it, as not
// started because a dependency failed.
func (s *schedule) dependencyFailed(ctx context.Context, j *haven.Job) error {
	if j.StatusCode.IsFinal() {
		return nil
	}
	if err := s.r.transition(ctx, j, haven.StatusDependencyFailed, ""); err != nil {
		return err
	}
	s.unfinished--
	return s.cascade(ctx, j)
}

// cascade fails everything downstream of a failed job.
func (s *schedule) cascade(ctx context.Context, failed *haven.Job) error {
	for _, d := range s.dependents[failed.ID] {
		if err := s.dependencyFailed(ctx, s.jobs[d]); err != nil {
			return err
		}
	}
	return nil
}
