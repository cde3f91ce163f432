package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/testkit"
)

// BenchmarkTrainingRun runs the docs/estimates.md-sized job end to end on the
// local stack and reports what Step Functions would bill and how far the run
// lands from its estimate:
//
//   - transitions/sim-h: state transitions (states entered + retries, over
//     every execution of the job) per simulated hour from submit to
//     completed — the goal is ≤ 120;
//   - max-stale-sim-s: the longest the job's current_step stood still while
//     training, as seen by a client polling GET /api/jobs/{id} every 20 ms,
//     in simulated seconds — an upper bound of how stale its metrics get
//     (goal ≤ 30; it includes the local stack's own latency × the time
//     scale);
//   - duration/estimate and compute-cost/estimate.
//
// Simulated time is wall time × the simulator's time scale; the poll task's
// interval and the interpreter's waits scale with it, so the counts are the
// ones a deployed run makes. Run it with -benchtime=1x (one run is ~30 s).
func BenchmarkTrainingRun(b *testing.B) {
	a := signUp(b, "Bencher")
	ds := readyDataset(b, a.Token, 2<<20, 51)
	req := map[string]any{"dataset_id": ds, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}}
	est := estimate(b, a.Token, req)

	for b.Loop() {
		var c createdJob
		api.Expect(b, testkit.Request{Method: "POST", Path: "/api/jobs", Token: a.Token, Body: req}, http.StatusCreated, "").Into(b, &c)
		var (
			lastStep    = -1
			lastChange  time.Time
			maxStill    time.Duration
			started     bool
			ended       job.Job
			deadline    = time.Now().Add(5 * time.Minute)
			pollClient  = &http.Client{Timeout: 10 * time.Second}
			pollAPI     = &testkit.API{BaseURL: st.APIURL, Client: pollClient}
			pollRequest = testkit.Request{Method: "GET", Path: "/api/jobs/" + c.Job.ID, Token: a.Token}
		)
		for {
			var j job.Job
			pollAPI.Expect(b, pollRequest, http.StatusOK, "").Into(b, &j)
			now := time.Now()
			// Steps only move while training: a validation pass or
			// saving stands them still on purpose.
			switch {
			case j.Status != job.StatusRunning || j.CurrentStage != job.StageTraining:
				started = false
			case !started:
				started, lastStep, lastChange = true, j.CurrentStep, now
			case j.CurrentStep != lastStep:
				maxStill = max(maxStill, now.Sub(lastChange))
				lastStep, lastChange = j.CurrentStep, now
			}
			if j.Status.Terminal() {
				ended = j
				break
			}
			if now.After(deadline) {
				b.Fatalf("job %s still %s after 5 minutes", j.ID, j.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if ended.Status != job.StatusCompleted {
			b.Fatalf("job ended %s: %s", ended.Status, deref(ended.ErrorMessage))
		}

		transitions := 0
		for _, e := range st.Workflow.Executions() {
			if e.Name == ended.ID || strings.HasPrefix(e.Name, ended.ID+"-c") {
				if _, err := st.Workflow.Wait(context.Background(), e.Name); err != nil {
					b.Fatal(err)
				}
				done, _ := st.Workflow.Describe(e.Name)
				transitions += done.Transitions

			}
		}
		simSeconds := ended.CompletedAt.Sub(*ended.StartedAt).Seconds() * st.TimeScale
		b.ReportMetric(float64(transitions), "transitions")
		b.ReportMetric(float64(transitions)/(simSeconds/3600), "transitions/sim-h")
		b.ReportMetric(maxStill.Seconds()*st.TimeScale, "max-stale-sim-s")
		b.ReportMetric(simSeconds/float64(est.DurationSeconds), "duration/estimate")
		b.ReportMetric(float64(*ended.FinalCost)/float64(est.CostBreakdown.Compute), "compute-cost/estimate")
		b.ReportMetric(simSeconds, "sim-s")
	}
}
