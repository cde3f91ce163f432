package training

import (
	"fmt"
	"math"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/money"
)

// Budget is the user's monthly budget (nil: none) and what the month's cost
// summary says was spent so far.
type Budget struct {
	MonthlyBudget  *money.Amount
	SpentThisMonth money.Amount
}

// BudgetCheck is the estimate measured against the budget.
type BudgetCheck struct {
	MonthlyBudget  *money.Amount `json:"monthly_budget"` // null: no budget
	SpentThisMonth money.Amount  `json:"spent_this_month"`
	Remaining      *money.Amount `json:"remaining"` // budget − spent, not below 0; null: no budget
	// AllowedToProceed is true when there is no budget or spent + estimate ≤ budget.
	AllowedToProceed bool `json:"allowed_to_proceed"`
}

// CheckBudget measures a cost against a budget.
func CheckBudget(b Budget, cost money.Amount) BudgetCheck {
	c := BudgetCheck{SpentThisMonth: b.SpentThisMonth, AllowedToProceed: true}
	if b.MonthlyBudget != nil {
		limit := *b.MonthlyBudget
		rem := max(0, limit-b.SpentThisMonth)
		c.MonthlyBudget, c.Remaining = &limit, &rem
		c.AllowedToProceed = b.SpentThisMonth+cost <= limit
	}
	return c
}

// Err is nil when the run may proceed, else a Conflict coded
// BUDGET_EXCEEDED for job creation to return.
func (c BudgetCheck) Err(cost money.Amount) error {
	if c.AllowedToProceed {
		return nil
	}
	return apperr.New(apperr.Conflict, "the estimated cost %s would exceed the monthly budget: %s spent of %s",
		usd(cost), usd(c.SpentThisMonth), usd(*c.MonthlyBudget)).WithCode("BUDGET_EXCEEDED")
}

// CostBreakdown is the spec's cost_breakdown.
type CostBreakdown struct {
	Compute      money.Amount `json:"compute"`
	Storage      money.Amount `json:"storage"`
	DataTransfer money.Amount `json:"data_transfer"`
}

// HoursRange is a duration range in hours.
type HoursRange struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// TimeBreakdown splits the estimated duration, in hours.
type TimeBreakdown struct {
	Startup    float64 `json:"startup"`
	Training   float64 `json:"training"`
	Validation float64 `json:"validation"`
	Saving     float64 `json:"saving"`
}

// Estimate is the answer of POST /api/jobs/estimate: the spec's
// CostEstimateResponse plus how it was reached.
type Estimate struct {
	EstimatedCost          money.Amount  `json:"estimated_cost"` // compute + storage + data_transfer
	EstimatedDurationHours float64       `json:"estimated_duration_hours"`
	DurationSeconds        int64         `json:"estimated_duration_seconds"` // what the cost is computed from
	DurationRangeHours     HoursRange    `json:"duration_range_hours"`
	GPUHours               float64       `json:"gpu_hours"` // duration × num_gpus
	CostBreakdown          CostBreakdown `json:"cost_breakdown"`
	TimeBreakdown          TimeBreakdown `json:"time_breakdown_hours"`

	NumEpochs           int          `json:"num_epochs"`
	StepsPerEpoch       int          `json:"steps_per_epoch"`
	TotalSteps          int          `json:"total_steps"`
	EffectiveBatch      int          `json:"effective_batch_size"`
	TrainTokensPerEpoch int64        `json:"train_tokens_per_epoch"` // in the model's tokens
	ValidationTokens    int64        `json:"validation_tokens_per_epoch"`
	TokensPerSecond     float64      `json:"tokens_per_second"` // training, summed over the GPUs
	AdapterBytes        int64        `json:"adapter_size_bytes"`
	AdapterParams       int64        `json:"adapter_parameters"`
	StorageBytes        int64        `json:"storage_bytes"` // dataset + adapter
	MultiGPUSpeedup     float64      `json:"multi_gpu_speedup"`
	ShardedAcrossGPUs   bool         `json:"sharded_across_gpus"`
	ComputePricePerHour money.Amount `json:"compute_price_per_hour"` // price per GPU-hour × num_gpus

	Assumptions []string    `json:"assumptions"`
	Warnings    []Warning   `json:"warnings"`
	Budget      BudgetCheck `json:"budget"`
	Config      JobConfig   `json:"config"`
}

// EstimateRun estimates the duration and cost of a resolved configuration
// on a dataset, and checks the estimate against the budget. The model:
//
//	duration = startup + epochs × (train tokens ÷ throughput + validation tokens ÷ (3 × throughput)) + saving
//	compute  = price per GPU-hour × num_gpus × duration
//	storage  = (dataset + adapter bytes) × S3 Standard per GB-month, one month
//	transfer = adapter bytes × egress per GB, one download
//
// Every amount is rounded to whole micro-dollars.
func EstimateRun(cfg Config, ds DatasetProfile, b Budget) Estimate {
	h := cfg.Hyperparameters
	n := max(1, cfg.NumGPUs)
	epochs := max(0, h.NumEpochs)
	trainTok, valTok := ModelTokens(cfg.Model, ds)
	tput := throughputOn(cfg.GPU, cfg.Model, h.LoRARank, n)

	var trainSec, valSec float64
	if tput > 0 {
		trainSec = float64(epochs) * float64(trainTok) / tput
		valSec = float64(epochs) * float64(valTok) / (EvalSpeedup * tput)
	}
	startSec := StartupSeconds(cfg.Model)
	saveSec := SaveSeconds(epochs)
	seconds := int64(math.Ceil(startSec + trainSec + valSec + saveSec))

	price := cfg.GPU.PricePerGPUHour * money.Amount(n)
	compute := money.Amount(roundDiv(int64(price)*seconds, 3600))
	adapter := AdapterBytes(cfg.Model, h.LoRARank)
	stored := max(0, ds.SizeBytes) + adapter
	storage := money.Amount(roundDiv(stored*StorageMicrosPerGBMonth, BytesPerGB))
	transfer := money.Amount(roundDiv(adapter*EgressMicrosPerGB, BytesPerGB))
	total := compute + storage + transfer

	perEpoch, steps := cfg.Steps(ds.TrainConversations)
	hours := float64(seconds) / 3600
	e := Estimate{
		EstimatedCost:          total,
		EstimatedDurationHours: round(hours, 4),
		DurationSeconds:        seconds,
		DurationRangeHours:     HoursRange{Min: round(hours*DurationRangeLow, 4), Max: round(hours*DurationRangeHigh, 4)},
		GPUHours:               round(hours*float64(n), 4),
		CostBreakdown:          CostBreakdown{Compute: compute, Storage: storage, DataTransfer: transfer},
		TimeBreakdown: TimeBreakdown{
			Startup: round(startSec/3600, 4), Training: round(trainSec/3600, 4),
			Validation: round(valSec/3600, 4), Saving: round(saveSec/3600, 4),
		},
		NumEpochs:           epochs,
		StepsPerEpoch:       perEpoch,
		TotalSteps:          steps,
		EffectiveBatch:      cfg.EffectiveBatch(),
		TrainTokensPerEpoch: trainTok,
		ValidationTokens:    valTok,
		TokensPerSecond:     round(tput, 1),
		AdapterBytes:        adapter,
		AdapterParams:       AdapterParams(cfg.Model, h.LoRARank),
		StorageBytes:        stored,
		MultiGPUSpeedup:     round(MultiGPUSpeedup(n), 3),
		ShardedAcrossGPUs:   Sharded(cfg.GPU, cfg.Model),
		ComputePricePerHour: price,
		Budget:              CheckBudget(b, total),
		Config:              cfg.JobConfig(),
	}

	e.Warnings = append(append([]Warning{}, cfg.requestWarnings...), configWarnings(cfg, ds)...)
	if bc := e.Budget; bc.MonthlyBudget != nil {
		limit := *bc.MonthlyBudget
		after := bc.SpentThisMonth + total
		switch {
		case !bc.AllowedToProceed:
			e.Warnings = append(e.Warnings, Warning{fBudget, WarnBudgetExceeded, fmt.Sprintf(
				"this run (%s) would exceed the monthly budget: %s spent of %s, %s remaining", usd(total), usd(bc.SpentThisMonth), usd(limit), usd(*bc.Remaining))})
		case float64(after) >= budgetAlertShare*float64(limit):
			e.Warnings = append(e.Warnings, Warning{fBudget, WarnBudgetThreshold, fmt.Sprintf(
				"after this run %s of the %s monthly budget would be spent (%.0f%%)", usd(after), usd(limit), 100*float64(after)/float64(limit))})
		}
	}
	e.Assumptions = assumptions(cfg, ds, e, startSec)
	return e
}

func assumptions(cfg Config, ds DatasetProfile, e Estimate, startSec float64) []string {
	g, m, h, n := cfg.GPU, cfg.Model, cfg.Hyperparameters, max(1, cfg.NumGPUs)
	tokenCount := "exact cl100k_base count"
	if !ds.TokensExact {
		tokenCount = "cl100k_base count estimated from UTF-8 bytes"
	}
	a := []string{
		fmt.Sprintf("Throughput %s tokens/s: %d × %s at %s peak bf16 TFLOPS × %.0f%% utilisation (assumption), %s GFLOPs per token "+
			"(6 per base parameter: forward, backward through the frozen weights, gradient-checkpointing recompute; plus rank-%d LoRA on %d projections per layer).",
			grouped(int64(math.Round(e.TokensPerSecond))), n, g.Type, num(g.PeakBF16TFLOPS), 100*g.Utilization,
			num(round(TrainingFLOPsPerToken(m, h.LoRARank)/1e9, 2)), h.LoRARank, len(TargetModules)),
	}
	if n > 1 {
		a = append(a, fmt.Sprintf("Multi-GPU speed-up n^%s = %s× for %d GPUs (assumption: data parallel, sub-linear).", num(MultiGPUExponent), num(e.MultiGPUSpeedup), n))
	}
	if e.ShardedAcrossGPUs {
		a = append(a, fmt.Sprintf("%s does not fit one %s, so its weights are sharded across the GPUs (FSDP) at %.0f%% efficiency (assumption).", m.ID, g.Type, 100*ShardedEfficiency))
	}
	a = append(a,
		fmt.Sprintf("Training tokens per epoch: %s = the training split's share of the dataset's tokens (%s) × %s for the %s tokenizer + %d chat-template tokens per turn; "+
			"sequences are packed, so no padding is counted.", grouped(e.TrainTokensPerEpoch), tokenCount, num(m.TokenRatio), m.Name, TemplateTokensPerTurn),
		fmt.Sprintf("Epochs: %d; optimizer steps: %d per epoch (%s training conversations ÷ effective batch %d), %d in total.",
			e.NumEpochs, e.StepsPerEpoch, grouped(int64(ds.TrainConversations)), e.EffectiveBatch, e.TotalSteps),
	)
	if h.AutoEpochs {
		a = append(a, "Epochs chosen automatically: "+AutoEpochsRule)
	}
	if e.ValidationTokens > 0 {
		a = append(a, fmt.Sprintf("Validation once per epoch over the %s validation conversations (%s tokens) at %s× the training throughput (forward only).",
			grouped(int64(ds.ValidationConversations)), grouped(e.ValidationTokens), num(EvalSpeedup)))
	}
	a = append(a,
		fmt.Sprintf("Start-up %.1f min (assumption): provisioning %d s, downloading %.1f GB of weights at %s MB/s, loading at %s GB/s. "+
			"Saving: %d s per epoch checkpoint + %d s final save and upload. Time waiting in the queue is neither included nor billed.",
			startSec/60, ProvisionSeconds, m.WeightBytes()/1e9, num(DownloadBytesPerSecond/1e6), num(LoadBytesPerSecond/1e9), CheckpointSeconds, FinalSaveSeconds),
		fmt.Sprintf("Duration range %.0f%%–%.0f%% of the estimate (assumption: padding, stragglers and slow kernels make overruns likelier than underruns).",
			100*DurationRangeLow, 100*DurationRangeHigh),
		fmt.Sprintf("Compute: %d × %s per GPU-hour = %s per hour, billed for the whole duration (start-up to final save).", n, usd(g.PricePerGPUHour), usd(e.ComputePricePerHour)),
		fmt.Sprintf("Storage: dataset (%s bytes) + adapter (%s bytes: %s bf16 parameters) kept for one month at %s per GB-month (S3 Standard).",
			grouped(ds.SizeBytes), grouped(e.AdapterBytes), grouped(e.AdapterParams), usd(StorageMicrosPerGBMonth)),
		fmt.Sprintf("Data transfer: one download of the adapter at %s per GB (internet egress).", usd(EgressMicrosPerGB)),
	)
	return a
}

// roundDiv is a ÷ b rounded half up, for a ≥ 0, b > 0.
func roundDiv(a, b int64) int64 { return (a + b/2) / b }

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// grouped formats an integer with thousands separators.
func grouped(v int64) string {
	s := fmt.Sprint(v)
	neg := v < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
