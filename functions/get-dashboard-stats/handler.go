package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/dashboard"
	"github.com/brightrun/brightrun/pkg/httpapi"
)

type handler struct{ stats *dashboard.Service }

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	st, err := h.stats.Stats(ctx, req.Caller.UserID)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(st), nil
}
