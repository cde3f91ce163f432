// Command list-datasets serves GET /api/datasets.
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
		return a.HTTP("list-datasets", handler{datasets: datasets}.handle)
	})
}
