package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/job"
)

type handler struct {
	runner *job.Runner
	log    *slog.Logger
}

// handle marks the stopped execution's job; an error makes EventBridge's
// asynchronous invocation retry (marking is idempotent).
func (h handler) handle(ctx context.Context, ev events.CloudWatchEvent) error {
	if ev.Source != event.StepFunctionsSource || ev.DetailType != event.ExecutionStatusChange {
		h.log.Warn("not a Step Functions status change; ignored", "source", ev.Source, "detail_type", ev.DetailType)
		return nil
	}
	var d event.ExecutionStatusChangeDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return fmt.Errorf("status change %s: %w", ev.ID, err)
	}
	if err := h.runner.MarkStopped(ctx, d); err != nil {
		h.log.Error("mark-stopped-job failed", "execution", d.ExecutionArn, "status", d.Status, "error_type", fmt.Sprintf("%T", err), "error", err.Error())
		return err
	}
	h.log.Info("stopped execution handled", "execution", d.ExecutionArn, "status", d.Status)
	return nil
}
