// Command mark-job-cancelled is the training state machine's MarkCancelled
// task: the job ends cancelled with its final cost (idempotent). Input
// {job_id, user_id}; output {}.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		r, err := a.JobRunner(ctx, "mark-job-cancelled")
		if err != nil {
			return nil, err
		}
		return app.Task(a.Logger, "mark-job-cancelled", app.NoOutput(r.MarkCancelled)), nil
	})
}
