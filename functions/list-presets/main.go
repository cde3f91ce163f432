// Command list-presets serves GET /api/training/presets: the hyperparameter presets, resolved, with the limits and the auto-epochs rule.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("list-presets", handle)
	})
}
