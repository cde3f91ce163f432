package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/identity"
)

type handler struct{ users *identity.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var p identity.AccountPatch
	if err := req.Decode(&p); err != nil {
		return httpapi.Response{}, err
	}
	u, err := h.users.UpdateAccount(ctx, req.PathParam("id"), p)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(u), nil
}
