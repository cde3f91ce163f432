package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/httpapi"
)

type handler struct{ datasets *dataset.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var in dataset.CreateInput
	if err := req.Decode(&in); err != nil {
		return httpapi.Response{}, err
	}
	created, err := h.datasets.Create(ctx, req.Caller.UserID, in)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(created), nil
}
