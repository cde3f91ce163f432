// Command get-job serves GET /api/jobs/{id}: the job with its dataset,
// metrics count and queue position.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("get-job", handler{jobs: a.JobMonitor()}.handle)
	})
}
