package gpucluster

import (
	"time"

	"github.com/brightrun/brightrun/pkg/training"
)

// Status is a job's lifecycle status at the cluster (the spec's JobStatus,
// docs/gpu-cluster-api.md). It mirrors job.Status on purpose rather than
// sharing it: this is an external contract, and the runner maps it to our
// own status explicitly, so either side can change in one place.
type Status string

const (
	StatusQueued       Status = "queued"
	StatusInitializing Status = "initializing"
	StatusRunning      Status = "running"
	StatusCompleted    Status = "completed"
	StatusFailed       Status = "failed"
	StatusCancelled    Status = "cancelled"
)

// Terminal reports whether the status is final: completed, failed or
// cancelled.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// Stage is what a job is doing (the spec's JobStage). A running job cycles
// training → validating → saving once per epoch; the last saving is the
// final save.
type Stage string

const (
	StageQueued       Stage = "queued"
	StageInitializing Stage = "initializing"
	StageTraining     Stage = "training"
	StageValidating   Stage = "validating"
	StageSaving       Stage = "saving"
	StageCompleted    Stage = "completed"
)

// Log levels (the spec's LogLevel).
const (
	LevelInfo    = "INFO"
	LevelWarning = "WARNING"
	LevelError   = "ERROR"
)

// GPU is the hardware a job runs on: count GPUs of one catalog type.
type GPU struct {
	Type  string `json:"type"` // a training.GPU type, e.g. "A100-80GB"
	Count int    `json:"count"`
}

// Dataset tells the cluster where to fetch the training data and what it
// holds. URL is a presigned GET URL; it is not part of the submission's
// identity (a retried submit presigns again), the SHA-256 is.
type Dataset struct {
	URL                     string `json:"url"`
	SHA256                  string `json:"sha256,omitempty"` // hex; empty: not checked
	SizeBytes               int64  `json:"size_bytes"`
	Format                  string `json:"format,omitempty"` // e.g. "brightrun_lora_v4"
	TrainConversations      int    `json:"train_conversations"`
	ValidationConversations int    `json:"validation_conversations"`
	TotalTokens             int64  `json:"total_tokens"` // cl100k_base, both splits
	TokensExact             bool   `json:"tokens_exact"`
	TotalTurns              int64  `json:"total_turns,omitempty"` // 0: unknown
}

// SubmitRequest is the body of POST /v1/jobs. Submitting is idempotent on
// JobID: the same request again returns the same job; a different one for
// the same JobID is a Conflict. Every field but Dataset.URL counts.
type SubmitRequest struct {
	JobID           string                   `json:"job_id"` // ours
	BaseModel       string                   `json:"base_model"`
	Hyperparameters training.Hyperparameters `json:"hyperparameters"` // resolved: every field set
	GPU             GPU                      `json:"gpu"`
	Dataset         Dataset                  `json:"dataset"`
	// Our count of optimizer steps (training.Config.Steps); the cluster runs
	// these and echoes them in the job.
	StepsPerEpoch int `json:"steps_per_epoch"`
	TotalSteps    int `json:"total_steps"`
}

// NewSubmitRequest builds the submission of a resolved configuration on a
// dataset: steps from cfg.Steps, tokens and splits from the profile.
func NewSubmitRequest(jobID string, cfg training.Config, p training.DatasetProfile, datasetURL, datasetSHA256, format string) SubmitRequest {
	perEpoch, total := cfg.Steps(p.TrainConversations)
	h := cfg.JobConfig().Hyperparameters
	return SubmitRequest{
		JobID:           jobID,
		BaseModel:       cfg.Model.ID,
		Hyperparameters: h,
		GPU:             GPU{Type: cfg.GPU.Type, Count: cfg.NumGPUs},
		Dataset: Dataset{
			URL: datasetURL, SHA256: datasetSHA256, SizeBytes: p.SizeBytes, Format: format,
			TrainConversations: p.TrainConversations, ValidationConversations: p.ValidationConversations,
			TotalTokens: p.TotalTokens, TokensExact: p.TokensExact, TotalTurns: p.Turns,
		},
		StepsPerEpoch: perEpoch,
		TotalSteps:    total,
	}
}

// ErrorBody is the error object of every error response:
// {"error":{"code":"…","message":"…"}}.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// Job is the cluster's view of a job: the answer of submit, status and
// cancel.
type Job struct {
	ID        string `json:"id"`     // the cluster's id: use it in every other call
	JobID     string `json:"job_id"` // ours, as submitted
	BaseModel string `json:"base_model"`
	GPU       GPU    `json:"gpu"`

	Status        Status  `json:"status"`
	Stage         Stage   `json:"stage"`    // for failed and cancelled: the stage it stopped in
	Progress      float64 `json:"progress"` // 0–100: share of the run's expected duration elapsed (start-up included)
	Epoch         int     `json:"epoch"`    // the epoch in progress (1-based); 0 before training
	TotalEpochs   int     `json:"total_epochs"`
	Step          int     `json:"step"` // optimizer steps completed
	TotalSteps    int     `json:"total_steps"`
	StepsPerEpoch int     `json:"steps_per_epoch"`
	QueuePosition int     `json:"queue_position,omitempty"` // 1 = next; only while queued

	// ETASeconds is the time left until the job completes, and
	// EstimatedCompletionAt when; both null once the job is final.
	ETASeconds            *int64     `json:"eta_seconds"`
	EstimatedCompletionAt *time.Time `json:"estimated_completion_at"`

	CreatedAt  time.Time  `json:"created_at"`  // submitted
	StartedAt  *time.Time `json:"started_at"`  // left the queue: GPUs allocated, billing starts
	FinishedAt *time.Time `json:"finished_at"` // completed, failed or cancelled: billing stops
	// BillableSeconds is how long the GPUs have been held (started_at until
	// now or finished_at); GPU-seconds = billable_seconds × gpu.count.
	BillableSeconds float64 `json:"billable_seconds"`

	LatestMetrics        *MetricsPoint `json:"latest_metrics"`         // the newest point /metrics serves; null before the first
	LatestValidationLoss *float64      `json:"latest_validation_loss"` // null before the first validation

	Error *ErrorBody `json:"error,omitempty"` // failed only: why

	// Created is true when Submit's answer was 201 (created), false when
	// 200 (an earlier submission's job) — also when an earlier attempt of
	// the same, retried call created it. Not on the wire.
	Created bool `json:"-"`
}

// MetricsPoint is one optimizer step's metrics (the spec's MetricsPoint
// without our ids).
type MetricsPoint struct {
	Step            int       `json:"step"`
	Epoch           int       `json:"epoch"`
	Timestamp       time.Time `json:"timestamp"`
	TrainingLoss    float64   `json:"training_loss"`
	ValidationLoss  *float64  `json:"validation_loss"` // set on the last step of an epoch (when there is a validation split)
	LearningRate    float64   `json:"learning_rate"`
	GradientNorm    float64   `json:"gradient_norm"`   // before clipping
	Throughput      float64   `json:"throughput"`      // training tokens per second, summed over the GPUs
	GPUUtilization  float64   `json:"gpu_utilization"` // percent, averaged over the GPUs
	TokensProcessed int64     `json:"tokens_processed"`
}

// MetricsPage is the answer of GET /v1/jobs/{id}/metrics.
type MetricsPage struct {
	Points []MetricsPoint `json:"points"`
	// NextAfterStep is the after_step of the next call: the last point's
	// step, or the after_step asked when there was none.
	NextAfterStep int  `json:"next_after_step"`
	HasMore       bool `json:"has_more"` // more points are available now
}

// LogEntry is one log line (the spec's JobLog without our ids).
type LogEntry struct {
	Timestamp time.Time      `json:"timestamp"`
	Level     string         `json:"level"` // INFO, WARNING or ERROR
	Message   string         `json:"message"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// LogPage is the answer of GET /v1/jobs/{id}/logs.
type LogPage struct {
	Entries []LogEntry `json:"entries"`
	// NextCursor is the after of the next call (opaque): it follows the
	// last entry, or equals the after asked when there was none.
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

// Checkpoint is one saved checkpoint (one per epoch).
type Checkpoint struct {
	Name           string    `json:"name"` // "checkpoint-<step>"
	Step           int       `json:"step"`
	Epoch          int       `json:"epoch"`
	TrainingLoss   float64   `json:"training_loss"`
	ValidationLoss *float64  `json:"validation_loss"`
	SizeBytes      int64     `json:"size_bytes"`
	URI            string    `json:"uri"` // where the cluster keeps it (not downloadable through this API)
	CreatedAt      time.Time `json:"created_at"`
}

// CheckpointList is the answer of GET /v1/jobs/{id}/checkpoints.
type CheckpointList struct {
	Checkpoints []Checkpoint `json:"checkpoints"`
}

// Artifact is one output file of a completed job, with an expiring
// download URL (no bearer token: the URL is the credential).
type Artifact struct {
	Name        string    `json:"name"` // adapter_model.safetensors, adapter_config.json, tokenizer.json
	SizeBytes   int64     `json:"size_bytes"`
	SHA256      string    `json:"sha256"` // hex
	ContentType string    `json:"content_type"`
	URL         string    `json:"url"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// ArtifactList is the answer of GET /v1/jobs/{id}/artifacts.
type ArtifactList struct {
	Artifacts []Artifact `json:"artifacts"`
}

// Artifact file names.
const (
	FileAdapterModel  = "adapter_model.safetensors"
	FileAdapterConfig = "adapter_config.json"
	FileTokenizer     = "tokenizer.json"
)

// Error codes the cluster answers with.
const (
	CodeInvalidRequest      = "INVALID_REQUEST"      // 400
	CodeInvalidCursor       = "INVALID_CURSOR"       // 400
	CodeUnauthorized        = "UNAUTHORIZED"         // 401
	CodeURLExpired          = "URL_EXPIRED"          // 403: a download URL past its expiry
	CodeInvalidSignature    = "INVALID_SIGNATURE"    // 403: a download URL that was altered
	CodeJobNotFound         = "JOB_NOT_FOUND"        // 404
	CodeNotFound            = "NOT_FOUND"            // 404: no such route or file
	CodeIdempotencyConflict = "IDEMPOTENCY_CONFLICT" // 409: job_id reused with a different request
	CodeJobNotCompleted     = "JOB_NOT_COMPLETED"    // 409: artifacts of a job that has not completed
	CodeRateLimited         = "RATE_LIMITED"         // 429
	CodeInternal            = "INTERNAL"             // 500
	CodeUnavailable         = "UNAVAILABLE"          // 503
)
