package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/training"
)

type handler struct{ jobs *job.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var in training.Request
	if err := req.Decode(&in); err != nil {
		return httpapi.Response{}, err
	}
	created, err := h.jobs.Create(ctx, req.Caller.UserID, in)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(created), nil
}
