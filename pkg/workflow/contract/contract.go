// Package contract is what the training state machine
// (statemachine/training.asl.json), its task functions, infra and the local
// runner agree on: the ${Placeholders} of the definition and the functions
// they name, the task payloads, and the numbers the definition is built on.
// It imports only the standard library, so infra (its own module) and the
// task functions can use it without pulling in the Step Functions SDK.
package contract

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// Path is the definition file, relative to the repository root. CDK reads it
// with os.ReadFile and fills the placeholders with DefinitionSubstitutions;
// statemachine/local/run.mjs runs the same file locally.
const Path = "statemachine/training.asl.json"

// Placeholders maps every ${Placeholder} of the definition to the function
// (functions/<name>, a worker of route.Workers) whose ARN replaces it. Infra
// passes {placeholder: function ARN} as DefinitionSubstitutions and grants
// lambda:InvokeFunction on exactly these functions; the local runner
// substitutes local ARNs of the same names. A placeholder is the function
// name in PascalCase + "FunctionArn" (the runner's default, checked by test).
var Placeholders = map[string]string{
	"SubmitJobFunctionArn":        "submit-job",
	"PollJobFunctionArn":          "poll-job",
	"CopyArtifactsFunctionArn":    "copy-artifacts",
	"FinalizeJobFunctionArn":      "finalize-job",
	"MarkJobFailedFunctionArn":    "mark-job-failed",
	"MarkJobCancelledFunctionArn": "mark-job-cancelled",
}

// Functions lists the task functions, sorted.
func Functions() []string {
	out := make([]string, 0, len(Placeholders))
	for _, fn := range Placeholders {
		out = append(out, fn)
	}
	sort.Strings(out)
	return out
}

// StartExecutionResource is the one non-Lambda Task resource: the optimized
// StartExecution integration that continues a long run as a new execution
// of the same state machine ($$.StateMachine.Id, so no placeholder). Infra
// must allow states:StartExecution on the state machine itself.
const StartExecutionResource = "arn:aws:states:::states:startExecution"

// Numbers the definition is built on (a test checks they match the file).
const (
	// ContinueAfterPolls: after this many Poll states in one execution the
	// run continues as a new execution. Typical history: 11 events per poll
	// loop -> ~2,200 events per execution; worst case, every poll retried as
	// often as its retriers allow (18 retries, 3 events each): ~13,000. The
	// limit is 25,000.
	ContinueAfterPolls = 200
	// PollBudgetSeconds is how long one poll-job invocation may keep polling
	// the cluster (every <= 30 s, writing metrics each time) before it
	// returns; PollTimeoutSeconds is the Task timeout around it (the
	// poll-job Lambda timeout should be the same, 300 s).
	PollBudgetSeconds  = 240
	PollTimeoutSeconds = 300
	// MaxWaitSeconds bounds wait_seconds; a missing or larger value waits
	// DefaultWaitSeconds instead (a Wait on a bad SecondsPath would fail the
	// execution with an uncatchable States.Runtime error).
	MaxWaitSeconds     = 600
	DefaultWaitSeconds = 60
	// ExecutionTimeoutSeconds is the definition's TimeoutSeconds: 7 days per
	// execution. The job-level bound across continued executions is the
	// input's deadline (see Input in pkg/workflow).
	ExecutionTimeoutSeconds = 7 * 24 * 3600
)

// Job statuses poll-job reports.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Error names the definition matches (aws-lambda-go reports a Go error's
// type name as errorType, so a task returns an error of type
// ClusterUnavailable or JobNotFound).
const (
	// ErrClusterUnavailable is retried with backoff (the cluster API is
	// down or answers 5xx/timeouts).
	ErrClusterUnavailable = "ClusterUnavailable"
	// ErrJobNotFound is not retried: the cluster forgot the job.
	ErrJobNotFound = "JobNotFound"
	// Errors the definition itself raises into mark-job-failed.
	ErrTrainingFailed       = "TrainingFailed"       // the cluster reported the job failed
	ErrJobTimedOut          = "JobTimedOut"          // past the input's deadline
	ErrUnexpectedPollResult = "UnexpectedPollResult" // poll-job returned an unknown status
)

// TaskInput is the payload of every task: submit-job, poll-job,
// copy-artifacts, finalize-job and mark-job-cancelled get job_id and
// user_id (submit-job and poll-job also continued; poll-job also polls and
// budget_seconds).
type TaskInput struct {
	JobID     string `json:"job_id"`
	UserID    string `json:"user_id"`
	Continued int    `json:"continued,omitempty"`
	// Polls is how many Poll states this execution ran before this one.
	Polls int `json:"polls,omitempty"`
	// BudgetSeconds is how long poll-job may keep polling in this
	// invocation (PollBudgetSeconds).
	BudgetSeconds int `json:"budget_seconds,omitempty"`
}

// SubmitOutput is submit-job's result: how long to wait before polling.
type SubmitOutput struct {
	WaitSeconds int `json:"wait_seconds"`
}

// PollOutput is poll-job's result. WaitSeconds (0..MaxWaitSeconds) is the
// pause before the next poll: short while running (metrics must not be more
// than 30 s stale), longer while queued.
type PollOutput struct {
	Status      string `json:"status"`
	WaitSeconds int    `json:"wait_seconds"`
	Polls       int    `json:"polls"`
}

// CopyOutput is copy-artifacts' result.
type CopyOutput struct {
	Artifacts int `json:"artifacts"`
}

// FinalizeOutput is finalize-job's result.
type FinalizeOutput struct {
	ModelID string `json:"model_id"`
}

// TaskError is the {Error, Cause} Step Functions records for a caught error.
// For a function error Cause is the function's error payload as a JSON
// string: {"errorMessage": "...", "errorType": "..."}.
type TaskError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// MarkFailedInput is mark-job-failed's payload.
type MarkFailedInput struct {
	JobID  string    `json:"job_id"`
	UserID string    `json:"user_id"`
	Error  TaskError `json:"error"`
}

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Find returns the distinct placeholder names in a definition, sorted.
func Find(definition []byte) []string {
	var out []string
	for _, m := range placeholderRE.FindAllSubmatch(definition, -1) {
		if name := string(m[1]); !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Substitute replaces every ${Name} with values[Name], as CloudFormation does
// with DefinitionSubstitutions; a placeholder without a value is an error.
func Substitute(definition []byte, values map[string]string) ([]byte, error) {
	var missing []string
	out := placeholderRE.ReplaceAllFunc(definition, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := values[name]
		if !ok {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("contract: no substitution for %v", missing)
	}
	return out, nil
}

// TaskResources returns the Resource of every Task state by state name,
// including Task states inside Parallel branches and Map processors.
func TaskResources(definition []byte) (map[string]string, error) {
	type machine struct {
		States map[string]json.RawMessage
	}
	var walk func(states map[string]json.RawMessage, out map[string]string) error
	walk = func(states map[string]json.RawMessage, out map[string]string) error {
		for name, raw := range states {
			var s struct {
				Type          string
				Resource      string
				Branches      []machine
				Iterator      *machine
				ItemProcessor *machine
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("contract: state %s: %w", name, err)
			}
			if s.Type == "Task" {
				out[name] = s.Resource
			}
			for _, b := range s.Branches {
				if err := walk(b.States, out); err != nil {
					return err
				}
			}
			for _, p := range []*machine{s.Iterator, s.ItemProcessor} {
				if p != nil {
					if err := walk(p.States, out); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	var m machine
	if err := json.Unmarshal(definition, &m); err != nil {
		return nil, fmt.Errorf("contract: definition: %w", err)
	}
	out := map[string]string{}
	return out, walk(m.States, out)
}
