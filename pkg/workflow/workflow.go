// Package workflow starts training workflows: one Step Functions execution of
// statemachine/training.asl.json per job, named by the job id. Starter is
// the AWS adapter (the unchanged SDK client; locally AWS_ENDPOINT_URL_SFN
// points it at Local, the local stand-in in this package, which runs the
// same definition in a real ASL interpreter). The contract with the task
// functions and infra is in the contract subpackage.
package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// Placeholders is contract.Placeholders: ${Placeholder} -> function name.
var Placeholders = contract.Placeholders

// MaxJobDuration bounds a job from creation to its end, across continued
// executions: past it the state machine marks the job failed (JobTimedOut).
var MaxJobDuration = 7 * 24 * time.Hour

// Input is the execution input.
type Input struct {
	JobID  string `json:"job_id"`
	UserID string `json:"user_id"`
	// Continued counts how many times the run was continued as a new
	// execution; 0 (omitted) for the first.
	Continued int `json:"continued,omitempty"`
	// Deadline (RFC 3339) is when the job is marked failed if still
	// queued or running. Omitted: only the per-execution timeout applies.
	Deadline string `json:"deadline,omitempty"`
}

// NewInput returns the input of a job's first execution. The deadline comes
// from the job's creation time, not the clock, so starting twice sends the
// same input (which StartExecution needs to be idempotent).
func NewInput(jobID, userID string, createdAt time.Time) Input {
	return Input{JobID: jobID, UserID: userID, Deadline: createdAt.Add(MaxJobDuration).UTC().Format(time.RFC3339)}
}

// API is the part of the Step Functions client Starter uses.
type API interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Starter starts training executions.
type Starter struct {
	client          API
	stateMachineARN string
}

// NewStarter returns a Starter for the state machine with the given ARN.
func NewStarter(client API, stateMachineARN string) *Starter {
	return &Starter{client: client, stateMachineARN: stateMachineARN}
}

// StartExecution starts the job's execution, named by the job id, and
// returns its ARN. It is idempotent: if an execution of that name exists
// with the same input (running or ended) it returns that one; with another
// input it is a Conflict.
func (s *Starter) StartExecution(ctx context.Context, in Input) (string, error) {
	if !ValidName(in.JobID) {
		return "", apperr.New(apperr.Invalid, "job id %q cannot name an execution", in.JobID)
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return "", apperr.Wrap(err, "marshal workflow input")
	}
	out, err := s.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(s.stateMachineARN),
		Name:            aws.String(in.JobID),
		Input:           aws.String(string(raw)),
	})
	if err == nil {
		return aws.ToString(out.ExecutionArn), nil
	}
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		return "", apperr.Wrap(err, "start workflow for job %s", in.JobID)
	}
	arn := ExecutionARN(s.stateMachineARN, in.JobID)
	desc, derr := s.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if derr != nil {
		return "", apperr.Wrap(errors.Join(err, derr), "describe existing workflow for job %s", in.JobID)
	}
	if !sameJSON(aws.ToString(desc.Input), string(raw)) {
		return "", apperr.New(apperr.Conflict, "a workflow for job %s already ran with other input", in.JobID)
	}
	return arn, nil
}

// ExecutionName names a job's execution: the job id for the first, and
// <job id>-c<n> for its n-th continuation (the ContinueAsNew state's
// Name.$; asl_test.go holds them together).
func ExecutionName(jobID string, continued int) string {
	if continued == 0 {
		return jobID
	}
	return fmt.Sprintf("%s-c%d", jobID, continued)
}

// Description is what DescribeExecution says of an execution's state.
type Description struct {
	Status string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
	Error  string
	Cause  string
}

// Describe describes the job's execution of generation continued;
// apperr.NotFound if there is none.
func (s *Starter) Describe(ctx context.Context, jobID string, continued int) (Description, error) {
	arn := ExecutionARN(s.stateMachineARN, ExecutionName(jobID, continued))
	out, err := s.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	var missing *types.ExecutionDoesNotExist
	if errors.As(err, &missing) {
		return Description{}, apperr.NotFoundf("execution")
	}
	if err != nil {
		return Description{}, apperr.Wrap(err, "describe execution %s", arn)
	}
	return Description{Status: string(out.Status), Error: aws.ToString(out.Error), Cause: aws.ToString(out.Cause)}, nil
}

// ExecutionARN is the ARN of the execution called name of a state machine.
func ExecutionARN(stateMachineARN, name string) string {
	return strings.Replace(stateMachineARN, ":stateMachine:", ":execution:", 1) + ":" + name
}

// ValidName reports whether s can name an execution. Step Functions allows
// 1-80 characters without whitespace, wildcards and punctuation such as
// < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /; we allow the safe subset
// ASCII letters, digits, - and _ (job ids are ULIDs).
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 80 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	return reflect.DeepEqual(x, y)
}
