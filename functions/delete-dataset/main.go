// Command delete-dataset serves DELETE /api/datasets/{id} (soft delete).
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
		return a.HTTP("delete-dataset", handler{datasets: datasets}.handle)
	})
}
