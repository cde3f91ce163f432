package gpusim_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/training"
)

const token = "sim-test-token"

// fakeClock is the simulator's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a simulator on a fake clock behind a real HTTP server, and a
// client of it.
type env struct {
	sim    *gpusim.Sim
	clock  *fakeClock
	url    string
	client *gpucluster.Client
}

func newEnv(t *testing.T, o gpusim.Options) *env {
	t.Helper()
	clock := newClock()
	o.Token = token
	if o.Clock == nil {
		o.Clock = clock.Now
	}
	sim, err := gpusim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := gpucluster.New(srv.URL, token, gpucluster.Options{
		Timeout: 5 * time.Second, MaxAttempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, clock: clock, url: srv.URL, client: c}
}

func ptr[T any](v T) *T { return &v }

// dataset profiles: the worked example of docs/estimates.md, and a small
// one for lifecycle tests (a long validation split so every stage is seen).
func workedDataset() training.DatasetProfile {
	return training.DatasetProfile{
		Status: "ready", TrainingReady: true, Conversations: 2000, TrainConversations: 1800, ValidationConversations: 200,
		TotalTokens: 1_200_000, TokensExact: true, Turns: 8000, SizeBytes: 6_000_000,
	}
}

func smallDataset() training.DatasetProfile {
	return training.DatasetProfile{
		Status: "ready", TrainingReady: true, Conversations: 300, TrainConversations: 200, ValidationConversations: 100,
		TotalTokens: 300_000, TokensExact: true, Turns: 1200, SizeBytes: 1_500_000,
	}
}

type cfgEdit func(r *training.Request)

func resolve(t *testing.T, ds training.DatasetProfile, edits ...cfgEdit) training.Config {
	t.Helper()
	req := training.Request{DatasetID: "ds-1", PresetID: training.PresetBalanced, GPUConfig: training.GPUConfig{GPUType: "A100-80GB", NumGPUs: 1}}
	for _, e := range edits {
		e(&req)
	}
	cfg, _, err := training.Resolve(req, ds)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return cfg
}

func submitReq(jobID string, cfg training.Config, ds training.DatasetProfile) gpucluster.SubmitRequest {
	return gpucluster.NewSubmitRequest(jobID, cfg, ds, "https://datasets.example.com/ds-1.jsonl?X-Amz-Signature=abc", "", "brightrun_lora_v4")
}

// smallRun: 3 epochs of the small dataset, warmup 10.
func smallRun(t *testing.T, jobID string, edits ...cfgEdit) gpucluster.SubmitRequest {
	t.Helper()
	ds := smallDataset()
	edits = append([]cfgEdit{func(r *training.Request) {
		r.Hyperparameters.NumEpochs = ptr(3)
		r.Hyperparameters.WarmupSteps = ptr(10)
	}}, edits...)
	return submitReq(jobID, resolve(t, ds, edits...), ds)
}

func (e *env) submit(t *testing.T, req gpucluster.SubmitRequest) gpucluster.Job {
	t.Helper()
	j, err := e.client.Submit(context.Background(), req)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return j
}

func (e *env) status(t *testing.T, id string) gpucluster.Job {
	t.Helper()
	j, err := e.client.Status(context.Background(), id)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return j
}

// runToEnd advances the clock until the job is final.
func (e *env) runToEnd(t *testing.T, id string) gpucluster.Job {
	t.Helper()
	for range 1000 {
		j := e.status(t, id)
		if j.Status.Terminal() {
			return j
		}
		e.clock.Advance(time.Hour)
	}
	t.Fatal("job never finished")
	return gpucluster.Job{}
}
