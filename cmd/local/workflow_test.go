package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/testkit"
	"github.com/brightrun/brightrun/pkg/workflow"
)

// These tests drive the whole training workflow from HTTP: create-job starts
// the state machine (the same ASL file in aws-local-stepfunctions), whose
// Task states run the task functions' real binaries against the GPU-cluster
// simulator (100× time), DynamoDB Local and versitygw.

// startJob creates a job and returns it.
func startJob(t testing.TB, tok, datasetID, preset string) job.Job {
	t.Helper()
	var c createdJob
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: tok, Body: map[string]any{
		"dataset_id": datasetID, "preset_id": preset, "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1},
	}}, http.StatusCreated, "").Into(t, &c)
	return c.Job
}

// waitJob polls GET /api/jobs/{id} until ok holds.
func waitJob(t testing.TB, tok, id, what string, ok func(job.Job) bool) job.Job {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		var j job.Job
		api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + id, Token: tok}, http.StatusOK, "").Into(t, &j)
		if ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: not %s after 120 s: status %s, stage %s, progress %.1f, error %v", id, what, j.Status, j.CurrentStage, j.Progress, deref(j.ErrorMessage))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func final(j job.Job) bool { return j.Status.Terminal() }

func running(j job.Job) bool {
	return j.Status == job.StatusRunning && j.CurrentStep > 0 || j.Status.Terminal()
}

// jobEvents returns the bus's events about a job, by detail type, and fails
// on two events with one EventID (the outbox must publish each once here:
// no task of these runs crashed between publish and acknowledge).
func jobEvents(t *testing.T, jobID string) map[string][]json.RawMessage {
	t.Helper()
	out := map[string][]json.RawMessage{}
	seen := map[string]bool{}
	for _, ev := range st.Bus.Events() {
		var d struct {
			EventID string `json:"event_id"`
			JobID   string `json:"job_id"`
		}
		if json.Unmarshal(ev.Detail, &d) != nil || d.JobID != jobID {
			continue
		}
		if seen[d.EventID] {
			t.Errorf("event %s published twice", d.EventID)
		}
		seen[d.EventID] = true
		out[ev.DetailType] = append(out[ev.DetailType], ev.Detail)
	}
	return out
}

// accrued sums the job's CostAccrued amounts and checks each total is the
// running sum.
func accrued(t *testing.T, details []json.RawMessage) money.Amount {
	t.Helper()
	var sum money.Amount
	for _, raw := range details {
		var d event.CostAccruedDetail
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		sum += money.Amount(d.AmountMicros)
		if d.AmountMicros <= 0 || money.Amount(d.TotalMicros) != sum {
			t.Errorf("CostAccrued %s: amount %d, total %d; want a positive amount and the running sum %d", d.EventID, d.AmountMicros, d.TotalMicros, sum)
		}
	}
	return sum
}

// checkTelemetry: one metric point per step from 1 to the last, log lines
// numbered 1..n, a checkpoint per epoch.
func checkTelemetry(t *testing.T, j job.Job) {
	t.Helper()
	ctx := context.Background()
	points, err := st.Store.MetricPoints(ctx, j.ID, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) == 0 || points[len(points)-1].Step != j.CurrentStep {
		t.Fatalf("metric points: got %d, want steps 1..%d", len(points), j.CurrentStep)
	}
	for i, p := range points {
		if p.Step != i+1 {
			t.Fatalf("metric point %d: got step %d, want %d (a gap or a duplicate)", i, p.Step, i+1)
		}
	}
	var validated int
	for _, p := range points {
		if p.ValidationLoss != nil {
			validated++
		}
	}
	if validated != j.TotalEpochs {
		t.Errorf("points with a validation loss: got %d, want one per epoch (%d)", validated, j.TotalEpochs)
	}
	logs, err := st.Store.LogLinesAfter(ctx, j.ID, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) < 3 {
		t.Fatalf("log lines: got %d, want a real log", len(logs))
	}
	for i, l := range logs {
		if l.Seq != int64(i+1) || l.Message == "" {
			t.Fatalf("log line %d: got seq %d %q, want seq %d with a message", i, l.Seq, l.Message, i+1)
		}
	}
	cps, err := st.Store.RunCheckpoints(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != j.TotalEpochs {
		t.Errorf("checkpoints: got %d, want one per epoch (%d)", len(cps), j.TotalEpochs)
	}
}

// TestJobRunsToCompletion: a job runs from HTTP to completed, with its
// telemetry, artifacts in the models bucket whose SHA-256 matches the model
// record, a model record, and its events.
func TestJobRunsToCompletion(t *testing.T) {
	a := signUp(t, "Finisher")
	ds := readyDataset(t, a.Token, 128<<10, 41)
	created := startJob(t, a.Token, ds, "balanced")
	j := waitJob(t, a.Token, created.ID, "finished", final)

	if j.Status != job.StatusCompleted || j.CurrentStage != job.StageCompleted || j.Progress != 100 || j.CompletedAt == nil || j.StartedAt == nil ||
		j.FinalCost == nil || *j.FinalCost != j.CurrentCost || j.CurrentCost <= 0 || j.ArtifactID == nil || j.ExternalJobID == nil ||
		j.CurrentStep != j.TotalSteps || j.CurrentEpoch != j.TotalEpochs || j.CurrentMetrics == nil {
		t.Fatalf("completed job: got %+v", j)
	}
	checkTelemetry(t, j)

	model, err := st.Store.RunModel(context.Background(), a.ID, *j.ArtifactID)
	if err != nil {
		t.Fatal(err)
	}
	if model.JobID != j.ID || model.DatasetID != ds || model.Configuration.PresetID != "balanced" || model.Status == "" || model.Version == "" {
		t.Fatalf("model: got %+v", model)
	}
	names := map[string]bool{}
	for _, f := range model.Files {
		names[f.Name] = true
		if want := "models/" + a.ID + "/" + j.ID + "/" + f.Name; f.Key != want {
			t.Errorf("artifact key: got %q, want %q", f.Key, want)
		}
		body := getObject(t, modelsBucket, f.Key)
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(body)) != f.SizeBytes {
			t.Errorf("%s: stored %d bytes with sha256 %x; the model record says %d bytes, %s", f.Name, len(body), sum, f.SizeBytes, f.SHA256)
		}
		if f.Name == "adapter_model.safetensors" {
			checkSafetensors(t, body, j.Hyperparameters.LoRARank)
		}
	}
	for _, want := range []string{"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} {
		if !names[want] {
			t.Errorf("artifacts: got %v, want %s among them", names, want)
		}
	}

	evs := jobEvents(t, j.ID)
	if got := accrued(t, evs[event.CostAccrued]); got != *j.FinalCost {
		t.Errorf("CostAccrued: sum %d µ$, want the final cost %d µ$", got, *j.FinalCost)
	}
	if len(evs[event.JobCompleted]) != 1 || len(evs[event.JobStatusChanged]) < 2 || len(evs[event.JobFailed])+len(evs[event.JobCancelled]) != 0 {
		t.Fatalf("events: got %d JobCompleted, %d JobStatusChanged, %d JobFailed, %d JobCancelled",
			len(evs[event.JobCompleted]), len(evs[event.JobStatusChanged]), len(evs[event.JobFailed]), len(evs[event.JobCancelled]))
	}
	var done event.JobCompletedDetail
	if err := json.Unmarshal(evs[event.JobCompleted][0], &done); err != nil || done.ModelID != model.ID || money.Amount(done.FinalCostMicros) != *j.FinalCost {
		t.Errorf("JobCompleted: got %+v (%v), want model %s and final cost %d", done, err, model.ID, *j.FinalCost)
	}

	// A finished job cannot be cancelled.
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs/" + j.ID + "/cancel", Token: a.Token}, http.StatusConflict, "JOB_FINISHED")
}

// checkSafetensors parses the file's header: an 8-byte little-endian length,
// then JSON naming tensors whose offsets cover the rest of the file.
func checkSafetensors(t *testing.T, body []byte, rank int) {
	t.Helper()
	if len(body) < 8 {
		t.Fatalf("safetensors: %d bytes", len(body))
	}
	n := binary.LittleEndian.Uint64(body[:8])
	if n == 0 || 8+n > uint64(len(body)) {
		t.Fatalf("safetensors: header length %d in a %d-byte file", n, len(body))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(body[8:8+n], &header); err != nil {
		t.Fatalf("safetensors header: %v", err)
	}
	var end int64
	var loraA int
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var tensor struct {
			Shape   []int   `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &tensor); err != nil || len(tensor.Offsets) != 2 {
			t.Fatalf("tensor %s: %s", name, raw)
		}
		end = max(end, tensor.Offsets[1])
		if strings.Contains(name, "lora_A") {
			loraA++
			if tensor.Shape[0] != rank {
				t.Errorf("%s: shape %v, want rank %d first", name, tensor.Shape, rank)
			}
		}
	}
	if loraA == 0 || uint64(end) != uint64(len(body))-8-n {
		t.Errorf("safetensors: %d lora_A tensors, data ends at %d of %d bytes", loraA, end, uint64(len(body))-8-n)
	}
}

func getObject(t *testing.T, bucket, key string) []byte {
	t.Helper()
	out, err := s3Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJobCancelWhileRunning: cancel of a running job is a request; the
// workflow tells the cluster and ends the job cancelled, once.
func TestJobCancelWhileRunning(t *testing.T) {
	a := signUp(t, "Canceller")
	ds := readyDataset(t, a.Token, 256<<10, 42)
	created := startJob(t, a.Token, ds, "aggressive")
	j := waitJob(t, a.Token, created.ID, "running", running)
	if j.Status != job.StatusRunning {
		t.Fatalf("got %s before the cancel, want running", j.Status)
	}
	var asked job.Job
	for range 2 { // a double click changes nothing twice
		api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs/" + j.ID + "/cancel", Token: a.Token}, http.StatusOK, "").Into(t, &asked)
		if !asked.CancelRequested && asked.Status != job.StatusCancelled {
			t.Fatalf("cancel: got %s, cancel_requested %v", asked.Status, asked.CancelRequested)
		}
	}
	j = waitJob(t, a.Token, j.ID, "finished", final)
	if j.Status != job.StatusCancelled || j.CompletedAt == nil || j.FinalCost == nil || j.ArtifactID != nil {
		t.Fatalf("cancelled job: got %+v", j)
	}
	cj, err := clusterJob(t, *j.ExternalJobID)
	if err != nil || cj != "cancelled" {
		t.Errorf("the cluster's job: got %q (%v), want cancelled", cj, err)
	}
	evs := jobEvents(t, j.ID)
	if len(evs[event.JobCancelled]) != 1 || len(evs[event.JobCompleted]) != 0 {
		t.Fatalf("events: got %d JobCancelled, %d JobCompleted", len(evs[event.JobCancelled]), len(evs[event.JobCompleted]))
	}
	if got := accrued(t, evs[event.CostAccrued]); got != *j.FinalCost {
		t.Errorf("CostAccrued: sum %d µ$, want the final cost %d µ$", got, *j.FinalCost)
	}
	// Cancelling a cancelled job is idempotent.
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs/" + j.ID + "/cancel", Token: a.Token}, http.StatusOK, "")
}

// clusterJob asks the simulator, over its API, for a job's status.
func clusterJob(t *testing.T, externalID string) (string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, st.ClusterURL+"/v1/jobs/"+externalID, nil)
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var v struct{ Status string }
	err = json.NewDecoder(res.Body).Decode(&v)
	return v.Status, err
}

// TestJobFailures: a job the cluster fails ends failed with the cluster's
// reason; a job the cluster forgets ends failed too, and neither is left
// running.
func TestJobFailures(t *testing.T) {
	cases := []struct {
		name        string
		fault       gpusim.JobFault
		wantMessage string
	}{
		{"cluster reports failure", gpusim.JobFault{FailAtProgress: ptr(0.0), FailCode: "NCCL_TIMEOUT", FailReason: "NCCL watchdog timed out on rank 3 at step {step}"}, "NCCL watchdog timed out on rank 3"},
		{"cluster forgets the job", gpusim.JobFault{ForgetNow: true}, "lost track of the job"},
	}
	a := signUp(t, "Unlucky")
	ds := readyDataset(t, a.Token, 128<<10, 43)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			created := startJob(t, a.Token, ds, "aggressive")
			j := waitJob(t, a.Token, created.ID, "running", running)
			if err := st.Cluster.SetJobFault(j.ID, c.fault); err != nil {
				t.Fatal(err)
			}
			j = waitJob(t, a.Token, j.ID, "finished", final)
			if j.Status != job.StatusFailed || j.ErrorMessage == nil || !strings.Contains(*j.ErrorMessage, c.wantMessage) || j.FinalCost == nil {
				t.Fatalf("got %s with error %q, want failed with %q", j.Status, deref(j.ErrorMessage), c.wantMessage)
			}
			evs := jobEvents(t, j.ID)
			if len(evs[event.JobFailed]) != 1 {
				t.Fatalf("JobFailed events: got %d, want 1", len(evs[event.JobFailed]))
			}
			var d event.JobFailedDetail
			if err := json.Unmarshal(evs[event.JobFailed][0], &d); err != nil || d.Message != *j.ErrorMessage {
				t.Errorf("JobFailed: got %+v (%v), want the job's message", d, err)
			}
		})
	}
}

// TestJobSurvivesClusterOutage: bursts of 503s and 429s while the job runs
// are retried (by the client, then by the state machine) and the run still
// completes with exactly one metric point per step and a cost that adds up.
func TestJobSurvivesClusterOutage(t *testing.T) {
	a := signUp(t, "Resilient")
	ds := readyDataset(t, a.Token, 128<<10, 44)
	created := startJob(t, a.Token, ds, "balanced")
	j := waitJob(t, a.Token, created.ID, "running", running)
	// More errors in a row than one client call retries (5 attempts), so
	// the task itself fails with ClusterUnavailable and Step Functions
	// retries it.
	t.Cleanup(st.Cluster.ClearFaults)
	if err := st.Cluster.SetFaults(gpusim.Faults{Errors: &gpusim.ErrorBurst{Count: 12, Status: http.StatusServiceUnavailable}}); err != nil {
		t.Fatal(err)
	}
	waitFaults(t, func(f gpusim.Faults) bool { return f.Errors.Count == 0 })
	if err := st.Cluster.SetFaults(gpusim.Faults{Errors: &gpusim.ErrorBurst{Count: 3, Status: http.StatusTooManyRequests, RetryAfterSeconds: 1}}); err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, a.Token, j.ID, "finished", final)
	if j.Status != job.StatusCompleted {
		t.Fatalf("got %s (%s), want completed", j.Status, deref(j.ErrorMessage))
	}
	checkTelemetry(t, j)
	if got := accrued(t, jobEvents(t, j.ID)[event.CostAccrued]); got != *j.FinalCost {
		t.Errorf("CostAccrued: sum %d µ$, want the final cost %d µ$", got, *j.FinalCost)
	}
}

// waitFaults waits until the simulator's faults satisfy ok.
func waitFaults(t *testing.T, ok func(gpusim.Faults) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok(st.Cluster.Faults()) {
		if time.Now().After(deadline) {
			t.Fatalf("faults not used up after 60 s: %+v", st.Cluster.Faults())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

// TestJobExecutionStopped: an operator stops a job's execution (nothing in
// the state machine runs after that); Step Functions' status change reaches
// mark-stopped-job through the default bus's rule, which ends the job
// failed and cancels its cluster job. Nothing is left running.
func TestJobExecutionStopped(t *testing.T) {
	a := signUp(t, "Stopped")
	ds := readyDataset(t, a.Token, 256<<10, 45)
	created := startJob(t, a.Token, ds, "aggressive")
	j := waitJob(t, a.Token, created.ID, "running", running)
	sf := sfn.New(sfn.Options{BaseEndpoint: aws.String(st.AWSURL), Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s3AccessKey, SecretAccessKey: s3SecretKey}, nil
		})})
	arn := workflow.ExecutionARN(localStateMachineARN, j.ID)
	if _, err := sf.StopExecution(context.Background(), &sfn.StopExecutionInput{ExecutionArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, a.Token, j.ID, "finished", final)
	if j.Status != job.StatusFailed || j.ErrorMessage == nil || !strings.Contains(*j.ErrorMessage, "stopped by an operator") || j.FinalCost == nil {
		t.Fatalf("got %s (%s), want failed as stopped", j.Status, deref(j.ErrorMessage))
	}
	if cj, err := clusterJob(t, *j.ExternalJobID); err != nil || cj != "cancelled" {
		t.Errorf("the cluster's job: got %q (%v), want cancelled", cj, err)
	}
	out, err := sf.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil || out.Status != "ABORTED" {
		t.Errorf("execution: got %v (%v), want ABORTED", out, err)
	}
	if evs := jobEvents(t, j.ID); len(evs[event.JobFailed]) != 1 {
		t.Errorf("JobFailed events: got %d, want 1", len(evs[event.JobFailed]))
	}
}
