package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/job"
)

type handler struct{ jobs *job.Monitor }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	page, err := req.PageNumberParams()
	if err != nil {
		return httpapi.Response{}, err
	}
	q, err := job.ParseListQuery(req.Event.QueryStringParameters, page.Number, page.Limit)
	if err != nil {
		return httpapi.Response{}, err
	}
	list, err := h.jobs.List(ctx, req.Caller.UserID, q)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(list), nil
}
