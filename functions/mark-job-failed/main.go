// Command mark-job-failed is the training state machine's MarkFailed task:
// it records the workflow's error {Error, Cause} on the job as a readable
// message, cancels the cluster job if it may still run, and ends the job
// failed with its final cost. A job already final is left as it is. Input
// {job_id, user_id, error}; output {}.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		r, err := a.JobRunner(ctx, "mark-job-failed")
		if err != nil {
			return nil, err
		}
		return app.Task(a.Logger, "mark-job-failed", app.NoOutput(r.MarkFailed)), nil
	})
}
