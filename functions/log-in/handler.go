package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/identity"
)

type handler struct{ users *identity.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var in identity.LogInInput
	if err := req.Decode(&in); err != nil {
		return httpapi.Response{}, err
	}
	tok, err := h.users.LogIn(ctx, in)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(tok), nil
}
