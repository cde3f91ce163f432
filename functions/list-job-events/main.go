// Command list-job-events serves GET /api/jobs/{id}/events.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("list-job-events", handler{jobs: a.JobMonitor()}.handle)
	})
}
