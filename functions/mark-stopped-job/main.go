// Command mark-stopped-job is the backstop of the training workflow: an
// EventBridge rule sends it Step Functions' status change of every
// execution of the training state machine that ends FAILED, TIMED_OUT or
// ABORTED (event.StoppedExecutions). A job its execution left initializing
// or running is marked failed and its cluster job cancelled; a job already
// final (the usual case: the machine's Catch ran mark-job-failed) is left
// as it is.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		r, err := a.JobRunner(ctx, "mark-stopped-job")
		if err != nil {
			return nil, err
		}
		return handler{runner: r, log: a.Logger}.handle, nil
	})
}
