// Command list-jobs serves GET /api/jobs.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("list-jobs", handler{jobs: a.JobMonitor()}.handle)
	})
}
