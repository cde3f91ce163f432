// Command get-job-metrics serves GET /api/jobs/{id}/metrics.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("get-job-metrics", handler{jobs: a.JobMonitor()}.handle)
	})
}
