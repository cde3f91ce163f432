package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/training"
)

type handler struct{ training *training.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var in training.Request
	if err := req.Decode(&in); err != nil {
		return httpapi.Response{}, err
	}
	est, err := h.training.Estimate(ctx, req.Caller.UserID, in)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(est), nil
}
