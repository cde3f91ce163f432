package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/httpapi"
)

type handler struct{ datasets *dataset.Service }

type completeInput struct {
	Parts []dataset.Part `json:"parts"`
}

func (h handler) handle(ctx context.Context, req *httpapi.Request) (httpapi.Response, error) {
	var in completeInput
	if err := req.Decode(&in); err != nil {
		return httpapi.Response{}, err
	}
	d, err := h.datasets.CompleteUpload(ctx, req.Caller.UserID, req.PathParam("id"), in.Parts)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(d), nil
}
