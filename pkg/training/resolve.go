package training

import (
	"fmt"
	"math"
	"strings"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/money"
)

// GPUConfig is the spec's gpu_config. Memory and price are optional in a
// request; if sent they must equal the catalog's (per GPU) — the server
// always prices from its catalog. A resolved configuration has both set.
type GPUConfig struct {
	GPUType        string   `json:"gpu_type"`
	NumGPUs        int      `json:"num_gpus"`
	GPUMemoryGB    *float64 `json:"gpu_memory_gb,omitempty"`
	CostPerGPUHour *float64 `json:"cost_per_gpu_hour,omitempty"`
}

// Request is the body of POST /api/jobs/estimate and POST /api/jobs.
// Hyperparameters are laid over the preset: each field absent or null takes
// the preset's value (custom = balanced); an absent, null or empty object is
// the preset.
type Request struct {
	DatasetID       string              `json:"dataset_id"`
	PresetID        PresetID            `json:"preset_id"` // "" = custom
	Hyperparameters HyperparameterInput `json:"hyperparameters,omitzero"`
	GPUConfig       GPUConfig           `json:"gpu_config"`
}

// Warning is a legal but questionable choice; it never blocks.
type Warning struct {
	Field   string `json:"field"` // request path, e.g. "hyperparameters.lora_alpha"; "budget" for the budget
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Warning codes.
const (
	WarnLearningRateHigh       = "LEARNING_RATE_HIGH"
	WarnLearningRateLow        = "LEARNING_RATE_LOW"
	WarnBatchNotPowerOfTwo     = "BATCH_SIZE_NOT_POWER_OF_TWO"
	WarnBatchLarge             = "BATCH_SIZE_LARGE"
	WarnEffectiveBatchTooLarge = "EFFECTIVE_BATCH_EXCEEDS_DATASET"
	WarnEpochsHigh             = "EPOCHS_HIGH"
	WarnAutoEpochsOverride     = "AUTO_EPOCHS_OVERRIDE"
	WarnRankHigh               = "RANK_HIGH"
	WarnAlphaRankRatio         = "ALPHA_RANK_RATIO"
	WarnDropoutHigh            = "DROPOUT_HIGH"
	WarnWarmupLongerThanRun    = "WARMUP_LONGER_THAN_RUN"
	WarnWarmupLong             = "WARMUP_LONG"
	WarnWeightDecayHigh        = "WEIGHT_DECAY_HIGH"
	WarnGradAccumHigh          = "GRADIENT_ACCUMULATION_HIGH"
	WarnMaxGradNormUnusual     = "MAX_GRAD_NORM_UNUSUAL"
	WarnFewSteps               = "FEW_STEPS"
	WarnContextTruncation      = "CONTEXT_TRUNCATION"
	WarnNoValidationSplit      = "NO_VALIDATION_SPLIT"
	WarnPresetModified         = "PRESET_MODIFIED"
	WarnBudgetExceeded         = "BUDGET_EXCEEDED"
	WarnBudgetThreshold        = "BUDGET_THRESHOLD"
)

// Warning thresholds (docs/estimates.md).
const (
	warnLRHigh        = 1e-3
	warnLRLow         = 1e-5
	warnBatchLarge    = 64
	warnEpochsHigh    = 20
	warnRankHigh      = 128
	warnRatioLow      = 0.5 // alpha/rank; the usual band is 1–2
	warnRatioHigh     = 4.0
	warnDropoutHigh   = 0.3
	warnWarmupShare   = 0.5
	warnWeightDecay   = 0.1
	warnGradAccumHigh = 32
	warnGradNormLow   = 0.1
	warnGradNormHigh  = 10
	warnFewSteps      = 10
	budgetAlertShare  = 0.8 // the spec's 80 % cost alert
)

// Config is a validated, resolved configuration: defaults filled, auto
// epochs decided, catalog entries looked up. Build it with Resolve.
type Config struct {
	PresetID        PresetID
	Hyperparameters Hyperparameters // every optional field set
	GPU             GPU
	NumGPUs         int
	Model           BaseModel

	requestWarnings []Warning // warnings about the request itself (preset, auto epochs)
}

// JobConfig is a Config as stored on a job and shown to clients: the spec's
// preset_id, hyperparameters and gpu_config, with the catalog's memory and
// price.
type JobConfig struct {
	PresetID        PresetID        `json:"preset_id"`
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	GPUConfig       GPUConfig       `json:"gpu_config"`
}

// GPUConfig returns the gpu_config with the catalog's memory and price per GPU.
func (c Config) GPUConfig() GPUConfig {
	return GPUConfig{
		GPUType:        c.GPU.Type,
		NumGPUs:        c.NumGPUs,
		GPUMemoryGB:    ptr(float64(c.GPU.MemoryGB)),
		CostPerGPUHour: ptr(float64(c.GPU.PricePerGPUHour) / money.MicrosPerDollar),
	}
}

// JobConfig returns the configuration to store on a job.
func (c Config) JobConfig() JobConfig {
	return JobConfig{PresetID: c.PresetID, Hyperparameters: c.Hyperparameters.clone(), GPUConfig: c.GPUConfig()}
}

// EffectiveBatch is the number of conversations per optimizer step:
// batch_size × gradient_accumulation_steps × num_gpus.
func (c Config) EffectiveBatch() int {
	accum := 1
	if p := c.Hyperparameters.GradientAccumulationSteps; p != nil && *p > 0 {
		accum = *p
	}
	return max(1, c.Hyperparameters.BatchSize) * accum * max(1, c.NumGPUs)
}

// Steps returns the optimizer steps per epoch (⌈train conversations ÷
// effective batch⌉, at least 1) and in the whole run.
func (c Config) Steps(trainConversations int) (perEpoch, total int) {
	eb := c.EffectiveBatch()
	perEpoch = max(1, (trainConversations+eb-1)/eb)
	return perEpoch, perEpoch * c.Hyperparameters.NumEpochs
}

// Resolve lays the request's hyperparameters over its preset (custom =
// balanced: a field not sent is the preset's) and validates the result
// against the catalogs and the dataset. A field sent out of range, 0
// included, is an error; a field not sent never is. Hard errors come back
// together as one apperr Invalid error with a message per
// field path ("hyperparameters.learning_rate", "gpu_config.num_gpus",
// "gpu_config" when the model does not fit, "dataset_id" when the dataset is
// not ready, or absent: an empty profile means the caller found no live
// dataset of the user's); warnings come back with a valid Config.
func Resolve(req Request, ds DatasetProfile) (Config, []Warning, error) {
	fs := apperr.Fields{}
	var warns []Warning

	presetID := req.PresetID
	if presetID == "" {
		presetID = PresetCustom
	}
	preset, ok := PresetByID(presetID)
	if !ok {
		fs.Add(fPreset, "must be one of conservative, balanced, aggressive, custom")
		preset, _ = PresetByID(PresetCustom)
	}
	in := req.Hyperparameters
	h := in.overlay(preset.Hyperparameters)
	// With auto_epochs, num_epochs comes from the rule: the preset's value
	// plays no part, and one sent is range-checked (0 = not sent) and then
	// replaced, with a warning if it differs.
	epochsSent := in.NumEpochs != nil && *in.NumEpochs != 0

	if strings.TrimSpace(req.DatasetID) == "" {
		fs.Add(fDataset, "is required")
	} else if ds.Status == "" {
		// The caller found no live dataset of the user's: unknown, deleted
		// and another user's ids all read the same.
		fs.Add(fDataset, "no such dataset")
	} else if ds.Status != "ready" || !ds.TrainingReady {
		fs.Add(fDataset, "dataset is not ready for training (status %q): wait for validation to finish, or fix the errors and upload again", ds.Status)
	} else if ds.TrainConversations < 1 {
		fs.Add(fDataset, "dataset has no conversations in the training split")
	}

	var model BaseModel
	modelOK := false
	if strings.TrimSpace(h.BaseModel) == "" {
		fs.Add(fBaseModel, "is required")
	} else if model, modelOK = BaseModelByID(h.BaseModel); !modelOK {
		fs.Add(fBaseModel, "unknown base model %q: use one of %s", h.BaseModel, modelIDs())
	} else {
		h.BaseModel = model.ID
	}

	checkRange(fs, fLearningRate, h.LearningRate)
	checkRange(fs, fBatchSize, float64(h.BatchSize))
	if !h.AutoEpochs || epochsSent {
		checkRange(fs, fNumEpochs, float64(h.NumEpochs))
	}
	checkRange(fs, fRank, float64(h.LoRARank))
	checkRange(fs, fAlpha, float64(h.LoRAAlpha))
	checkRange(fs, fDropout, h.LoRADropout)
	checkRange(fs, fWarmup, float64(*h.WarmupSteps))
	checkRange(fs, fWeightDecay, *h.WeightDecay)
	checkRange(fs, fGradAccum, float64(*h.GradientAccumulationSteps))
	checkRange(fs, fMaxGradNorm, *h.MaxGradNorm)

	gc := req.GPUConfig
	gpu, gpuOK := GPUByType(gc.GPUType)
	countOK := false
	switch {
	case strings.TrimSpace(gc.GPUType) == "":
		fs.Add(fGPUType, "is required")
	case !gpuOK:
		fs.Add(fGPUType, "unknown GPU type %q: use one of %s", gc.GPUType, gpuTypes())
	}
	if l := limitOf(fNumGPUs); !l.contains(float64(gc.NumGPUs)) {
		fs.Add(fNumGPUs, "%s (got %d)", l.describe(), gc.NumGPUs)
	} else if gpuOK && (gc.NumGPUs < gpu.MinGPUs || gc.NumGPUs > gpu.MaxGPUs) {
		fs.Add(fNumGPUs, "%s takes between %d and %d GPUs (got %d)", gpu.Type, gpu.MinGPUs, gpu.MaxGPUs, gc.NumGPUs)
	} else {
		countOK = true
	}
	if gpuOK {
		if m := gc.GPUMemoryGB; m != nil && *m != float64(gpu.MemoryGB) {
			msg := fmt.Sprintf("does not match the catalog: %s has %d GB per GPU (got %s)", gpu.Type, gpu.MemoryGB, num(*m))
			if gc.NumGPUs > 1 && *m == float64(gpu.MemoryGB*gc.NumGPUs) {
				msg += "; gpu_memory_gb is per GPU, not the total"
			}
			fs.Add(fGPUMemory, "%s", msg)
		}
		if p := gc.CostPerGPUHour; p != nil {
			sent, err := money.Dollars(*p)
			if err != nil || sent != gpu.PricePerGPUHour {
				msg := fmt.Sprintf("does not match the catalog price: %s costs %s per GPU-hour (got %s)", gpu.Type, usd(gpu.PricePerGPUHour), num(*p))
				if err == nil && gc.NumGPUs > 1 && sent == gpu.PricePerGPUHour*money.Amount(gc.NumGPUs) {
					msg += "; cost_per_gpu_hour is per GPU, not per configuration"
				} else {
					msg += "; the price may have changed: reload the GPU catalog"
				}
				fs.Add(fGPUPrice, "%s", msg)
			}
		}
		if modelOK && countOK && !Fits(gpu, gc.NumGPUs, model) {
			msg := fmt.Sprintf("%s needs at least %d GB of GPU memory for a LoRA run; %d × %s has %d GB",
				model.ID, model.MinGPUMemoryGB, gc.NumGPUs, gpu.Type, gpu.MemoryGB*gc.NumGPUs)
			if need := MinGPUsFor(gpu, model); need <= gpu.MaxGPUs {
				msg += fmt.Sprintf(": use at least %d %s GPUs", need, gpu.Type)
			} else {
				msg += ": choose a GPU type with more memory"
			}
			fs.Add(fGPUConfig, "%s", msg)
		}
	}

	if h.AutoEpochs {
		chosen := AutoEpochs(ds.TrainConversations)
		if epochsSent && h.NumEpochs != chosen {
			warns = append(warns, Warning{fNumEpochs, WarnAutoEpochsOverride,
				fmt.Sprintf("auto_epochs is on, so num_epochs %d is replaced by %d (the rule for %d training conversations)", h.NumEpochs, chosen, ds.TrainConversations)})
		}
		h.NumEpochs = chosen
	}

	if err := fs.Err(); err != nil {
		return Config{}, nil, err
	}

	cfg := Config{PresetID: presetID, Hyperparameters: h, GPU: gpu, NumGPUs: gc.NumGPUs, Model: model}
	// A named preset stays named only if the run uses exactly its values
	// (values sent equal to the preset's change nothing).
	if presetID != PresetCustom && !h.equal(preset.Hyperparameters) {
		warns = append(warns, Warning{fPreset, WarnPresetModified,
			fmt.Sprintf("the hyperparameters differ from the %s preset (%s), so the job is recorded as custom", presetID, strings.Join(h.diff(preset.Hyperparameters), ", "))})
		cfg.PresetID = PresetCustom
	}
	cfg.requestWarnings = warns
	return cfg, append(append([]Warning{}, warns...), configWarnings(cfg, ds)...), nil
}

func checkRange(fs apperr.Fields, field string, v float64) {
	if l := limitOf(field); !l.contains(v) {
		fs.Add(field, "%s (got %s)", l.describe(), num(v))
	}
}

// fillFrom sets every nil optional field from p (for a Config built by hand).
func (h *Hyperparameters) fillFrom(p Hyperparameters) {
	if h.WarmupSteps == nil {
		h.WarmupSteps = ptr(*p.WarmupSteps)
	}
	if h.WeightDecay == nil {
		h.WeightDecay = ptr(*p.WeightDecay)
	}
	if h.GradientAccumulationSteps == nil {
		h.GradientAccumulationSteps = ptr(*p.GradientAccumulationSteps)
	}
	if h.MaxGradNorm == nil {
		h.MaxGradNorm = ptr(*p.MaxGradNorm)
	}
}

func (h Hyperparameters) equal(o Hyperparameters) bool { return len(h.diff(o)) == 0 }

// diff names the fields that differ; both must have every optional field set.
func (h Hyperparameters) diff(o Hyperparameters) []string {
	var d []string
	add := func(name string, same bool) {
		if !same {
			d = append(d, name)
		}
	}
	add("base_model", h.BaseModel == o.BaseModel)
	add("learning_rate", h.LearningRate == o.LearningRate)
	add("batch_size", h.BatchSize == o.BatchSize)
	add("num_epochs", h.NumEpochs == o.NumEpochs)
	add("auto_epochs", h.AutoEpochs == o.AutoEpochs)
	add("lora_rank", h.LoRARank == o.LoRARank)
	add("lora_alpha", h.LoRAAlpha == o.LoRAAlpha)
	add("lora_dropout", h.LoRADropout == o.LoRADropout)
	add("warmup_steps", *h.WarmupSteps == *o.WarmupSteps)
	add("weight_decay", *h.WeightDecay == *o.WeightDecay)
	add("gradient_accumulation_steps", *h.GradientAccumulationSteps == *o.GradientAccumulationSteps)
	add("max_grad_norm", *h.MaxGradNorm == *o.MaxGradNorm)
	return d
}

// configWarnings are the warnings that follow from a resolved configuration
// and the dataset alone, so EstimateRun can recompute them.
func configWarnings(c Config, ds DatasetProfile) []Warning {
	h := c.Hyperparameters.clone()
	h.fillFrom(Hyperparameters{WarmupSteps: ptr(0), WeightDecay: ptr(0.0), GradientAccumulationSteps: ptr(1), MaxGradNorm: ptr(1.0)}) // a Config not built by Resolve
	var w []Warning
	add := func(field, code, format string, args ...any) {
		w = append(w, Warning{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case h.LearningRate > warnLRHigh:
		add(fLearningRate, WarnLearningRateHigh, "learning rate %s is high for LoRA (typical 1e-4 to 3e-4; above %s training often diverges)", num(h.LearningRate), num(warnLRHigh))
	case h.LearningRate < warnLRLow:
		add(fLearningRate, WarnLearningRateLow, "learning rate %s is low for LoRA (typical 1e-4 to 3e-4; below %s the adapter barely changes)", num(h.LearningRate), num(warnLRLow))
	}
	if h.BatchSize&(h.BatchSize-1) != 0 {
		add(fBatchSize, WarnBatchNotPowerOfTwo, "batch size %d is not a power of two, which uses GPU kernels less efficiently", h.BatchSize)
	}
	if h.BatchSize > warnBatchLarge {
		add(fBatchSize, WarnBatchLarge, "batch size %d per GPU may not fit GPU memory with long conversations; raise gradient_accumulation_steps instead", h.BatchSize)
	}
	perEpoch, total := c.Steps(ds.TrainConversations)
	if eb := c.EffectiveBatch(); ds.TrainConversations > 0 && eb > ds.TrainConversations {
		add(fBatchSize, WarnEffectiveBatchTooLarge, "the effective batch (%d = batch_size × gradient_accumulation_steps × num_gpus) is larger than the %d training conversations: one optimizer step per epoch", eb, ds.TrainConversations)
	}
	if h.NumEpochs > warnEpochsHigh {
		add(fNumEpochs, WarnEpochsHigh, "%d epochs risks overfitting; watch the validation loss", h.NumEpochs)
	}
	if h.LoRARank > warnRankHigh {
		add(fRank, WarnRankHigh, "rank %d is unusually high for LoRA (typical 8–64): a larger adapter and slower training, rarely better", h.LoRARank)
	}
	if h.LoRARank > 0 {
		if r := float64(h.LoRAAlpha) / float64(h.LoRARank); r < warnRatioLow || r > warnRatioHigh {
			add(fAlpha, WarnAlphaRankRatio, "lora_alpha/lora_rank is %s; the usual ratio is 1–2 (the adapter's updates are scaled by alpha/rank)", num(math.Round(r*100)/100))
		}
	}
	if h.LoRADropout > warnDropoutHigh {
		add(fDropout, WarnDropoutHigh, "dropout %s is high (typical 0.05–0.1)", num(h.LoRADropout))
	}
	if ws := *h.WarmupSteps; ws > 0 && ws >= total {
		add(fWarmup, WarnWarmupLongerThanRun, "warmup of %d steps is not shorter than the whole run (%d steps): the learning rate never reaches its peak", ws, total)
	} else if float64(ws) > warnWarmupShare*float64(total) {
		add(fWarmup, WarnWarmupLong, "warmup of %d steps is more than half the run (%d steps)", ws, total)
	}
	if *h.WeightDecay > warnWeightDecay {
		add(fWeightDecay, WarnWeightDecayHigh, "weight decay %s is high (typical 0–0.1)", num(*h.WeightDecay))
	}
	if *h.GradientAccumulationSteps > warnGradAccumHigh {
		add(fGradAccum, WarnGradAccumHigh, "%d gradient accumulation steps make each optimizer step slow to arrive; consider a larger batch", *h.GradientAccumulationSteps)
	}
	if g := *h.MaxGradNorm; g < warnGradNormLow || g > warnGradNormHigh {
		add(fMaxGradNorm, WarnMaxGradNormUnusual, "max_grad_norm %s is unusual (typical 0.3–1): too low slows learning, too high stops protecting against spikes", num(g))
	}
	if ds.TrainConversations > 0 && total < warnFewSteps {
		add(fHyper, WarnFewSteps, "only %d optimizer steps in total (%d per epoch): too few for the learning-rate schedule; lower the batch size or add data", total, perEpoch)
	}
	if c.Model.ContextLength > 0 && ds.TokensP95 > c.Model.ContextLength {
		add(fDataset, WarnContextTruncation, "at least 5%% of the conversations are longer than %d tokens, the context of %s: they will be truncated", c.Model.ContextLength, c.Model.ID)
	}
	if ds.ValidationConversations == 0 {
		add(fDataset, WarnNoValidationSplit, "the dataset has no validation split: no validation loss will be reported")
	}
	return w
}

func modelIDs() string {
	ids := make([]string, len(baseModels))
	for i, m := range baseModels {
		ids[i] = m.ID
	}
	return strings.Join(ids, ", ")
}

func gpuTypes() string {
	ts := make([]string, len(gpus))
	for i, g := range gpus {
		ts[i] = g.Type
	}
	return strings.Join(ts, ", ")
}

// usd formats an amount as dollars, e.g. "$3.00", "$0.000123".
func usd(a money.Amount) string {
	if a%10_000 == 0 {
		return fmt.Sprintf("$%.2f", float64(a)/money.MicrosPerDollar)
	}
	return fmt.Sprintf("$%s", num(float64(a)/money.MicrosPerDollar))
}
