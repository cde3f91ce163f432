package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/job"
)

type handler struct{ jobs *job.Monitor }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	after, limit, err := job.ParseEventsQuery(req.Event.QueryStringParameters, req.Header("Last-Event-ID"))
	if err != nil {
		return httpapi.Response{}, err
	}
	page, err := h.jobs.Events(ctx, req.Caller.UserID, req.PathParam("id"), after, limit)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(page), nil
}
