package main

import (
	"context"
	"log/slog"
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

// Marking a job that does not exist answers {} (there is nothing to mark),
// and the payload Step Functions sends decodes.
func TestMarkMissingJob(t *testing.T) {
	h := handler{runner: &job.Runner{Store: noJobs{}}, log: slog.New(slog.DiscardHandler)}
	payload := `{"job_id":"j1","user_id":"u1","error":{"Error":"JobNotFound","Cause":"{\"errorType\":\"JobNotFound\",\"errorMessage\":\"gpucluster: Status: job sim-1 not found\"}"}}`
	out, err := lambda.NewHandler(h.handle).Invoke(context.Background(), []byte(payload))
	if err != nil || string(out) != "{}" {
		t.Fatalf("got %s, %v; want {}", out, err)
	}
}
