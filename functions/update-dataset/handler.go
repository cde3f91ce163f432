package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/httpapi"
)

type handler struct{ datasets *dataset.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var in dataset.UpdateInput
	if err := req.Decode(&in); err != nil {
		return httpapi.Response{}, err
	}
	d, err := h.datasets.Update(ctx, req.Caller.UserID, req.PathParam("id"), in)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(d), nil
}
