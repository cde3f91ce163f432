package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/job"
)

// noJobs is a store without any job.
type noJobs struct{ job.RunStore }

func (noJobs) JobRun(context.Context, string, string) (job.Run, error) {
	return job.Run{}, apperr.NotFoundf("job")
}

// The runner's named errors reach the Lambda runtime unwrapped through the
// same JSON path as lambda.Start, so the errorType Step Functions sees is
// the Go type name.
func TestHandlerErrorTypes(t *testing.T) {
	h := handler{runner: &job.Runner{Store: noJobs{}}, log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		payload string
		want    string
	}{
		{`{"job_id":"j1","user_id":"u1","continued":0,"polls":3,"budget_seconds":240}`, "JobMissing"},
		{`{"job_id":"","user_id":"u1"}`, "InvalidTaskInput"},
	} {
		out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), []byte(c.payload))
		if err == nil {
			t.Fatalf("%s: answered %s, want an error", c.payload, out)
		}
		if got := reflect.TypeOf(err).Elem().Name(); got != c.want {
			t.Errorf("%s: errorType %s, want %s", c.payload, got, c.want)
		}
	}
	// The answer's JSON is the state machine's contract.
	b, _ := json.Marshal(job.PollOutput{Status: job.PollFailed, Polls: 4, Reason: "CUDA out of memory"})
	if string(b) != `{"status":"failed","wait_seconds":0,"polls":4,"reason":"CUDA out of memory"}` {
		t.Errorf("poll output JSON: %s", b)
	}
}
