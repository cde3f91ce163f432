// Command list-gpus serves GET /api/training/gpus: the GPU types with memory and price per GPU-hour.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("list-gpus", handle)
	})
}
