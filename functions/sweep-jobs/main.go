// Command sweep-jobs is the training workflow's sweeper (pkg/job.Sweeper):
// an EventBridge schedule runs it every 15 minutes (route.Workers). It
// publishes outbox events nobody could, and ends failed a job create-job
// left without a workflow or whose execution stopped or vanished without
// the backstop (mark-stopped-job) hearing of it.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		s, err := a.JobSweeper(ctx, "sweep-jobs")
		if err != nil {
			return nil, err
		}
		return handler{sweeper: s, log: a.Logger}.handle, nil
	})
}
