package job

import (
	"context"
	"errors"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/training"
)

// Store keeps jobs.
type Store interface {
	// CreateJob writes a new queued job; an existing id is a Conflict.
	CreateJob(ctx context.Context, j Job) error
	// Job returns the caller's job, or NotFound (also for another user's).
	Job(ctx context.Context, userID, id string) (Job, error)
	// QueuedAhead counts the user's queued jobs created before id.
	QueuedAhead(ctx context.Context, userID, id string) (int, error)
	// Transition moves a job from one status to another; false if the job
	// was not in from (a concurrent change won).
	Transition(ctx context.Context, userID, id string, from, to Status, c Change) (bool, error)
	// RequestCancel flags a running job; false if it is not initializing or running.
	RequestCancel(ctx context.Context, userID, id string, now time.Time) (bool, error)
}

// Change is what a transition sets besides the status.
type Change struct {
	Stage        *Stage
	ErrorMessage *string
	StartedAt    *time.Time
	CompletedAt  *time.Time
	Now          time.Time
}

// Workflow starts the training workflow of a job, idempotently by job id
// (created bounds the run's deadline, so a repeated start is identical).
type Workflow interface {
	StartJob(ctx context.Context, userID, jobID string, created time.Time) error
}

// Service implements job creation and cancel.
type Service struct {
	Store    Store
	Training *training.Service
	Workflow Workflow
	NewID    func() string
	Now      func() time.Time
}

// Created is the POST /api/jobs answer.
type Created struct {
	Job           Job               `json:"job"`
	Estimate      training.Estimate `json:"estimate"`
	QueuePosition int               `json:"queue_position"` // 1 = next of the user's jobs to start
}

// Create validates and prices req exactly as the estimate does, refuses a
// run the monthly budget does not allow, writes the job queued, and starts
// its workflow. If the workflow cannot be started, the job is marked failed
// (not left queued forever) and the error is returned.
func (s *Service) Create(ctx context.Context, userID string, req training.Request) (Created, error) {
	p, err := s.Training.Prepare(ctx, userID, req)
	if err != nil {
		return Created{}, err
	}
	est := training.EstimateRun(p.Config, p.Profile, p.Budget)
	if !est.Budget.AllowedToProceed {
		return Created{}, est.Budget.Err(est.EstimatedCost)
	}
	now := s.Now().UTC()
	eta := now.Add(time.Duration(est.DurationSeconds) * time.Second)
	cfg := p.Config.JobConfig()
	j := Job{
		ID: s.NewID(), UserID: userID, DatasetID: p.Dataset.ID, PresetID: cfg.PresetID,
		Hyperparameters: cfg.Hyperparameters, GPUConfig: cfg.GPUConfig,
		Status: StatusQueued, CurrentStage: StageQueued, TotalEpochs: est.NumEpochs, TotalSteps: est.TotalSteps,
		QueuedAt: now, EstimatedCompletionAt: &eta, EstimatedTotalCost: est.EstimatedCost, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.CreateJob(ctx, j); err != nil {
		return Created{}, err
	}
	if err := s.Workflow.StartJob(ctx, userID, j.ID, j.CreatedAt); err != nil {
		msg := FailureMessage(TaskError{Error: ErrWorkflowNotStarted})
		_, terr := s.Store.Transition(ctx, userID, j.ID, StatusQueued, StatusFailed, Change{ErrorMessage: &msg, CompletedAt: &now, Now: now})
		return Created{}, errors.Join(err, terr)
	}
	ahead, err := s.Store.QueuedAhead(ctx, userID, j.ID)
	if err != nil {
		return Created{}, err
	}
	return Created{Job: j, Estimate: est, QueuePosition: ahead + 1}, nil
}

// Cancel stops a job. A queued job is cancelled at once; a starting or
// running one gets a cancel request that the workflow carries out (it tells
// the cluster and ends the job cancelled). Repeating a cancel changes
// nothing; a finished job is a Conflict.
func (s *Service) Cancel(ctx context.Context, userID, id string) (Job, error) {
	for range 3 { // a concurrent transition may move the job between read and write
		j, err := s.Store.Job(ctx, userID, id)
		if err != nil {
			return Job{}, err
		}
		now := s.Now().UTC()
		switch {
		case j.Status.Terminal():
			if j.Status == StatusCancelled {
				return j, nil
			}
			return Job{}, apperr.New(apperr.Conflict, "the job has already %s", j.Status).WithCode("JOB_FINISHED")
		case j.Status == StatusQueued:
			msg := "cancelled before it started"
			ok, err := s.Store.Transition(ctx, userID, id, StatusQueued, StatusCancelled, Change{ErrorMessage: &msg, CompletedAt: &now, Now: now})
			if err != nil {
				return Job{}, err
			}
			if ok {
				return s.Store.Job(ctx, userID, id)
			}
		default:
			if j.CancelRequested {
				return j, nil
			}
			ok, err := s.Store.RequestCancel(ctx, userID, id, now)
			if err != nil {
				return Job{}, err
			}
			if ok {
				return s.Store.Job(ctx, userID, id)
			}
		}
	}
	return Job{}, apperr.New(apperr.Conflict, "the job is changing state; retry").WithCode("JOB_BUSY")
}

// Get returns the caller's job.
func (s *Service) Get(ctx context.Context, userID, id string) (Job, error) {
	return s.Store.Job(ctx, userID, id)
}
