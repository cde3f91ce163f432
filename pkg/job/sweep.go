package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// The sweeper is the second line behind the training workflow. The state
// machine's Catch ends a job when a task fails, and mark-stopped-job ends
// one whose execution stopped; what neither can see is left to a periodic
// sweep of the jobs that may still need something:
//
//   - events still in a job's outbox after LeftoverAge (the bus was down
//     when their writer published, and no later task came: the workflow
//     had ended) are published;
//   - a queued job with no execution (create-job died between writing the
//     job and starting its workflow) is marked failed, as create-job marks
//     one it could not start: nothing ran or was charged. It is not started:
//     create-job answers 201 only after the start, so this job's client saw
//     an error and may well have created the job again;
//   - a job whose current execution stopped (the backstop's event was
//     lost) or is gone (an execution that ended without continuing) is
//     marked failed as mark-stopped-job would, cancelling its cluster job;
//   - a job that is final with an empty outbox leaves the sweep list.
//
// Jobs enter the sweep list when they are created (the store writes the
// entry in the same transaction as the job).
type Sweeper struct {
	Runner     *Runner
	Store      SweepStore
	Executions Executions
	// MinIdle: a job created or changed more recently than this is not
	// checked against Step Functions (a running workflow is changing it,
	// or is about to start). Default DefaultSweepMinIdle. The clock and
	// the log are the Runner's.
	MinIdle time.Duration
}

// DefaultSweepMinIdle is far longer than a healthy workflow leaves a job
// untouched while it starts (create-job starts the execution at once,
// submit-job runs seconds later) or trains (every poll writes progress).
// A job queued at the cluster is not written while nothing moves: it is
// checked at every sweep, one DescribeExecution each.
const DefaultSweepMinIdle = 10 * time.Minute

// SweepStore is the sweep list (pkg/dynamo).
type SweepStore interface {
	// SweepEntries returns up to limit entries after the job id after
	// ("" from the start), in job id order.
	SweepEntries(ctx context.Context, after string, limit int) ([]SweepEntry, error)
	// NoteSweepGeneration records the job's current execution generation.
	NoteSweepGeneration(ctx context.Context, jobID string, generation int) error
	// DropSweepEntry removes the job's entry; removing none is no error.
	DropSweepEntry(ctx context.Context, jobID string) error
}

// SweepEntry is a job on the sweep list.
type SweepEntry struct {
	JobID     string
	UserID    string
	CreatedAt time.Time
	// Generation is the last execution the sweeper saw running: 0 for the
	// one named by the job id, n for the n-th continuation.
	Generation int
}

// Executions are the training state machine's executions (pkg/workflow).
type Executions interface {
	// Execution describes the job's execution of that generation;
	// apperr.NotFound if there is none.
	Execution(ctx context.Context, jobID string, generation int) (Execution, error)
}

// Execution is what DescribeExecution says of an execution.
type Execution struct {
	Status string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
	Error  string
	Cause  string
}

// Execution statuses the sweeper tells apart; every other one has stopped.
const (
	ExecutionRunning   = "RUNNING"
	ExecutionSucceeded = "SUCCEEDED"
)

// SweepReport counts what one sweep did, by outcome.
type SweepReport struct {
	Checked   int `json:"checked"`   // entries read
	Dropped   int `json:"dropped"`   // final with an empty outbox, or gone: off the list
	Failed    int `json:"failed"`    // execution stopped, gone or never started: job marked failed
	Continued int `json:"continued"` // entries whose generation moved on
	Errors    int `json:"errors"`    // entries that could not be swept (tried again next sweep)
	// Incomplete: the sweep ran out of time before the end of the list.
	Incomplete bool `json:"incomplete"`
}

// maxGenerationsPerSweep bounds the walk from the remembered generation:
// a job continues as a new execution about every 200 polls (over an hour),
// so a 7-day job has some 150 generations in all.
const maxGenerationsPerSweep = 1000

// sweepPage is how many entries one store read returns.
const sweepPage = 100

// Sweep goes through the whole sweep list once. An entry that fails is
// logged and counted, the sweep goes on, and the error is returned at the
// end (joined) so the invocation shows it; the next sweep tries again.
//
// A sweep that runs out of time (ctx's deadline, less the runner's reserve)
// stops between entries and says so in the report; the next one starts
// from the beginning.
func (s *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	var errs []error
	ctx, cancel := bound(ctx)
	defer cancel()
	after := ""
	for {
		entries, err := s.Store.SweepEntries(ctx, after, sweepPage)
		if err != nil {
			return rep, errors.Join(append(errs, err)...)
		}
		for _, e := range entries {
			if ctx.Err() != nil {
				rep.Incomplete = true
				return rep, errors.Join(errs...)
			}
			rep.Checked++
			if err := s.sweep(ctx, e, &rep); err != nil {
				rep.Errors++
				errs = append(errs, fmt.Errorf("job %s: %w", e.JobID, err))
				s.Runner.log().Error("sweep job", "job", e.JobID, "error", err.Error())
			}
		}
		if len(entries) < sweepPage {
			return rep, errors.Join(errs...)
		}
		after = entries[len(entries)-1].JobID
	}
}

func (s *Sweeper) sweep(ctx context.Context, e SweepEntry, rep *SweepReport) error {
	in := TaskInput{JobID: e.JobID, UserID: e.UserID}
	run, err := s.Runner.run(ctx, in) // publishes the outbox's leftovers
	var missing *JobMissing
	if errors.As(err, &missing) {
		rep.Dropped++
		return s.Store.DropSweepEntry(ctx, e.JobID)
	}
	if err != nil {
		return err
	}
	j := run.Job
	if j.Status.Terminal() {
		// A final job gets no new outbox events (every ending write is
		// conditional on a job not final), so an empty outbox stays empty.
		if len(run.Outbox) > 0 {
			return nil // young events: their writer's; the next sweep sees them
		}
		rep.Dropped++
		return s.Store.DropSweepEntry(ctx, e.JobID)
	}
	now := s.Runner.now()
	if now.Sub(later(j.CreatedAt, j.UpdatedAt)) < s.minIdle() {
		return nil
	}

	gen, ex, err := s.current(ctx, e)
	if err != nil {
		return err
	}
	if ex != nil && gen != e.Generation {
		rep.Continued++
		if err := s.Store.NoteSweepGeneration(ctx, e.JobID, gen); err != nil {
			return err
		}
	}
	switch {
	case ex == nil && gen == 0 && j.Status == StatusQueued:
		// Never started: create-job died before StartExecution.
		rep.Failed++
		s.Runner.log().Warn("job whose workflow was never started", "job", e.JobID)
		return s.Runner.MarkFailed(ctx, TaskInput{JobID: e.JobID, UserID: e.UserID, Error: &TaskError{
			Error: ErrWorkflowNotStarted, Cause: "queued with no execution"}})
	case ex == nil:
		rep.Failed++
		s.Runner.log().Warn("job without a workflow", "job", e.JobID, "status", j.Status, "generation", gen)
		return s.Runner.MarkFailed(ctx, TaskInput{JobID: e.JobID, UserID: e.UserID, Error: &TaskError{
			Error: ErrWorkflowLost, Cause: fmt.Sprintf("no execution of generation %d and the job is %s", gen, j.Status)}})
	case ex.Status == ExecutionRunning:
		return nil
	default:
		// Stopped without the backstop ending the job: do what it does.
		rep.Failed++
		te := TaskError{Error: "States." + ex.Status, Cause: ex.Cause}
		if ex.Error != "" {
			te.Error = ex.Error
		}
		s.Runner.log().Warn("job of a stopped execution", "job", e.JobID, "execution_status", ex.Status, "generation", gen)
		return s.Runner.MarkFailed(ctx, TaskInput{JobID: e.JobID, UserID: e.UserID, Error: &te})
	}
}

// current finds the job's current execution from the generation last
// seen: an execution that SUCCEEDED while its job is not final continued
// as the next generation. nil: that generation does not exist.
func (s *Sweeper) current(ctx context.Context, e SweepEntry) (int, *Execution, error) {
	for gen := e.Generation; ; gen++ {
		if gen > e.Generation+maxGenerationsPerSweep {
			return e.Generation, nil, apperr.New(apperr.Internal, "job %s: more than %d executions succeeded since generation %d", e.JobID, maxGenerationsPerSweep, e.Generation)
		}
		ex, err := s.Executions.Execution(ctx, e.JobID, gen)
		if apperr.KindOf(err) == apperr.NotFound {
			return gen, nil, nil
		}
		if err != nil {
			return e.Generation, nil, err
		}
		if ex.Status != ExecutionSucceeded {
			return gen, &ex, nil
		}
	}
}

func (s *Sweeper) minIdle() time.Duration {
	if s.MinIdle > 0 {
		return s.MinIdle
	}
	return DefaultSweepMinIdle
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
