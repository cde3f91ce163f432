package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/identity"
)

type handler struct{ users *identity.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	u, err := h.users.Me(ctx, req.Caller.UserID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(u), nil
}
