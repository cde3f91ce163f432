package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/job"
)

type handler struct{ jobs *job.Monitor }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	q, err := job.ParseMetricsQuery(req.Event.QueryStringParameters)
	if err != nil {
		return httpapi.Response{}, err
	}
	m, err := h.jobs.Metrics(ctx, req.Caller.UserID, req.PathParam("id"), q)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(m), nil
}
