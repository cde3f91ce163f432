// Command create-dataset serves POST /api/datasets: a dataset record and presigned upload URLs.
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
		return a.HTTP("create-dataset", handler{datasets: datasets}.handle)
	})
}
