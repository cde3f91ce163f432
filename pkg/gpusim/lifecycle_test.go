package gpusim_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/training"
)

// observed is what a poller saw over a whole run.
type observed struct {
	stages   []gpucluster.Stage // consecutive duplicates removed
	statuses []gpucluster.Status
	points   []gpucluster.MetricsPoint
	logs     []gpucluster.LogEntry
	final    gpucluster.Job
}

// poll runs the job to its end on a fake clock, polling status, metrics
// (after the last step seen, in small pages, each page asked twice) and
// logs (after the last cursor) every tick.
func poll(t *testing.T, e *env, id string, tick time.Duration, each func(j gpucluster.Job)) observed {
	t.Helper()
	ctx := context.Background()
	var o observed
	after, cursor := 0, ""
	prevProgress, prevStep := -1.0, -1
	for i := 0; ; i++ {
		if i > 20000 {
			t.Fatal("job never finished")
		}
		j := e.status(t, id)
		if each != nil {
			each(j)
		}
		if n := len(o.stages); n == 0 || o.stages[n-1] != j.Stage {
			o.stages = append(o.stages, j.Stage)
		}
		if n := len(o.statuses); n == 0 || o.statuses[n-1] != j.Status {
			o.statuses = append(o.statuses, j.Status)
		}
		if j.Progress < prevProgress || j.Step < prevStep {
			t.Fatalf("progress %v step %d went back from %v, %d", j.Progress, j.Step, prevProgress, prevStep)
		}
		prevProgress, prevStep = j.Progress, j.Step
		for {
			page, err := e.client.Metrics(ctx, id, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			again, err := e.client.Metrics(ctx, id, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(page.Points, again.Points, pointsEqual) {
				t.Fatalf("metrics after step %d differ when asked again", after)
			}
			o.points = append(o.points, page.Points...)
			after = page.NextAfterStep
			if !page.HasMore {
				break
			}
		}
		for {
			page, err := e.client.Logs(ctx, id, cursor, 10)
			if err != nil {
				t.Fatal(err)
			}
			o.logs = append(o.logs, page.Entries...)
			cursor = page.NextCursor
			if !page.HasMore {
				break
			}
		}
		if j.Status.Terminal() {
			o.final = j
			return o
		}
		e.clock.Advance(tick)
	}
}

func pointsEqual(a, b gpucluster.MetricsPoint) bool {
	return a.Step == b.Step && a.TrainingLoss == b.TrainingLoss && a.LearningRate == b.LearningRate &&
		a.Timestamp.Equal(b.Timestamp) && (a.ValidationLoss == nil) == (b.ValidationLoss == nil)
}

func TestLifecycleCompleted(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 7})
	req := smallRun(t, "job-lifecycle")
	j := e.submit(t, req)
	if !j.Created || j.Status != gpucluster.StatusQueued || j.Stage != gpucluster.StageQueued || j.QueuePosition != 1 {
		t.Fatalf("submitted job = %+v, want created, queued, position 1", j)
	}
	if j.TotalSteps != req.TotalSteps || j.StepsPerEpoch != req.StepsPerEpoch || j.TotalEpochs != 3 {
		t.Fatalf("steps %d/%d epochs %d, want the submitted %d/%d and 3", j.TotalSteps, j.StepsPerEpoch, j.TotalEpochs, req.TotalSteps, req.StepsPerEpoch)
	}
	eta := *j.ETASeconds
	o := poll(t, e, j.ID, 2*time.Second, nil)

	wantStages := []gpucluster.Stage{"queued", "initializing",
		"training", "validating", "saving", "training", "validating", "saving", "training", "validating", "saving", "completed"}
	if !slices.Equal(o.stages, wantStages) {
		t.Errorf("stages = %v, want %v", o.stages, wantStages)
	}
	wantStatuses := []gpucluster.Status{"queued", "initializing", "running", "completed"}
	if !slices.Equal(o.statuses, wantStatuses) {
		t.Errorf("statuses = %v, want %v", o.statuses, wantStatuses)
	}
	f := o.final
	if f.Progress != 100 || f.Step != req.TotalSteps || f.Epoch != 3 || f.ETASeconds != nil || f.FinishedAt == nil || f.StartedAt == nil {
		t.Errorf("final = progress %v step %d epoch %d eta %v finished %v", f.Progress, f.Step, f.Epoch, f.ETASeconds, f.FinishedAt)
	}
	if got := f.FinishedAt.Sub(f.CreatedAt).Seconds(); math.Abs(got-float64(eta)) > 1 {
		t.Errorf("finished %v s after submission, the first ETA said %d s", got, eta)
	}

	// Metrics: every step exactly once, in order; validation loss on each
	// epoch's last step only.
	if len(o.points) != req.TotalSteps {
		t.Fatalf("%d points, want %d", len(o.points), req.TotalSteps)
	}
	var vals []float64
	for i, p := range o.points {
		if p.Step != i+1 {
			t.Fatalf("point %d has step %d", i, p.Step)
		}
		if wantEpoch := i/req.StepsPerEpoch + 1; p.Epoch != wantEpoch {
			t.Errorf("step %d: epoch %d, want %d", p.Step, p.Epoch, wantEpoch)
		}
		if p.ValidationLoss != nil {
			if p.Step%req.StepsPerEpoch != 0 {
				t.Errorf("validation loss on step %d, not an epoch end", p.Step)
			}
			vals = append(vals, *p.ValidationLoss)
		}
		if p.GPUUtilization < 85 || p.GPUUtilization > 98 || p.GradientNorm <= 0 || p.Throughput <= 0 || p.TrainingLoss <= 0 {
			t.Errorf("step %d: implausible %+v", p.Step, p)
		}
	}
	if len(vals) != 3 {
		t.Errorf("%d validation losses, want one per epoch (3)", len(vals))
	}
	if f.LatestValidationLoss == nil || *f.LatestValidationLoss != vals[len(vals)-1] || f.LatestMetrics == nil || f.LatestMetrics.Step != req.TotalSteps {
		t.Errorf("final latest metrics %+v, validation loss %v", f.LatestMetrics, f.LatestValidationLoss)
	}

	// Logs: stage lines, step lines, in time order.
	var msgs []string
	for i, l := range o.logs {
		if i > 0 && l.Timestamp.Before(o.logs[i-1].Timestamp) {
			t.Errorf("log %d (%q) is older than the one before", i, l.Message)
		}
		if l.Level != gpucluster.LevelInfo && l.Level != gpucluster.LevelWarning && l.Level != gpucluster.LevelError {
			t.Errorf("log level %q", l.Level)
		}
		msgs = append(msgs, l.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"Queued", "Allocated 1× A100-80GB", "Downloading base model mistralai/Mistral-7B-v0.1", "Epoch 1/3", "Epoch 3/3",
		"step 10/", "Saved checkpoint-", "validation loss", "Training finished", "Job completed"} {
		if !strings.Contains(all, want) {
			t.Errorf("logs lack %q", want)
		}
	}

	// Checkpoints: one per epoch, at its last step.
	cps, err := e.client.Checkpoints(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 3 {
		t.Fatalf("%d checkpoints, want 3", len(cps))
	}
	for i, c := range cps {
		if c.Epoch != i+1 || c.Step != (i+1)*req.StepsPerEpoch || c.SizeBytes <= training.AdapterBytes(mustModel(t), 16) || c.ValidationLoss == nil || *c.ValidationLoss != vals[i] {
			t.Errorf("checkpoint %d = %+v", i, c)
		}
	}
}

func mustModel(t *testing.T) training.BaseModel {
	m, ok := training.BaseModelByID(training.DefaultBaseModel)
	if !ok {
		t.Fatal("no default model")
	}
	return m
}

// The curves look like a real run: loss falls, lr warms up then decays to
// 0 by cosine, the gradient norm decays.
func TestCurvesRealistic(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 3, QueueSeconds: -1})
	ds := workedDataset()
	req := submitReq("job-curves", resolve(t, ds), ds) // balanced: 5 epochs, 1,125 steps, warmup 200
	j := e.submit(t, req)
	e.runToEnd(t, j.ID)
	var pts []gpucluster.MetricsPoint
	for after := 0; ; {
		page, err := e.client.Metrics(context.Background(), j.ID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, page.Points...)
		after = page.NextAfterStep
		if !page.HasMore {
			break
		}
	}
	if len(pts) != 1125 {
		t.Fatalf("%d points, want 1125", len(pts))
	}
	mean := func(ps []gpucluster.MetricsPoint, f func(gpucluster.MetricsPoint) float64) float64 {
		s := 0.0
		for _, p := range ps {
			s += f(p)
		}
		return s / float64(len(ps))
	}
	loss := func(p gpucluster.MetricsPoint) float64 { return p.TrainingLoss }
	grad := func(p gpucluster.MetricsPoint) float64 { return p.GradientNorm }
	first, last := pts[:100], pts[len(pts)-100:]
	if a, b := mean(first, loss), mean(last, loss); !(b < 0.75*a) {
		t.Errorf("training loss %v → %v: does not fall", a, b)
	}
	if a, b := mean(first, grad), mean(last, grad); !(b < a) {
		t.Errorf("gradient norm %v → %v: does not decay", a, b)
	}
	// Noise: consecutive losses are not monotone.
	ups := 0
	for i := 1; i < len(pts); i++ {
		if pts[i].TrainingLoss > pts[i-1].TrainingLoss {
			ups++
		}
	}
	if ups < len(pts)/5 {
		t.Errorf("only %d of %d steps raise the loss: no noise", ups, len(pts))
	}
	peak := req.Hyperparameters.LearningRate
	for _, c := range []struct {
		step int
		want float64
	}{{1, peak / 200}, {100, peak / 2}, {200, peak}, {200 + 925/2, peak * 0.5 * (1 + math.Cos(math.Pi*float64(925/2)/925))}, {1125, 0}} {
		if got := pts[c.step-1].LearningRate; math.Abs(got-c.want) > 1e-10 {
			t.Errorf("lr at step %d = %v, want %v", c.step, got, c.want)
		}
	}
	for i := 1; i < len(pts); i++ {
		if rising := i < 200; rising != (pts[i].LearningRate > pts[i-1].LearningRate) {
			t.Fatalf("lr at step %d: %v after %v", pts[i].Step, pts[i].LearningRate, pts[i-1].LearningRate)
		}
	}
	var vals []float64
	for _, p := range pts {
		if p.ValidationLoss != nil {
			vals = append(vals, *p.ValidationLoss)
		}
	}
	if len(vals) != 5 || !(vals[1] < vals[0]) {
		t.Errorf("validation losses %v: want 5, falling after the first epoch", vals)
	}
	thr := training.Throughput("A100-80GB", mustModel(t), 16, 1)
	if m := mean(pts, func(p gpucluster.MetricsPoint) float64 { return p.Throughput }); m < 0.93*thr || m > 1.05*thr {
		t.Errorf("mean throughput %v, model %v", m, thr)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 1})
	req := smallRun(t, "job-cancel")
	j := e.submit(t, req)
	ctx := context.Background()
	var cancelled gpucluster.Job
	o := poll(t, e, j.ID, 5*time.Second, func(s gpucluster.Job) {
		if s.Status == gpucluster.StatusRunning && s.Epoch == 2 && cancelled.ID == "" {
			var err error
			if cancelled, err = e.client.Cancel(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
	if cancelled.Status != gpucluster.StatusCancelled || o.final.Status != gpucluster.StatusCancelled {
		t.Fatalf("cancel answered %s, final status %s; want cancelled", cancelled.Status, o.final.Status)
	}
	f := o.final
	if f.Step == 0 || f.Step >= req.TotalSteps || f.Progress >= 100 || f.FinishedAt == nil || f.ETASeconds != nil {
		t.Errorf("cancelled job = step %d progress %v finished %v eta %v", f.Step, f.Progress, f.FinishedAt, f.ETASeconds)
	}
	billable := f.BillableSeconds
	e.clock.Advance(24 * time.Hour)
	again, err := e.client.Cancel(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != gpucluster.StatusCancelled || again.Step != f.Step || again.BillableSeconds != billable {
		t.Errorf("second cancel = %s step %d billable %v; want unchanged %d, %v", again.Status, again.Step, again.BillableSeconds, f.Step, billable)
	}
	page, err := e.client.Metrics(ctx, j.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(page.Points); n != len(o.points) || n > f.Step {
		t.Errorf("%d points after cancelling, %d seen while running, at step %d", n, len(o.points), f.Step)
	}
	if last := o.logs[len(o.logs)-1]; !strings.HasPrefix(last.Message, "Job cancelled") {
		t.Errorf("last log %q", last.Message)
	}
	if _, err := e.client.Artifacts(ctx, j.ID); !isConflict(err, gpucluster.CodeJobNotCompleted) {
		t.Errorf("Artifacts of a cancelled job: %v, want Conflict JOB_NOT_COMPLETED", err)
	}

	// Cancelling a completed job changes nothing.
	done := e.submit(t, smallRun(t, "job-done"))
	e.runToEnd(t, done.ID)
	c, err := e.client.Cancel(ctx, done.ID)
	if err != nil || c.Status != gpucluster.StatusCompleted {
		t.Errorf("cancel of a completed job = %s, %v; want completed", c.Status, err)
	}
}

func isConflict(err error, code string) bool {
	var c *gpucluster.Conflict
	return errors.As(err, &c) && c.Code == code
}

func TestJobFaults(t *testing.T) {
	tests := []struct {
		name       string
		jobID      string
		fault      *gpusim.JobFault // set through POST /_sim/faults next_jobs
		wantStatus gpucluster.Status
		wantCode   string
		wantReason string
		forgotten  bool
	}{
		{name: "fail- prefix", jobID: "fail-1", wantStatus: gpucluster.StatusFailed, wantCode: "CUDA_OOM", wantReason: "CUDA out of memory at step 38:"}, // the middle of 75 steps,
		{name: "fail at step", jobID: "job-f2", fault: &gpusim.JobFault{FailAtStep: 40, FailReason: "CUDA out of memory at step {step}"},
			wantStatus: gpucluster.StatusFailed, wantCode: "CUDA_OOM", wantReason: "CUDA out of memory at step 40"},
		{name: "fail at progress", jobID: "job-f3", fault: &gpusim.JobFault{FailAtProgress: ptr(60.0), FailCode: "NCCL_TIMEOUT", FailReason: "NCCL watchdog timeout"},
			wantStatus: gpucluster.StatusFailed, wantCode: "NCCL_TIMEOUT", wantReason: "NCCL watchdog timeout"},
		{name: "forget- prefix", jobID: "forget-1", forgotten: true},
		{name: "forget at progress", jobID: "job-f5", fault: &gpusim.JobFault{ForgetAtProgress: ptr(20.0)}, forgotten: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gpusim.Options{Seed: 2})
			if tt.fault != nil {
				if err := e.sim.SetFaults(gpusim.Faults{NextJobs: []gpusim.JobFault{*tt.fault}}); err != nil {
					t.Fatal(err)
				}
			}
			req := smallRun(t, tt.jobID) // 25 steps per epoch, 75 in all
			j := e.submit(t, req)
			ctx := context.Background()
			var last gpucluster.Job
			for range 10000 {
				s, err := e.client.Status(ctx, j.ID)
				if err != nil {
					var nf *gpucluster.JobNotFound
					if !tt.forgotten || !errors.As(err, &nf) || nf.ID != j.ID {
						t.Fatalf("Status: %v", err)
					}
					if last.Status.Terminal() || last.Progress == 0 {
						t.Errorf("forgotten while %s at %v %%", last.Status, last.Progress)
					}
					for _, call := range []func() error{
						func() error { _, err := e.client.Metrics(ctx, j.ID, 0, 0); return err },
						func() error { _, err := e.client.Logs(ctx, j.ID, "", 0); return err },
						func() error { _, err := e.client.Cancel(ctx, j.ID); return err },
						func() error { _, err := e.client.Checkpoints(ctx, j.ID); return err },
					} {
						if err := call(); !errors.As(err, &nf) {
							t.Errorf("call on a forgotten job: %v, want JobNotFound", err)
						}
					}
					// Submitting again starts a new run.
					again := e.submit(t, req)
					if !again.Created || again.ID == j.ID || again.Status != gpucluster.StatusQueued {
						t.Errorf("resubmitted forgotten job = %+v, want a new queued job", again)
					}
					return
				}
				last = s
				if s.Status.Terminal() {
					break
				}
				e.clock.Advance(3 * time.Second)
			}
			if tt.forgotten {
				t.Fatalf("job ended %s, never forgotten", last.Status)
			}
			if last.Status != tt.wantStatus || last.Error == nil || last.Error.Code != tt.wantCode || !strings.HasPrefix(last.Error.Message, tt.wantReason) {
				t.Fatalf("final = %s %+v, want %s %s %q", last.Status, last.Error, tt.wantStatus, tt.wantCode, tt.wantReason)
			}
			if last.Progress <= 0 || last.Progress >= 100 || last.FinishedAt == nil {
				t.Errorf("failed at progress %v, finished %v", last.Progress, last.FinishedAt)
			}
			page, err := e.client.Logs(ctx, j.ID, "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			n := len(page.Entries)
			if n < 2 || page.Entries[n-2].Level != gpucluster.LevelError || page.Entries[n-2].Message != last.Error.Message {
				t.Errorf("last logs %+v, want the ERROR reason", page.Entries[max(0, n-2):])
			}
		})
	}
}

func TestSubmitIdempotent(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 1})
	ctx := context.Background()
	req := smallRun(t, "job-idem")
	first := e.submit(t, req)
	e.clock.Advance(time.Minute)

	again := req
	again.Dataset.URL = "https://datasets.example.com/ds-1.jsonl?X-Amz-Signature=presigned-again"
	second, err := e.client.Submit(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || second.ID != first.ID || !second.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("resubmit = created %v id %s; want the first job %s", second.Created, second.ID, first.ID)
	}

	other := req
	other.Hyperparameters.LearningRate = 3e-4
	_, err = e.client.Submit(ctx, other)
	if !isConflict(err, gpucluster.CodeIdempotencyConflict) {
		t.Errorf("different body for the same job_id: %v, want Conflict IDEMPOTENCY_CONFLICT", err)
	}
	if ids := e.sim.Jobs(); len(ids) != 1 {
		t.Errorf("%d jobs, want 1", len(ids))
	}
}

func TestQueuePosition(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 1, QueueSeconds: 600})
	var ids []string
	for _, id := range []string{"q-1", "q-2", "q-3"} {
		ids = append(ids, e.submit(t, smallRun(t, id)).ID)
		e.clock.Advance(time.Second)
	}
	for i, id := range ids {
		if got := e.status(t, id).QueuePosition; got != i+1 {
			t.Errorf("job %d: queue position %d, want %d", i, got, i+1)
		}
	}
}

func TestSubmitRejected(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	good := smallRun(t, "job-ok")
	tests := []struct {
		name string
		edit func(r *gpucluster.SubmitRequest)
		want string
	}{
		{"no job id", func(r *gpucluster.SubmitRequest) { r.JobID = "" }, "job_id"},
		{"unknown model", func(r *gpucluster.SubmitRequest) { r.BaseModel = "gpt-9" }, "base_model"},
		{"unknown gpu", func(r *gpucluster.SubmitRequest) { r.GPU.Type = "TPU" }, "gpu.type"},
		{"does not fit", func(r *gpucluster.SubmitRequest) {
			r.BaseModel, r.Hyperparameters.BaseModel = "meta-llama/Llama-3.1-70B", "meta-llama/Llama-3.1-70B"
		}, "GPU memory"},
		{"steps disagree", func(r *gpucluster.SubmitRequest) { r.TotalSteps++ }, "total_steps"},
		{"no url", func(r *gpucluster.SubmitRequest) { r.Dataset.URL = "" }, "dataset.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.edit(&r)
			_, err := e.client.Submit(context.Background(), r)
			var rej *gpucluster.Rejected
			if !errors.As(err, &rej) || rej.StatusCode != 400 || rej.Code != gpucluster.CodeInvalidRequest || !strings.Contains(rej.Message, tt.want) {
				t.Errorf("Submit = %v, want Rejected 400 INVALID_REQUEST about %s", err, tt.want)
			}
		})
	}
}
