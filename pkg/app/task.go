package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/brightrun/brightrun/pkg/job"
)

// TaskFunc is a training-workflow task as Lambda runs it.
type TaskFunc[O any] func(ctx context.Context, in job.TaskInput) (O, error)

// Task adapts one of the runner's tasks (Submit, Poll, …) to a Lambda
// handler. Its error is returned as it is, never wrapped: aws-lambda-go
// reports the Go type name as errorType, which the state machine's Retry
// and Catch match. The error is logged once, with that type.
func Task[O any](log *slog.Logger, name string, run TaskFunc[O]) TaskFunc[O] {
	return func(ctx context.Context, in job.TaskInput) (O, error) {
		out, err := run(ctx, in)
		if err != nil {
			log.Error(name+" failed", "job", in.JobID, "error_type", fmt.Sprintf("%T", err), "error", err.Error())
		}
		return out, err
	}
}

// NoOutput is a task that answers {} (MarkFailed, MarkCancelled).
func NoOutput(run func(ctx context.Context, in job.TaskInput) error) TaskFunc[struct{}] {
	return func(ctx context.Context, in job.TaskInput) (struct{}, error) { return struct{}{}, run(ctx, in) }
}
