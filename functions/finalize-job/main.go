// Command finalize-job is the training state machine's Finalize task: it
// registers the model and completes the job with its final cost. Input
// {job_id, user_id}; output {model_id}.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		r, err := a.JobRunner(ctx, "finalize-job")
		if err != nil {
			return nil, err
		}
		return app.Task(a.Logger, "finalize-job", r.Finalize), nil
	})
}
