// Command list-base-models serves GET /api/training/base-models: the base models with size, context length and minimum GPU memory.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("list-base-models", handle)
	})
}
