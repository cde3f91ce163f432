package main

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/testkit"
)

type createdJob struct {
	Job           job.Job `json:"job"`
	QueuePosition int     `json:"queue_position"`
}

// TestJobCreateAndCancel: a job is created queued with its estimate, a
// retried create with the same Idempotency-Key returns the same job, and
// cancel of a queued job is immediate and idempotent.
func TestJobCreateAndCancel(t *testing.T) {
	a := signUp(t, "Trainer")
	ds := readyDataset(t, a.Token, 128<<10, 31)
	body := map[string]any{"dataset_id": ds, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}}
	key := map[string]string{"Idempotency-Key": "job-" + testkit.RandomID()}

	first := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: a.Token, Body: body, Headers: key}, http.StatusCreated, "")
	again := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: a.Token, Body: body, Headers: key}, http.StatusCreated, "")
	if !bytes.Equal(first.Raw, again.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("a retried create with the same key must return the same job")
	}
	other := body
	other["preset_id"] = "conservative"
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: a.Token, Body: other, Headers: key}, http.StatusConflict, "IDEMPOTENCY_KEY_REUSED")

	var c createdJob
	first.Into(t, &c)
	j := c.Job
	if j.DatasetID != ds || j.TotalEpochs != 5 || j.TotalSteps <= 0 || j.EstimatedTotalCost <= 0 || j.EstimatedCompletionAt == nil || c.QueuePosition < 1 {
		t.Fatalf("created: got %+v position %d", j, c.QueuePosition)
	}

	var got job.Job
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + j.ID, Token: a.Token}, http.StatusOK, "").Into(t, &got)
	if got.ID != j.ID {
		t.Fatalf("get: got %+v", got)
	}
	if got.Status == job.StatusQueued {
		api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs/" + j.ID + "/cancel", Token: a.Token}, http.StatusOK, "").Into(t, &got)
		if got.Status != job.StatusCancelled && !got.CancelRequested {
			t.Fatalf("cancel: got %s cancel_requested=%v", got.Status, got.CancelRequested)
		}
	}
}

func TestJobBudgetIsolationAndBadInput(t *testing.T) {
	owner, other := signUp(t, "JobOwner"), signUp(t, "JobOther")
	ds := readyDataset(t, owner.Token, 128<<10, 32)
	body := map[string]any{"dataset_id": ds, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}}
	var c createdJob
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: owner.Token, Body: body}, http.StatusCreated, "").Into(t, &c)

	testkit.AssertNotFoundForOthers(t, api, owner.Token, other.Token,
		testkit.Request{Method: "GET", Path: "/api/jobs/" + c.Job.ID},
		testkit.Request{Method: "POST", Path: "/api/jobs/" + c.Job.ID + "/cancel"},
	)
	// The other user cannot train on the owner's dataset.
	res := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: other.Token, Body: body}, http.StatusBadRequest, "VALIDATION_ERROR")
	if res.Error.Fields["dataset_id"][0] != "no such dataset" {
		t.Fatalf("other user's dataset: got %v", res.Error.Fields)
	}
	// A monthly budget the run would exceed refuses the job.
	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/me", Token: owner.Token, Body: `{"monthly_budget": 0.01}`}, http.StatusOK, "")
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: owner.Token, Body: body}, http.StatusConflict, "BUDGET_EXCEEDED")
	for _, bad := range []any{`{}`, `{"dataset_id":"x","gpu":1}`, map[string]any{"dataset_id": ds, "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 0}}} {
		api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: owner.Token, Body: bad}, http.StatusBadRequest, "VALIDATION_ERROR")
	}
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/nope", Token: owner.Token}, http.StatusNotFound, "NOT_FOUND")
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Body: body}, http.StatusUnauthorized, "")
}
