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

// handle returns the runner's error as it is: aws-lambda-go reports its Go
// type name as errorType, which the state machine's Retry and Catch match.
func (h handler) handle(ctx context.Context, in job.TaskInput) (job.FinalizeOutput, error) {
	out, err := h.runner.Finalize(ctx, in)
	if err != nil {
		h.log.Error("finalize-job failed", "job", in.JobID, "error_type", fmt.Sprintf("%T", err), "error", err.Error())
		return job.FinalizeOutput{}, err
	}
	return out, nil
}
