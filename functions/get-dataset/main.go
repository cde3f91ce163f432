// Command get-dataset serves GET /api/datasets/{id}, with statistics, samples and errors.
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
		return a.HTTP("get-dataset", handler{datasets: datasets}.handle)
	})
}
