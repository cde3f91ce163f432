package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/training"
)

func handle(context.Context, *httpapi.Request) (httpapi.Response, error) {
	return httpapi.OK(map[string]any{"gpus": training.GPUs()}), nil
}
