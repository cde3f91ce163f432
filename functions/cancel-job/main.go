// Command cancel-job serves POST /api/jobs/{id}/cancel.
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
		return a.HTTP("cancel-job", handler{jobs: jobs}.handle)
	})
}
