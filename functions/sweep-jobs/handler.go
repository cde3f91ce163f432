package main

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/job"
)

type handler struct {
	sweeper *job.Sweeper
	log     *slog.Logger
}

// handle sweeps once, whatever the event (a scheduled event carries
// nothing the sweep needs). An error makes the asynchronous invocation
// retry; sweeping twice changes nothing twice.
func (h handler) handle(ctx context.Context, ev events.CloudWatchEvent) (job.SweepReport, error) {
	rep, err := h.sweeper.Sweep(ctx)
	attrs := []any{"event", ev.ID, "checked", rep.Checked, "dropped", rep.Dropped,
		"failed", rep.Failed, "continued", rep.Continued, "errors", rep.Errors, "incomplete", rep.Incomplete}
	if err != nil {
		h.log.Error("sweep failed", append(attrs, "error", err.Error())...)
		return rep, err
	}
	switch {
	case rep.Incomplete:
		h.log.Warn("sweep ran out of time; the next one starts over", attrs...)
	case rep.Dropped+rep.Failed+rep.Continued > 0:
		h.log.Info("sweep done", attrs...)
	default: // the usual sweep: every 9 s locally
		h.log.Debug("sweep done, nothing to do", attrs...)
	}
	return rep, nil
}
