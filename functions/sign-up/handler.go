package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/identity"
)

type handler struct{ users *identity.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var in identity.SignUpInput
	if err := req.Decode(&in); err != nil {
		return httpapi.Response{}, err
	}
	u, err := h.users.SignUp(ctx, in)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"user": u}), nil
}
