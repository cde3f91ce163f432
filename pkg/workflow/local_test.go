package workflow_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/workflow"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// startLocal serves a Local (Task states calling lambdaURL) the way the
// local stack does, and returns it with an unchanged SDK client pointed at it.
func startLocal(t *testing.T, lambdaURL string) (*workflow.Local, *sfn.Client) {
	t.Helper()
	root, _ := requireNode(t)
	l, err := workflow.NewLocal(workflow.LocalOptions{Root: root, LambdaEndpoint: lambdaURL, WaitScale: 0.0001, Output: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l)
	t.Cleanup(func() { srv.Close(); l.Close() })
	client := sfn.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, func(o *sfn.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return l, client
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func describe(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	out, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeExecution %s: %v", arn, err)
	}
	return out
}

// waitEnded polls DescribeExecution, as a caller in AWS would.
func waitEnded(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if out := describe(t, c, arn); out.Status != types.ExecutionStatusRunning {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s still running after 20 s", arn)
	return nil
}

// TestLocalStartAndDescribe drives the stand-in with the SDK client and the
// Starter: start, idempotent restart, conflicting input, completion.
func TestLocalStartAndDescribe(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f, url := newFakeLambda(t, functions{
		"poll-job": func(n int, p map[string]any) reply {
			if n == 1 {
				return reply{Body: contract.PollOutput{Status: "running", WaitSeconds: 5}, Block: release}
			}
			return defaultReply("poll-job")
		},
	})
	l, client := startLocal(t, url)
	ctx := context.Background()
	starter := workflow.NewStarter(client, l.StateMachineARN())
	in := workflow.NewInput("job-1", "user-1", time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	if in.Deadline != "2030-01-09T03:04:05Z" {
		t.Errorf("deadline = %s", in.Deadline)
	}

	arn, err := starter.StartExecution(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:states:us-east-1:000000000000:execution:brightrun-training:job-1"; arn != want {
		t.Errorf("execution ARN = %s, want %s", arn, want)
	}
	if got := describe(t, client, arn); got.Status != types.ExecutionStatusRunning || aws.ToString(got.Name) != "job-1" {
		t.Errorf("just started: status %s name %s", got.Status, aws.ToString(got.Name))
	}
	// Same name and input while running: the same execution, no error.
	if again, err := starter.StartExecution(ctx, in); err != nil || again != arn {
		t.Errorf("second start = %s, %v; want %s, nil", again, err, arn)
	}
	// Other input: ExecutionAlreadyExists from the service, Conflict from Starter.
	other := in
	other.UserID = "user-2"
	raw := `{"job_id":"job-1","user_id":"user-2"}`
	_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineARN()), Name: aws.String("job-1"), Input: aws.String(raw)})
	var exists *types.ExecutionAlreadyExists
	if !errors.As(err, &exists) {
		t.Errorf("start with other input: %v, want ExecutionAlreadyExists", err)
	}
	if _, err := starter.StartExecution(ctx, other); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("Starter with other input: %v, want a Conflict", err)
	}

	<-f.seen // submit
	<-f.seen // the blocked poll
	close(release)
	end := waitEnded(t, client, arn)
	if end.Status != types.ExecutionStatusSucceeded || !strings.Contains(aws.ToString(end.Output), `"model_id":"model-1"`) || end.StopDate == nil {
		t.Errorf("ended %s, output %s", end.Status, aws.ToString(end.Output))
	}
	if got := f.sequence(); got != "submit-job poll-job poll-job copy-artifacts finalize-job" {
		t.Errorf("calls: %s", got)
	}
	// Closed with the same input: ExecutionAlreadyExists from the service,
	// success from Starter (it compares the input).
	_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineARN()), Name: aws.String("job-1"), Input: aws.String(`{"job_id":"job-1","user_id":"user-1","deadline":"2030-01-09T03:04:05Z"}`)})
	if !errors.As(err, &exists) {
		t.Errorf("restart after the end: %v, want ExecutionAlreadyExists", err)
	}
	if again, err := starter.StartExecution(ctx, in); err != nil || again != arn {
		t.Errorf("Starter after the end = %s, %v; want %s, nil", again, err, arn)
	}
	x, _ := l.Describe("job-1")
	if x.Transitions == 0 || len(x.Events) == 0 || x.Events[0].Type != "ExecutionStarted" {
		t.Errorf("local history: %d transitions, %d events", x.Transitions, len(x.Events))
	}
}

// TestLocalFailedExecution: a failing job is FAILED with the job's error,
// visible through DescribeExecution.
func TestLocalFailedExecution(t *testing.T) {
	t.Parallel()
	_, url := newFakeLambda(t, functions{
		"poll-job": func(n int, p map[string]any) reply { return reply{ErrorType: "JobNotFound", Message: "no such job"} },
	})
	l, client := startLocal(t, url)
	arn, err := workflow.NewStarter(client, l.StateMachineARN()).StartExecution(context.Background(), workflow.Input{JobID: "job-2", UserID: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	end := waitEnded(t, client, arn)
	if end.Status != types.ExecutionStatusFailed || aws.ToString(end.Error) != "JobNotFound" || !strings.Contains(aws.ToString(end.Cause), "no such job") {
		t.Errorf("ended %s %s %s", end.Status, aws.ToString(end.Error), aws.ToString(end.Cause))
	}
	d, err := workflow.NewStarter(client, l.StateMachineARN()).Describe(context.Background(), "job-2", 0)
	if err != nil || d.Status != "FAILED" || d.Error != "JobNotFound" || !strings.Contains(d.Cause, "no such job") {
		t.Errorf("Describe: %+v, %v; want FAILED with JobNotFound and its cause", d, err)
	}
}

// TestLocalContinueAsNew: the continued execution is visible under its own
// name, and the first one has SUCCEEDED.
func TestLocalContinueAsNew(t *testing.T) {
	t.Parallel()
	_, url := newFakeLambda(t, functions{
		"poll-job": func(n int, p map[string]any) reply {
			if n <= contract.ContinueAfterPolls {
				return reply{Body: contract.PollOutput{Status: "running", WaitSeconds: 0}}
			}
			return defaultReply("poll-job")
		},
	})
	l, client := startLocal(t, url)
	arn, err := workflow.NewStarter(client, l.StateMachineARN()).StartExecution(context.Background(), workflow.Input{JobID: "job-3", UserID: "user-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := l.Wait(ctx, "job-3"); err != nil {
		t.Fatal(err)
	}
	next := waitEnded(t, client, workflow.ExecutionARN(l.StateMachineARN(), "job-3-c1"))
	if next.Status != types.ExecutionStatusSucceeded || !strings.Contains(aws.ToString(next.Input), `"continued":1`) {
		t.Errorf("continued execution: %s, input %s", next.Status, aws.ToString(next.Input))
	}
	if first := describe(t, client, arn); first.Status != types.ExecutionStatusSucceeded {
		t.Errorf("first execution %s", first.Status)
	}
	if n := len(l.Executions()); n != 2 {
		t.Errorf("%d executions, want 2", n)
	}
	// The sweeper's view, by generation: ExecutionName follows the
	// definition's ContinueAsNew naming.
	starter := workflow.NewStarter(client, l.StateMachineARN())
	for gen, want := range []string{"SUCCEEDED", "SUCCEEDED", ""} {
		d, err := starter.Describe(context.Background(), "job-3", gen)
		if want == "" {
			if apperr.KindOf(err) != apperr.NotFound {
				t.Errorf("generation %d: %+v, %v; want NotFound", gen, d, err)
			}
			continue
		}
		if err != nil || d.Status != want {
			t.Errorf("generation %d (%s): %+v, %v; want %s", gen, workflow.ExecutionName("job-3", gen), d, err, want)
		}
	}
}

// TestLocalCloseStopsChildren: Close aborts running executions and waits
// for their runner processes.
func TestLocalCloseStopsChildren(t *testing.T) {
	t.Parallel()
	never := make(chan struct{})
	f, url := newFakeLambda(t, functions{
		"submit-job": func(n int, p map[string]any) reply { return reply{Block: never} },
	})
	l, client := startLocal(t, url)
	if _, err := workflow.NewStarter(client, l.StateMachineARN()).StartExecution(context.Background(), workflow.Input{JobID: "job-4", UserID: "user-1"}); err != nil {
		t.Fatal(err)
	}
	<-f.seen
	start := time.Now()
	l.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if x, _ := l.Describe("job-4"); x.Status != workflow.StatusAborted {
		t.Errorf("after Close: %s, want ABORTED", x.Status)
	}
	_, err := client.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineARN()), Name: aws.String("job-5")})
	if err == nil {
		t.Errorf("StartExecution after Close succeeded")
	}
}

// TestLocalRejects: the service's validation errors, typed for the SDK.
func TestLocalRejects(t *testing.T) {
	t.Parallel()
	_, url := newFakeLambda(t, nil)
	l, client := startLocal(t, url)
	ctx := context.Background()
	_, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineARN() + "x")})
	var noSM *types.StateMachineDoesNotExist
	if !errors.As(err, &noSM) {
		t.Errorf("unknown state machine: %v", err)
	}
	_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineARN()), Name: aws.String("has space")})
	var badName *types.InvalidName
	if !errors.As(err, &badName) {
		t.Errorf("bad name: %v", err)
	}
	_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(l.StateMachineARN()), Name: aws.String("j"), Input: aws.String("{nope")})
	var badInput *types.InvalidExecutionInput
	if !errors.As(err, &badInput) {
		t.Errorf("bad input: %v", err)
	}
	_, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(workflow.ExecutionARN(l.StateMachineARN(), "nobody"))})
	var noExec *types.ExecutionDoesNotExist
	if !errors.As(err, &noExec) {
		t.Errorf("unknown execution: %v", err)
	}
	_, err = client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(l.StateMachineARN())})
	if err == nil || !strings.Contains(err.Error(), "UnknownOperationException") {
		t.Errorf("unimplemented operation: %v", err)
	}
	if _, err := workflow.NewStarter(client, l.StateMachineARN()).StartExecution(ctx, workflow.Input{JobID: "no/slash"}); apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("Starter with an unusable job id: %v", err)
	}
}

// TestCheckRunner: without node_modules the error says what to run.
func TestCheckRunner(t *testing.T) {
	err := workflow.CheckRunner(t.TempDir(), "")
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("CheckRunner on an empty dir: %v", err)
	}
	if _, err := workflow.NewLocal(workflow.LocalOptions{Root: t.TempDir(), LambdaEndpoint: "http://127.0.0.1:1"}); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("NewLocal on an empty dir: %v", err)
	}
}

func TestExecutionARN(t *testing.T) {
	got := workflow.ExecutionARN("arn:aws:states:eu-west-1:123456789012:stateMachine:brightrun-prod-training", "01J0000000000000000000000")
	if want := "arn:aws:states:eu-west-1:123456789012:execution:brightrun-prod-training:01J0000000000000000000000"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for name, want := range map[string]bool{"01J0ABC": true, "job-1_c2": true, "": false, strings.Repeat("a", 81): false, "a b": false, "a:b": false} {
		if workflow.ValidName(name) != want {
			t.Errorf("ValidName(%q) = %v", name, !want)
		}
	}
}

var _ http.Handler = (*workflow.Local)(nil)
