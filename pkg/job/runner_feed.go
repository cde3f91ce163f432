package job

import (
	"context"
	"errors"
)

// How much telemetry one append carries at most (a transaction holds 4 MB
// and 100 items); a larger backlog is caught up by the next appends.
const (
	feedPointsPerAppend = 5000
	feedLinesPerAppend  = 1000
)

// appendFeed brings the job's feed up to date with the job: it reads the
// job, the metric points and log lines the feed has not reported yet, and
// appends the difference with the feed's new state in one conditional
// transaction. Each task calls it after the changes it commits; calling it
// again changes nothing. A concurrent append makes it read again.
func (r *Runner) appendFeed(ctx context.Context, in TaskInput) error {
	for range 3 {
		run, err := r.run(ctx, in)
		var missing *JobMissing
		if errors.As(err, &missing) {
			return nil
		}
		if err != nil {
			return err
		}
		s, c := run.Feed, run.Cursor
		var t FeedTelemetry
		if c.MetricsAfter > s.MetricsStep {
			if t.Points, err = r.Store.MetricPoints(ctx, in.JobID, s.MetricsStep, feedPointsPerAppend); err != nil {
				return err
			}
			if n := len(t.Points); n == feedPointsPerAppend {
				c.MetricsAfter = t.Points[n-1].Step // the rest next time
			}
		}
		if c.LogSeq > s.LogSeq {
			if t.Lines, err = r.Store.LogLinesAfter(ctx, in.JobID, s.LogSeq, feedLinesPerAppend); err != nil {
				return err
			}
			if n := len(t.Lines); n == feedLinesPerAppend {
				c.LogSeq = t.Lines[n-1].Seq
			}
		}
		entries, next := feedDiff(s, run.Job, c, t, r.now())
		if len(entries) == 0 {
			return nil
		}
		ok, err := r.Store.AppendFeed(ctx, in.UserID, in.JobID, s.Seq, next, entries)
		if err != nil || ok {
			return err
		}
	}
	return nil // a concurrent writer keeps appending: it carries the feed on
}

// thenFeed appends to the feed after a task's changes succeeded.
func (r *Runner) thenFeed(ctx context.Context, in TaskInput, err error) error {
	if err != nil {
		return err
	}
	return r.appendFeed(ctx, in)
}
