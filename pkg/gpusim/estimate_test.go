package gpusim_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/training"
)

// Documented bounds (docs/gpu-cluster-api.md "Timing"): the jitter keeps a
// run within 0.97 × the estimate's duration (less a second of the
// estimate's rounding up) and 1.10 ×; the estimator's own range is
// 0.8–1.3.
const (
	minRatio = 0.97
	maxRatio = 1.10
)

// A run lasts what training.EstimateRun says: exactly without jitter,
// within the documented bounds with it; its compute cost likewise.
func TestDurationMatchesEstimate(t *testing.T) {
	worked := workedDataset()
	big := worked
	big.Conversations, big.TrainConversations, big.ValidationConversations, big.TotalTokens, big.Turns = 20_000, 19_000, 1_000, 12_000_000, 80_000
	noVal := worked
	noVal.TrainConversations, noVal.ValidationConversations = 2000, 0
	tests := []struct {
		name string
		ds   training.DatasetProfile
		edit cfgEdit
	}{
		{"balanced 1×A100 (docs/estimates.md §7)", worked, nil},
		{"balanced 2×A100", worked, func(r *training.Request) { r.GPUConfig.NumGPUs = 2 }},
		{"conservative A6000", worked, func(r *training.Request) {
			r.PresetID, r.GPUConfig.GPUType = training.PresetConservative, "A6000-48GB"
		}},
		{"aggressive Qwen H100, large dataset", big, func(r *training.Request) {
			r.PresetID, r.GPUConfig.GPUType = training.PresetAggressive, "H100-80GB"
			r.Hyperparameters.BaseModel = ptr("Qwen/Qwen2.5-7B")
		}},
		{"Llama-3.1-70B on 3×H100, sharded", worked, func(r *training.Request) {
			r.GPUConfig.GPUType, r.GPUConfig.NumGPUs = "H100-80GB", 3
			r.Hyperparameters.BaseModel = ptr("meta-llama/Llama-3.1-70B")
		}},
		{"no validation split", noVal, nil},
	}
	var report []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []cfgEdit
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			cfg := resolve(t, tt.ds, edits...)
			est := training.EstimateRun(cfg, tt.ds, training.Budget{})
			price := cfg.GPU.PricePerGPUHour * money.Amount(cfg.NumGPUs)
			cost := func(seconds float64) money.Amount { return money.Amount(math.Round(float64(price) * seconds / 3600)) }

			// Without jitter: the estimate (rounded up to a second).
			e := newEnv(t, gpusim.Options{Seed: 1, ExactTiming: true})
			j := e.runToEnd(t, e.submit(t, submitReq("exact", cfg, tt.ds)).ID)
			if d := float64(est.DurationSeconds) - j.BillableSeconds; d < 0 || d >= 1 {
				t.Errorf("exact run: %v s billable, estimate %d s", j.BillableSeconds, est.DurationSeconds)
			}
			if j.TotalSteps != est.TotalSteps {
				t.Errorf("%d steps, estimate %d", j.TotalSteps, est.TotalSteps)
			}

			// With jitter, over several seeds.
			lo, hi := math.Inf(1), math.Inf(-1)
			for seed := range uint64(8) {
				e := newEnv(t, gpusim.Options{Seed: seed})
				j := e.runToEnd(t, e.submit(t, submitReq(fmt.Sprint("job-", seed), cfg, tt.ds)).ID)
				r := j.BillableSeconds / float64(est.DurationSeconds)
				if d := float64(est.DurationSeconds); j.BillableSeconds < minRatio*d-1 || j.BillableSeconds > maxRatio*d {
					t.Errorf("seed %d: %v s billable = %.3f × the estimate %d s, outside %v–%v", seed, j.BillableSeconds, r, est.DurationSeconds, minRatio, maxRatio)
				}
				if low, high := est.DurationRangeHours.Min*3600, est.DurationRangeHours.Max*3600; j.BillableSeconds < low || j.BillableSeconds > high {
					t.Errorf("seed %d: %v s outside the estimate's range %v–%v s", seed, j.BillableSeconds, low, high)
				}
				if c := float64(cost(j.BillableSeconds)) / float64(est.CostBreakdown.Compute); c < minRatio-0.001 || c > maxRatio+0.001 {
					t.Errorf("seed %d: compute %v = %.3f × the estimate's %v", seed, cost(j.BillableSeconds), c, est.CostBreakdown.Compute)
				}
				lo, hi = min(lo, r), max(hi, r)
			}
			report = append(report, fmt.Sprintf("%-42s estimate %6d s ($%.4f compute): simulated %.3f–%.3f ×", tt.name, est.DurationSeconds, float64(est.CostBreakdown.Compute)/money.MicrosPerDollar, lo, hi))
		})
	}
	t.Log("\n" + strings.Join(report, "\n"))
}

// At TimeScale 100 a 5-epoch run takes under a minute of clock time and
// still bills its simulated duration.
func TestTimeScale(t *testing.T) {
	e := newEnv(t, gpusim.Options{Seed: 1, TimeScale: 100})
	ds := workedDataset()
	cfg := resolve(t, ds)
	est := training.EstimateRun(cfg, ds, training.Budget{})
	j := e.submit(t, submitReq("job-fast", cfg, ds))
	for !j.Status.Terminal() {
		e.clock.Advance(time.Second)
		j = e.status(t, j.ID)
	}
	wall := j.FinishedAt.Sub(j.CreatedAt)
	if wall >= time.Minute || j.TotalEpochs != 5 {
		t.Errorf("a %d-epoch run took %v of clock time, want < 1 min", j.TotalEpochs, wall)
	}
	if r := j.BillableSeconds / float64(est.DurationSeconds); r < minRatio || r > maxRatio {
		t.Errorf("billable %v s = %.3f × the estimate", j.BillableSeconds, r)
	}
	t.Logf("TimeScale 100: %v of clock time, %.0f s billable (estimate %d s)", wall, j.BillableSeconds, est.DurationSeconds)
}
