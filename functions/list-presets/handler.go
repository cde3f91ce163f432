package main

import (
	"context"

	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/training"
)

func handle(context.Context, *httpapi.Request) (httpapi.Response, error) {
	c := training.Catalogs()
	return httpapi.OK(map[string]any{"presets": c.Presets, "limits": c.Limits, "auto_epochs": c.AutoEpochs}), nil
}
