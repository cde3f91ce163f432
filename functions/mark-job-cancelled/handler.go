package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/brightrun/brightrun/pkg/job"
)

type handler struct {
	runner *job.Runner
	log    *slog.Logger
}

// handle answers {}; an error is returned as it is (its Go type name is
// the errorType the state machine sees).
func (h handler) handle(ctx context.Context, in job.TaskInput) (struct{}, error) {
	if err := h.runner.MarkCancelled(ctx, in); err != nil {
		h.log.Error("mark-job-cancelled failed", "job", in.JobID, "error_type", fmt.Sprintf("%T", err), "error", err.Error())
		return struct{}{}, err
	}
	return struct{}{}, nil
}
