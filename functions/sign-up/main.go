// Command sign-up serves POST /api/auth/signup.
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
		return a.HTTP("sign-up", handler{users: users}.handle)
	})
}
