package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/job"
)

type handler struct{ jobs *job.Monitor }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	d, err := h.jobs.Detail(ctx, req.Caller.UserID, req.PathParam("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(d), nil
}
