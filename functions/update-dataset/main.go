// Command update-dataset serves PATCH /api/datasets/{id}.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		datasets, err := a.Datasets()
		if err != nil {
			return nil, err
		}
		return a.HTTP("update-dataset", handler{datasets: datasets}.handle)
	})
}
