// Command poll-job is the training state machine's Poll task: it polls the
// cluster every POLL_INTERVAL_SECONDS for up to budget_seconds while the
// job runs, storing metrics, logs and checkpoints, updating the job and
// accruing its cost. Input {job_id, user_id, continued, polls,
// budget_seconds}; output {status, wait_seconds, polls, reason}.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		r, err := a.JobRunner(ctx, "poll-job")
		if err != nil {
			return nil, err
		}
		return app.Task(a.Logger, "poll-job", r.Poll), nil
	})
}
