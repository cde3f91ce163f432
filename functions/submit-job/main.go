// Command submit-job is the training state machine's Submit task: it sends a
// queued job to the GPU cluster (idempotent on the job id there), records
// the cluster's id and moves the job to initializing. Input {job_id,
// user_id, continued}; output {status, wait_seconds}.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		r, err := a.JobRunner(ctx, "submit-job")
		if err != nil {
			return nil, err
		}
		return app.Task(a.Logger, "submit-job", r.Submit), nil
	})
}
