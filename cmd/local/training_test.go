package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/testkit"
	"github.com/brightrun/brightrun/pkg/training"
)

func TestTrainingCatalogs(t *testing.T) {
	a := signUp(t, "Shopper")
	var presets struct {
		Presets []training.Preset
	}
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/training/presets", Token: a.Token}, http.StatusOK, "").Into(t, &presets)
	byID := map[training.PresetID]training.Hyperparameters{}
	for _, p := range presets.Presets {
		byID[p.ID] = p.Hyperparameters
	}
	if b := byID[training.PresetBalanced]; len(byID) != 4 || b.LearningRate != 2e-4 || b.BatchSize != 8 || b.NumEpochs != 5 || b.LoRARank != 16 || b.LoRAAlpha != 32 {
		t.Fatalf("presets: got %+v, want the seed's four with balanced 2e-4/8/5/16/32", byID)
	}
	var gpus struct{ GPUs []training.GPU }
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/training/gpus", Token: a.Token}, http.StatusOK, "").Into(t, &gpus)
	prices := map[string]money.Amount{}
	for _, g := range gpus.GPUs {
		prices[g.Type] = g.PricePerGPUHour
	}
	if prices["A6000-48GB"] != 1_500_000 || prices["A100-80GB"] != 3_000_000 || prices["H100-80GB"] != 5_000_000 {
		t.Fatalf("GPU prices: got %v", prices)
	}
	var models struct {
		BaseModels []training.BaseModel `json:"base_models"`
	}
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/training/base-models", Token: a.Token}, http.StatusOK, "").Into(t, &models)
	if len(models.BaseModels) < 4 {
		t.Fatalf("base models: got %d, want at least 4", len(models.BaseModels))
	}
	for _, p := range []string{"/api/training/presets", "/api/training/gpus", "/api/training/base-models"} {
		api.Expect(t, testkit.Request{Method: "GET", Path: p}, http.StatusUnauthorized, "")
	}
}

// readyDataset uploads a generated dataset and waits until it is ready.
func readyDataset(t testing.TB, tok string, size int64, seed uint64) string {
	t.Helper()
	body := generated(t, size, seed, 0)
	c := createDataset(t, tok, "for training", "train.jsonl", len(body))
	putTo(t, c.UploadURL, body)
	if d := waitFor(t, tok, c.Dataset.ID); d.Status != "ready" {
		t.Fatalf("dataset: got %s, want ready", d.Status)
	}
	return c.Dataset.ID
}

func estimate(t testing.TB, tok string, body any) training.Estimate {
	t.Helper()
	var e training.Estimate
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs/estimate", Token: tok, Body: body}, http.StatusOK, "").Into(t, &e)
	return e
}

// TestEstimateForUploadedDataset: the estimate of a dataset uploaded
// through the datasets flow; more GPUs are faster, not linearly, and priced
// once per GPU.
func TestEstimateForUploadedDataset(t *testing.T) {
	a := signUp(t, "Planner")
	id := readyDataset(t, a.Token, 512<<10, 21)
	gpu := func(n int) map[string]any {
		return map[string]any{"dataset_id": id, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": n}}
	}
	one, two := estimate(t, a.Token, gpu(1)), estimate(t, a.Token, gpu(2))
	for _, e := range []training.Estimate{one, two} {
		b := e.CostBreakdown
		if e.EstimatedCost <= 0 || e.EstimatedDurationHours <= 0 || e.TotalSteps <= 0 || e.TokensPerSecond <= 0 || len(e.Assumptions) == 0 ||
			b.Compute+b.Storage+b.DataTransfer != e.EstimatedCost || !e.Budget.AllowedToProceed || e.Budget.MonthlyBudget != nil ||
			e.DurationRangeHours.Min >= e.EstimatedDurationHours || e.DurationRangeHours.Max <= e.EstimatedDurationHours {
			t.Fatalf("estimate: got %+v", e)
		}
	}
	if !(two.EstimatedDurationHours < one.EstimatedDurationHours && two.EstimatedDurationHours > one.EstimatedDurationHours/2) {
		t.Errorf("2 GPUs: %.4f h vs 1 GPU %.4f h; want shorter but not half", two.EstimatedDurationHours, one.EstimatedDurationHours)
	}
	// Compute is priced per GPU-hour once: 2 × $3.00 × wall-clock hours.
	want := money.Amount(float64(2*3_000_000) * float64(two.DurationSeconds) / 3600)
	if d := two.CostBreakdown.Compute - want; d < -1 || d > 1 {
		t.Errorf("2×A100 compute: got %d µ$, want %d µ$ (2 × $3.00 × %d s)", two.CostBreakdown.Compute, want, two.DurationSeconds)
	}
	// A partial custom request keeps balanced's other values.
	partial := estimate(t, a.Token, map[string]any{"dataset_id": id, "preset_id": "custom", "hyperparameters": map[string]any{"learning_rate": 0.0005},
		"gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}})
	if h := partial.Config.Hyperparameters; h.LearningRate != 0.0005 || h.BatchSize != 8 || h.LoRARank != 16 || h.NumEpochs != 5 {
		t.Errorf("partial custom: got %+v, want lr 5e-4 with balanced's batch 8, rank 16, 5 epochs", h)
	}
	more := estimate(t, a.Token, map[string]any{"dataset_id": id, "preset_id": "aggressive", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}})
	if more.EstimatedCost <= one.EstimatedCost || more.NumEpochs != 10 {
		t.Errorf("aggressive (10 epochs): got %d µ$ for %d epochs, want dearer than balanced's %d µ$", more.EstimatedCost, more.NumEpochs, one.EstimatedCost)
	}
}

// TestEstimateAgainstBudget: with a monthly budget and this month's
// spending, a run that would exceed the budget is not allowed.
func TestEstimateAgainstBudget(t *testing.T) {
	a := signUp(t, "Thrifty")
	id := readyDataset(t, a.Token, 256<<10, 22)
	req := map[string]any{"dataset_id": id, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "H100-80GB", "num_gpus": 1}}
	cost := estimate(t, a.Token, req).EstimatedCost

	month := time.Now().UTC().Format("2006-01")
	_, err := dynamoClient().PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "USER#" + a.ID}, "SK": &types.AttributeValueMemberS{Value: "COSTSUM#" + month},
		"total": &types.AttributeValueMemberN{Value: "40000000"}, // $40 spent this month
	}})
	if err != nil {
		t.Fatal(err)
	}
	setBudget := func(dollars float64) {
		api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: map[string]any{"monthly_budget": dollars}}, http.StatusOK, "")
	}
	setBudget(40 + float64(cost)/1e6 + 1) // room for the run
	if e := estimate(t, a.Token, req); !e.Budget.AllowedToProceed || e.Budget.SpentThisMonth != 40_000_000 || e.Budget.Remaining == nil {
		t.Fatalf("with room: got %+v", e.Budget)
	}
	setBudget(40 + float64(cost)/1e6/2) // half the run fits
	e := estimate(t, a.Token, req)
	if e.Budget.AllowedToProceed || e.Budget.MonthlyBudget == nil || *e.Budget.Remaining >= cost {
		t.Fatalf("over budget: got %+v, want allowed_to_proceed false", e.Budget)
	}
}

// TestEstimateBadInputAndIsolation: every rule names its field; another
// user's or a deleted dataset reads exactly like one that never existed.
func TestEstimateBadInputAndIsolation(t *testing.T) {
	owner, other := signUp(t, "Owner2"), signUp(t, "Other2")
	id := readyDataset(t, owner.Token, 64<<10, 23)
	pending := createDataset(t, owner.Token, "pending", "p.jsonl", 100).Dataset.ID
	gone := readyDataset(t, owner.Token, 64<<10, 24)
	api.Expect(t, testkit.Request{Method: "DELETE", Path: "/api/datasets/" + gone, Token: owner.Token}, http.StatusOK, "")
	a100 := map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}
	post := func(tok string, body any) testkit.Request {
		return testkit.Request{Method: "POST", Path: "/api/jobs/estimate", Token: tok, Body: body}
	}
	for _, c := range []struct {
		name  string
		req   testkit.Request
		field string
		msg   string
	}{
		{"missing dataset", post(owner.Token, map[string]any{"preset_id": "balanced", "gpu_config": a100}), "dataset_id", "is required"},
		{"unknown dataset", post(owner.Token, map[string]any{"dataset_id": "01NOPE", "preset_id": "balanced", "gpu_config": a100}), "dataset_id", "no such dataset"},
		{"another user's dataset", post(other.Token, map[string]any{"dataset_id": id, "preset_id": "balanced", "gpu_config": a100}), "dataset_id", "no such dataset"},
		{"deleted dataset", post(owner.Token, map[string]any{"dataset_id": gone, "preset_id": "balanced", "gpu_config": a100}), "dataset_id", "no such dataset"},
		{"dataset not ready", post(owner.Token, map[string]any{"dataset_id": pending, "preset_id": "balanced", "gpu_config": a100}), "dataset_id", ""},
		{"unknown preset", post(owner.Token, map[string]any{"dataset_id": id, "preset_id": "yolo", "gpu_config": a100}), "preset_id", ""},
		{"learning rate too high", post(owner.Token, map[string]any{"dataset_id": id, "preset_id": "custom", "hyperparameters": map[string]any{"learning_rate": 0.5}, "gpu_config": a100}), "hyperparameters.learning_rate", ""},
		{"unknown GPU", post(owner.Token, map[string]any{"dataset_id": id, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "TPU-v5", "num_gpus": 1}}), "gpu_config.gpu_type", ""},
		{"too many GPUs", post(owner.Token, map[string]any{"dataset_id": id, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 9}}), "gpu_config.num_gpus", ""},
		{"70B on one A100", post(owner.Token, map[string]any{"dataset_id": id, "preset_id": "custom", "hyperparameters": map[string]any{"base_model": "meta-llama/Llama-3.1-70B"}, "gpu_config": a100}), "gpu_config", ""},
		{"stale price", post(owner.Token, map[string]any{"dataset_id": id, "preset_id": "balanced", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 2, "cost_per_gpu_hour": 6.0}}), "gpu_config.cost_per_gpu_hour", ""},
		{"unknown field", post(owner.Token, map[string]any{"dataset_id": id, "gpu": "A100"}), "gpu", ""},
		{"wrong type", post(owner.Token, map[string]any{"dataset_id": id, "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": "two"}}), "gpu_config.num_gpus", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := api.Expect(t, c.req, http.StatusBadRequest, "VALIDATION_ERROR")
			msgs := res.Error.Fields[c.field]
			if len(msgs) == 0 || (c.msg != "" && msgs[0] != c.msg) {
				t.Fatalf("fields: got %v, want %q on %q", res.Error.Fields, c.msg, c.field)
			}
		})
	}
	api.Expect(t, post("", map[string]any{"dataset_id": id}), http.StatusUnauthorized, "")
}
