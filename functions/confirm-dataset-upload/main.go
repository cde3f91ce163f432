// Command confirm-dataset-upload serves POST /api/datasets/{id}/confirm: starts validation if the upload is there.
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
		return a.HTTP("confirm-dataset-upload", handler{datasets: datasets}.handle)
	})
}
