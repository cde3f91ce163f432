package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
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

// The runner's named errors reach the Lambda runtime unwrapped, through the
// same JSON path as lambda.Start, so the errorType Step Functions sees is
// the Go type name; each failure is logged once with that type.
func TestTaskErrorTypes(t *testing.T) {
	var logs bytes.Buffer
	r := &job.Runner{Store: noJobs{}}
	poll := Task(slog.New(slog.NewJSONHandler(&logs, nil)), "poll-job", r.Poll)
	for _, c := range []struct {
		payload string
		want    string
	}{
		{`{"job_id":"j1","user_id":"u1","continued":0,"polls":3,"budget_seconds":240}`, "JobMissing"},
		{`{"job_id":"","user_id":"u1"}`, "InvalidTaskInput"},
	} {
		logs.Reset()
		out, err := lambda.NewHandler(poll).Invoke(context.Background(), []byte(c.payload))
		if err == nil {
			t.Fatalf("%s: answered %s, want an error", c.payload, out)
		}
		if got := reflect.TypeOf(err).Elem().Name(); got != c.want {
			t.Errorf("%s: errorType %s, want %s", c.payload, got, c.want)
		}
		if n := strings.Count(logs.String(), `"error_type":"*job.`+c.want+`"`); n != 1 {
			t.Errorf("%s: logged %d times with its type, want once: %s", c.payload, n, logs.String())
		}
	}
	// The answer's JSON is the state machine's contract.
	b, _ := json.Marshal(job.PollOutput{Status: job.PollFailed, Polls: 4, Reason: "CUDA out of memory"})
	if string(b) != `{"status":"failed","wait_seconds":0,"polls":4,"reason":"CUDA out of memory"}` {
		t.Errorf("poll output JSON: %s", b)
	}
}

// Marking a job that does not exist answers {} (there is nothing to mark),
// and the payload Step Functions sends decodes.
func TestNoOutputTask(t *testing.T) {
	r := &job.Runner{Store: noJobs{}}
	mark := Task(slog.New(slog.DiscardHandler), "mark-job-failed", NoOutput(r.MarkFailed))
	payload := `{"job_id":"j1","user_id":"u1","error":{"Error":"JobNotFound","Cause":"{\"errorType\":\"JobNotFound\",\"errorMessage\":\"gpucluster: Status: job sim-1 not found\"}"}}`
	out, err := lambda.NewHandler(mark).Invoke(context.Background(), []byte(payload))
	if err != nil || string(out) != "{}" {
		t.Fatalf("got %s, %v; want {}", out, err)
	}
}
