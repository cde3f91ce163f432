// Command complete-dataset-upload serves POST /api/datasets/{id}/upload/complete for multipart uploads.
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
		return a.HTTP("complete-dataset-upload", handler{datasets: datasets}.handle)
	})
}
