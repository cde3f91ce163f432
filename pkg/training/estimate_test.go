package training

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/money"
)

func mustResolve(t *testing.T, req Request, ds DatasetProfile) Config {
	t.Helper()
	cfg, _, err := Resolve(req, ds)
	if err != nil {
		t.Fatalf("Resolve() error = %v", err)
	}
	return cfg
}

func estimate(t *testing.T, edit func(r *Request), ds DatasetProfile) Estimate {
	t.Helper()
	req := baseReq()
	if edit != nil {
		edit(&req)
	}
	return EstimateRun(mustResolve(t, req, ds), ds, Budget{})
}

func TestEstimateGrowsWithTokens(t *testing.T) {
	var prev Estimate
	for i, tokensPerConv := range []int64{100, 500, 2_000, 8_000} {
		ds := quietDS()
		ds.TotalTokens = int64(ds.Conversations) * tokensPerConv
		e := estimate(t, nil, ds)
		if i > 0 && (e.DurationSeconds <= prev.DurationSeconds || e.EstimatedCost <= prev.EstimatedCost || e.CostBreakdown.Compute <= prev.CostBreakdown.Compute) {
			t.Errorf("%d tokens/conversation: duration %d s, cost %d; not above %d s, %d", tokensPerConv, e.DurationSeconds, e.EstimatedCost, prev.DurationSeconds, prev.EstimatedCost)
		}
		prev = e
	}
}

func TestEstimateGrowsWithEpochs(t *testing.T) {
	var prev Estimate
	for i, epochs := range []int{1, 2, 3, 10, 50} {
		e := estimate(t, func(r *Request) { r.Hyperparameters.NumEpochs = ptr(epochs) }, quietDS())
		if e.NumEpochs != epochs || e.TotalSteps != epochs*e.StepsPerEpoch {
			t.Errorf("%d epochs: num_epochs %d, total_steps %d, steps_per_epoch %d", epochs, e.NumEpochs, e.TotalSteps, e.StepsPerEpoch)
		}
		if i > 0 && (e.DurationSeconds <= prev.DurationSeconds || e.EstimatedCost <= prev.EstimatedCost) {
			t.Errorf("%d epochs: duration %d s, cost %d; not above %d s, %d", epochs, e.DurationSeconds, e.EstimatedCost, prev.DurationSeconds, prev.EstimatedCost)
		}
		prev = e
	}
}

func TestEstimateGrowsWithRank(t *testing.T) {
	var prev Estimate
	for i, rank := range []int{1, 8, 16, 64, 256} {
		e := estimate(t, func(r *Request) { r.Hyperparameters.LoRARank, r.Hyperparameters.LoRAAlpha = ptr(rank), ptr(2*rank) }, quietDS())
		if i > 0 {
			if e.TokensPerSecond >= prev.TokensPerSecond || e.DurationSeconds <= prev.DurationSeconds ||
				e.AdapterBytes <= prev.AdapterBytes || e.EstimatedCost <= prev.EstimatedCost {
				t.Errorf("rank %d: %v tok/s, %d s, adapter %d B, cost %d; previous %v, %d, %d, %d", rank,
					e.TokensPerSecond, e.DurationSeconds, e.AdapterBytes, e.EstimatedCost, prev.TokensPerSecond, prev.DurationSeconds, prev.AdapterBytes, prev.EstimatedCost)
			}
		}
		prev = e
	}
}

func TestMoreGPUsShorterButNotLinear(t *testing.T) {
	ds := quietDS()
	one := estimate(t, nil, ds)
	var prev Estimate
	for n := 1; n <= 8; n++ {
		e := estimate(t, func(r *Request) { r.GPUConfig.NumGPUs = n }, ds)
		if n > 1 {
			if e.DurationSeconds >= prev.DurationSeconds {
				t.Errorf("%d GPUs: %d s, not shorter than %d GPUs' %d s", n, e.DurationSeconds, n-1, prev.DurationSeconds)
			}
			if got, linear := e.TimeBreakdown.Training, one.TimeBreakdown.Training/float64(n); got <= linear {
				t.Errorf("%d GPUs: training %v h, want more than 1/%d of one GPU's (%v h)", n, got, n, linear)
			}
			if tp := Throughput("A100-80GB", e.modelOf(t), 16, n); tp >= float64(n)*Throughput("A100-80GB", e.modelOf(t), 16, 1) {
				t.Errorf("%d GPUs: throughput %v is linear or better", n, tp)
			}
		}
		prev = e
	}
	two := estimate(t, func(r *Request) { r.GPUConfig.NumGPUs = 2 }, ds)
	if !(two.DurationSeconds < one.DurationSeconds && 2*two.DurationSeconds > one.DurationSeconds) {
		t.Errorf("2 GPUs take %d s and 1 GPU %d s; want faster than one, slower than half", two.DurationSeconds, one.DurationSeconds)
	}
	if two.EstimatedCost <= one.EstimatedCost {
		t.Errorf("2 GPUs cost %d, one %d: sub-linear scaling should make 2 GPUs dearer", two.EstimatedCost, one.EstimatedCost)
	}
}

func (e Estimate) modelOf(t *testing.T) BaseModel {
	m, ok := BaseModelByID(e.Config.Hyperparameters.BaseModel)
	if !ok {
		t.Fatalf("no model %q", e.Config.Hyperparameters.BaseModel)
	}
	return m
}

func TestTwoA100sPricedOnce(t *testing.T) {
	e := estimate(t, func(r *Request) { r.GPUConfig.NumGPUs = 2 }, quietDS())
	if want := money.Amount(6_000_000); e.ComputePricePerHour != want {
		t.Errorf("compute price per hour = %d, want %d (2 × $3.00)", e.ComputePricePerHour, want)
	}
	if want := money.Amount(roundDiv(2*3_000_000*e.DurationSeconds, 3600)); e.CostBreakdown.Compute != want {
		t.Errorf("compute = %d, want 2 × $3.00 × %d s / 3600 = %d", e.CostBreakdown.Compute, e.DurationSeconds, want)
	}
	// From the rounded hours shown, a client gets the same within a cent.
	if got := float64(e.CostBreakdown.Compute) / 1e6; math.Abs(got-2*3.00*e.EstimatedDurationHours) > 0.01 {
		t.Errorf("compute $%v, but 2 × $3.00 × %v h = $%v", got, e.EstimatedDurationHours, 2*3.00*e.EstimatedDurationHours)
	}
	if math.Abs(e.GPUHours-2*e.EstimatedDurationHours) > 1e-4 {
		t.Errorf("gpu_hours = %v, want 2 × %v", e.GPUHours, e.EstimatedDurationHours)
	}
	if got := *e.Config.GPUConfig.CostPerGPUHour; got != 3 {
		t.Errorf("gpu_config.cost_per_gpu_hour = %v, want 3 (per GPU)", got)
	}
	if got := *e.Config.GPUConfig.GPUMemoryGB; got != 80 {
		t.Errorf("gpu_config.gpu_memory_gb = %v, want 80 (per GPU)", got)
	}
	// The same duration on one GPU costs half.
	if got, want := roundDiv(3_000_000*e.DurationSeconds, 3600), int64(e.CostBreakdown.Compute); math.Abs(float64(2*got-want)) > 1 {
		t.Errorf("one GPU for %d s = %d, half of two GPUs' %d", e.DurationSeconds, got, want)
	}
}

func TestEstimateAmounts(t *testing.T) {
	ds := quietDS()
	ds.SizeBytes = 3 << 30 // 3 GiB
	e := estimate(t, nil, ds)
	adapter := int64(16 * 32 * 81920 * 2) // rank × layers × Σ(d_in+d_out) × 2 bytes
	if e.AdapterBytes != adapter || e.AdapterParams != adapter/2 {
		t.Errorf("adapter = %d bytes, %d params; want %d, %d", e.AdapterBytes, e.AdapterParams, adapter, adapter/2)
	}
	if want := money.Amount(roundDiv((3<<30+adapter)*23_000, 1<<30)); e.CostBreakdown.Storage != want {
		t.Errorf("storage = %d, want %d", e.CostBreakdown.Storage, want)
	}
	if want := money.Amount(roundDiv(adapter*90_000, 1<<30)); e.CostBreakdown.DataTransfer != want {
		t.Errorf("data transfer = %d, want %d", e.CostBreakdown.DataTransfer, want)
	}
	if b := e.CostBreakdown; e.EstimatedCost != b.Compute+b.Storage+b.DataTransfer {
		t.Errorf("estimated_cost %d ≠ %d + %d + %d", e.EstimatedCost, b.Compute, b.Storage, b.DataTransfer)
	}
	r := e.DurationRangeHours
	if !(r.Min < e.EstimatedDurationHours && e.EstimatedDurationHours < r.Max) {
		t.Errorf("range %+v does not surround %v", r, e.EstimatedDurationHours)
	}
	tb := e.TimeBreakdown
	if sum := tb.Startup + tb.Training + tb.Validation + tb.Saving; math.Abs(sum-e.EstimatedDurationHours) > 0.001 {
		t.Errorf("time breakdown sums to %v h, duration %v h", sum, e.EstimatedDurationHours)
	}
	if tb.Validation <= 0 || tb.Validation >= tb.Training/2 {
		t.Errorf("validation %v h for training %v h: want positive and cheaper (forward only, 5%% of the data)", tb.Validation, tb.Training)
	}
	// quietDS: 10,500 conversations of 500 tokens, 4 turns; 10,000 train.
	if want := int64(math.Round(10_500 * (500*1.15 + 4*5) * 10_000 / 10_500.0)); e.TrainTokensPerEpoch != want {
		t.Errorf("train tokens per epoch = %d, want %d", e.TrainTokensPerEpoch, want)
	}
	if len(e.Assumptions) < 8 {
		t.Errorf("assumptions = %q, want every part of the model described", e.Assumptions)
	}
}

func TestThroughput(t *testing.T) {
	mistral, _ := BaseModelByID(DefaultBaseModel)
	llama70, _ := BaseModelByID("meta-llama/Llama-3.1-70B")
	cases := []struct {
		name     string
		got      float64
		min, max float64
	}{
		// Anchor: Qwen-7B LoRA measured ≈3,150 tokens/s on one A100 (docs/estimates.md).
		{"Mistral 7B on one A100", Throughput("A100-80GB", mistral, 16, 1), 2_800, 3_600},
		{"Mistral 7B on one A6000", Throughput("A6000-48GB", mistral, 16, 1), 1_200, 1_700},
		{"Mistral 7B on one H100", Throughput("H100-80GB", mistral, 16, 1), 6_000, 8_000},
		{"Llama 70B on three A100s", Throughput("A100-80GB", llama70, 16, 3), 500, 900},
		{"unknown GPU", Throughput("TPU", mistral, 16, 1), 0, 0},
		{"no GPUs", Throughput("A100-80GB", mistral, 16, 0), 0, 0},
	}
	for _, c := range cases {
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s: %v tokens/s, want %v–%v", c.name, c.got, c.min, c.max)
		}
	}
	if a, h := Throughput("A100-80GB", mistral, 16, 1), Throughput("H100-80GB", mistral, 16, 1); h <= a {
		t.Errorf("H100 %v ≤ A100 %v", h, a)
	}
	// Sharding costs efficiency beyond the parameter count.
	per70 := Throughput("A100-80GB", llama70, 16, 3) / MultiGPUSpeedup(3)
	if want := Throughput("A100-80GB", mistral, 16, 1) * TrainingFLOPsPerToken(mistral, 16) / TrainingFLOPsPerToken(llama70, 16) * ShardedEfficiency; math.Abs(per70-want) > 1e-6 {
		t.Errorf("70B per-GPU-equivalent throughput %v, want %v", per70, want)
	}
}

func TestBudget(t *testing.T) {
	ds := quietDS()
	cfg := mustResolve(t, baseReq(), ds)
	cost := EstimateRun(cfg, ds, Budget{}).EstimatedCost
	amt := func(v money.Amount) *money.Amount { return &v }
	cases := []struct {
		name          string
		b             Budget
		allowed       bool
		remaining     *money.Amount
		warn          string
		budgetNullish bool
	}{
		{"no budget", Budget{SpentThisMonth: 999_000_000}, true, nil, "", true},
		{"well within", Budget{MonthlyBudget: amt(1000 * cost), SpentThisMonth: cost}, true, amt(999 * cost), "", false},
		{"exactly the budget", Budget{MonthlyBudget: amt(10 * cost), SpentThisMonth: 9 * cost}, true, amt(cost), WarnBudgetThreshold, false},
		{"one micro-dollar over", Budget{MonthlyBudget: amt(10*cost - 1), SpentThisMonth: 9 * cost}, false, amt(cost - 1), WarnBudgetExceeded, false},
		{"already over budget", Budget{MonthlyBudget: amt(cost), SpentThisMonth: 2 * cost}, false, amt(0), WarnBudgetExceeded, false},
		{"at 80 %", Budget{MonthlyBudget: amt(10 * cost), SpentThisMonth: 7 * cost}, true, amt(3 * cost), WarnBudgetThreshold, false},
		{"below 80 %", Budget{MonthlyBudget: amt(10 * cost), SpentThisMonth: 6*cost - 1}, true, amt(4*cost + 1), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := EstimateRun(cfg, ds, c.b)
			bc := e.Budget
			if bc.AllowedToProceed != c.allowed {
				t.Errorf("allowed_to_proceed = %v, want %v", bc.AllowedToProceed, c.allowed)
			}
			if (bc.Remaining == nil) != (c.remaining == nil) || (c.remaining != nil && *bc.Remaining != *c.remaining) {
				t.Errorf("remaining = %v, want %v", bc.Remaining, c.remaining)
			}
			if bc.SpentThisMonth != c.b.SpentThisMonth {
				t.Errorf("spent_this_month = %d, want %d", bc.SpentThisMonth, c.b.SpentThisMonth)
			}
			var budgetWarns []string
			for _, w := range e.Warnings {
				if w.Field == fBudget {
					budgetWarns = append(budgetWarns, w.Code)
				}
			}
			if want := []string{c.warn}; (c.warn == "" && len(budgetWarns) != 0) || (c.warn != "" && !slices.Equal(budgetWarns, want)) {
				t.Errorf("budget warnings = %v, want %q", budgetWarns, c.warn)
			}
			err := bc.Err(e.EstimatedCost)
			if (err == nil) != c.allowed {
				t.Errorf("Err() = %v, want error %v", err, !c.allowed)
			}
			if err != nil && !strings.Contains(err.Error(), "BUDGET_EXCEEDED") {
				t.Errorf("Err() = %v, want code BUDGET_EXCEEDED", err)
			}
			js, _ := json.Marshal(bc)
			if got := strings.Contains(string(js), `"monthly_budget":null`) && strings.Contains(string(js), `"remaining":null`); got != c.budgetNullish {
				t.Errorf("budget JSON %s: nulls %v, want %v", js, got, c.budgetNullish)
			}
		})
	}
}

func TestEstimateJSON(t *testing.T) {
	e := estimate(t, func(r *Request) { r.GPUConfig.NumGPUs = 2 }, quietDS())
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var v any = m
		for _, k := range strings.Split(path, ".") {
			obj, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			if v, ok = obj[k]; !ok {
				t.Errorf("JSON has no %s: %s", path, b)
				return nil
			}
		}
		return v
	}
	for _, p := range []string{"estimated_cost", "estimated_duration_hours", "duration_range_hours.min", "duration_range_hours.max", "gpu_hours",
		"cost_breakdown.compute", "cost_breakdown.storage", "cost_breakdown.data_transfer", "total_steps", "tokens_per_second",
		"budget.spent_this_month", "budget.allowed_to_proceed", "config.preset_id", "config.hyperparameters.learning_rate",
		"config.hyperparameters.max_grad_norm"} {
		if _, ok := get(p).(float64); !ok && p != "budget.allowed_to_proceed" && p != "config.preset_id" {
			t.Errorf("%s = %v, want a number", p, get(p))
		}
	}
	if got := get("config.gpu_config"); !jsonEq(got, map[string]any{"gpu_type": "A100-80GB", "num_gpus": 2.0, "gpu_memory_gb": 80.0, "cost_per_gpu_hour": 3.0}) {
		t.Errorf("config.gpu_config = %v", got)
	}
	if _, ok := get("assumptions").([]any); !ok {
		t.Errorf("assumptions = %v, want a list", get("assumptions"))
	}
	if w, ok := get("warnings").([]any); !ok || w == nil {
		t.Errorf("warnings = %v, want a list (empty, not null)", get("warnings"))
	}
	if got, want := get("cost_breakdown.compute").(float64), float64(e.CostBreakdown.Compute)/1e6; got != want {
		t.Errorf("compute in JSON = %v, want %v dollars", got, want)
	}
}

func jsonEq(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestProfileOf(t *testing.T) {
	d := dataset.Dataset{Status: dataset.StatusReady, TrainingReady: true, FileSize: 12345, Statistics: &dataset.Stats{
		Conversations: 10, TrainConversations: 9, ValidationConversations: 1, TotalTurns: 40, TotalTokens: 5000, TokensExact: true,
		TokensPerConversation: dataset.Distribution{P95: 800},
	}}
	want := DatasetProfile{Status: "ready", TrainingReady: true, Conversations: 10, TrainConversations: 9, ValidationConversations: 1,
		TotalTokens: 5000, TokensExact: true, Turns: 40, SizeBytes: 12345, TokensP95: 800}
	if got := ProfileOf(d); got != want {
		t.Errorf("ProfileOf() = %+v, want %+v", got, want)
	}
	tokens := int64(77)
	if got := ProfileOf(dataset.Dataset{Status: dataset.StatusValidating, TotalTokens: &tokens}); got.Status != "validating" || got.TotalTokens != 77 || got.TrainingReady {
		t.Errorf("ProfileOf(validating) = %+v", got)
	}
}
