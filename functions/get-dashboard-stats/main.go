// Command get-dashboard-stats serves GET /api/dashboard/stats.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		return a.HTTP("get-dashboard-stats", handler{stats: a.Dashboard()}.handle)
	})
}
