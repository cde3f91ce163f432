package gpucluster

import (
	"fmt"
	"strings"
	"time"
)

// The client's errors. Each is a named pointer type, so errors.As finds it
// in a chain, and aws-lambda-go reports its name (errorType
// "ClusterUnavailable", "JobNotFound", "Rejected", "Conflict") for Step
// Functions Retry and Catch to match — as long as the task function returns
// the error itself, not wrapped (a fmt.Errorf("%w") wrapper's type name is
// "wrapError").

// ClusterUnavailable: the cluster could not be reached, or kept answering
// 5xx, 429 or timing out, until the attempts (or the context) ran out.
// Retrying later may succeed.
type ClusterUnavailable struct {
	Op         string        // the client method, e.g. "Status"
	Attempts   int           // requests made
	StatusCode int           // the last HTTP status; 0 if the last attempt got none (timeout, connection error)
	Code       string        // the last error body's code, if any
	Message    string        // the last error body's message, if any
	RetryAfter time.Duration // the last Retry-After the cluster asked for; 0 if none
	Err        error         // the last transport error (or the context's error), if any
}

func (e *ClusterUnavailable) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gpucluster: %s: cluster unavailable after %d attempt(s)", e.Op, e.Attempts)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
		if e.Code != "" {
			fmt.Fprintf(&b, " %s", e.Code)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *ClusterUnavailable) Unwrap() error { return e.Err }

// JobNotFound: the cluster answered 404 for a job id it gave us — it has
// forgotten the job. Resubmitting (same job_id) starts it again.
type JobNotFound struct {
	Op      string
	ID      string // the cluster's job id asked for
	Code    string
	Message string
}

func (e *JobNotFound) Error() string {
	return fmt.Sprintf("gpucluster: %s: job %s not found: %s", e.Op, e.ID, e.Message)
}

// Rejected: the cluster refused the request with a 4xx other than 404 on
// a job, 409 and 429 — bad input, bad credentials, an expired download URL.
// Retrying the same request cannot succeed.
type Rejected struct {
	Op         string
	StatusCode int
	Code       string
	Message    string
}

func (e *Rejected) Error() string {
	return fmt.Sprintf("gpucluster: %s: rejected: HTTP %d %s: %s", e.Op, e.StatusCode, e.Code, e.Message)
}

// Conflict: 409 — the job id was submitted before with a different request
// (IDEMPOTENCY_CONFLICT), or the job's state does not allow the call
// (JOB_NOT_COMPLETED: artifacts before completion).
type Conflict struct {
	Op      string
	Code    string
	Message string
}

func (e *Conflict) Error() string {
	return fmt.Sprintf("gpucluster: %s: conflict: %s: %s", e.Op, e.Code, e.Message)
}
