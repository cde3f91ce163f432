package job_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/dynamo"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/testkit"
	"github.com/brightrun/brightrun/pkg/training"
)

func TestMain(m *testing.M) { os.Exit(testkit.MainWithDynamo(m)) }

var ctx = context.Background()

// workflow records starts and can fail them.
type workflow struct {
	started []string
	err     error
}

func (w *workflow) StartJob(_ context.Context, _, jobID string, _ time.Time) error {
	if w.err != nil {
		return w.err
	}
	w.started = append(w.started, jobID)
	return nil
}

// setup makes a user with a ready dataset and returns the service.
func setup(t *testing.T, budget *money.Amount) (*job.Service, *dynamo.Store, *workflow, string) {
	t.Helper()
	store, _ := testkit.Table(t)
	now := time.Now().UTC()
	if err := store.CreateProfile(ctx, identity.User{ID: "u1", Email: "u1@example.com", Name: "U1", Role: identity.RoleUser, SubscriptionTier: identity.TierFree, MonthlyBudget: budget, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	d := dataset.Dataset{ID: "d1", UserID: "u1", Name: "d", Status: dataset.StatusUploading, StorageBucket: "b", StoragePath: "datasets/u1/d1/f.jsonl", FileName: "f.jsonl", FileSize: 1 << 20, CreatedAt: now, UpdatedAt: now}
	if err := store.CreateDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	if ok, err := store.StartValidation(ctx, "u1", "d1", "run", now, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	stats := &dataset.Stats{Conversations: 2000, TrainConversations: 1800, ValidationConversations: 200, TotalTurns: 8000, TotalTokens: 700_000, TokensExact: true}
	if ok, err := store.FinishValidation(ctx, "u1", "d1", "run", dataset.Result{Status: dataset.StatusReady, Stats: stats, SHA256: "x"}, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	wf := &workflow{}
	svc := &job.Service{Store: store, Workflow: wf, NewID: func() string { return ulid.Make().String() }, Now: time.Now,
		Training: &training.Service{Datasets: store, Profiles: store, Spending: store, Now: time.Now}}
	return svc, store, wf, "d1"
}

var a100 = training.GPUConfig{GPUType: "A100-80GB", NumGPUs: 1}

func TestCreateQueuesAndStarts(t *testing.T) {
	svc, _, wf, ds := setup(t, nil)
	first, err := svc.Create(ctx, "u1", training.Request{DatasetID: ds, PresetID: training.PresetBalanced, GPUConfig: a100})
	if err != nil {
		t.Fatal(err)
	}
	j := first.Job
	if j.Status != job.StatusQueued || j.TotalEpochs != 5 || j.TotalSteps != first.Estimate.TotalSteps || j.EstimatedTotalCost != first.Estimate.EstimatedCost ||
		j.EstimatedCompletionAt == nil || first.QueuePosition != 1 || j.Hyperparameters.BatchSize != 8 || j.GPUConfig.CostPerGPUHour == nil {
		t.Fatalf("created: got %+v position %d", j, first.QueuePosition)
	}
	second, err := svc.Create(ctx, "u1", training.Request{DatasetID: ds, PresetID: training.PresetConservative, GPUConfig: a100})
	if err != nil || second.QueuePosition != 2 {
		t.Fatalf("second job: position %d, %v; want 2", second.QueuePosition, err)
	}
	if len(wf.started) != 2 || wf.started[0] != j.ID {
		t.Fatalf("workflow starts: got %v", wf.started)
	}
	// Another user sees neither.
	if _, err := svc.Get(ctx, "u2", j.ID); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("other user: got %v, want NotFound", err)
	}
}

func TestCreateRefusesWhatTheBudgetDoesNotAllow(t *testing.T) {
	tiny := money.Amount(10_000) // one cent
	svc, _, wf, ds := setup(t, &tiny)
	_, err := svc.Create(ctx, "u1", training.Request{DatasetID: ds, PresetID: training.PresetBalanced, GPUConfig: a100})
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Conflict || e.Code != "BUDGET_EXCEEDED" {
		t.Fatalf("got %v, want Conflict BUDGET_EXCEEDED", err)
	}
	if len(wf.started) != 0 {
		t.Fatal("a refused job started a workflow")
	}
}

func TestCreateMarksFailedWhenTheWorkflowCannotStart(t *testing.T) {
	svc, store, wf, ds := setup(t, nil)
	wf.err = errors.New("throttled")
	ids := []string{}
	svc.NewID = func() string { id := ulid.Make().String(); ids = append(ids, id); return id }
	if _, err := svc.Create(ctx, "u1", training.Request{DatasetID: ds, PresetID: training.PresetBalanced, GPUConfig: a100}); err == nil {
		t.Fatal("want the start error")
	}
	j, err := store.Job(ctx, "u1", ids[0])
	if err != nil || j.Status != job.StatusFailed || j.ErrorMessage == nil {
		t.Fatalf("got %+v %v, want failed with a reason (never left queued)", j, err)
	}
}

func TestCancel(t *testing.T) {
	svc, store, _, ds := setup(t, nil)
	create := func() job.Job {
		c, err := svc.Create(ctx, "u1", training.Request{DatasetID: ds, PresetID: training.PresetBalanced, GPUConfig: a100})
		if err != nil {
			t.Fatal(err)
		}
		return c.Job
	}
	queued := create()
	for range 2 { // idempotent
		j, err := svc.Cancel(ctx, "u1", queued.ID)
		if err != nil || j.Status != job.StatusCancelled || j.CompletedAt == nil {
			t.Fatalf("cancel queued: got %+v %v", j, err)
		}
	}

	running := create()
	now := time.Now()
	if ok, _ := store.Transition(ctx, "u1", running.ID, job.StatusQueued, job.StatusRunning, job.Change{Now: now, StartedAt: &now}); !ok {
		t.Fatal("transition")
	}
	for range 2 {
		j, err := svc.Cancel(ctx, "u1", running.ID)
		if err != nil || j.Status != job.StatusRunning || !j.CancelRequested {
			t.Fatalf("cancel running: got %+v %v, want running with cancel requested", j, err)
		}
	}

	done := create()
	if ok, _ := store.Transition(ctx, "u1", done.ID, job.StatusQueued, job.StatusCompleted, job.Change{Now: now}); !ok {
		t.Fatal("transition")
	}
	if _, err := svc.Cancel(ctx, "u1", done.ID); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("cancel completed: got %v, want Conflict", err)
	}
	if _, err := svc.Cancel(ctx, "u2", running.ID); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("cancel another user's job: got %v, want NotFound", err)
	}
	// Transitions are conditional: a stale from changes nothing.
	if ok, _ := store.Transition(ctx, "u1", done.ID, job.StatusRunning, job.StatusFailed, job.Change{Now: now}); ok {
		t.Fatal("a transition from the wrong status went through")
	}
}
