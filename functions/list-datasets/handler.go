package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/httpapi"
)

type handler struct{ datasets *dataset.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	page, err := req.PageNumberParams()
	if err != nil {
		return httpapi.Response{}, err
	}
	q, err := dataset.ParseListQuery(req.Event.QueryStringParameters, page.Number, page.Limit)
	if err != nil {
		return httpapi.Response{}, err
	}
	list, err := h.datasets.List(ctx, req.Caller.UserID, q)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(list), nil
}
