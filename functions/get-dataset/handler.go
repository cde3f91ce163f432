package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/httpapi"
)

type handler struct{ datasets *dataset.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	d, err := h.datasets.Get(ctx, req.Caller.UserID, req.PathParam("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(d), nil
}
