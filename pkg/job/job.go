// Package job is the training job lifecycle: creation (validated and priced
// exactly as the estimate), cancel, and the state changes the workflow's
// tasks make. Every status change is a conditional write in the store.
package job

import (
	"time"

	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/training"
)

// Status is the job's lifecycle state (the spec's JobStatus).
type Status string

const (
	StatusQueued       Status = "queued"
	StatusInitializing Status = "initializing"
	StatusRunning      Status = "running"
	StatusCompleted    Status = "completed"
	StatusFailed       Status = "failed"
	StatusCancelled    Status = "cancelled"
)

// Terminal reports whether nothing can happen to the job any more.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// Stage is where a running job is (the spec's JobStage).
type Stage string

const (
	StageQueued       Stage = "queued"
	StageInitializing Stage = "initializing"
	StageTraining     Stage = "training"
	StageValidating   Stage = "validating"
	StageSaving       Stage = "saving"
	StageCompleted    Stage = "completed"
)

// Metrics are the latest values, denormalised onto the job (CurrentMetrics).
type Metrics struct {
	TrainingLoss    float64  `json:"training_loss"`
	ValidationLoss  *float64 `json:"validation_loss,omitempty"`
	LearningRate    float64  `json:"learning_rate"`
	Throughput      *float64 `json:"throughput,omitempty"`      // tokens/s
	GPUUtilization  *float64 `json:"gpu_utilization,omitempty"` // percent
	TokensProcessed *int64   `json:"tokens_processed,omitempty"`
}

// Job is a training job as the API shows it (the spec's TrainingJob).
type Job struct {
	ID                    string                   `json:"id"`
	UserID                string                   `json:"user_id"`
	DatasetID             string                   `json:"dataset_id"`
	PresetID              training.PresetID        `json:"preset_id"`
	Hyperparameters       training.Hyperparameters `json:"hyperparameters"`
	GPUConfig             training.GPUConfig       `json:"gpu_config"`
	Status                Status                   `json:"status"`
	CurrentStage          Stage                    `json:"current_stage"`
	Progress              float64                  `json:"progress"` // 0–100
	CurrentEpoch          int                      `json:"current_epoch"`
	TotalEpochs           int                      `json:"total_epochs"`
	CurrentStep           int                      `json:"current_step"`
	TotalSteps            int                      `json:"total_steps"`
	CurrentMetrics        *Metrics                 `json:"current_metrics"`
	QueuedAt              time.Time                `json:"queued_at"`
	StartedAt             *time.Time               `json:"started_at"`
	CompletedAt           *time.Time               `json:"completed_at"`
	EstimatedCompletionAt *time.Time               `json:"estimated_completion_at"`
	CurrentCost           money.Amount             `json:"current_cost"`
	EstimatedTotalCost    money.Amount             `json:"estimated_total_cost"`
	FinalCost             *money.Amount            `json:"final_cost"`
	ErrorMessage          *string                  `json:"error_message"`
	RetryCount            int                      `json:"retry_count"`
	ExternalJobID         *string                  `json:"external_job_id"`
	ArtifactID            *string                  `json:"artifact_id"`
	CancelRequested       bool                     `json:"cancel_requested"`
	CreatedAt             time.Time                `json:"created_at"`
	UpdatedAt             time.Time                `json:"updated_at"`
}
