package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/haven-tre/haven"
	"github.com/haven-tre/haven/internal/agentapi"
	"github.com/haven-tre/haven/internal/executor"
)

// jobRun is one job the agent is working on: its task and lease, the
// runner's context, and the queue of updates still to report.
//
// Reporting is ordered: updates are sent one at a time, each retried with
// the same seq until the server answers. A 409 (lease lost or attempt
// superseded) holds the reports back; a recover or run task for the same
// job within RecoverGrace hands the job back (adopt), otherwise the local
// job is cancelled and nothing more is reported.
type jobRun struct {
	a   *Agent
	id  string
	log *slog.Logger

	// ctx is the runner's context: cancelled when the user cancels the
	// job or the agent gives it up. stopCtx ends when the agent lets go of
	// the job (shutdown, or a newer run of it): requests stop, and the
	// runner unwinds without recording anything (errDetached).
	ctx     context.Context
	cancel  context.CancelFunc
	stopCtx context.Context
	stop    context.CancelFunc
	exec    *jobExecutor

	mu            sync.Mutex
	recovering    bool // following a job an earlier agent started
	t             *agentapi.Task
	attempt       int
	seq           int64
	gen           int // bumped when the queue is rebuilt (adopt)
	queue         []agentapi.Update
	wake          chan struct{}
	lost          bool // a 409 holds reports back
	graceTimer    *time.Timer
	gaveUp        bool
	detached      bool
	cancelled     bool // the user cancelled the job
	started       bool // executing was recorded: the job may have run
	finalRecorded bool
	finalSent     bool
	fnDone        bool
	last          *haven.Job // the latest recorded state
	results       *executor.Results

	reporterDone chan struct{}
	keeperDone   chan struct{}
}

func (a *Agent) newJobRun(t *agentapi.Task, log *slog.Logger) *jobRun {
	j := &jobRun{
		a: a, id: t.JobIdentifier, log: log, t: t, attempt: t.Attempt,
		seq:          seqBase(),
		wake:         make(chan struct{}, 1),
		reporterDone: make(chan struct{}),
		keeperDone:   make(chan struct{}),
	}
	j.ctx, j.cancel = context.WithCancel(context.Background())
	j.stopCtx, j.stop = context.WithCancel(context.Background())
	j.exec = newJobExecutor(a.cfg.Executor, j)
	return j
}

func (j *jobRun) task() *agentapi.Task {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.t
}

func (j *jobRun) currentLease() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.t.Kind == agentapi.TaskCancel || j.lost || j.detached || j.gaveUp {
		return ""
	}
	return j.t.Lease.ID
}

// holdsSlot reports whether the job counts against the agent's capacity.
func (j *jobRun) holdsSlot() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.t.Kind != agentapi.TaskCancel && !j.finalRecorded && !j.detached && !j.gaveUp
}

func (j *jobRun) isDetached() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.detached
}

func (j *jobRun) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// startLeaseKeeper starts the reporter and, for jobs held under a lease,
// the extender.
func (j *jobRun) startLeaseKeeper() {
	go j.report()
	if j.task().Kind == agentapi.TaskCancel {
		close(j.keeperDone)
		return
	}
	go j.extend()
}

// finish waits until everything recorded has been reported (or the job
// was given up or let go), then stops extending the lease.
func (j *jobRun) finish() {
	j.mu.Lock()
	j.fnDone = true
	j.mu.Unlock()
	j.signal()
	<-j.reporterDone
	j.stop()
	<-j.keeperDone
	j.cancel()
}

// record is the runner's store write for this job: write it locally, then
// queue its redacted update. Once the agent has let go of the job nothing
// is written, so the runner does nothing more with it.
func (j *jobRun) record(ctx context.Context, job *haven.Job) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.detached {
		return errDetached
	}
	if err := j.a.db.UpdateJob(ctx, job); err != nil {
		return err
	}
	if job.ID == j.id {
		j.noteLocked(job)
	}
	return nil
}

// forward queues a state that is not (or cannot be) written locally.
func (j *jobRun) forward(job *haven.Job) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.detached {
		j.noteLocked(job)
	}
}

// noteLocked keeps the latest state and queues its update; j.mu is held.
func (j *jobRun) noteLocked(job *haven.Job) {
	snap := *job
	j.last = &snap
	switch {
	case job.StatusCode == haven.StatusExecuting:
		j.started = true
	case job.StatusCode.IsFinal():
		j.finalRecorded = true
		j.a.slotFreed()
	}
	j.enqueueLocked()
}

// enqueueLocked queues the update for the latest state; j.mu is held.
func (j *jobRun) enqueueLocked() {
	if j.last == nil || j.gaveUp {
		return
	}
	u, ok := redact(j.last, j.results, j.cancelled)
	if !ok {
		return
	}
	j.seq++
	u.Attempt, u.Seq = j.attempt, j.seq
	j.queue = append(j.queue, u)
	j.signal()
}

// setResults keeps the finalize results for the booleans of the final
// update.
func (j *jobRun) setResults(res *executor.Results) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.results = res.Clone()
}

// report sends the queued updates in order.
func (j *jobRun) report() {
	defer close(j.reporterDone)
	retry := backoff{min: j.a.cfg.RetryMin, max: j.a.cfg.RetryMax}
	failing := false
	for {
		j.mu.Lock()
		switch {
		case j.detached || j.gaveUp:
			j.mu.Unlock()
			return
		case len(j.queue) == 0 && j.fnDone:
			j.mu.Unlock()
			return
		case len(j.queue) == 0 || j.lost:
			j.mu.Unlock()
			select {
			case <-j.wake:
			case <-j.stopCtx.Done():
			}
			continue
		}
		u, gen := j.queue[0], j.gen
		j.mu.Unlock()

		_, err := j.a.client.Update(j.stopCtx, j.id, u)
		switch {
		case err == nil:
			retry.reset()
			if failing {
				failing = false
				j.log.Info("status updates are getting through again")
			}
			j.mu.Lock()
			if j.gen == gen && len(j.queue) > 0 {
				j.queue = j.queue[1:]
				if haven.StatusCode(u.StatusCode).IsFinal() {
					j.finalSent = true
				}
			}
			j.mu.Unlock()
		case j.stopCtx.Err() != nil:
		case agentapi.IsConflict(err):
			if j.loseLease(func() bool { return j.gen == gen }) {
				j.log.Warn("the server no longer takes updates for this attempt; holding them back", "err", err)
			}
		case agentapi.IsRetryable(err):
			if !failing {
				failing = true
				j.log.Warn("status update failed; retrying with backoff", "code", u.StatusCode, "seq", u.Seq, "err", err)
			}
			select {
			case <-time.After(retry.next()):
			case <-j.stopCtx.Done():
			}
		default:
			// The server will refuse this update whatever happens: say
			// so locally and go on with the next.
			j.log.Error("status update refused; dropping it", "code", u.StatusCode, "seq", u.Seq, "err", err)
			j.mu.Lock()
			if j.gen == gen && len(j.queue) > 0 {
				j.queue = j.queue[1:]
			}
			j.mu.Unlock()
		}
	}
}

// extend renews the lease every ExtendEvery until the job is done.
func (j *jobRun) extend() {
	defer close(j.keeperDone)
	every := j.a.cfg.ExtendEvery
	if s := j.task().ExtendEverySeconds; s > 0 {
		every = min(every, time.Duration(s*float64(time.Second)))
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-j.stopCtx.Done():
			return
		case <-t.C:
		}
		lease := j.currentLease()
		if lease == "" {
			continue
		}
		resp, err := j.a.client.Extend(j.stopCtx, lease, j.a.cfg.AgentID)
		switch {
		case err == nil:
			if failing {
				failing = false
				j.log.Info("lease extended again")
			}
			if resp.Cancel {
				j.userCancel()
			}
		case j.stopCtx.Err() != nil:
			return
		case agentapi.IsConflict(err):
			// Only a 409 for the lease still held counts: the job may have
			// been handed back under a new lease meanwhile.
			if j.loseLease(func() bool { return !j.finalSent && j.t.Lease.ID == lease }) {
				j.log.Warn("lease lost; waiting for the server to hand the job back", "err", err)
			}
		default:
			if !failing {
				failing = true
				j.log.Warn("lease extension failed; retrying", "err", err)
			}
		}
	}
}

// loseLease holds reports back after a 409 and gives the job up unless
// the server hands it back within RecoverGrace. current (called with j.mu
// held) says whether the 409 is about what the job holds now; a late
// answer about an earlier lease or attempt is ignored. It reports whether
// the lease is now lost.
func (j *jobRun) loseLease(current func() bool) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.lost || j.gaveUp || !current() {
		return false
	}
	j.lost = true
	j.graceTimer = time.AfterFunc(j.a.cfg.RecoverGrace, j.giveUp)
	return true
}

// giveUp stops a job whose lease was not handed back: the local job is
// cancelled and nothing more is reported for it.
func (j *jobRun) giveUp() {
	j.mu.Lock()
	if !j.lost || j.gaveUp || j.detached {
		j.mu.Unlock()
		return
	}
	j.gaveUp = true
	j.queue = nil
	recovering := j.recovering
	j.mu.Unlock()
	j.log.Warn("job given up: its lease was not handed back; cancelling the local work")
	if recovering {
		j.exec.terminate()
	}
	j.cancel()
	j.signal()
}

// adopt takes a new task for a job already here (the server handed it
// back after a lost lease, or recovers it): report under the new lease
// and attempt from the latest state. It returns false when this run can
// no longer carry the job (let go, given up, or already reported final).
func (j *jobRun) adopt(t *agentapi.Task) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.detached || j.gaveUp || j.finalSent || j.t.Kind == agentapi.TaskCancel {
		return false
	}
	if j.graceTimer != nil {
		j.graceTimer.Stop()
	}
	// The job keeps its kind (a run handed back by a recover task is
	// still a run), with the new lease and attempt.
	nt := *t
	nt.Kind = j.t.Kind
	j.t = &nt
	if t.Attempt != j.attempt {
		j.attempt, j.seq = t.Attempt, seqBase()
	}
	j.lost = false
	j.gen++
	j.queue = nil
	j.enqueueLocked()
	j.signal()
	return true
}

// userCancel stops the job because the user cancelled it; the runner
// records cancelled_by_user, which is reported.
func (j *jobRun) userCancel() {
	j.mu.Lock()
	if j.cancelled {
		j.mu.Unlock()
		return
	}
	j.cancelled = true
	recovering := j.recovering
	j.mu.Unlock()
	j.log.Info("cancelling job")
	if recovering {
		// A recovered job is followed to its end; stopping its work ends it.
		j.exec.terminate()
	}
	j.cancel()
}

// detach lets go of the job at shutdown: nothing more is recorded,
// reported or done to it. The lease of a job that had not started is
// given back so another agent can run it; a started job stays with its
// executor and is recovered later.
func (j *jobRun) detach() {
	j.mu.Lock()
	if j.detached {
		j.mu.Unlock()
		return
	}
	j.detached = true
	release := !j.started && !j.finalRecorded && j.t.Kind == agentapi.TaskRun && !j.lost && !j.gaveUp
	lease := j.t.Lease.ID
	j.mu.Unlock()
	j.stop()
	j.signal()
	if !release && j.started {
		j.log.Info("leaving the running job to its executor; the next agent on this state directory recovers it")
	}
	if release {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := j.a.client.Release(ctx, lease, j.a.cfg.AgentID, "shutdown"); err != nil {
			j.log.Warn("could not give the job back; it returns to the queue when its lease expires", "err", err)
		} else {
			j.log.Info("job given back to the queue")
		}
	}
}

// abandon lets go of a run that a newer task for the same job replaces.
func (j *jobRun) abandon() {
	j.mu.Lock()
	j.detached = true
	j.mu.Unlock()
	j.stop()
	j.cancel()
	j.signal()
}

// seqBase is where a job's update sequence starts: the clock in
// microseconds. The server ignores an update whose seq is not above the
// last it applied for the attempt, and a recovered job keeps its attempt,
// so an agent that takes over a job (after a restart) must continue above
// whatever its predecessor sent: it took the job at least a lease's
// lifetime later, far more microseconds than updates were sent.
func seqBase() int64 { return time.Now().UnixMicro() }

// isCancelled reports whether the user cancelled the job.
func (j *jobRun) isCancelled() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cancelled
}

// wasDetached reports whether err means the agent let go of the job.
func wasDetached(err error) bool { return errors.Is(err, errDetached) }
