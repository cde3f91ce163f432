package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/training"
)

// ModelStatusStored is a new model's status (the spec's ModelStatus STORED).
const ModelStatusStored = "stored"

// Model is a trained adapter (the spec's ModelArtifact), registered by
// finalize-job. QualityMetrics are left to the models feature.
type Model struct {
	ID              string             `json:"id"`
	UserID          string             `json:"user_id"`
	JobID           string             `json:"job_id"`
	DatasetID       string             `json:"dataset_id"`
	Name            string             `json:"name"`
	Version         string             `json:"version"`
	Description     *string            `json:"description"`
	Status          string             `json:"status"`
	TrainingSummary TrainingSummary    `json:"training_summary"`
	Configuration   ModelConfiguration `json:"configuration"`
	// ConfigHash fingerprints dataset-independent configuration (preset,
	// hyperparameters, GPU type and count) for versioning.
	ConfigHash    string        `json:"-"`
	Artifacts     ArtifactPaths `json:"artifacts"`
	Files         []Artifact    `json:"files"` // every copied file with its SHA-256
	ParentModelID *string       `json:"parent_model_id"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

// ModelConfiguration is the configuration snapshot of a model (the spec's
// JobConfiguration).
type ModelConfiguration struct {
	PresetID        training.PresetID        `json:"preset_id"`
	Hyperparameters training.Hyperparameters `json:"hyperparameters"`
	GPUConfig       training.GPUConfig       `json:"gpu_config"`
	DatasetName     string                   `json:"dataset_name"`
}

// ArtifactPaths are the spec's artifact keys and sizes.
type ArtifactPaths struct {
	AdapterModelPath  string    `json:"adapter_model_path"`
	AdapterConfigPath string    `json:"adapter_config_path"`
	TokenizerPath     string    `json:"tokenizer_path"`
	FileSizes         FileSizes `json:"file_sizes"`
}

// FileSizes are the artifact sizes in bytes.
type FileSizes struct {
	AdapterModel  int64 `json:"adapter_model"`
	AdapterConfig int64 `json:"adapter_config"`
	Tokenizer     int64 `json:"tokenizer"`
}

// TrainingSummary is the spec's TrainingSummary, from the job's last poll.
type TrainingSummary struct {
	DurationSeconds      float64      `json:"duration_seconds"` // billable GPU hold time
	TotalEpochs          int          `json:"total_epochs"`
	FinalLearningRate    float64      `json:"final_learning_rate"`
	GPUHours             float64      `json:"gpu_hours"`
	TotalCost            money.Amount `json:"total_cost"`
	AvgThroughput        *float64     `json:"avg_throughput,omitempty"` // the last reported tokens/s
	TotalTokensProcessed *int64       `json:"total_tokens_processed,omitempty"`
}

// finalize is finalize-job: it registers the model (USER#u / MODEL#m) and
// moves the job to completed with its final cost — the cost accrued, which
// is the sum of its CostAccrued events — in one transaction. A retry after
// the write answers the model id stored on the job.
func (r *Runner) finalize(ctx context.Context, in TaskInput) (FinalizeOutput, error) {
	if err := in.check(); err != nil {
		return FinalizeOutput{}, err
	}
	for range 3 {
		run, err := r.run(ctx, in)
		if err != nil {
			return FinalizeOutput{}, err
		}
		j := run.Job
		if j.ArtifactID != nil {
			return FinalizeOutput{ModelID: *j.ArtifactID}, nil
		}
		switch {
		case j.Status.Terminal():
			return FinalizeOutput{}, &JobAlreadyEnded{JobID: j.ID, Status: j.Status}
		case j.Status == StatusQueued:
			return FinalizeOutput{}, &JobNotSubmitted{JobID: j.ID, Status: j.Status}
		case len(run.Artifacts) == 0:
			return FinalizeOutput{}, &ArtifactsMissing{JobID: j.ID}
		}
		m, err := r.newModel(ctx, run)
		if err != nil {
			return FinalizeOutput{}, err
		}
		id := j.ID + ":completed"
		ev := Event{ID: id, Type: event.JobCompleted, At: m.CreatedAt, Detail: event.JobCompletedDetail{
			EventID: id, UserID: j.UserID, JobID: j.ID, DatasetID: j.DatasetID, ModelID: m.ID, ModelName: m.Name,
			FinalCostMicros: int64(run.Accrued), At: rfc3339(m.CreatedAt)}}
		ok, err := r.Store.CompleteJob(ctx, in.UserID, in.JobID, m, run.Accrued, []Event{ev})
		if err != nil {
			return FinalizeOutput{}, err
		}
		if ok {
			r.publish(ctx, in.JobID, []Event{ev})
			return FinalizeOutput{ModelID: m.ID}, nil
		}
	}
	return FinalizeOutput{}, apperr.New(apperr.Conflict, "job %s kept changing while it was finalized", in.JobID)
}

// newModel builds the model of a completed run. Its version is v1, or
// v<n+1> when the user already has n models of the same dataset and
// configuration fingerprint (two jobs finalized at the same moment may both
// count n: versions are labels, the id identifies).
func (r *Runner) newModel(ctx context.Context, run Run) (Model, error) {
	j := run.Job
	datasetName := j.DatasetID
	if d, err := r.Store.Dataset(ctx, j.UserID, j.DatasetID, false); err == nil {
		datasetName = d.Name
	} else if apperr.KindOf(err) != apperr.NotFound {
		return Model{}, err
	}
	hash := ConfigHash(j)
	n, err := r.Store.CountModelVersions(ctx, j.UserID, j.DatasetID, hash)
	if err != nil {
		return Model{}, err
	}
	now := r.now()
	m := Model{
		ID: r.NewID(), UserID: j.UserID, JobID: j.ID, DatasetID: j.DatasetID,
		Name:    fmt.Sprintf("%s – %s", datasetName, j.PresetID),
		Version: fmt.Sprintf("v%d", n+1), Status: ModelStatusStored,
		Configuration: ModelConfiguration{PresetID: j.PresetID, Hyperparameters: j.Hyperparameters, GPUConfig: j.GPUConfig, DatasetName: datasetName},
		ConfigHash:    hash, Files: run.Artifacts, CreatedAt: now, UpdatedAt: now,
	}
	for _, a := range run.Artifacts {
		switch a.Name {
		case gpucluster.FileAdapterModel:
			m.Artifacts.AdapterModelPath, m.Artifacts.FileSizes.AdapterModel = a.Key, a.SizeBytes
		case gpucluster.FileAdapterConfig:
			m.Artifacts.AdapterConfigPath, m.Artifacts.FileSizes.AdapterConfig = a.Key, a.SizeBytes
		case gpucluster.FileTokenizer:
			m.Artifacts.TokenizerPath, m.Artifacts.FileSizes.Tokenizer = a.Key, a.SizeBytes
		}
	}
	gpus := float64(max(1, j.GPUConfig.NumGPUs))
	m.TrainingSummary = TrainingSummary{DurationSeconds: run.Billable, TotalEpochs: j.TotalEpochs,
		GPUHours: run.Billable * gpus / 3600, TotalCost: run.Accrued}
	if cm := j.CurrentMetrics; cm != nil {
		m.TrainingSummary.FinalLearningRate = cm.LearningRate
		m.TrainingSummary.AvgThroughput, m.TrainingSummary.TotalTokensProcessed = cm.Throughput, cm.TokensProcessed
	}
	return m, nil
}

// ConfigHash fingerprints what makes two runs on a dataset the same
// configuration: preset, hyperparameters, GPU type and count (not the
// price).
func ConfigHash(j Job) string {
	b, _ := json.Marshal(struct {
		Preset training.PresetID        `json:"p"`
		H      training.Hyperparameters `json:"h"`
		GPU    string                   `json:"g"`
		N      int                      `json:"n"`
	}{j.PresetID, j.Hyperparameters, j.GPUConfig.GPUType, j.GPUConfig.NumGPUs})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// markFailed is mark-job-failed: any job not final becomes failed, with a
// readable message for the workflow's error, its completion time and its
// final cost. Unless the cluster already ended or forgot the job, it is
// cancelled there first (idempotent) so it stops costing GPU time, and its
// last billable seconds are accrued. A final job, or a missing one, is left
// as it is.
func (r *Runner) markFailed(ctx context.Context, in TaskInput) error {
	var te TaskError
	if in.Error != nil {
		te = *in.Error
	}
	msg := FailureMessage(te)
	cancel := te.Error != ErrTrainingFailed && te.Error != ErrJobNotFound
	return r.end(ctx, in, StatusFailed, msg, cancel, func(j Job, final money.Amount, now time.Time) Event {
		id := j.ID + ":failed"
		return Event{ID: id, Type: event.JobFailed, At: now, Detail: event.JobFailedDetail{EventID: id, UserID: j.UserID, JobID: j.ID,
			Error: te.Error, Message: msg, FinalCostMicros: int64(final), At: rfc3339(now)}}
	})
}

// markCancelled is mark-job-cancelled: the job becomes cancelled (the
// cluster job is cancelled too, idempotently, in case it still runs). A job
// cancelled already — by the API while it was queued — has JobCancelled
// published (same id, so consumers see it once).
func (r *Runner) markCancelled(ctx context.Context, in TaskInput) error {
	return r.end(ctx, in, StatusCancelled, "cancelled by the user", true, func(j Job, final money.Amount, now time.Time) Event {
		id := j.ID + ":cancelled"
		return Event{ID: id, Type: event.JobCancelled, At: now, Detail: event.JobCancelledDetail{EventID: id, UserID: j.UserID, JobID: j.ID,
			FinalCostMicros: int64(final), At: rfc3339(now)}}
	})
}

func (r *Runner) end(ctx context.Context, in TaskInput, to Status, msg string, cancelCluster bool, ended func(Job, money.Amount, time.Time) Event) error {
	if err := in.check(); err != nil {
		return err
	}
	var final *gpucluster.Job // the cluster's answer to Cancel
	for range 3 {
		run, err := r.run(ctx, in)
		var missing *JobMissing
		if errors.As(err, &missing) {
			r.log().Warn("no job to mark", "job", in.JobID, "to", to)
			return nil
		}
		if err != nil {
			return err
		}
		j := run.Job
		if j.Status.Terminal() {
			if j.Status == to && to == StatusCancelled {
				// Cancelled by the API before it started: no outbox held
				// its event. Publish it here; the id makes repeats harmless.
				ev := ended(j, deref(j.FinalCost), r.now())
				if err := r.Events.Put(ctx, ev.Type, ev.Detail); err != nil {
					r.log().Error("publish event", "job", j.ID, "event", ev.ID, "error", err.Error())
				}
			}
			return nil
		}
		if cancelCluster && final == nil && j.ExternalJobID != nil {
			cctx, cancel := context.WithTimeout(ctx, bestEffortCancel)
			cj, err := r.Cluster.Cancel(cctx, *j.ExternalJobID)
			cancel()
			cancelCluster = false // once per invocation
			if err != nil {
				// Best effort: marking the job must not wait on the cluster.
				r.log().Warn("cancel at the cluster", "job", j.ID, "error", err.Error())
			} else {
				final = &cj
			}
		}
		now := r.now()
		accrued, billable := run.Accrued, (*float64)(nil)
		if final != nil {
			accrued, billable = accrueFinal(run, *final)
		}
		var evs []Event
		if accrued > run.Accrued {
			evs = append(evs, costEvent(j, run.Accrued, accrued, *billable, now))
		}
		evs = append(evs, ended(j, accrued, now))
		e := Ending{To: to, FromAccrued: run.Accrued, Accrued: accrued, Billable: billable, Now: now}
		if strings.TrimSpace(msg) != "" {
			e.ErrorMessage = &msg
		}
		ok, err := r.Store.EndJob(ctx, in.UserID, in.JobID, e, evs)
		if err != nil {
			return err
		}
		if ok {
			r.publish(ctx, in.JobID, evs)
			r.log().Info("job ended", "job", j.ID, "status", to, "message", msg, "final_cost_micros", int64(accrued))
			return nil
		}
	}
	return apperr.New(apperr.Conflict, "job %s kept changing while it was marked %s", in.JobID, to)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Finalize is finalize-job (see finalize), then the feed.
func (r *Runner) Finalize(ctx context.Context, in TaskInput) (FinalizeOutput, error) {
	out, err := r.finalize(ctx, in)
	return out, r.thenFeed(ctx, in, err)
}

// MarkFailed is mark-job-failed (see markFailed), then the feed.
func (r *Runner) MarkFailed(ctx context.Context, in TaskInput) error {
	return r.thenFeed(ctx, in, r.markFailed(ctx, in))
}

// MarkCancelled is mark-job-cancelled (see markCancelled), then the feed.
func (r *Runner) MarkCancelled(ctx context.Context, in TaskInput) error {
	return r.thenFeed(ctx, in, r.markCancelled(ctx, in))
}

// MarkStopped is mark-stopped-job: the backstop for an execution of the
// training state machine that ended FAILED, TIMED_OUT or ABORTED (an
// EventBridge rule on Step Functions' status changes). The machine's own
// Catch marks a job failed before its execution fails, so for the usual
// failure the job is final already and nothing changes; a job left
// initializing or running — by a StopExecution, the execution timeout or
// an uncatchable States.Runtime error — is marked failed here and its
// cluster job cancelled. The execution's input names the job.
func (r *Runner) MarkStopped(ctx context.Context, d event.ExecutionStatusChangeDetail) error {
	if !slices.Contains(event.StoppedStatuses, d.Status) {
		return nil // not a stop (a rule or a replay sent something else)
	}
	var in TaskInput
	if d.Input == nil || json.Unmarshal([]byte(*d.Input), &in) != nil {
		return &InvalidTaskInput{Message: "execution " + d.Name + " has no readable input"}
	}
	te := TaskError{Error: "States." + d.Status}
	if d.Error != nil && *d.Error != "" {
		te.Error = *d.Error
	}
	if d.Cause != nil {
		te.Cause = *d.Cause
	}
	in.Error = &te
	return r.MarkFailed(ctx, in)
}
