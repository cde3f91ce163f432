package app

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/series"
	"github.com/brightrun/brightrun/pkg/workflow"
)

// JobAPI wires the job service the HTTP functions use: create, cancel, get.
func (a *App) JobAPI() (*job.Service, error) {
	if a.Config.StateMachineARN == "" {
		return nil, fmt.Errorf("job functions need STATE_MACHINE_ARN")
	}
	return &job.Service{
		Store:    a.Store,
		Training: a.Training(),
		Workflow: jobWorkflow{workflow.NewStarter(sfn.NewFromConfig(a.AWS), a.Config.StateMachineARN)},
		NewID:    func() string { return ulid.Make().String() },
		Now:      time.Now,
	}, nil
}

// JobMonitor wires what the monitoring functions read: jobs, metrics,
// logs, checkpoints and the feed.
func (a *App) JobMonitor() *job.Monitor {
	return &job.Monitor{Store: a.Store, Downsample: series.Downsample}
}

// jobWorkflow adapts the Step Functions starter to the job service's and
// the sweeper's ports.
type jobWorkflow struct{ *workflow.Starter }

func (w jobWorkflow) StartJob(ctx context.Context, userID, jobID string, created time.Time) error {
	_, err := w.StartExecution(ctx, workflow.NewInput(jobID, userID, created))
	return err
}

func (w jobWorkflow) Execution(ctx context.Context, jobID string, generation int) (job.Execution, error) {
	d, err := w.Describe(ctx, jobID, generation)
	return job.Execution(d), err
}

// JobSweeper wires the sweeper (sweep-jobs): the runner of that worker,
// the sweep list and the training state machine's executions.
func (a *App) JobSweeper(ctx context.Context, fn string) (*job.Sweeper, error) {
	if a.Config.StateMachineARN == "" {
		return nil, fmt.Errorf("%s needs STATE_MACHINE_ARN", fn)
	}
	minIdle, err := Seconds("SWEEP_MIN_IDLE_SECONDS", a.Config.SweepMinIdleSeconds, job.DefaultSweepMinIdle, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	r, err := a.JobRunner(ctx, fn)
	if err != nil {
		return nil, err
	}
	return &job.Sweeper{
		Runner:     r,
		Store:      a.Store,
		Executions: jobWorkflow{workflow.NewStarter(sfn.NewFromConfig(a.AWS), a.Config.StateMachineARN)},
		MinIdle:    minIdle,
	}, nil
}
