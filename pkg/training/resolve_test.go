package training

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// readyDS is a ready dataset of train + val conversations of 500
// cl100k_base tokens and 4 turns each, 2 KB per conversation.
func readyDS(train, val int) DatasetProfile {
	n := train + val
	return DatasetProfile{
		Status: "ready", TrainingReady: true,
		Conversations: n, TrainConversations: train, ValidationConversations: val,
		TotalTokens: int64(n) * 500, TokensExact: true, Turns: int64(n) * 4,
		SizeBytes: int64(n) * 2000, TokensP95: 900,
	}
}

// baseReq is the balanced preset, every field sent, as custom on one A100.
func baseReq() Request {
	p, _ := PresetByID(PresetBalanced)
	return Request{DatasetID: "ds_1", PresetID: PresetCustom, Hyperparameters: p.Hyperparameters.Input(),
		GPUConfig: GPUConfig{GPUType: "A100-80GB", NumGPUs: 1}}
}

// partialReq is baseReq with no hyperparameter sent: custom = balanced.
func partialReq() Request {
	r := baseReq()
	r.Hyperparameters = HyperparameterInput{}
	return r
}

// quietDS gives baseReq no warning at all.
func quietDS() DatasetProfile { return readyDS(10_000, 500) }

func fieldsOf(t *testing.T, err error) map[string][]string {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid {
		t.Fatalf("error = %v, want an apperr Invalid error", err)
	}
	return e.Fields
}

func codes(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Field+" "+w.Code)
	}
	return out
}

func TestBaseRequestIsQuiet(t *testing.T) {
	_, w, err := Resolve(baseReq(), quietDS())
	if err != nil || len(w) != 0 {
		t.Fatalf("Resolve(base) = warnings %v, error %v; want none", codes(w), err)
	}
}

// TestRangeEdges checks every limit just inside (valid) and just outside
// (an error naming exactly that field) at both ends.
func TestRangeEdges(t *testing.T) {
	type edit func(r *Request)
	lr := func(v float64) edit { return func(r *Request) { r.Hyperparameters.LearningRate = &v } }
	batch := func(v int) edit { return func(r *Request) { r.Hyperparameters.BatchSize = &v } }
	epochs := func(v int) edit { return func(r *Request) { r.Hyperparameters.NumEpochs = &v } }
	rank := func(v int) edit { return func(r *Request) { r.Hyperparameters.LoRARank = &v } }
	alpha := func(v int) edit { return func(r *Request) { r.Hyperparameters.LoRAAlpha = &v } }
	dropout := func(v float64) edit { return func(r *Request) { r.Hyperparameters.LoRADropout = &v } }
	warmup := func(v int) edit { return func(r *Request) { r.Hyperparameters.WarmupSteps = &v } }
	wd := func(v float64) edit { return func(r *Request) { r.Hyperparameters.WeightDecay = &v } }
	accum := func(v int) edit { return func(r *Request) { r.Hyperparameters.GradientAccumulationSteps = &v } }
	gn := func(v float64) edit { return func(r *Request) { r.Hyperparameters.MaxGradNorm = &v } }
	gpusN := func(v int) edit { return func(r *Request) { r.GPUConfig.NumGPUs = v } }

	cases := []struct {
		name  string
		edit  edit
		field string // "" = valid
	}{
		{"lr 0", lr(0), fLearningRate},
		{"lr tiny", lr(1e-9), ""},
		{"lr 0.01", lr(0.01), ""},
		{"lr 0.0100001", lr(0.0100001), fLearningRate},
		{"lr negative", lr(-1e-4), fLearningRate},
		{"lr NaN", lr(math.NaN()), fLearningRate},
		{"lr +Inf", lr(math.Inf(1)), fLearningRate},
		{"batch 0", batch(0), fBatchSize},
		{"batch 1", batch(1), ""},
		{"batch 512", batch(512), ""},
		{"batch 513", batch(513), fBatchSize},
		{"epochs 0", epochs(0), fNumEpochs},
		{"epochs 1", epochs(1), ""},
		{"epochs 50", epochs(50), ""},
		{"epochs 51", epochs(51), fNumEpochs},
		{"rank 0", rank(0), fRank},
		{"rank 1", rank(1), ""},
		{"rank 256", rank(256), ""},
		{"rank 257", rank(257), fRank},
		{"alpha 0", alpha(0), fAlpha},
		{"alpha 1", alpha(1), ""},
		{"alpha 1024", alpha(1024), ""},
		{"alpha 1025", alpha(1025), fAlpha},
		{"dropout -0.0001", dropout(-0.0001), fDropout},
		{"dropout 0", dropout(0), ""},
		{"dropout 0.9999", dropout(0.9999), ""},
		{"dropout 1", dropout(1), fDropout},
		{"warmup -1", warmup(-1), fWarmup},
		{"warmup 0", warmup(0), ""},
		{"warmup 100000", warmup(100_000), ""},
		{"warmup 100001", warmup(100_001), fWarmup},
		{"weight decay -0.001", wd(-0.001), fWeightDecay},
		{"weight decay 0", wd(0), ""},
		{"weight decay 1", wd(1), ""},
		{"weight decay 1.001", wd(1.001), fWeightDecay},
		{"grad accum 0", accum(0), fGradAccum},
		{"grad accum 1", accum(1), ""},
		{"grad accum 128", accum(128), ""},
		{"grad accum 129", accum(129), fGradAccum},
		{"max grad norm 0", gn(0), fMaxGradNorm},
		{"max grad norm 0.001", gn(0.001), ""},
		{"max grad norm 100", gn(100), ""},
		{"max grad norm 100.01", gn(100.01), fMaxGradNorm},
		{"num gpus 0", gpusN(0), fNumGPUs},
		{"num gpus 1", gpusN(1), ""},
		{"num gpus 8", gpusN(8), ""},
		{"num gpus 9", gpusN(9), fNumGPUs},
		{"num gpus negative", gpusN(-2), fNumGPUs},
	}
	// Every edge with every field sent, and with only the edited field sent
	// (the rest from the preset): the same answer.
	for _, base := range []struct {
		name string
		req  func() Request
	}{{"full", baseReq}, {"partial", partialReq}} {
		for _, c := range cases {
			t.Run(base.name+"/"+c.name, func(t *testing.T) {
				req := base.req()
				c.edit(&req)
				cfg, _, err := Resolve(req, quietDS())
				if c.field == "" {
					if err != nil {
						t.Fatalf("Resolve() error = %v, want none", err)
					}
					if cfg.Model.ID == "" || cfg.GPU.Type == "" {
						t.Errorf("Resolve() config = %+v, want catalog entries filled", cfg)
					}
					return
				}
				fields := fieldsOf(t, err)
				if len(fields) != 1 || len(fields[c.field]) != 1 {
					t.Fatalf("Resolve() fields = %v, want exactly one message on %s", fields, c.field)
				}
				if msg := fields[c.field][0]; !strings.Contains(msg, "must be") || !strings.Contains(msg, "(got ") {
					t.Errorf("message = %q, want the range and the value sent", msg)
				}
			})
		}
	}
}

func TestLimitMessages(t *testing.T) {
	for _, c := range []struct{ field, want string }{
		{fLearningRate, "must be greater than 0 and at most 0.01"},
		{fBatchSize, "must be between 1 and 512"},
		{fDropout, "must be at least 0 and less than 1"},
		{fMaxGradNorm, "must be greater than 0 and at most 100"},
		{fWeightDecay, "must be at least 0 and at most 1"},
	} {
		if got := limitOf(c.field).describe(); got != c.want {
			t.Errorf("%s: got %q, want %q", c.field, got, c.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	price := func(v float64) *float64 { return &v }
	cases := []struct {
		name    string
		edit    func(r *Request, ds *DatasetProfile)
		field   string
		msgHave []string
	}{
		{"unknown base model", func(r *Request, _ *DatasetProfile) { r.Hyperparameters.BaseModel = ptr("gpt2") }, fBaseModel, []string{`unknown base model "gpt2"`, "mistralai/Mistral-7B-v0.1"}},
		{"missing base model", func(r *Request, _ *DatasetProfile) { r.Hyperparameters.BaseModel = ptr("") }, fBaseModel, []string{"is required"}},
		{"unknown GPU type", func(r *Request, _ *DatasetProfile) { r.GPUConfig.GPUType = "V100-16GB" }, fGPUType, []string{`unknown GPU type "V100-16GB"`, "A100-80GB"}},
		{"missing GPU type", func(r *Request, _ *DatasetProfile) { r.GPUConfig.GPUType = "" }, fGPUType, []string{"is required"}},
		{"unknown preset", func(r *Request, _ *DatasetProfile) { r.PresetID = "turbo" }, fPreset, []string{"conservative, balanced, aggressive, custom"}},
		{"missing dataset id", func(r *Request, _ *DatasetProfile) { r.DatasetID = "" }, fDataset, []string{"is required"}},
		{"dataset validating", func(_ *Request, ds *DatasetProfile) { ds.Status, ds.TrainingReady = "validating", false }, fDataset, []string{"not ready", `"validating"`}},
		{"dataset in error", func(_ *Request, ds *DatasetProfile) { ds.Status, ds.TrainingReady = "error", false }, fDataset, []string{"not ready", `"error"`}},
		{"dataset uploading", func(_ *Request, ds *DatasetProfile) { ds.Status, ds.TrainingReady = "uploading", false }, fDataset, []string{"not ready"}},
		{"ready but not training ready", func(_ *Request, ds *DatasetProfile) { ds.TrainingReady = false }, fDataset, []string{"not ready"}},
		{"no training conversations", func(_ *Request, ds *DatasetProfile) { *ds = readyDS(0, 50) }, fDataset, []string{"no conversations in the training split"}},
		{"stale price", func(r *Request, _ *DatasetProfile) { r.GPUConfig.CostPerGPUHour = price(2.50) }, fGPUPrice,
			[]string{"does not match the catalog price", "A100-80GB costs $3.00 per GPU-hour", "got 2.5", "reload the GPU catalog"}},
		{"seed's 2×A100 price per configuration", func(r *Request, _ *DatasetProfile) {
			r.GPUConfig.NumGPUs, r.GPUConfig.CostPerGPUHour = 2, price(6.00)
		}, fGPUPrice, []string{"$3.00 per GPU-hour", "per GPU, not per configuration"}},
		{"seed's 2×A100 memory total", func(r *Request, _ *DatasetProfile) {
			r.GPUConfig.NumGPUs, r.GPUConfig.GPUMemoryGB = 2, price(160)
		}, fGPUMemory, []string{"A100-80GB has 80 GB per GPU", "got 160", "per GPU, not the total"}},
		{"wrong memory", func(r *Request, _ *DatasetProfile) { r.GPUConfig.GPUMemoryGB = price(40) }, fGPUMemory, []string{"80 GB per GPU (got 40)"}},
		{"70B on one A100", func(r *Request, _ *DatasetProfile) { r.Hyperparameters.BaseModel = ptr("meta-llama/Llama-3.1-70B") }, fGPUConfig,
			[]string{"needs at least 212 GB", "1 × A100-80GB has 80 GB", "use at least 3 A100-80GB GPUs"}},
		{"70B on two A100s", func(r *Request, _ *DatasetProfile) {
			r.Hyperparameters.BaseModel, r.GPUConfig.NumGPUs = ptr("meta-llama/Llama-3.1-70B"), 2
		}, fGPUConfig, []string{"2 × A100-80GB has 160 GB"}},
		{"70B on four A6000s", func(r *Request, _ *DatasetProfile) {
			r.Hyperparameters.BaseModel, r.GPUConfig.GPUType, r.GPUConfig.NumGPUs = ptr("meta-llama/Llama-3.1-70B"), "A6000-48GB", 4
		}, fGPUConfig, []string{"use at least 5 A6000-48GB GPUs"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, ds := baseReq(), quietDS()
			c.edit(&req, &ds)
			cfg, w, err := Resolve(req, ds)
			if err == nil {
				t.Fatalf("Resolve() = %+v, %v, nil; want an error on %s", cfg, codes(w), c.field)
			}
			fields := fieldsOf(t, err)
			if len(fields) != 1 || len(fields[c.field]) != 1 {
				t.Fatalf("Resolve() fields = %v, want one message on %s only", fields, c.field)
			}
			for _, s := range c.msgHave {
				if !strings.Contains(fields[c.field][0], s) {
					t.Errorf("message %q does not contain %q", fields[c.field][0], s)
				}
			}
		})
	}
}

func TestResolveAccepts(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name string
		edit func(r *Request)
		want func(c Config) bool
	}{
		{"catalog price and memory sent", func(r *Request) { r.GPUConfig.CostPerGPUHour, r.GPUConfig.GPUMemoryGB = f(3.00), f(80) },
			func(c Config) bool { return c.GPU.PricePerGPUHour == 3_000_000 }},
		{"2×A100 with per-GPU price", func(r *Request) { r.GPUConfig.NumGPUs, r.GPUConfig.CostPerGPUHour = 2, f(3) },
			func(c Config) bool {
				return c.NumGPUs == 2 && *c.GPUConfig().CostPerGPUHour == 3 && *c.GPUConfig().GPUMemoryGB == 80
			}},
		{"70B on three A100s", func(r *Request) {
			r.Hyperparameters.BaseModel, r.GPUConfig.NumGPUs = ptr("meta-llama/Llama-3.1-70B"), 3
		},
			func(c Config) bool { return c.Model.Parameters > 70 }},
		{"70B on five A6000s", func(r *Request) {
			r.Hyperparameters.BaseModel, r.GPUConfig.GPUType, r.GPUConfig.NumGPUs = ptr("meta-llama/Llama-3.1-70B"), "A6000-48GB", 5
		}, func(c Config) bool { return c.GPU.MemoryGB == 48 }},
		{"short model name", func(r *Request) { r.Hyperparameters.BaseModel = ptr("qwen2.5-7b") },
			func(c Config) bool { return c.Hyperparameters.BaseModel == "Qwen/Qwen2.5-7B" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := baseReq()
			c.edit(&req)
			cfg, _, err := Resolve(req, quietDS())
			if err != nil {
				t.Fatalf("Resolve() error = %v, want none", err)
			}
			if !c.want(cfg) {
				t.Errorf("Resolve() config = %+v, not as wanted", cfg)
			}
		})
	}
}

func TestResolveReportsEveryError(t *testing.T) {
	req := baseReq()
	req.Hyperparameters.LearningRate = ptr(0.0)
	req.Hyperparameters.LoRARank = ptr(0)
	req.GPUConfig.GPUType = "TPU"
	ds := quietDS()
	ds.Status = "validating"
	_, _, err := Resolve(req, ds)
	fields := fieldsOf(t, err)
	var got []string
	for f := range fields {
		got = append(got, f)
	}
	slices.Sort(got)
	want := []string{fDataset, fGPUType, fLearningRate, fRank}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

func TestWarnings(t *testing.T) {
	type edit func(r *Request, ds *DatasetProfile)
	h := func(f func(h *HyperparameterInput)) edit {
		return func(r *Request, _ *DatasetProfile) { f(&r.Hyperparameters) }
	}
	cases := []struct {
		name  string
		edit  edit
		field string
		code  string // "" = no warning at all
	}{
		{"lr 1e-3 is fine", h(func(h *HyperparameterInput) { h.LearningRate = ptr(1e-3) }), "", ""},
		{"lr above 1e-3", h(func(h *HyperparameterInput) { h.LearningRate = ptr(1.1e-3) }), fLearningRate, WarnLearningRateHigh},
		{"lr 1e-5 is fine", h(func(h *HyperparameterInput) { h.LearningRate = ptr(1e-5) }), "", ""},
		{"lr below 1e-5", h(func(h *HyperparameterInput) { h.LearningRate = ptr(9e-6) }), fLearningRate, WarnLearningRateLow},
		{"batch 12", h(func(h *HyperparameterInput) { h.BatchSize = ptr(12) }), fBatchSize, WarnBatchNotPowerOfTwo},
		{"batch 64 is fine", h(func(h *HyperparameterInput) { h.BatchSize = ptr(64) }), "", ""},
		{"batch 128", h(func(h *HyperparameterInput) { h.BatchSize = ptr(128) }), fBatchSize, WarnBatchLarge},
		{"effective batch over dataset", func(r *Request, ds *DatasetProfile) {
			*ds = readyDS(100, 10)
			r.Hyperparameters.BatchSize = ptr(128)
			*r.Hyperparameters.WarmupSteps = 0
		},
			fBatchSize, WarnEffectiveBatchTooLarge},
		{"epochs 20 is fine", h(func(h *HyperparameterInput) { h.NumEpochs = ptr(20) }), "", ""},
		{"epochs 21", h(func(h *HyperparameterInput) { h.NumEpochs = ptr(21) }), fNumEpochs, WarnEpochsHigh},
		{"rank 128 alpha 256 is fine", h(func(h *HyperparameterInput) { h.LoRARank, h.LoRAAlpha = ptr(128), ptr(256) }), "", ""},
		{"rank 256", h(func(h *HyperparameterInput) { h.LoRARank, h.LoRAAlpha = ptr(256), ptr(256) }), fRank, WarnRankHigh},
		{"alpha/rank 0.5 is fine", h(func(h *HyperparameterInput) { h.LoRAAlpha = ptr(8) }), "", ""},
		{"alpha/rank below 0.5", h(func(h *HyperparameterInput) { h.LoRAAlpha = ptr(7) }), fAlpha, WarnAlphaRankRatio},
		{"alpha/rank 4 is fine", h(func(h *HyperparameterInput) { h.LoRAAlpha = ptr(64) }), "", ""},
		{"alpha/rank above 4", h(func(h *HyperparameterInput) { h.LoRAAlpha = ptr(65) }), fAlpha, WarnAlphaRankRatio},
		{"dropout 0.3 is fine", h(func(h *HyperparameterInput) { h.LoRADropout = ptr(0.3) }), "", ""},
		{"dropout 0.5", h(func(h *HyperparameterInput) { h.LoRADropout = ptr(0.5) }), fDropout, WarnDropoutHigh},
		// quietDS: 10,000 train conversations, batch 8 → 1,250 steps per epoch, 6,250 in all.
		{"warmup half the run is fine", h(func(h *HyperparameterInput) { *h.WarmupSteps = 3125 }), "", ""},
		{"warmup over half the run", h(func(h *HyperparameterInput) { *h.WarmupSteps = 3126 }), fWarmup, WarnWarmupLong},
		{"warmup just shorter than the run", h(func(h *HyperparameterInput) { *h.WarmupSteps = 6249 }), fWarmup, WarnWarmupLong},
		{"warmup as long as the run", h(func(h *HyperparameterInput) { *h.WarmupSteps = 6250 }), fWarmup, WarnWarmupLongerThanRun},
		{"weight decay 0.1 is fine", h(func(h *HyperparameterInput) { *h.WeightDecay = 0.1 }), "", ""},
		{"weight decay 0.2", h(func(h *HyperparameterInput) { *h.WeightDecay = 0.2 }), fWeightDecay, WarnWeightDecayHigh},
		{"grad accum 32 is fine", h(func(h *HyperparameterInput) { *h.GradientAccumulationSteps, *h.WarmupSteps = 32, 20 }), "", ""},
		{"grad accum 33", h(func(h *HyperparameterInput) { *h.GradientAccumulationSteps = 33 }), fGradAccum, WarnGradAccumHigh},
		{"max grad norm 0.1 is fine", h(func(h *HyperparameterInput) { *h.MaxGradNorm = 0.1 }), "", ""},
		{"max grad norm 0.05", h(func(h *HyperparameterInput) { *h.MaxGradNorm = 0.05 }), fMaxGradNorm, WarnMaxGradNormUnusual},
		{"max grad norm 10 is fine", h(func(h *HyperparameterInput) { *h.MaxGradNorm = 10 }), "", ""},
		{"max grad norm 11", h(func(h *HyperparameterInput) { *h.MaxGradNorm = 11 }), fMaxGradNorm, WarnMaxGradNormUnusual},
		{"few steps", func(r *Request, ds *DatasetProfile) {
			*ds = readyDS(16, 4)
			*r.Hyperparameters.WarmupSteps = 0
			r.Hyperparameters.NumEpochs = ptr(4)
		},
			fHyper, WarnFewSteps},
		{"long conversations", func(_ *Request, ds *DatasetProfile) { ds.TokensP95 = 40_000 }, fDataset, WarnContextTruncation},
		{"conversations at the context length are fine", func(_ *Request, ds *DatasetProfile) { ds.TokensP95 = 32768 }, "", ""},
		{"no validation split", func(_ *Request, ds *DatasetProfile) { *ds = readyDS(10_000, 0) }, fDataset, WarnNoValidationSplit},
		{"auto epochs overrides", h(func(h *HyperparameterInput) { h.AutoEpochs, h.NumEpochs = ptr(true), ptr(7) }), fNumEpochs, WarnAutoEpochsOverride},
		{"auto epochs agreeing is quiet", h(func(h *HyperparameterInput) { h.AutoEpochs, h.NumEpochs = ptr(true), ptr(2) }), "", ""},
		{"preset modified", func(r *Request, _ *DatasetProfile) {
			r.PresetID = PresetBalanced
			r.Hyperparameters.LearningRate = ptr(2.5e-4)
		}, fPreset, WarnPresetModified},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, ds := baseReq(), quietDS()
			c.edit(&req, &ds)
			cfg, w, err := Resolve(req, ds)
			if err != nil {
				t.Fatalf("Resolve() error = %v, want warnings only", err)
			}
			got := codes(w)
			if c.code == "" {
				if len(got) != 0 {
					t.Fatalf("warnings = %v, want none", got)
				}
				return
			}
			if !slices.Contains(got, c.field+" "+c.code) {
				t.Fatalf("warnings = %v, want %s on %s", got, c.code, c.field)
			}
			// The estimate carries the same warnings.
			est := EstimateRun(cfg, ds, Budget{})
			if !slices.Equal(codes(est.Warnings), got) {
				t.Errorf("estimate warnings = %v, want %v", codes(est.Warnings), got)
			}
			for _, x := range w {
				if x.Message == "" {
					t.Errorf("warning %s has no message", x.Code)
				}
			}
		})
	}
}

func TestAutoEpochs(t *testing.T) {
	cases := []struct{ n, want int }{
		{0, 10}, {1, 10}, {5, 10}, {10, 10}, {11, 9}, {20, 5}, {25, 4}, {33, 3}, {34, 3},
		{100, 3}, {1_000, 3}, {8_333, 3}, {8_334, 2}, {12_500, 2}, {12_501, 1}, {1_000_000, 1},
	}
	for _, c := range cases {
		if got := AutoEpochs(c.n); got != c.want {
			t.Errorf("AutoEpochs(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// Monotone: more data never means more epochs.
	prev := AutoEpochs(1)
	for n := 2; n < 40_000; n += 7 {
		got := AutoEpochs(n)
		if got > prev || got < AutoEpochsMin || got > AutoEpochsMax {
			t.Fatalf("AutoEpochs(%d) = %d after %d", n, got, prev)
		}
		prev = got
	}
}

// TestResolveAutoEpochs: with auto_epochs the rule picks num_epochs. The
// preset's num_epochs plays no part; one sent is range-checked, then
// replaced (AUTO_EPOCHS_OVERRIDE when it differs; 0 or null = not sent).
func TestResolveAutoEpochs(t *testing.T) {
	cases := []struct {
		name      string
		train     int
		full      bool // every other field sent too (else only auto_epochs and num_epochs)
		numEpochs *int // nil = not sent
		want      int
		override  bool
		errField  string
	}{
		{"tiny dataset, num_epochs absent", 20, false, nil, 5, false, ""},
		{"mid dataset, num_epochs absent", 1000, false, nil, 3, false, ""},
		{"huge dataset, num_epochs absent", 20_000, false, nil, 1, false, ""},
		{"num_epochs 0 is not sent", 1000, false, ptr(0), 3, false, ""},
		{"num_epochs sent is replaced", 1000, false, ptr(9), 3, true, ""},
		{"num_epochs sent equal to the rule is quiet", 1000, false, ptr(3), 3, false, ""},
		{"full input: the preset's num_epochs sent is replaced", 1000, true, ptr(5), 3, true, ""},
		{"num_epochs out of range is still an error", 1000, false, ptr(51), 0, false, fNumEpochs},
		{"negative num_epochs is an error", 1000, false, ptr(-1), 0, false, fNumEpochs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := partialReq()
			if c.full {
				req = baseReq()
			}
			req.Hyperparameters.AutoEpochs, req.Hyperparameters.NumEpochs = ptr(true), c.numEpochs
			req.Hyperparameters.WarmupSteps = ptr(0)
			cfg, w, err := Resolve(req, readyDS(c.train, c.train/10+1))
			if c.errField != "" {
				if f := fieldsOf(t, err); len(f) != 1 || len(f[c.errField]) != 1 {
					t.Fatalf("fields = %v, want one message on %s", f, c.errField)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			if got := cfg.Hyperparameters.NumEpochs; got != c.want || !cfg.Hyperparameters.AutoEpochs {
				t.Errorf("num_epochs = %d (auto %v), want %d (auto)", got, cfg.Hyperparameters.AutoEpochs, c.want)
			}
			if got := slices.Contains(codes(w), fNumEpochs+" "+WarnAutoEpochsOverride); got != c.override {
				t.Errorf("warnings = %v, want AUTO_EPOCHS_OVERRIDE %v", codes(w), c.override)
			}
		})
	}

	// Without auto_epochs (absent or false), a num_epochs not sent is the
	// preset's, and 0 sent is an error.
	for _, auto := range []*bool{nil, ptr(false)} {
		req := partialReq()
		req.PresetID, req.Hyperparameters.AutoEpochs = PresetAggressive, auto
		if cfg := mustResolve(t, req, quietDS()); cfg.Hyperparameters.NumEpochs != 10 || cfg.Hyperparameters.AutoEpochs {
			t.Errorf("auto_epochs %v: num_epochs %d (auto %v), want the aggressive preset's 10", auto, cfg.Hyperparameters.NumEpochs, cfg.Hyperparameters.AutoEpochs)
		}
		req.Hyperparameters.NumEpochs = ptr(0)
		if _, _, err := Resolve(req, quietDS()); len(fieldsOf(t, err)[fNumEpochs]) == 0 {
			t.Errorf("auto_epochs %v, num_epochs 0: error = %v, want one on %s", auto, err, fNumEpochs)
		}
	}
}

func TestPresetResolution(t *testing.T) {
	seed := map[PresetID]struct {
		lr                         float64
		batch, epochs, rank, alpha int
		dropout                    float64
		warmup                     int
		weightDecay                float64
	}{
		PresetConservative: {1e-4, 4, 3, 8, 16, 0.05, 100, 0.01},
		PresetBalanced:     {2e-4, 8, 5, 16, 32, 0.1, 200, 0.01},
		PresetAggressive:   {3e-4, 16, 10, 32, 64, 0.1, 500, 0.01},
		PresetCustom:       {2e-4, 8, 5, 16, 32, 0.1, 200, 0.01},
	}
	var ids []PresetID
	for _, p := range Presets() {
		ids = append(ids, p.ID)
		s, h := seed[p.ID], p.Hyperparameters
		got := []any{h.LearningRate, h.BatchSize, h.NumEpochs, h.LoRARank, h.LoRAAlpha, h.LoRADropout, *h.WarmupSteps, *h.WeightDecay, *h.GradientAccumulationSteps, *h.MaxGradNorm, h.BaseModel}
		want := []any{s.lr, s.batch, s.epochs, s.rank, s.alpha, s.dropout, s.warmup, s.weightDecay, 1, 1.0, DefaultBaseModel}
		if !slices.Equal(got, want) {
			t.Errorf("preset %s = %v, want %v", p.ID, got, want)
		}
	}
	if want := []PresetID{PresetConservative, PresetBalanced, PresetAggressive, PresetCustom}; !slices.Equal(ids, want) {
		t.Errorf("Presets() ids = %v, want %v", ids, want)
	}

	// Editing what Presets returns does not change the catalog.
	p := Presets()
	*p[0].Hyperparameters.WarmupSteps = 9
	if q, _ := PresetByID(PresetConservative); *q.Hyperparameters.WarmupSteps != 100 {
		t.Errorf("catalog changed through Presets(): warmup %d", *q.Hyperparameters.WarmupSteps)
	}

	gpu := GPUConfig{GPUType: "H100-80GB", NumGPUs: 1}
	cases := []struct {
		name       string
		req        Request
		wantPreset PresetID
		wantLR     float64
		wantWarmup int
		wantWarn   string
	}{
		{"absent hyperparameters take the preset", Request{DatasetID: "d", PresetID: PresetAggressive, GPUConfig: gpu}, PresetAggressive, 3e-4, 500, ""},
		{"absent preset and hyperparameters are custom = balanced", Request{DatasetID: "d", GPUConfig: gpu}, PresetCustom, 2e-4, 200, ""},
		{"omitted optional fields come from the preset", Request{DatasetID: "d", PresetID: PresetConservative, GPUConfig: gpu, Hyperparameters: HyperparameterInput{
			BaseModel: ptr(DefaultBaseModel), LearningRate: ptr(1e-4), BatchSize: ptr(4), NumEpochs: ptr(3), LoRARank: ptr(8), LoRAAlpha: ptr(16), LoRADropout: ptr(0.05),
		}}, PresetConservative, 1e-4, 100, ""},
		{"an edited preset becomes custom", Request{DatasetID: "d", PresetID: PresetConservative, GPUConfig: gpu, Hyperparameters: HyperparameterInput{
			BaseModel: ptr(DefaultBaseModel), LearningRate: ptr(1e-4), BatchSize: ptr(4), NumEpochs: ptr(4), LoRARank: ptr(8), LoRAAlpha: ptr(16), LoRADropout: ptr(0.05),
		}}, PresetCustom, 1e-4, 100, WarnPresetModified},
		{"one field edited becomes custom", Request{DatasetID: "d", PresetID: PresetConservative, GPUConfig: gpu, Hyperparameters: HyperparameterInput{
			NumEpochs: ptr(4),
		}}, PresetCustom, 1e-4, 100, WarnPresetModified},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, w, err := Resolve(c.req, quietDS())
			if err != nil {
				t.Fatalf("Resolve() error = %v", err)
			}
			h := cfg.Hyperparameters
			if cfg.PresetID != c.wantPreset || h.LearningRate != c.wantLR || *h.WarmupSteps != c.wantWarmup {
				t.Errorf("got preset %s lr %v warmup %d, want %s %v %d", cfg.PresetID, h.LearningRate, *h.WarmupSteps, c.wantPreset, c.wantLR, c.wantWarmup)
			}
			if h.WeightDecay == nil || h.GradientAccumulationSteps == nil || h.MaxGradNorm == nil {
				t.Errorf("resolved hyperparameters have unset optional fields: %+v", h)
			}
			gotWarn := slices.ContainsFunc(w, func(x Warning) bool { return x.Code == WarnPresetModified })
			if gotWarn != (c.wantWarn != "") {
				t.Errorf("warnings = %v, want PRESET_MODIFIED %v", codes(w), c.wantWarn != "")
			}
			if c.wantWarn != "" && !strings.Contains(w[0].Message, "num_epochs") {
				t.Errorf("message %q does not name the changed field", w[0].Message)
			}
		})
	}
}

func TestRequestJSON(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		errField string
		check    func(c Config) bool
	}{
		{"the spec's shape", `{"dataset_id":"d1","preset_id":"balanced","hyperparameters":{"base_model":"mistralai/Mistral-7B-v0.1",
			"learning_rate":0.0002,"batch_size":8,"num_epochs":5,"lora_rank":16,"lora_alpha":32,"lora_dropout":0.1,"warmup_steps":200,"weight_decay":0.01},
			"gpu_config":{"gpu_type":"H100-80GB","num_gpus":1,"gpu_memory_gb":80,"cost_per_gpu_hour":5.00}}`, "",
			func(c Config) bool {
				return c.PresetID == PresetBalanced && c.GPU.Type == "H100-80GB" && *c.Hyperparameters.GradientAccumulationSteps == 1
			}},
		{"the seed's 2×A100 option", `{"dataset_id":"d1","preset_id":"custom","gpu_config":{"gpu_type":"A100-80GB","num_gpus":2,"gpu_memory_gb":160,"cost_per_gpu_hour":6.00}}`,
			fGPUPrice, nil},
		{"preset only", `{"dataset_id":"d1","preset_id":"conservative","gpu_config":{"gpu_type":"A6000-48GB","num_gpus":1}}`, "",
			func(c Config) bool { return c.Hyperparameters.LoRARank == 8 && c.PresetID == PresetConservative }},
		{"auto epochs without num_epochs", `{"dataset_id":"d1","hyperparameters":{"base_model":"Qwen/Qwen2.5-7B","learning_rate":0.0002,"batch_size":8,
			"auto_epochs":true,"lora_rank":16,"lora_alpha":32,"lora_dropout":0.1},"gpu_config":{"gpu_type":"A100-80GB","num_gpus":1}}`, "",
			func(c Config) bool { return c.Hyperparameters.NumEpochs == 2 && c.Hyperparameters.AutoEpochs }},
		{"custom with one value: the rest is balanced", `{"dataset_id":"d1","preset_id":"custom","hyperparameters":{"learning_rate":0.0005},
			"gpu_config":{"gpu_type":"A100-80GB","num_gpus":1}}`, "",
			func(c Config) bool {
				b, _ := PresetByID(PresetBalanced)
				b.Hyperparameters.LearningRate = 0.0005
				return c.PresetID == PresetCustom && len(c.Hyperparameters.diff(b.Hyperparameters)) == 0
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := strictDecode(c.body)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			cfg, _, err := Resolve(req, quietDS())
			if c.errField != "" {
				if f := fieldsOf(t, err); len(f[c.errField]) == 0 {
					t.Fatalf("fields = %v, want %s", f, c.errField)
				}
				return
			}
			if err != nil || !c.check(cfg) {
				t.Fatalf("Resolve() = %+v, %v", cfg, err)
			}
		})
	}
	b, _ := json.Marshal(Warning{Field: fRank, Code: WarnRankHigh, Message: "m"})
	if string(b) != `{"field":"hyperparameters.lora_rank","code":"RANK_HIGH","message":"m"}` {
		t.Errorf("warning JSON = %s", b)
	}
}

func TestEstimateOfAnUnresolvedConfig(t *testing.T) {
	// Must not panic: the simulator or a re-estimate may build a Config by hand.
	e := EstimateRun(Config{}, DatasetProfile{}, Budget{})
	if e.DurationSeconds <= 0 || e.EstimatedCost != e.CostBreakdown.Storage+e.CostBreakdown.DataTransfer {
		t.Errorf("estimate of an empty config = %+v", e)
	}
}
