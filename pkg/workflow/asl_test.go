package workflow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// TestASLValidates runs asl-validator (the same check as `make test-asl`).
func TestASLValidates(t *testing.T) {
	root, node := requireNode(t)
	validator := filepath.Join(root, "node_modules", ".bin", "asl-validator")
	out, err := exec.Command(node, validator, "--json-path", filepath.Join(root, contract.Path)).CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator rejected %s: %v\n%s", contract.Path, err, out)
	}
}

// TestASLPlaceholders: every ${...} in the definition has a substitution,
// every substitution is used, and each follows the naming the local runner
// falls back on (submit-job <-> SubmitJobFunctionArn).
func TestASLPlaceholders(t *testing.T) {
	def := readDefinition(t)
	var want []string
	for p := range contract.Placeholders {
		want = append(want, p)
	}
	sort.Strings(want)
	if got := contract.Find(def); !slices.Equal(got, want) {
		t.Errorf("placeholders in %s = %v, want exactly the keys of contract.Placeholders %v", contract.Path, got, want)
	}
	values := map[string]string{}
	for p, fn := range contract.Placeholders {
		values[p] = "arn:aws:lambda:us-east-1:123456789012:function:brightrun-" + fn
		if conv := pascal(fn) + "FunctionArn"; conv != p {
			t.Errorf("function %s has placeholder %s, want %s (the runner's convention)", fn, p, conv)
		}
	}
	sub, err := contract.Substitute(def, values)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sub), "${") {
		t.Errorf("substituted definition still contains ${")
	}
	if !json.Valid(sub) {
		t.Errorf("substituted definition is not JSON")
	}
	if _, err := contract.Substitute(def, map[string]string{}); err == nil {
		t.Errorf("Substitute with no values: got no error")
	}
}

func pascal(kebab string) string {
	var b strings.Builder
	for _, part := range strings.Split(kebab, "-") {
		r := []rune(part)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// TestASLTaskHandlers: every Task state's resource is a placeholder of a
// known function (so it has a local handler and an IAM grant) or the
// continue-as-new StartExecution integration, and every function is used.
func TestASLTaskHandlers(t *testing.T) {
	tasks, err := contract.TaskResources(readDefinition(t))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for state, res := range tasks {
		if res == contract.StartExecutionResource {
			continue
		}
		p := strings.TrimSuffix(strings.TrimPrefix(res, "${"), "}")
		fn, ok := contract.Placeholders[p]
		if !ok || res != "${"+p+"}" {
			t.Errorf("Task state %s: resource %q is neither a known placeholder nor %s", state, res, contract.StartExecutionResource)
			continue
		}
		used[fn] = true
	}
	for _, fn := range contract.Functions() {
		if !used[fn] {
			t.Errorf("function %s is in contract.Placeholders but no Task state calls it", fn)
		}
	}
}

// TestASLTaskFunctionsAreWorkers: the task functions must be deployable
// workers (route.Workers), which also makes the local stack host them.
// Another change adds them; until the first one lands there is nothing to
// check, and from then on all must be there.
func TestASLTaskFunctionsAreWorkers(t *testing.T) {
	var have, missing []string
	for _, fn := range contract.Functions() {
		if slices.ContainsFunc(route.Workers, func(w route.Worker) bool { return w.Function == fn }) {
			have = append(have, fn)
		} else {
			missing = append(missing, fn)
		}
	}
	if len(have) == 0 {
		t.Skipf("no task function is in route.Workers yet (%v)", missing)
	}
	if len(missing) > 0 {
		t.Errorf("task functions missing from route.Workers: %v", missing)
	}
	for _, w := range route.Workers {
		if w.Function == "poll-job" && w.Timeout < contract.PollTimeoutSeconds {
			t.Errorf("poll-job Lambda timeout %d s < Poll TimeoutSeconds %d (budget %d s)", w.Timeout, contract.PollTimeoutSeconds, contract.PollBudgetSeconds)
		}
	}
}

type aslState struct {
	Type           string
	Next           string
	Seconds        int
	SecondsPath    string
	TimeoutSeconds int
	Parameters     map[string]any
	Retry          []struct {
		ErrorEquals []string
		MaxAttempts *int
	}
	Catch []struct {
		ErrorEquals []string
		Next        string
		ResultPath  string
	}
	Choices []json.RawMessage
}

func parseASL(t *testing.T) (timeout int, states map[string]aslState) {
	t.Helper()
	var m struct {
		TimeoutSeconds int
		States         map[string]aslState
	}
	if err := json.Unmarshal(readDefinition(t), &m); err != nil {
		t.Fatal(err)
	}
	return m.TimeoutSeconds, m.States
}

// TestASLStructure pins the rules of the issue that a run cannot show in
// every branch: each work Task has a timeout, retries the transient errors
// and not JobNotFound, and catches everything else into MarkFailed with the
// cause in $.error; the numbers match package contract.
func TestASLStructure(t *testing.T) {
	timeout, states := parseASL(t)
	if timeout != contract.ExecutionTimeoutSeconds {
		t.Errorf("TimeoutSeconds = %d, want %d", timeout, contract.ExecutionTimeoutSeconds)
	}
	transient := []string{"ClusterUnavailable", "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "States.Timeout"}
	for _, name := range []string{"Submit", "Poll", "CopyArtifacts", "Finalize"} {
		s := states[name]
		if s.TimeoutSeconds == 0 {
			t.Errorf("%s: no TimeoutSeconds", name)
		}
		var retried []string
		for _, r := range s.Retry {
			retried = append(retried, r.ErrorEquals...)
		}
		for _, e := range transient {
			if !slices.Contains(retried, e) {
				t.Errorf("%s: %s is not retried", name, e)
			}
		}
		for _, e := range []string{"JobNotFound", "States.ALL", "States.TaskFailed"} {
			if slices.Contains(retried, e) {
				t.Errorf("%s: %s must not be retried", name, e)
			}
		}
	}
	for _, name := range []string{"Submit", "Poll", "CopyArtifacts", "Finalize", "ContinueAsNew"} {
		c := states[name].Catch
		if len(c) == 0 {
			t.Errorf("%s: no Catch", name)
			continue
		}
		last := c[len(c)-1]
		if !slices.Equal(last.ErrorEquals, []string{"States.ALL"}) || last.Next != "MarkFailed" || last.ResultPath != "$.error" {
			t.Errorf("%s: last catcher = %+v, want States.ALL -> MarkFailed with ResultPath $.error", name, last)
		}
	}
	for _, name := range []string{"MarkFailed", "MarkCancelled"} {
		s := states[name]
		if len(s.Retry) != 1 || !slices.Equal(s.Retry[0].ErrorEquals, []string{"States.ALL"}) || s.Retry[0].MaxAttempts == nil || *s.Retry[0].MaxAttempts < 5 {
			t.Errorf("%s: want a generous States.ALL retrier, got %+v", name, s.Retry)
		}
	}
	poll := states["Poll"]
	if b, _ := poll.Parameters["budget_seconds"].(float64); int(b) != contract.PollBudgetSeconds {
		t.Errorf("Poll budget_seconds = %v, want %d", poll.Parameters["budget_seconds"], contract.PollBudgetSeconds)
	}
	if poll.TimeoutSeconds != contract.PollTimeoutSeconds {
		t.Errorf("Poll TimeoutSeconds = %d, want %d", poll.TimeoutSeconds, contract.PollTimeoutSeconds)
	}
	if s := states["WaitDefault"].Seconds; s != contract.DefaultWaitSeconds {
		t.Errorf("WaitDefault Seconds = %d, want %d", s, contract.DefaultWaitSeconds)
	}
	var choices bytes.Buffer
	for _, raw := range append(slices.Clone(states["CheckStatus"].Choices), states["AfterSubmit"].Choices...) {
		_ = json.Compact(&choices, raw)
	}
	for _, want := range []string{
		fmt.Sprintf(`{"Variable":"$.tick.polls","NumericGreaterThanEquals":%d}`, contract.ContinueAfterPolls),
		fmt.Sprintf(`{"Variable":"$.poll.wait_seconds","NumericLessThanEquals":%d}`, contract.MaxWaitSeconds),
	} {
		if !strings.Contains(choices.String(), want) {
			t.Errorf("CheckStatus/AfterSubmit choices do not contain %s", want)
		}
	}
}

func pollStatuses(statuses ...string) func(n int, p map[string]any) reply {
	return func(n int, p map[string]any) reply {
		s := statuses[min(n, len(statuses))-1]
		return reply{Body: contract.PollOutput{Status: s, WaitSeconds: 5, Polls: 1}}
	}
}

func markFailedError(t *testing.T, f *fakeLambda) contract.TaskError {
	t.Helper()
	calls := f.callsTo("mark-job-failed")
	if len(calls) == 0 {
		t.Fatalf("mark-job-failed was not called; calls: %s", f.sequence())
	}
	raw, _ := json.Marshal(calls[len(calls)-1])
	var in contract.MarkFailedInput
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	if in.JobID != "job-1" || in.UserID != "user-1" {
		t.Errorf("mark-job-failed input = %s, want job-1/user-1", raw)
	}
	return in.Error
}

const jobInput = `{"job_id":"job-1","user_id":"user-1"}`

// TestASLScenarios runs the real definition in the interpreter against
// scripted task functions.
func TestASLScenarios(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		script    functions
		wantCalls string
		status    string // of the execution
		error     string // execution error, if FAILED
		check     func(t *testing.T, f *fakeLambda, r run)
	}{
		{
			name:      "completed",
			script:    functions{"poll-job": pollStatuses("running", "running", "running", "completed")},
			wantCalls: "submit-job poll-job poll-job poll-job poll-job copy-artifacts finalize-job",
			status:    "SUCCEEDED",
			check: func(t *testing.T, f *fakeLambda, r run) {
				for i, p := range f.callsTo("poll-job") {
					want := map[string]any{"job_id": "job-1", "user_id": "user-1", "continued": 0.0, "polls": float64(i), "budget_seconds": float64(contract.PollBudgetSeconds)}
					if fmt.Sprint(p) != fmt.Sprint(want) {
						t.Errorf("poll %d input = %v, want %v", i+1, p, want)
					}
				}
				if got := f.callsTo("submit-job")[0]; fmt.Sprint(got) != fmt.Sprint(map[string]any{"job_id": "job-1", "user_id": "user-1", "continued": 0.0}) {
					t.Errorf("submit input = %v", got)
				}
				wantStates := "Init Normalize IsContinued Submit AfterSubmit Wait Poll Tick CheckStatus Wait Poll Tick CheckStatus Wait Poll Tick CheckStatus Wait Poll Tick CheckStatus CopyArtifacts Finalize Succeeded"
				if got := strings.Join(r.states("job-1"), " "); got != wantStates {
					t.Errorf("states:\n got %s\nwant %s", got, wantStates)
				}
				var out struct {
					Model contract.FinalizeOutput
				}
				_ = json.Unmarshal([]byte(r.ended(t, "job-1").Output), &out)
				if out.Model.ModelID != "model-1" {
					t.Errorf("output %s has no model id", r.ended(t, "job-1").Output)
				}
				if w := r.ended(t, "job-1").WaitedSeconds; w != 30+3*5 {
					t.Errorf("waited %v simulated seconds, want 45 (submit 30 + 3 polls x 5)", w)
				}
			},
		},
		{
			name:      "cluster reports failure",
			script:    functions{"poll-job": pollStatuses("queued", "running", "failed")},
			wantCalls: "submit-job poll-job poll-job poll-job mark-job-failed",
			status:    "FAILED", error: "TrainingFailed",
			check: func(t *testing.T, f *fakeLambda, r run) {
				if e := markFailedError(t, f); e.Error != "TrainingFailed" || !strings.Contains(e.Cause, `"status":"failed"`) {
					t.Errorf("mark-job-failed error = %+v", e)
				}
			},
		},
		{
			name:      "cancelled",
			script:    functions{"poll-job": pollStatuses("running", "cancelled")},
			wantCalls: "submit-job poll-job poll-job mark-job-cancelled",
			status:    "SUCCEEDED",
			check: func(t *testing.T, f *fakeLambda, r run) {
				if got := f.callsTo("mark-job-cancelled")[0]; fmt.Sprint(got) != fmt.Sprint(map[string]any{"job_id": "job-1", "user_id": "user-1"}) {
					t.Errorf("mark-job-cancelled input = %v", got)
				}
				if s := r.states("job-1"); s[len(s)-1] != "Cancelled" {
					t.Errorf("ended in %s, want Cancelled", s[len(s)-1])
				}
			},
		},
		{
			name: "ClusterUnavailable burst is retried",
			script: functions{"poll-job": func(n int, p map[string]any) reply {
				if n >= 2 && n <= 5 {
					return reply{ErrorType: "ClusterUnavailable", Message: "cluster API answered 503"}
				}
				return pollStatuses("running", "x", "x", "x", "x", "running", "completed")(n, p)
			}},
			wantCalls: "submit-job poll-job poll-job poll-job poll-job poll-job poll-job poll-job copy-artifacts finalize-job",
			status:    "SUCCEEDED",
			check: func(t *testing.T, f *fakeLambda, r run) {
				if n := r.count("job-1", "StateRetried", "Poll"); n != 4 {
					t.Errorf("%d Poll retries, want 4", n)
				}
			},
		},
		{
			name: "ClusterUnavailable for good fails the job",
			script: functions{"poll-job": func(n int, p map[string]any) reply {
				return reply{ErrorType: "ClusterUnavailable", Message: "down"}
			}},
			wantCalls: "submit-job" + strings.Repeat(" poll-job", 11) + " mark-job-failed",
			status:    "FAILED", error: "ClusterUnavailable",
		},
		{
			name: "JobNotFound is not retried",
			script: functions{"poll-job": func(n int, p map[string]any) reply {
				if n == 2 {
					return reply{ErrorType: "JobNotFound", Message: "cluster has no job job-1"}
				}
				return pollStatuses("running")(n, p)
			}},
			wantCalls: "submit-job poll-job poll-job mark-job-failed",
			status:    "FAILED", error: "JobNotFound",
			check: func(t *testing.T, f *fakeLambda, r run) {
				e := markFailedError(t, f)
				var cause struct{ ErrorType, ErrorMessage string }
				if json.Unmarshal([]byte(e.Cause), &cause); e.Error != "JobNotFound" || cause.ErrorMessage != "cluster has no job job-1" {
					t.Errorf("mark-job-failed error = %+v, want JobNotFound with the function's error payload as cause", e)
				}
				if r.count("job-1", "StateRetried", "") != 0 {
					t.Errorf("JobNotFound was retried")
				}
			},
		},
		{
			name: "unknown error fails the job with its cause",
			script: functions{"copy-artifacts": func(n int, p map[string]any) reply {
				return reply{ErrorType: "errorString", Message: "s3: access denied on models/job-1"}
			}},
			wantCalls: "submit-job poll-job copy-artifacts mark-job-failed",
			status:    "FAILED", error: "errorString",
			check: func(t *testing.T, f *fakeLambda, r run) {
				if e := markFailedError(t, f); e.Error != "errorString" || !strings.Contains(e.Cause, "access denied on models/job-1") {
					t.Errorf("mark-job-failed error = %+v", e)
				}
				if c := r.ended(t, "job-1").Cause; !strings.Contains(c, "access denied") {
					t.Errorf("execution cause %q lacks the task's message", c)
				}
			},
		},
		{
			name: "Lambda service errors are retried",
			script: functions{
				"submit-job": func(n int, p map[string]any) reply {
					if n == 1 {
						return reply{Status: 429}
					}
					return defaultReply("submit-job")
				},
				"finalize-job": func(n int, p map[string]any) reply {
					if n <= 2 {
						return reply{Status: 503}
					}
					return defaultReply("finalize-job")
				},
			},
			wantCalls: "submit-job submit-job poll-job copy-artifacts finalize-job finalize-job finalize-job",
			status:    "SUCCEEDED",
			check: func(t *testing.T, f *fakeLambda, r run) {
				var errs []string
				for _, l := range r.Lines {
					if l.Type == "StateFailed" {
						errs = append(errs, l.Error)
					}
				}
				if want := []string{"Lambda.TooManyRequestsException", "Lambda.ServiceException", "Lambda.ServiceException"}; !slices.Equal(errs, want) {
					t.Errorf("task errors %v, want %v", errs, want)
				}
			},
		},
		{
			name: "a Lambda timeout is retried",
			script: functions{"poll-job": func(n int, p map[string]any) reply {
				if n == 1 {
					return reply{ErrorType: "Sandbox.Timedout", Message: "Task timed out after 300.00 seconds"}
				}
				return defaultReply("poll-job")
			}},
			wantCalls: "submit-job poll-job poll-job copy-artifacts finalize-job",
			status:    "SUCCEEDED",
		},
		{
			name:      "unknown status fails the job",
			script:    functions{"poll-job": pollStatuses("running", "exploded")},
			wantCalls: "submit-job poll-job poll-job mark-job-failed",
			status:    "FAILED", error: "UnexpectedPollResult",
		},
		{
			name:      "past the deadline fails the job",
			input:     `{"job_id":"job-1","user_id":"user-1","deadline":"2020-01-01T00:00:00Z"}`,
			script:    functions{"poll-job": pollStatuses("running")},
			wantCalls: "submit-job poll-job mark-job-failed",
			status:    "FAILED", error: "JobTimedOut",
			check: func(t *testing.T, f *fakeLambda, r run) {
				if e := markFailedError(t, f); !strings.Contains(e.Cause, "2020-01-01T00:00:00Z") {
					t.Errorf("cause %q does not name the deadline", e.Cause)
				}
			},
		},
		{
			name:      "a job completing past the deadline still completes",
			input:     `{"job_id":"job-1","user_id":"user-1","deadline":"2020-01-01T00:00:00Z"}`,
			wantCalls: "submit-job poll-job copy-artifacts finalize-job",
			status:    "SUCCEEDED",
		},
		{
			name: "a bad wait_seconds waits the default",
			script: functions{
				"submit-job": func(n int, p map[string]any) reply { return reply{Body: map[string]any{}} },
				"poll-job": func(n int, p map[string]any) reply {
					if n == 1 {
						return reply{Body: map[string]any{"status": "queued", "wait_seconds": 100000}}
					}
					return defaultReply("poll-job")
				},
			},
			wantCalls: "submit-job poll-job poll-job copy-artifacts finalize-job",
			status:    "SUCCEEDED",
			check: func(t *testing.T, f *fakeLambda, r run) {
				if n := r.count("job-1", "StateEntered", "WaitDefault"); n != 2 {
					t.Errorf("WaitDefault entered %d times, want 2", n)
				}
			},
		},
		{
			name: "MarkFailed retries until it succeeds",
			script: functions{
				"poll-job": pollStatuses("failed"),
				"mark-job-failed": func(n int, p map[string]any) reply {
					if n <= 3 {
						return reply{ErrorType: "ConditionalCheckFailed", Message: "busy"}
					}
					return reply{Body: map[string]any{}}
				},
			},
			wantCalls: "submit-job poll-job mark-job-failed mark-job-failed mark-job-failed mark-job-failed",
			status:    "FAILED", error: "TrainingFailed",
		},
		{
			name: "MarkFailed giving up still fails with the job's error",
			script: functions{
				"poll-job":        pollStatuses("failed"),
				"mark-job-failed": func(n int, p map[string]any) reply { return reply{ErrorType: "errorString", Message: "table gone"} },
			},
			wantCalls: "submit-job poll-job" + strings.Repeat(" mark-job-failed", 11),
			status:    "FAILED", error: "TrainingFailed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, url := newFakeLambda(t, tt.script)
			input := tt.input
			if input == "" {
				input = jobInput
			}
			r := runASL(t, url, "job-1", input)
			if got := f.sequence(); got != tt.wantCalls {
				t.Errorf("calls:\n got %s\nwant %s", got, tt.wantCalls)
			}
			end := r.ended(t, "job-1")
			if end.Status != tt.status || end.Error != tt.error {
				t.Errorf("execution ended %s %q (%s), want %s %q", end.Status, end.Error, end.Cause, tt.status, tt.error)
			}
			if wantExit := map[bool]int{true: 0, false: 2}[tt.status == "SUCCEEDED"]; r.Exit != wantExit {
				t.Errorf("runner exit %d, want %d; stderr:\n%s", r.Exit, wantExit, r.Stderr)
			}
			if tt.check != nil {
				tt.check(t, f, r)
			}
		})
	}
}

// TestASLContinueAsNew: after ContinueAfterPolls polls the execution starts
// <job>-c1 with continued=1 and ends; the new one polls without submitting
// again.
func TestASLContinueAsNew(t *testing.T) {
	t.Parallel()
	n := contract.ContinueAfterPolls
	f, url := newFakeLambda(t, functions{
		"poll-job": func(i int, p map[string]any) reply {
			if i <= n+2 {
				return reply{Body: contract.PollOutput{Status: contract.StatusRunning, WaitSeconds: 5, Polls: 1}}
			}
			return defaultReply("poll-job")
		},
	})
	r := runASL(t, url, "job-1", `{"job_id":"job-1","user_id":"user-1","deadline":"2999-01-01T00:00:00Z"}`)
	if want := "submit-job" + strings.Repeat(" poll-job", n+3) + " copy-artifacts finalize-job"; f.sequence() != want {
		t.Errorf("calls: got %s", f.sequence())
	}
	first, second := r.ended(t, "job-1"), r.ended(t, "job-1-c1")
	if first.Status != "SUCCEEDED" || second.Status != "SUCCEEDED" {
		t.Fatalf("executions ended %s and %s (%s %s)", first.Status, second.Status, second.Error, second.Cause)
	}
	if s := r.states("job-1"); s[len(s)-1] != "ContinuedAsNew" || r.count("job-1", "StateEntered", "Poll") != n {
		t.Errorf("first execution polled %d times and ended in %s", r.count("job-1", "StateEntered", "Poll"), s[len(s)-1])
	}
	var in map[string]any
	for _, l := range r.Lines {
		if l.Record == "execution" && l.Name == "job-1-c1" && l.Status == "RUNNING" {
			_ = json.Unmarshal([]byte(l.Input), &in)
		}
	}
	want := map[string]any{"job_id": "job-1", "user_id": "user-1", "continued": 1.0, "deadline": "2999-01-01T00:00:00Z",
		"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "arn:aws:states:us-east-1:000000000000:execution:brightrun-training:job-1"}
	if fmt.Sprint(in) != fmt.Sprint(want) {
		t.Errorf("continued input = %v, want %v", in, want)
	}
	if s := r.states("job-1-c1"); strings.Join(s[:4], " ") != "Init Normalize IsContinued Poll" {
		t.Errorf("continued execution starts %v, want to poll at once", s[:4])
	}
	if p := f.callsTo("poll-job")[n]; p["continued"] != 1.0 || p["polls"] != 0.0 {
		t.Errorf("first poll of the continued execution = %v", p)
	}
	if len(r.Result.Executions) != 2 || r.Result.Status != "SUCCEEDED" {
		t.Errorf("result = %+v", r.Result)
	}
	// History size of the longest execution, counted as Standard workflows
	// record it: 2 events per state, plus 3 per Task attempt.
	hist := 2
	for _, l := range r.Lines {
		if l.Record != "event" || l.Execution != "job-1" {
			continue
		}
		switch {
		case l.Type == "StateEntered" && l.StateType == "Task":
			hist += 5
		case l.Type == "StateEntered":
			hist += 2
		case l.Type == "StateRetried":
			hist += 3
		}
	}
	t.Logf("continue-as-new after %d polls: the first execution's history is ~%d events (limit 25,000)", n, hist)
	if hist > 25_000/5 {
		t.Errorf("history of ~%d events is not far below 25,000", hist)
	}
}

// simCluster is a scripted job on the GPU cluster with a simulated clock,
// and a poll-job that behaves as the contract asks: while running it polls
// every pollEvery seconds for up to the budget (writing metrics each time,
// the last write just before it returns) and returns a short wait; while
// queued it returns at once with a long wait.
type simCluster struct {
	queuedFor, runFor         float64 // simulated seconds
	pollEvery                 int     // cluster polls inside one invocation while running
	runningWait, queuedWait   int     // wait_seconds returned
	budgeted                  bool    // false: the naive poller (one cluster poll per invocation)
	now, lastWait, lastMetric float64
	started                   bool
	maxStale                  float64
	firstRunningPoll          int // 1-based index of the first poll that saw running
	polls                     int
}

func (c *simCluster) submit(n int, p map[string]any) reply {
	c.lastWait = float64(c.queuedWait)
	return reply{Body: contract.SubmitOutput{WaitSeconds: c.queuedWait}}
}

func (c *simCluster) poll(n int, p map[string]any) reply {
	c.polls++
	if !(p["polls"] == 0.0 && p["continued"] != 0.0) { // a continued execution polls at once
		c.now += c.lastWait
	}
	end := c.queuedFor + c.runFor
	status := func() string {
		switch {
		case c.now < c.queuedFor:
			return contract.StatusQueued
		case c.now < end:
			return contract.StatusRunning
		}
		return contract.StatusCompleted
	}
	metric := func() {
		if !c.started {
			c.started, c.firstRunningPoll = true, c.polls
			c.maxStale = c.now - c.queuedFor // from the start of the run to the first metrics
		} else if c.now-c.lastMetric > c.maxStale {
			c.maxStale = c.now - c.lastMetric
		}
		c.lastMetric = c.now
	}
	s := status()
	if s == contract.StatusRunning {
		metric()
		if c.budgeted {
			budget := p["budget_seconds"].(float64)
			for spent := 0.0; spent+float64(c.pollEvery) <= budget && status() == contract.StatusRunning; spent += float64(c.pollEvery) {
				c.now += float64(c.pollEvery)
				if status() == contract.StatusRunning {
					metric()
				}
			}
			s = status()
		}
	}
	c.lastWait = float64(c.queuedWait)
	if s == contract.StatusRunning {
		c.lastWait = float64(c.runningWait)
	}
	return reply{Body: contract.PollOutput{Status: s, WaitSeconds: int(c.lastWait), Polls: 1}}
}

// TestASLTransitionsPerHour measures state transitions (states entered +
// retries: what Standard workflows bill) per simulated training hour for a
// job queued 10 minutes and training 2 hours, with the budgeted poll-job,
// and with a naive poll-every-30-s task for comparison.
func TestASLTransitionsPerHour(t *testing.T) {
	t.Parallel()
	measure := func(t *testing.T, c *simCluster) (perRunningHour, perHour, stale float64) {
		_, url := newFakeLambda(t, functions{"submit-job": c.submit, "poll-job": c.poll})
		r := runASL(t, url, "job-1", jobInput)
		if r.Result.Status != "SUCCEEDED" {
			t.Fatalf("job ended %s: %s", r.Result.Status, r.Stderr)
		}
		total, running, polls := 0, 0, 0
		for _, l := range r.Lines {
			if l.Record != "event" || (l.Type != "StateEntered" && l.Type != "StateRetried") {
				continue
			}
			total++
			if l.Type == "StateEntered" && l.State == "Poll" {
				polls++
			}
			// The running phase: from the first poll that saw the job
			// running to the poll that saw it complete.
			if polls >= c.firstRunningPoll && polls < c.polls {
				running++
			}
		}
		if r.Result.Transitions != total {
			t.Errorf("runner counted %d transitions, events show %d", r.Result.Transitions, total)
		}
		return float64(running) / (c.runFor / 3600), float64(total) / (c.now / 3600), c.maxStale
	}
	budget := &simCluster{queuedFor: 600, runFor: 7200, pollEvery: 20, runningWait: 5, queuedWait: 120, budgeted: true}
	perRun, perHour, stale := measure(t, budget)
	t.Logf("budgeted poll (%d s budget, cluster polled every %d s, %d s wait): %.1f transitions per running hour, %.1f per hour overall (queue included), metrics at most %.0f s stale",
		contract.PollBudgetSeconds, budget.pollEvery, budget.runningWait, perRun, perHour, stale)
	if perRun > 120 {
		t.Errorf("%.1f transitions per running hour, goal <= 120", perRun)
	}
	if stale > 30 {
		t.Errorf("metrics up to %.0f s stale, goal <= 30", stale)
	}

	naive := &simCluster{queuedFor: 600, runFor: 7200, runningWait: 30, queuedWait: 120}
	perRun, perHour, stale = measure(t, naive)
	t.Logf("naive poll every 30 s (for comparison): %.1f transitions per running hour, %.1f per hour overall, metrics at most %.0f s stale", perRun, perHour, stale)
}

// TestRunnerRefuses: the runner does not start a definition with a
// placeholder it cannot fill or a Task it cannot run locally.
func TestRunnerRefuses(t *testing.T) {
	t.Parallel()
	root, node := requireNode(t)
	bad := filepath.Join(t.TempDir(), "bad.asl.json")
	if err := os.WriteFile(bad, []byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--definition", filepath.Join(root, contract.Path), "--functions", `{"PollJobFunctionArn":"poll-job"}`}, "no substitution for placeholder(s): SubmitJobFunctionArn"},
		{[]string{"--definition", bad}, "Task state T: no local handler for resource arn:aws:states:::sqs:sendMessage"},
	} {
		cmd := exec.Command(node, append([]string{filepath.Join(root, "statemachine", "local", "run.mjs"), "--input", "{}"}, tc.args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:1"}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), tc.want) {
			t.Errorf("runner %v: %v\n%s\nwant exit 1 and %q", tc.args, err, out, tc.want)
		}
	}
}
