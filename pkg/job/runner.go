package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/training"
)

// The Runner carries out the training workflow's tasks
// (statemachine/training.asl.json): submit-job, poll-job, copy-artifacts,
// finalize-job, mark-job-failed and mark-job-cancelled. Every task is safe
// to repeat — Step Functions retries them, and a Lambda may die between any
// two writes:
//
//   - status changes are conditional writes (status = :from), so a repeated
//     transition changes nothing;
//   - telemetry is stored under the cluster's own numbering (steps, log
//     sequence from a stored cursor, checkpoint steps) and the cursors on the
//     job advance only after the items are written;
//   - cost accrues by compare-and-set on the job's costAccrued (from the
//     value read), so each micro-dollar is added by exactly one write;
//   - every event is written to an outbox on the job item in the same
//     conditional write as the change it reports, published by its writer,
//     then removed; a task finding one left over (older than LeftoverAge:
//     its writer died, or the bus was down) publishes it with the same
//     EventID. Delivery is still at least once (EventBridge's own is), so
//     consumers deduplicate on event_id.
//
// Errors are the named types of runner_errors.go and gpucluster's, never
// wrapped, because Step Functions matches the Go type name.
type Runner struct {
	Store   RunStore
	Cluster Cluster
	Objects Objects
	Events  Publisher
	// ModelsBucket receives the artifacts under models/<user>/<job>/.
	ModelsBucket string
	// PollInterval is how often poll-job asks the cluster while a job runs
	// (POLL_INTERVAL_SECONDS; default 20 s). It also sets poll-job's time
	// scale, PollInterval ÷ 20 s, which multiplies the budget_seconds the
	// workflow passes (the local stack polls every second against a 100×
	// simulator: a 12 s budget). The wait_seconds the tasks return are not
	// scaled: they are the state machine's, and the local interpreter
	// scales its Wait states itself (BRIGHTRUN_WAIT_SCALE = 1/time scale);
	// scaling them here too made it poll the cluster ~40 times a second
	// while a job initialised.
	PollInterval time.Duration
	// Downsample reduces a metric history keeping its shape
	// (pkg/series.Downsample); it keeps the metrics overview small.
	Downsample func(points []MetricPoint, max int) []MetricPoint
	// LeftoverAge is how old an outbox event must be before a task other
	// than its writer publishes it (default DefaultLeftoverAge).
	LeftoverAge time.Duration
	Now         func() time.Time
	// Sleep waits between polls; nil: a timer that ends early with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	NewID func() string
	Log   *slog.Logger
}

// RunStore is what the runner needs from the table (pkg/dynamo).
type RunStore interface {
	// JobRun reads the job with the runner's state (consistent read);
	// NotFound for a missing job or another user's.
	JobRun(ctx context.Context, userID, jobID string) (Run, error)
	// Dataset reads the job's dataset (NotFound once deleted).
	Dataset(ctx context.Context, userID, id string, withReport bool) (dataset.Dataset, error)
	// MarkSubmitted stores the cluster's id, the EXTJOB lookup, and moves
	// the job queued → initializing (startedAt, stage), with events; false
	// if the job was no longer queued.
	MarkSubmitted(ctx context.Context, userID, jobID, externalID string, stage Stage, now time.Time, evs []Event) (bool, error)
	// NoteExternalID records the cluster's id (and lookup) on a job that is
	// no longer queued, so a later task can still cancel the cluster job.
	NoteExternalID(ctx context.Context, userID, jobID, externalID string, now time.Time) error
	// Telemetry, idempotent by the cluster's numbering.
	PutMetricPoints(ctx context.Context, jobID string, points []MetricPoint) error
	PutLogLines(ctx context.Context, jobID string, lines []LogLine) error
	PutCheckpoints(ctx context.Context, jobID string, cps []Checkpoint) error
	// AdvanceTelemetry moves the cursors from → to; false if they were not
	// at from (a concurrent poll moved them).
	AdvanceTelemetry(ctx context.Context, userID, jobID string, from, to Cursor) (bool, error)
	// RecordProgress writes a poll's view of the job, if its status is
	// still p.FromStatus and its accrued cost still p.FromAccrued; false
	// otherwise.
	RecordProgress(ctx context.Context, userID, jobID string, p Progress, evs []Event) (bool, error)
	// MetricsOverview and PutMetricsOverview read and write the job's
	// metrics overview (put: if it still ends at fromThrough).
	MetricsOverview(ctx context.Context, jobID string) (Overview, error)
	PutMetricsOverview(ctx context.Context, jobID string, ov Overview, fromThrough int) (bool, error)
	// MetricPoints and LogLinesAfter read stored telemetry after a step or
	// line, in order (consistent reads); AppendFeed appends feed entries
	// and the feed's new state if the feed still ends at fromSeq.
	MetricPoints(ctx context.Context, jobID string, afterStep, limit int) ([]MetricPoint, error)
	LogLinesAfter(ctx context.Context, jobID string, afterSeq int64, limit int) ([]LogLine, error)
	AppendFeed(ctx context.Context, userID, jobID string, fromSeq int64, state FeedState, entries []FeedEntry) (bool, error)
	// AckEvents removes published events from the job's outbox.
	AckEvents(ctx context.Context, jobID string, ids []string) error
	// SaveArtifacts records the copied files on the job.
	SaveArtifacts(ctx context.Context, userID, jobID string, arts []Artifact, now time.Time) error
	// CountModelVersions counts the user's live models of a dataset and
	// configuration fingerprint.
	CountModelVersions(ctx context.Context, userID, datasetID, configHash string) (int, error)
	// CompleteJob writes the model and moves the job initializing/running →
	// completed with artifactId and the final cost, if its accrued cost is
	// still fromAccrued; false otherwise.
	CompleteJob(ctx context.Context, userID, jobID string, m Model, fromAccrued money.Amount, evs []Event) (bool, error)
	// EndJob moves a job that is not final to e.To (failed or cancelled);
	// false if it is final already or its accrued cost changed.
	EndJob(ctx context.Context, userID, jobID string, e Ending, evs []Event) (bool, error)
}

// Cluster is the GPU cluster's client (pkg/gpucluster.Client). Its errors
// are typed and are returned unchanged.
type Cluster interface {
	Submit(ctx context.Context, req gpucluster.SubmitRequest) (gpucluster.Job, error)
	Status(ctx context.Context, id string) (gpucluster.Job, error)
	Metrics(ctx context.Context, id string, afterStep, limit int) (gpucluster.MetricsPage, error)
	Logs(ctx context.Context, id, after string, limit int) (gpucluster.LogPage, error)
	Checkpoints(ctx context.Context, id string) ([]gpucluster.Checkpoint, error)
	Cancel(ctx context.Context, id string) (gpucluster.Job, error)
	Artifacts(ctx context.Context, id string) ([]gpucluster.Artifact, error)
	Download(ctx context.Context, url string, offset int64) (io.ReadCloser, error)
}

// Objects is S3 (pkg/blob).
type Objects interface {
	// PresignGet returns a download URL of an object.
	PresignGet(ctx context.Context, bucket, key, filename string, ttl time.Duration) (string, error)
	// StatObject returns an object's size and recorded SHA-256; found is
	// false if there is no such object.
	StatObject(ctx context.Context, bucket, key string) (info ObjectInfo, found bool, err error)
	// PutVerified streams r (size bytes) to the object, computing its
	// SHA-256 on the way, and stores it — with the checksum as metadata —
	// only if the bytes match sha256 and size; else it returns
	// *ChecksumMismatch and nothing is stored.
	PutVerified(ctx context.Context, bucket, key string, r io.Reader, size int64, contentType, sha256 string) error
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Size   int64
	SHA256 string // from the object's metadata; "" if none
}

// Publisher puts an event on the bus (pkg/eventbus.Bus).
type Publisher interface {
	Put(ctx context.Context, detailType string, detail any) error
}

// Run is a job with the workflow's bookkeeping.
type Run struct {
	Job       Job
	Cursor    Cursor
	Accrued   money.Amount // compute cost accrued so far (= Job.CurrentCost)
	Billable  float64      // the latest billable seconds recorded (the cost is priced from it)
	Artifacts []Artifact   // copied by copy-artifacts
	Outbox    []Event      // written but not yet acknowledged as published
	Feed      FeedState    // what the job's feed has reported (feed.go)
}

// Cursor is how far the job's telemetry has been stored.
type Cursor struct {
	MetricsAfter     int    // the cluster's next_after_step
	MetricsCount     int    // metric points stored (distinct steps)
	LogCursor        string // the cluster's next_cursor ("" = from the start)
	LogSeq           int64  // log lines stored so far: the next line is LogSeq+1
	CheckpointsAfter int    // the last stored checkpoint's step
}

// Event is an event in the job's outbox. Detail is an event.*Detail when
// written; read back from the store it is the JSON (json.RawMessage).
type Event struct {
	ID     string
	Type   string
	Detail any
	At     time.Time
}

// Artifact is a model file copied to the models bucket.
type Artifact struct {
	Name        string `json:"name"`
	Key         string `json:"key"` // object key in the models bucket
	SizeBytes   int64  `json:"size_bytes"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type,omitempty"`
}

// Progress is one poll's update of a running job.
type Progress struct {
	FromStatus, ToStatus  Status
	Stage                 Stage
	Progress              float64
	Epoch, Step           int
	Metrics               *Metrics
	EstimatedCompletionAt *time.Time
	FromAccrued, Accrued  money.Amount
	Billable              float64
	Now                   time.Time
}

// Ending is a job's move to failed or cancelled.
type Ending struct {
	To                   Status
	ErrorMessage         *string
	FromAccrued, Accrued money.Amount
	Billable             *float64 // the cluster's final billable seconds, if known
	Now                  time.Time
}

// The task payloads (pkg/workflow/contract has the state machine's side).

// TaskInput is every task's input: {job_id, user_id} plus continued
// (submit-job, poll-job), polls and budget_seconds (poll-job), error
// (mark-job-failed).
type TaskInput struct {
	JobID         string     `json:"job_id"`
	UserID        string     `json:"user_id"`
	Continued     int        `json:"continued,omitempty"`
	Polls         int        `json:"polls,omitempty"`
	BudgetSeconds int        `json:"budget_seconds,omitempty"`
	Error         *TaskError `json:"error,omitempty"`
}

// TaskError is the {Error, Cause} Step Functions caught.
type TaskError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// SubmitOutput is submit-job's answer.
type SubmitOutput struct {
	Status      string `json:"status"`
	WaitSeconds int    `json:"wait_seconds"`
}

// Statuses poll-job reports (the state machine's Choice knows these five).
const (
	PollQueued    = "queued" // the cluster's queued and initializing
	PollRunning   = "running"
	PollCompleted = "completed"
	PollFailed    = "failed"
	PollCancelled = "cancelled"
)

// PollOutput is poll-job's answer. Polls is the input's polls + 1 (this
// Poll state included); Reason is the cluster's failure reason.
type PollOutput struct {
	Status      string `json:"status"`
	WaitSeconds int    `json:"wait_seconds"`
	Polls       int    `json:"polls"`
	Reason      string `json:"reason,omitempty"`
}

// CopyOutput is copy-artifacts' answer.
type CopyOutput struct {
	Artifacts int `json:"artifacts"`
}

// FinalizeOutput is finalize-job's answer.
type FinalizeOutput struct {
	ModelID string `json:"model_id"`
}

// Timing. The waits are the state machine's seconds, as returned.
const (
	DefaultPollInterval = 20 * time.Second
	DefaultPollBudget   = 240 // budget_seconds when the input has none
	maxPollBudget       = 840
	waitQueued          = 60 // s: the cluster has not allocated GPUs yet
	waitInitializing    = 30 // s: allocated, starting up
	waitRunning         = 5  // s: between budgeted poll invocations
	// pollDeadlineMargin is kept free before the Lambda's deadline for the
	// last iteration's writes (real time, not scaled).
	pollDeadlineMargin = 45 * time.Second
	// deadlineReserve: a task's calls end this long before the Lambda's
	// deadline, so a slow cluster becomes a returned ClusterUnavailable
	// (which the state machine retries) instead of a killed sandbox.
	deadlineReserve = 5 * time.Second
	// bestEffortCancel bounds the cluster cancel of mark-job-failed and
	// mark-job-cancelled: marking the job must not wait on an outage.
	bestEffortCancel = 15 * time.Second
	// DatasetURLTTL is how long the cluster may take to fetch the dataset.
	DatasetURLTTL = time.Hour
)

func (r *Runner) interval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultPollInterval
}

// scale is the runner's time scale: 1 in production.
func (r *Runner) scale() float64 {
	return float64(r.interval()) / float64(DefaultPollInterval)
}

// wait is a wait_seconds: whole seconds, as ASL wants, never scaled.
func (r *Runner) wait(seconds int) int { return seconds }

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bound ends ctx deadlineReserve before its deadline, if it has one.
func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-deadlineReserve))
	}
	return context.WithCancel(ctx)
}

func (in TaskInput) check() error {
	if in.JobID == "" || in.UserID == "" {
		return &InvalidTaskInput{Message: "job_id and user_id are required"}
	}
	return nil
}

// DefaultLeftoverAge: the writer of an event publishes it and acknowledges
// it within a few seconds of its write. A task reading the outbox in
// between — a poll-job still running after its execution was stopped,
// while mark-stopped-job publishes the job's end — must leave the event to
// its writer, or it goes out twice. One still there after this long is a
// leftover: its writer died or the bus was down.
const DefaultLeftoverAge = 30 * time.Second

func (r *Runner) leftoverAge() time.Duration {
	if r.LeftoverAge > 0 {
		return r.LeftoverAge
	}
	return DefaultLeftoverAge
}

// run reads the job and publishes its outbox's leftovers; events younger
// than LeftoverAge stay in run.Outbox for their writer.
func (r *Runner) run(ctx context.Context, in TaskInput) (Run, error) {
	run, err := r.Store.JobRun(ctx, in.UserID, in.JobID)
	if apperr.KindOf(err) == apperr.NotFound {
		return Run{}, &JobMissing{JobID: in.JobID}
	}
	if err != nil {
		return Run{}, err
	}
	if len(run.Outbox) == 0 {
		return run, nil
	}
	var leftovers, young []Event
	for _, e := range run.Outbox {
		if r.now().Sub(e.At) >= r.leftoverAge() {
			leftovers = append(leftovers, e)
		} else {
			young = append(young, e)
		}
	}
	if len(leftovers) > 0 {
		r.publish(ctx, in.JobID, leftovers)
	}
	run.Outbox = young
	return run, nil
}

// publish puts events on the bus in order and removes the published ones
// from the outbox. A failure is logged, not returned: the state change is
// committed and the event stays in the outbox for the next task (or the
// sweeper) to publish with the same id. Failing the task instead would fail
// the training job over a bus outage.
func (r *Runner) publish(ctx context.Context, jobID string, evs []Event) {
	evs = append([]Event(nil), evs...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	var done []string
	for _, e := range evs {
		if err := r.Events.Put(ctx, e.Type, e.Detail); err != nil {
			r.log().Error("publish event", "job", jobID, "event", e.ID, "type", e.Type, "error", err.Error())
			break
		}
		done = append(done, e.ID)
	}
	if len(done) == 0 {
		return
	}
	if err := r.Store.AckEvents(ctx, jobID, done); err != nil {
		r.log().Warn("acknowledge events (they will be published again, same ids)", "job", jobID, "error", err.Error())
	}
}

// FlushEvents publishes the job's outbox's leftovers; for a sweeper that
// finds events a finished workflow could not publish.
func (r *Runner) FlushEvents(ctx context.Context, userID, jobID string) error {
	_, err := r.run(ctx, TaskInput{JobID: jobID, UserID: userID})
	return err
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// statusEvent reports a status or stage change of j.
func statusEvent(j Job, to Status, stage Stage, epoch int, progress float64, now time.Time) Event {
	id := fmt.Sprintf("%s:status:%s", j.ID, to)
	if to == j.Status {
		id = fmt.Sprintf("%s:stage:%d:%s", j.ID, epoch, stage)
	}
	return Event{ID: id, Type: event.JobStatusChanged, At: now, Detail: event.JobStatusChangedDetail{
		EventID: id, UserID: j.UserID, JobID: j.ID, FromStatus: string(j.Status), ToStatus: string(to),
		FromStage: string(j.CurrentStage), ToStage: string(stage), Progress: progress, At: rfc3339(now),
	}}
}

// pricePerGPUHour is the job's price (stored at creation), else the catalog's.
func pricePerGPUHour(j Job) money.Amount {
	if p := j.GPUConfig.CostPerGPUHour; p != nil {
		if a, err := money.Dollars(*p); err == nil {
			return a
		}
	}
	if g, ok := training.GPUByType(j.GPUConfig.GPUType); ok {
		return g.PricePerGPUHour
	}
	return 0
}

// CostOf is the compute cost of billable seconds of the job's GPUs:
// billable × price per GPU-hour × GPUs ÷ 3600, rounded to a micro-dollar.
func CostOf(j Job, billableSeconds float64) money.Amount {
	n := max(1, j.GPUConfig.NumGPUs)
	return money.Amount(math.Round(billableSeconds * float64(pricePerGPUHour(j)) * float64(n) / 3600))
}

// costEvent reports the cost accrued from → to at the billable mark. Its
// id holds the mark and the new total: the compare-and-set on the total
// makes every accrual's total distinct, so the id is unique per accrual
// and the same when the outbox publishes it again.
func costEvent(j Job, from, to money.Amount, billable float64, now time.Time) Event {
	id := fmt.Sprintf("%s:cost:%d:%d", j.ID, int64(math.Round(billable*1000)), int64(to))
	return Event{ID: id, Type: event.CostAccrued, At: now, Detail: event.CostAccruedDetail{
		EventID: id, UserID: j.UserID, JobID: j.ID, AmountMicros: int64(to - from), TotalMicros: int64(to),
		BillableSeconds: billable, GPUType: j.GPUConfig.GPUType, NumGPUs: max(1, j.GPUConfig.NumGPUs),
		PricePerGPUHourMicros: int64(pricePerGPUHour(j)), At: rfc3339(now),
	}}
}

// submit is submit-job: it sends a queued job to the cluster (idempotent on
// our job id there), stores the cluster's id and moves the job to
// initializing. A job already submitted is answered from the table without
// submitting again; one cancelled meanwhile answers "cancelled" (after
// cancelling the cluster job if this submit raced the cancel).
func (r *Runner) submit(ctx context.Context, in TaskInput) (SubmitOutput, error) {
	if err := in.check(); err != nil {
		return SubmitOutput{}, err
	}
	ctx, cancel := bound(ctx)
	defer cancel()
	for range 3 {
		run, err := r.run(ctx, in)
		if err != nil {
			return SubmitOutput{}, err
		}
		j := run.Job
		switch {
		case j.Status == StatusInitializing || j.Status == StatusRunning:
			return SubmitOutput{Status: string(j.Status), WaitSeconds: r.wait(waitInitializing)}, nil
		case j.Status == StatusCancelled && j.ExternalJobID != nil:
			// Cancelled while an earlier attempt submitted: stop that run.
			if _, err := r.Cluster.Cancel(ctx, *j.ExternalJobID); err != nil {
				return SubmitOutput{}, err
			}
			return SubmitOutput{Status: string(j.Status)}, nil
		case j.Status.Terminal():
			return SubmitOutput{Status: string(j.Status)}, nil
		}
		req, err := r.submitRequest(ctx, j)
		if err != nil {
			return SubmitOutput{}, err
		}
		cj, err := r.Cluster.Submit(ctx, req)
		if err != nil {
			return SubmitOutput{}, err
		}
		now := r.now()
		stage := StageQueued // the cluster's queue: waiting for GPUs
		if cj.Stage != "" && !cj.Status.Terminal() {
			stage = Stage(cj.Stage)
		}
		ev := statusEvent(j, StatusInitializing, stage, 0, cj.Progress, now)
		ok, err := r.Store.MarkSubmitted(ctx, in.UserID, in.JobID, cj.ID, stage, now, []Event{ev})
		if err != nil {
			return SubmitOutput{}, err
		}
		if ok {
			r.publish(ctx, in.JobID, []Event{ev})
			r.log().Info("submitted", "job", in.JobID, "cluster_job", cj.ID, "created", cj.Created)
			wait := waitInitializing
			if stage == StageQueued {
				wait = waitQueued
			}
			return SubmitOutput{Status: string(StatusInitializing), WaitSeconds: r.wait(wait)}, nil
		}
		// The job left queued while we submitted: most likely a cancel.
		// Record the cluster's id so the cancel below (or a retry) can stop it.
		if err := r.Store.NoteExternalID(ctx, in.UserID, in.JobID, cj.ID, now); err != nil {
			return SubmitOutput{}, err
		}
	}
	return SubmitOutput{}, apperr.New(apperr.Conflict, "job %s kept changing while it was submitted", in.JobID)
}

// submitRequest builds the submission from the job's stored configuration,
// resolved again against the dataset (the same request as at creation, so
// the cluster's idempotency recognises a repeat).
func (r *Runner) submitRequest(ctx context.Context, j Job) (gpucluster.SubmitRequest, error) {
	d, err := r.Store.Dataset(ctx, j.UserID, j.DatasetID, false)
	if apperr.KindOf(err) == apperr.NotFound {
		return gpucluster.SubmitRequest{}, &DatasetUnavailable{DatasetID: j.DatasetID, Reason: "deleted"}
	}
	if err != nil {
		return gpucluster.SubmitRequest{}, err
	}
	profile := training.ProfileOf(d)
	cfg, _, err := training.Resolve(training.Request{
		DatasetID: j.DatasetID, PresetID: j.PresetID, Hyperparameters: j.Hyperparameters.Input(),
		// Price and memory are left out: the run is priced as stored on the
		// job, and a catalog price change must not fail a queued job.
		GPUConfig: training.GPUConfig{GPUType: j.GPUConfig.GPUType, NumGPUs: j.GPUConfig.NumGPUs},
	}, profile)
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Kind == apperr.Invalid {
			return gpucluster.SubmitRequest{}, &JobConfigInvalid{JobID: j.ID, Err: err}
		}
		return gpucluster.SubmitRequest{}, err
	}
	url, err := r.Objects.PresignGet(ctx, d.StorageBucket, d.StoragePath, "", DatasetURLTTL)
	if err != nil {
		return gpucluster.SubmitRequest{}, err
	}
	var sha, format string
	if d.SHA256 != nil {
		sha = *d.SHA256
	}
	if d.Format != nil {
		format = string(*d.Format)
	}
	return gpucluster.NewSubmitRequest(j.ID, cfg, profile, url, sha, format), nil
}

// Submit is submit-job (see submit), then the feed.
func (r *Runner) Submit(ctx context.Context, in TaskInput) (SubmitOutput, error) {
	out, err := r.submit(ctx, in)
	return out, r.thenFeed(ctx, in, err)
}
