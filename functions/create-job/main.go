// Command create-job serves POST /api/jobs: validates and prices a run exactly as the estimate, creates the job queued and starts its workflow.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		jobs, err := a.JobAPI()
		if err != nil {
			return nil, err
		}
		return a.HTTP("create-job", handler{jobs: jobs}.handle)
	})
}
