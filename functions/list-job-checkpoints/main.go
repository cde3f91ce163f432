// Command list-job-checkpoints serves GET /api/jobs/{id}/checkpoints.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("list-job-checkpoints", handler{jobs: a.JobMonitor()}.handle)
	})
}
