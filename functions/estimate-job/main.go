// Command estimate-job serves POST /api/jobs/estimate: cost and duration of
// a training run before it is submitted, checked against the budget.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("estimate-job", handler{training: a.Training()}.handle)
	})
}
