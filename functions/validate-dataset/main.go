// Command validate-dataset validates an uploaded dataset. It is started by
// the datasets bucket's ObjectCreated notification and, asynchronously, by
// confirm-dataset-upload; whichever comes first validates, the other finds
// the dataset already taken and does nothing.
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
		return handler{datasets: datasets, log: a.Logger}.handle, nil
	})
}
