// Command update-user serves PATCH /api/admin/users/{id} (ADMIN only):
// an administrator changes a user's role or subscription tier.
package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/app"
)

func main() {
	app.Run(func(ctx context.Context, a *app.App) (any, error) {
		users, err := a.Identity()
		if err != nil {
			return nil, err
		}
		return a.HTTP("update-user", handler{users: users}.handle)
	})
}
