package job

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

// The runner's errors. Step Functions matches a task's error by the Go type
// name aws-lambda-go reports (errorType), so each is a named pointer type and
// the task functions return it as it is, never wrapped. The cluster client's
// *gpucluster.ClusterUnavailable, *JobNotFound, *Rejected and *Conflict pass
// through the runner the same way. Anything else (a DynamoDB or S3 failure
// after the SDK's own retries) is an *apperr.Error (errorType "Error").

// JobMissing: the task names a job that does not exist (or is another
// user's). Not retried; the workflow's Catch sends it to MarkFailed, which
// finds nothing to mark.
type JobMissing struct{ JobID string }

func (e *JobMissing) Error() string { return fmt.Sprintf("job %s not found", e.JobID) }

// JobNotSubmitted: a task that needs the cluster's job id ran before
// submit-job stored one.
type JobNotSubmitted struct {
	JobID  string
	Status Status
}

func (e *JobNotSubmitted) Error() string {
	return fmt.Sprintf("job %s has not been submitted to the cluster (status %s)", e.JobID, e.Status)
}

// JobAlreadyEnded: finalize-job found the job failed or cancelled.
type JobAlreadyEnded struct {
	JobID  string
	Status Status
}

func (e *JobAlreadyEnded) Error() string {
	return fmt.Sprintf("job %s has already %s", e.JobID, e.Status)
}

// DatasetUnavailable: the job's dataset can no longer be sent to the cluster
// (deleted since the job was created).
type DatasetUnavailable struct {
	DatasetID string
	Reason    string
}

func (e *DatasetUnavailable) Error() string {
	return fmt.Sprintf("dataset %s is unavailable: %s", e.DatasetID, e.Reason)
}

// JobConfigInvalid: the job's stored configuration no longer resolves
// against the catalogs and the dataset.
type JobConfigInvalid struct {
	JobID string
	Err   error
}

func (e *JobConfigInvalid) Error() string {
	return fmt.Sprintf("job %s: configuration does not resolve: %v", e.JobID, e.Err)
}

func (e *JobConfigInvalid) Unwrap() error { return e.Err }

// ArtifactsMissing: finalize-job ran before copy-artifacts recorded files.
type ArtifactsMissing struct{ JobID string }

func (e *ArtifactsMissing) Error() string {
	return fmt.Sprintf("job %s has no copied artifacts", e.JobID)
}

// ArtifactCorrupt: an artifact could not be copied intact (its SHA-256 or
// size differs from the cluster's twice in a row, or its name is unsafe).
type ArtifactCorrupt struct {
	Name   string
	Reason string
}

func (e *ArtifactCorrupt) Error() string {
	return fmt.Sprintf("artifact %s: %s", e.Name, e.Reason)
}

// InvalidTaskInput: the payload lacks job_id or user_id.
type InvalidTaskInput struct{ Message string }

func (e *InvalidTaskInput) Error() string { return "invalid task input: " + e.Message }

// ChecksumMismatch is what Objects.PutVerified returns when the streamed
// bytes are not the expected ones; the object is then not stored. It never
// leaves the runner (which retries once, then reports ArtifactCorrupt).
type ChecksumMismatch struct {
	WantSHA256, GotSHA256 string
	WantSize, GotSize     int64
}

func (e *ChecksumMismatch) Error() string {
	return fmt.Sprintf("checksum mismatch: want sha256 %s (%d bytes), got %s (%d bytes)", e.WantSHA256, e.WantSize, e.GotSHA256, e.GotSize)
}

// Error names that reach mark-job-failed. The first three the state machine
// raises itself; the others are task errors.
const (
	ErrTrainingFailed       = "TrainingFailed"       // poll-job reported the cluster's failure (Cause: the poll output, with reason)
	ErrJobTimedOut          = "JobTimedOut"          // past the job's deadline
	ErrUnexpectedPollResult = "UnexpectedPollResult" // poll-job returned a status the machine does not know
	ErrJobNotFound          = "JobNotFound"          // gpucluster.JobNotFound: the cluster forgot the job
	ErrClusterUnavailable   = "ClusterUnavailable"
	ErrWorkflowLost         = "WorkflowLost"       // the sweeper found no current execution for a job that ran (sweep.go)
	ErrWorkflowNotStarted   = "WorkflowNotStarted" // create-job could not start the execution (or died before it)
)

// FailureMessage is the error_message a failed job shows for the workflow
// error te: readable, never an SDK error's text. TrainingFailed carries
// the cluster's reason (poll-job's "reason", inside Cause).
func FailureMessage(te TaskError) string {
	name := te.Error
	switch {
	case name == ErrTrainingFailed:
		var out PollOutput
		if json.Unmarshal([]byte(te.Cause), &out) == nil && strings.TrimSpace(out.Reason) != "" {
			return "Training failed on the GPU cluster: " + strings.TrimSpace(out.Reason)
		}
		return "Training failed on the GPU cluster."
	case name == ErrJobNotFound:
		return "The GPU cluster lost track of the job; nothing more will be charged for it."
	case name == ErrJobTimedOut:
		return "The job did not finish within its time limit and was stopped."
	case name == ErrClusterUnavailable:
		return "The GPU cluster could not be reached for too long; the job was stopped."
	case name == ErrUnexpectedPollResult:
		return "The GPU cluster reported a state the platform does not understand; the job was stopped."
	case name == typeName(&gpucluster.Rejected{}):
		return "The GPU cluster rejected the job."
	case name == typeName(&gpucluster.Conflict{}):
		return "The GPU cluster refused the job because a different job was submitted under the same id."
	case name == typeName(&DatasetUnavailable{}):
		return "The job's dataset is no longer available."
	case name == typeName(&JobConfigInvalid{}):
		return "The job's configuration is no longer valid (the GPU or model catalog changed)."
	case name == typeName(&ArtifactCorrupt{}):
		return "The trained model's files could not be copied intact from the GPU cluster."
	case name == typeName(&ArtifactsMissing{}), name == typeName(&JobNotSubmitted{}):
		return "The training workflow ran its steps out of order; the job was stopped."
	case name == "States.Timeout" || name == "Sandbox.Timedout":
		return "A step of the training workflow timed out."
	case name == ErrWorkflowNotStarted:
		return "The training workflow could not be started; nothing was run or charged."
	case name == ErrWorkflowLost:
		return "The job's training workflow was lost; the job was stopped."
	case name == "States.ABORTED":
		return "The training workflow was stopped by an operator; the job was stopped with it."
	case name == "States.TIMED_OUT":
		return "The training workflow ran past its time limit; the job was stopped."
	case strings.HasPrefix(name, "Lambda."):
		return "A step of the training workflow could not be run."
	case strings.HasPrefix(name, "States."):
		return "The training workflow failed unexpectedly."
	}
	return "The training workflow failed unexpectedly."
}

func typeName(err error) string {
	s := fmt.Sprintf("%T", err) // *pkg.Name
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		return s[i+1:]
	}
	return strings.TrimPrefix(s, "*")
}
