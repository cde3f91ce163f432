package job

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/money"
)

// Telemetry paging: the cluster serves at most 1000 points or lines a page;
// one poll stores at most maxPages of each (the rest comes next poll).
const (
	telemetryPageLimit = 1000
	maxPages           = 20
)

// Poll is poll-job. While the job holds GPUs (the cluster initializes or
// runs it) it keeps polling every PollInterval for up to budget_seconds
// (scaled, and kept clear of the Lambda's deadline), so metrics and the
// stage are at most one interval stale while the state machine makes few
// transitions. It returns at once on a final status, or while the cluster
// has not allocated GPUs yet (with a longer wait). Each poll stores new metrics, logs and checkpoints, updates the
// job, accrues cost and, if the user asked, cancels the job at the cluster.
func (r *Runner) Poll(ctx context.Context, in TaskInput) (PollOutput, error) {
	if err := in.check(); err != nil {
		return PollOutput{}, err
	}
	budgetSeconds := in.BudgetSeconds
	if budgetSeconds <= 0 {
		budgetSeconds = DefaultPollBudget
	}
	budget := time.Duration(float64(min(budgetSeconds, maxPollBudget)) * r.scale() * float64(time.Second))
	if dl, ok := ctx.Deadline(); ok {
		budget = max(0, min(budget, time.Until(dl)-pollDeadlineMargin))
	}
	end := r.now().Add(budget)
	ctx, cancel := bound(ctx)
	defer cancel()
	ps := &pollState{}
	var last PollOutput
	for i := 0; ; i++ {
		out, active, err := r.pollOnce(ctx, in, ps)
		if err != nil {
			if i == 0 || !transientPollError(err) {
				return PollOutput{}, err
			}
			// A later poll of this invocation failed: what is stored so far
			// stands; report the last status and let the next Poll retry.
			r.log().Warn("poll failed; returning the last status", "job", in.JobID, "error", err.Error())
			return last, nil
		}
		out.Polls = in.Polls + 1
		if !active {
			return out, nil
		}
		last = out
		if r.now().Add(r.interval()).After(end) {
			return out, nil
		}
		if err := r.sleep(ctx, r.interval()); err != nil {
			return out, nil
		}
	}
}

// transientPollError: worth returning the last status for, after a poll of
// the same invocation succeeded. The cluster forgetting the job, or the job
// vanishing, are reported at once.
func transientPollError(err error) bool {
	var nf *gpucluster.JobNotFound
	var jm *JobMissing
	var rj *gpucluster.Rejected
	return !errors.As(err, &nf) && !errors.As(err, &jm) && !errors.As(err, &rj)
}

type pollState struct {
	cancelSent bool // Cancel was sent to the cluster in this invocation
}

// pollOnce polls the cluster once and records what it says. active: the
// cluster initializes or runs the job, so polling again soon is worth it.
func (r *Runner) pollOnce(ctx context.Context, in TaskInput, ps *pollState) (out PollOutput, active bool, err error) {
	run, err := r.run(ctx, in)
	if err != nil {
		return PollOutput{}, false, err
	}
	j := run.Job
	if j.Status.Terminal() {
		// Ended outside this poll (cancelled while queued, marked failed).
		out := PollOutput{Status: string(j.Status)}
		if j.Status == StatusFailed && j.ErrorMessage != nil {
			out.Reason = *j.ErrorMessage
		}
		return out, false, nil
	}
	if j.ExternalJobID == nil {
		return PollOutput{}, false, &JobNotSubmitted{JobID: j.ID, Status: j.Status}
	}
	ext := *j.ExternalJobID
	st, err := r.Cluster.Status(ctx, ext)
	if err != nil {
		return PollOutput{}, false, err
	}
	if j.CancelRequested && !st.Status.Terminal() && !ps.cancelSent {
		if st, err = r.Cluster.Cancel(ctx, ext); err != nil {
			return PollOutput{}, false, err
		}
		ps.cancelSent = true
		r.log().Info("cancel sent to the cluster", "job", j.ID, "cluster_status", st.Status)
	}
	if err := r.storeTelemetry(ctx, run, ext); err != nil {
		return PollOutput{}, false, err
	}
	if run, err = r.recordProgress(ctx, in, run, st); err != nil {
		return PollOutput{}, false, err
	}
	if err := r.appendFeed(ctx, in); err != nil {
		return PollOutput{}, false, err
	}
	active = st.Status == gpucluster.StatusInitializing || st.Status == gpucluster.StatusRunning
	return r.pollResult(run.Job, st), active, nil
}

// pollResult turns the cluster's status into poll-job's answer.
func (r *Runner) pollResult(j Job, st gpucluster.Job) PollOutput {
	switch st.Status {
	case gpucluster.StatusQueued:
		return PollOutput{Status: PollQueued, WaitSeconds: r.wait(waitQueued)}
	case gpucluster.StatusInitializing:
		// The invocation polled for its budget: a short wait, as running.
		return PollOutput{Status: PollQueued, WaitSeconds: r.wait(waitRunning)}
	case gpucluster.StatusRunning:
		return PollOutput{Status: PollRunning, WaitSeconds: r.wait(waitRunning)}
	case gpucluster.StatusCompleted:
		return PollOutput{Status: PollCompleted}
	case gpucluster.StatusFailed:
		reason := "no reason given"
		if e := st.Error; e != nil {
			reason = e.Message
			if reason == "" {
				reason = e.Code
			}
		}
		return PollOutput{Status: PollFailed, Reason: reason}
	case gpucluster.StatusCancelled:
		if j.CancelRequested {
			return PollOutput{Status: PollCancelled}
		}
		return PollOutput{Status: PollFailed, Reason: "the GPU cluster cancelled the job"}
	}
	// A status this platform does not know: the state machine fails the job.
	return PollOutput{Status: string(st.Status)}
}

// storeTelemetry stores the metrics, logs and checkpoints after the job's
// cursors, then advances the cursors. A crash in between makes the next
// poll fetch and store the same items again, under the same keys.
func (r *Runner) storeTelemetry(ctx context.Context, run Run, ext string) error {
	jobID := run.Job.ID
	from := run.Cursor
	to := from
	var newPoints []MetricPoint
	for range maxPages {
		page, err := r.Cluster.Metrics(ctx, ext, to.MetricsAfter, telemetryPageLimit)
		if err != nil {
			return err
		}
		if len(page.Points) > 0 {
			points := make([]MetricPoint, len(page.Points))
			for i, p := range page.Points {
				points[i] = metricPoint(p)
				if p.Step > to.MetricsAfter && (i == 0 || p.Step != page.Points[i-1].Step) {
					to.MetricsCount++ // a new step (the cluster may repeat one)
				}
			}
			if err := r.Store.PutMetricPoints(ctx, jobID, points); err != nil {
				return err
			}
			newPoints = append(newPoints, points...)
		}
		to.MetricsAfter = max(to.MetricsAfter, page.NextAfterStep)
		if !page.HasMore || len(page.Points) == 0 {
			break
		}
	}
	// Before the cursors move: a crash in between re-fetches these points,
	// which the overview then skips (it knows the last step it holds).
	if err := r.extendOverview(ctx, jobID, newPoints); err != nil {
		return err
	}
	for range maxPages {
		page, err := r.Cluster.Logs(ctx, ext, to.LogCursor, telemetryPageLimit)
		if err != nil {
			return err
		}
		if len(page.Entries) > 0 {
			// Lines are numbered from the stored count: the same cursor
			// always gives the same entries, so a repeat numbers them alike.
			lines := make([]LogLine, len(page.Entries))
			for i, e := range page.Entries {
				lines[i] = LogLine{Seq: to.LogSeq + int64(i) + 1, Timestamp: e.Timestamp.UTC(), Level: e.Level, Message: e.Message}
			}
			if err := r.Store.PutLogLines(ctx, jobID, lines); err != nil {
				return err
			}
			to.LogSeq += int64(len(lines))
		}
		to.LogCursor = page.NextCursor
		if !page.HasMore || len(page.Entries) == 0 {
			break
		}
	}
	cps, err := r.Cluster.Checkpoints(ctx, ext)
	if err != nil {
		return err
	}
	var fresh []Checkpoint
	for _, c := range cps {
		if c.Step > from.CheckpointsAfter {
			fresh = append(fresh, Checkpoint{Step: c.Step, Epoch: c.Epoch, Loss: c.TrainingLoss, SizeBytes: c.SizeBytes, CreatedAt: c.CreatedAt.UTC()})
			to.CheckpointsAfter = max(to.CheckpointsAfter, c.Step)
		}
	}
	if len(fresh) > 0 {
		if err := r.Store.PutCheckpoints(ctx, jobID, fresh); err != nil {
			return err
		}
	}
	if to == from {
		return nil
	}
	// false: a concurrent poll advanced them; what we stored is the same.
	_, err = r.Store.AdvanceTelemetry(ctx, run.Job.UserID, jobID, from, to)
	return err
}

func metricPoint(p gpucluster.MetricsPoint) MetricPoint {
	gn, tp, gu := p.GradientNorm, p.Throughput, p.GPUUtilization
	return MetricPoint{Step: p.Step, Epoch: p.Epoch, Timestamp: p.Timestamp.UTC(), TrainingLoss: p.TrainingLoss, ValidationLoss: p.ValidationLoss,
		LearningRate: p.LearningRate, GradientNorm: &gn, Throughput: &tp, GPUUtilization: &gu}
}

// recordProgress writes the cluster's view onto the job: status
// (initializing → running once the cluster runs it), stage, progress,
// epoch/step, current metrics, ETA and the cost accrued since the last poll
// — compare-and-set on the accrued cost read, so exactly one writer adds
// each interval, and only that writer's events enter the outbox.
func (r *Runner) recordProgress(ctx context.Context, in TaskInput, run Run, st gpucluster.Job) (Run, error) {
	for range 3 {
		if st.BillableSeconds < run.Billable {
			// A concurrent poll stored a later view of the cluster than
			// ours: writing ours would only take the job back.
			return run, nil
		}
		p, evs, changed := r.progressOf(run, st)
		if !changed {
			return run, nil
		}
		ok, err := r.Store.RecordProgress(ctx, in.UserID, in.JobID, p, evs)
		if err != nil {
			return run, err
		}
		if ok {
			r.publish(ctx, in.JobID, evs)
			run.Job.Status, run.Job.CurrentStage, run.Accrued, run.Billable = p.ToStatus, p.Stage, p.Accrued, p.Billable
			return run, nil
		}
		// Another writer moved the job (a concurrent poll, a cancel): read
		// it again and recompute from what it wrote.
		if run, err = r.run(ctx, in); err != nil {
			return run, err
		}
		if run.Job.Status.Terminal() {
			return run, nil
		}
	}
	return run, apperr.New(apperr.Conflict, "job %s kept changing while its progress was recorded", in.JobID)
}

// progressOf computes a poll's update; changed is false when there is
// nothing new to write.
func (r *Runner) progressOf(run Run, st gpucluster.Job) (Progress, []Event, bool) {
	j := run.Job
	now := r.now()
	to := j.Status
	if j.Status == StatusInitializing && (st.Status == gpucluster.StatusRunning || st.Status == gpucluster.StatusCompleted) {
		to = StatusRunning
	}
	stage := j.CurrentStage
	if !st.Status.Terminal() && st.Stage != "" {
		stage = Stage(st.Stage) // a final job's stage is set when it is marked
	}
	accrued, billable := max(run.Accrued, CostOf(j, st.BillableSeconds)), max(run.Billable, st.BillableSeconds)
	p := Progress{FromStatus: j.Status, ToStatus: to, Stage: stage, Progress: max(j.Progress, st.Progress), Epoch: st.Epoch, Step: st.Step,
		Metrics: currentMetrics(st), EstimatedCompletionAt: st.EstimatedCompletionAt, FromAccrued: run.Accrued, Accrued: accrued, Billable: billable, Now: now}
	if p.Epoch == 0 {
		p.Epoch = j.CurrentEpoch
	}
	if p.Step < j.CurrentStep {
		p.Step = j.CurrentStep
	}
	var evs []Event
	if to != j.Status || stage != j.CurrentStage {
		evs = append(evs, statusEvent(j, to, stage, p.Epoch, p.Progress, now))
	}
	if accrued > run.Accrued {
		evs = append(evs, costEvent(j, run.Accrued, accrued, billable, now))
	}
	changed := len(evs) > 0 || p.Progress != j.Progress || p.Step != j.CurrentStep || p.Epoch != j.CurrentEpoch ||
		!sameMetrics(p.Metrics, j.CurrentMetrics) || !sameTime(p.EstimatedCompletionAt, j.EstimatedCompletionAt)
	return p, evs, changed
}

func currentMetrics(st gpucluster.Job) *Metrics {
	m := st.LatestMetrics
	if m == nil {
		return nil
	}
	tp, gu, tok := m.Throughput, m.GPUUtilization, m.TokensProcessed
	out := &Metrics{TrainingLoss: m.TrainingLoss, LearningRate: m.LearningRate, Throughput: &tp, GPUUtilization: &gu, TokensProcessed: &tok}
	if v := st.LatestValidationLoss; v != nil {
		vl := *v
		out.ValidationLoss = &vl
	}
	return out
}

func sameMetrics(a, b *Metrics) bool {
	if a == nil || b == nil {
		return a == b
	}
	eq := func(x, y *float64) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	return a.TrainingLoss == b.TrainingLoss && a.LearningRate == b.LearningRate && eq(a.ValidationLoss, b.ValidationLoss) &&
		eq(a.Throughput, b.Throughput) && eq(a.GPUUtilization, b.GPUUtilization) &&
		((a.TokensProcessed == nil && b.TokensProcessed == nil) || (a.TokensProcessed != nil && b.TokensProcessed != nil && *a.TokensProcessed == *b.TokensProcessed))
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// accrueFinal is the cost at the cluster's final billable seconds, if that
// adds to what was accrued.
func accrueFinal(run Run, st gpucluster.Job) (money.Amount, *float64) {
	if cost := CostOf(run.Job, st.BillableSeconds); cost > run.Accrued {
		b := st.BillableSeconds
		return cost, &b
	}
	return run.Accrued, nil
}

// extendOverview adds this poll's points to the stored overview;
// compare-and-set on its last step, so concurrent polls add each point once.
func (r *Runner) extendOverview(ctx context.Context, jobID string, points []MetricPoint) error {
	for range 3 {
		if len(points) == 0 {
			return nil
		}
		ov, err := r.Store.MetricsOverview(ctx, jobID)
		if err != nil {
			return err
		}
		next := ExtendOverview(ov, points, r.Downsample)
		if next.Through == ov.Through {
			return nil
		}
		ok, err := r.Store.PutMetricsOverview(ctx, jobID, next, ov.Through)
		if ok || err != nil {
			return err
		}
	}
	return nil // a concurrent poll keeps moving it: it carries the points
}

// ExtendOverview adds the points after ov's last step (points in step
// order) and, past OverviewMax points, reduces it to OverviewKeep with
// downsample, which keeps the first and last point, the loss extremes,
// every epoch boundary and validation point.
func ExtendOverview(ov Overview, points []MetricPoint, downsample func([]MetricPoint, int) []MetricPoint) Overview {
	next := Overview{Through: ov.Through, Points: slices.Clip(ov.Points)}
	for _, p := range points {
		if p.Step > next.Through {
			next.Points = append(next.Points, p)
			next.Through = p.Step
		}
	}
	if len(next.Points) > OverviewMax {
		next.Points = slices.Clone(downsample(next.Points, OverviewKeep))
	}
	return next
}
