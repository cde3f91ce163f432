package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/httpapi"
)

type handler struct{ datasets *dataset.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	id := req.PathParam("id")
	if err := h.datasets.Delete(ctx, req.Caller.UserID, id); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"id": id, "deleted": true}), nil
}
