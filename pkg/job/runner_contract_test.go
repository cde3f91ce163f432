package job_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// The runner's payloads are the state machine's (pkg/workflow/contract):
// what the definition sends decodes into the runner's input, and what the
// runner answers decodes into the contract's outputs.
func TestTaskPayloadsMatchTheContract(t *testing.T) {
	roundTrip := func(from, to any) {
		t.Helper()
		b, err := json.Marshal(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, to); err != nil {
			t.Fatalf("%s into %T: %v", b, to, err)
		}
	}
	var ti job.TaskInput
	roundTrip(contract.TaskInput{JobID: "j", UserID: "u", Continued: 2, Polls: 7, BudgetSeconds: contract.PollBudgetSeconds}, &ti)
	if ti != (job.TaskInput{JobID: "j", UserID: "u", Continued: 2, Polls: 7, BudgetSeconds: 240}) {
		t.Errorf("task input: %+v", ti)
	}
	var mf job.TaskInput
	roundTrip(contract.MarkFailedInput{JobID: "j", UserID: "u", Error: contract.TaskError{Error: contract.ErrTrainingFailed, Cause: "{}"}}, &mf)
	if mf.Error == nil || mf.Error.Error != job.ErrTrainingFailed || mf.Error.Cause != "{}" {
		t.Errorf("mark-failed input: %+v", mf)
	}
	var po contract.PollOutput
	roundTrip(job.PollOutput{Status: job.PollRunning, WaitSeconds: 5, Polls: 3}, &po)
	if po != (contract.PollOutput{Status: contract.StatusRunning, WaitSeconds: 5, Polls: 3}) {
		t.Errorf("poll output: %+v", po)
	}
	var so contract.SubmitOutput
	roundTrip(job.SubmitOutput{Status: "initializing", WaitSeconds: 60}, &so)
	var co contract.CopyOutput
	roundTrip(job.CopyOutput{Artifacts: 3}, &co)
	var fo contract.FinalizeOutput
	roundTrip(job.FinalizeOutput{ModelID: "m"}, &fo)
	if so.WaitSeconds != 60 || co.Artifacts != 3 || fo.ModelID != "m" {
		t.Errorf("outputs: %+v %+v %+v", so, co, fo)
	}
	statuses := []string{job.PollQueued, job.PollRunning, job.PollCompleted, job.PollFailed, job.PollCancelled}
	want := []string{contract.StatusQueued, contract.StatusRunning, contract.StatusCompleted, contract.StatusFailed, contract.StatusCancelled}
	if !reflect.DeepEqual(statuses, want) {
		t.Errorf("poll statuses %v, the definition's %v", statuses, want)
	}
	for _, c := range [][2]string{{job.ErrTrainingFailed, contract.ErrTrainingFailed}, {job.ErrJobTimedOut, contract.ErrJobTimedOut},
		{job.ErrUnexpectedPollResult, contract.ErrUnexpectedPollResult}, {job.ErrJobNotFound, contract.ErrJobNotFound}, {job.ErrClusterUnavailable, contract.ErrClusterUnavailable}} {
		if c[0] != c[1] {
			t.Errorf("error name %s, the definition's %s", c[0], c[1])
		}
	}
	for fn := range map[string]bool{"submit-job": true, "poll-job": true, "copy-artifacts": true, "finalize-job": true, "mark-job-failed": true, "mark-job-cancelled": true} {
		found := false
		for _, f := range contract.Functions() {
			found = found || f == fn
		}
		if !found {
			t.Errorf("%s is not a task of the definition", fn)
		}
	}
}
