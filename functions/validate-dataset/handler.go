package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/dataset"
)

type handler struct {
	datasets *dataset.Service
	log      *slog.Logger
}

// handle takes an S3 event or a dataset.Run. A returned error makes Lambda
// retry the asynchronous invocation (twice), which is safe: every step is
// a conditional write keyed by the run.
func (h handler) handle(ctx context.Context, raw json.RawMessage) error {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return fmt.Errorf("validate-dataset: payload is not a JSON object: %w", err)
	}
	if len(probe.Records) > 0 {
		var ev events.S3Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return fmt.Errorf("validate-dataset: S3 event: %w", err)
		}
		var errs []error
		for _, rec := range ev.Records {
			if !strings.HasPrefix(rec.EventName, "ObjectCreated") {
				continue
			}
			h.log.Info("object created", "bucket", rec.S3.Bucket.Name, "key", rec.S3.Object.URLDecodedKey)
			errs = append(errs, h.datasets.ObjectCreated(ctx, rec.S3.Bucket.Name, rec.S3.Object.URLDecodedKey))
		}
		return errors.Join(errs...)
	}
	var run dataset.Run
	if err := json.Unmarshal(raw, &run); err != nil || run.UserID == "" || run.DatasetID == "" || run.Token == "" {
		return fmt.Errorf("validate-dataset: want an S3 event or {user_id, dataset_id, token}, got %.200s", raw)
	}
	h.log.Info("validation run", "dataset", run.DatasetID, "run", run.Token)
	return h.datasets.Validate(ctx, run)
}
