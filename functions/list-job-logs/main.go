// Command list-job-logs serves GET /api/jobs/{id}/logs.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("list-job-logs", handler{jobs: a.JobMonitor()}.handle)
	})
}
