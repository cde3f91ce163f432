// Command get-job serves GET /api/jobs/{id}.
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
		return a.HTTP("get-job", handler{jobs: jobs}.handle)
	})
}
