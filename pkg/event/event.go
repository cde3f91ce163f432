// Package event names every event BrightRun puts on its EventBridge bus and
// the detail each carries. Producers, infra rules and the local router use
// these names and patterns, so they cannot drift apart.
package event

import (
	"encoding/json"
	"slices"
)

// Source is the source of every BrightRun event.
const Source = "brightrun"

// Detail types.
const (
	DatasetValidated = "DatasetValidated"

	// The training workflow's events (pkg/job's Runner). Each detail carries
	// an EventID that is stable across re-emission: the runner writes every
	// event to an outbox on the job item in the same conditional write as
	// the change it reports, publishes it, then removes it; a retried task
	// publishes what is left with the same id. Delivery is at least once,
	// so consumers deduplicate by EventID.
	JobStatusChanged = "JobStatusChanged"
	JobCompleted     = "JobCompleted"
	JobFailed        = "JobFailed"
	JobCancelled     = "JobCancelled"
	CostAccrued      = "CostAccrued"
)

// DatasetValidatedDetail is emitted once per finished validation run;
// consumers deduplicate by Run (a retried run may emit it again).
type DatasetValidatedDetail struct {
	UserID        string `json:"user_id"`
	DatasetID     string `json:"dataset_id"`
	Run           string `json:"run"`
	Name          string `json:"name"`
	Status        string `json:"status"` // ready or error
	TrainingReady bool   `json:"training_ready"`
	Format        string `json:"format,omitempty"`
	Conversations int    `json:"conversations"`
	TotalTokens   int64  `json:"total_tokens"`
	ErrorCount    int    `json:"error_count"`
	ErrorMessage  string `json:"error_message,omitempty"`
}

// JobStatusChangedDetail: a job moved between non-final statuses (queued →
// initializing → running) or stages (queued, initializing, training,
// validating, saving). Final statuses have events of their own
// (JobCompleted, JobFailed, JobCancelled). EventID is
// "<job>:status:<to_status>" for a status change and
// "<job>:stage:<epoch>:<to_stage>" for a stage change.
type JobStatusChangedDetail struct {
	EventID    string  `json:"event_id"`
	UserID     string  `json:"user_id"`
	JobID      string  `json:"job_id"`
	FromStatus string  `json:"from_status"`
	ToStatus   string  `json:"to_status"` // = from_status when only the stage changed
	FromStage  string  `json:"from_stage"`
	ToStage    string  `json:"to_stage"`
	Progress   float64 `json:"progress"` // 0–100
	At         string  `json:"at"`       // RFC 3339
}

// JobCompletedDetail: the job completed and its model is stored.
// EventID is "<job>:completed".
type JobCompletedDetail struct {
	EventID         string `json:"event_id"`
	UserID          string `json:"user_id"`
	JobID           string `json:"job_id"`
	DatasetID       string `json:"dataset_id"`
	ModelID         string `json:"model_id"`
	ModelName       string `json:"model_name"`
	FinalCostMicros int64  `json:"final_cost_micros"` // = the sum of the job's CostAccrued amounts
	At              string `json:"at"`
}

// JobFailedDetail: the job failed. Error is the workflow's error name
// (TrainingFailed, JobNotFound, JobTimedOut, States.Timeout, …); Message is
// what the user is shown. EventID is "<job>:failed".
type JobFailedDetail struct {
	EventID         string `json:"event_id"`
	UserID          string `json:"user_id"`
	JobID           string `json:"job_id"`
	Error           string `json:"error"`
	Message         string `json:"message"`
	FinalCostMicros int64  `json:"final_cost_micros"`
	At              string `json:"at"`
}

// JobCancelledDetail: the job was cancelled. EventID is "<job>:cancelled".
type JobCancelledDetail struct {
	EventID         string `json:"event_id"`
	UserID          string `json:"user_id"`
	JobID           string `json:"job_id"`
	FinalCostMicros int64  `json:"final_cost_micros"`
	At              string `json:"at"`
}

// CostAccruedDetail: GPU time billed since the job's previous accrual.
// AmountMicros (micro-dollars) is this interval's cost, TotalMicros the
// job's total so far (both exact integers; the sum of a job's amounts is its
// final cost). EventID is "<job>:cost:<billable milliseconds>:<total
// micros>": the cluster's billable-time mark the total was computed at,
// and the total (distinct for every accrual of a job). It is the
// idempotency key of the cost record. At (RFC 3339) is when it was observed, which
// decides the billing month.
type CostAccruedDetail struct {
	EventID               string  `json:"event_id"`
	UserID                string  `json:"user_id"`
	JobID                 string  `json:"job_id"`
	AmountMicros          int64   `json:"amount_micros"`
	TotalMicros           int64   `json:"total_micros"`
	BillableSeconds       float64 `json:"billable_seconds"` // the mark: GPU hold time so far
	GPUType               string  `json:"gpu_type"`
	NumGPUs               int     `json:"num_gpus"`
	PricePerGPUHourMicros int64   `json:"price_per_gpu_hour_micros"`
	At                    string  `json:"at"`
}

// Pattern is an EventBridge event pattern: sources, detail types, and
// exact values of top-level detail fields (infra renders it as the rule's
// pattern; the local buses match it the same way).
type Pattern struct {
	Source     []string            `json:"source"`
	DetailType []string            `json:"detail-type"`
	Detail     map[string][]string `json:"detail,omitempty"`
}

// PatternFor matches the given detail types of our source.
func PatternFor(detailTypes ...string) Pattern {
	return Pattern{Source: []string{Source}, DetailType: detailTypes}
}

// Matches reports whether an event with this source, detail type and
// detail (JSON) matches the pattern.
func (p Pattern) Matches(source, detailType string, detail []byte) bool {
	if !slices.Contains(p.Source, source) || !slices.Contains(p.DetailType, detailType) {
		return false
	}
	if len(p.Detail) == 0 {
		return true
	}
	var fields map[string]any
	if json.Unmarshal(detail, &fields) != nil {
		return false
	}
	for name, values := range p.Detail {
		v, ok := fields[name].(string)
		if !ok || !slices.Contains(values, v) {
			return false
		}
	}
	return true
}

// Step Functions' own events, on the account's default bus.
const (
	StepFunctionsSource   = "aws.states"
	ExecutionStatusChange = "Step Functions Execution Status Change"
)

// Execution statuses that end a run without success.
var StoppedStatuses = []string{"FAILED", "TIMED_OUT", "ABORTED"}

// ExecutionStatusChangeDetail is the detail of ExecutionStatusChange
// (dates in Unix milliseconds; input, error and cause may be null).
type ExecutionStatusChangeDetail struct {
	ExecutionArn    string  `json:"executionArn"`
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Status          string  `json:"status"`
	StartDate       int64   `json:"startDate"`
	StopDate        *int64  `json:"stopDate"`
	Input           *string `json:"input"`
	Error           *string `json:"error"`
	Cause           *string `json:"cause"`
}

// StoppedExecutions matches the executions of one state machine that end
// failed, timed out or aborted: what the machine's own Catch cannot handle
// (a StopExecution, a States.Runtime error, the execution timeout).
func StoppedExecutions(stateMachineArn string) Pattern {
	return Pattern{Source: []string{StepFunctionsSource}, DetailType: []string{ExecutionStatusChange},
		Detail: map[string][]string{"status": StoppedStatuses, "stateMachineArn": {stateMachineArn}}}
}
