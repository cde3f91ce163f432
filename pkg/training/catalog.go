package training

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/brightrun/brightrun/pkg/money"
)

// PresetID names a hyperparameter preset.
type PresetID string

const (
	PresetConservative PresetID = "conservative"
	PresetBalanced     PresetID = "balanced"
	PresetAggressive   PresetID = "aggressive"
	PresetCustom       PresetID = "custom" // starts from balanced; any value may be edited
)

// DefaultBaseModel is the base model of every preset (the spec's presets).
const DefaultBaseModel = "mistralai/Mistral-7B-v0.1"

// Hyperparameters are the spec's HyperparameterConfig plus auto_epochs, as
// resolved: the presets, Config, JobConfig and the estimate's config carry
// every field, the optional ones included (their pointers exist only for
// the spec's JSON shape; Resolve sets all of them). A request sends a
// HyperparameterInput instead, which Resolve lays over a preset.
type Hyperparameters struct {
	BaseModel    string  `json:"base_model"`
	LearningRate float64 `json:"learning_rate"`
	BatchSize    int     `json:"batch_size"` // per GPU (the effective batch is batch_size × gradient_accumulation_steps × num_gpus)
	NumEpochs    int     `json:"num_epochs"`
	// AutoEpochs: num_epochs was chosen from the dataset size (AutoEpochs).
	AutoEpochs  bool    `json:"auto_epochs"`
	LoRARank    int     `json:"lora_rank"`
	LoRAAlpha   int     `json:"lora_alpha"`
	LoRADropout float64 `json:"lora_dropout"`

	WarmupSteps               *int     `json:"warmup_steps,omitempty"`
	WeightDecay               *float64 `json:"weight_decay,omitempty"`
	GradientAccumulationSteps *int     `json:"gradient_accumulation_steps,omitempty"`
	MaxGradNorm               *float64 `json:"max_grad_norm,omitempty"`
}

// HyperparameterInput is the hyperparameters object of a request: the
// spec's HyperparameterConfig plus auto_epochs, with the same JSON names,
// every field optional. A field that is absent or null takes the request's
// preset value (custom = balanced); a field that is sent, 0 included, is
// used as sent and validated. An absent, null or empty object is the preset
// itself. Resolve applies the rule (docs/estimates.md §1 "Requests").
//
// It has no UnmarshalJSON of its own, so a decoder's DisallowUnknownFields
// applies inside it too.
type HyperparameterInput struct {
	BaseModel    *string  `json:"base_model,omitempty"`
	LearningRate *float64 `json:"learning_rate,omitempty"`
	BatchSize    *int     `json:"batch_size,omitempty"`
	NumEpochs    *int     `json:"num_epochs,omitempty"`
	// AutoEpochs true: num_epochs is chosen from the dataset size; a
	// num_epochs sent with it is range-checked, then replaced by the rule's
	// value (AUTO_EPOCHS_OVERRIDE if different; 0 = not sent).
	AutoEpochs  *bool    `json:"auto_epochs,omitempty"`
	LoRARank    *int     `json:"lora_rank,omitempty"`
	LoRAAlpha   *int     `json:"lora_alpha,omitempty"`
	LoRADropout *float64 `json:"lora_dropout,omitempty"`

	WarmupSteps               *int     `json:"warmup_steps,omitempty"`
	WeightDecay               *float64 `json:"weight_decay,omitempty"`
	GradientAccumulationSteps *int     `json:"gradient_accumulation_steps,omitempty"`
	MaxGradNorm               *float64 `json:"max_grad_norm,omitempty"`
}

// Input returns h as a request's hyperparameters with every field sent, so
// a stored configuration (a preset, a job's config) can be sent again.
func (h Hyperparameters) Input() HyperparameterInput {
	return HyperparameterInput{
		BaseModel: ptr(h.BaseModel), LearningRate: ptr(h.LearningRate), BatchSize: ptr(h.BatchSize),
		NumEpochs: ptr(h.NumEpochs), AutoEpochs: ptr(h.AutoEpochs),
		LoRARank: ptr(h.LoRARank), LoRAAlpha: ptr(h.LoRAAlpha), LoRADropout: ptr(h.LoRADropout),
		WarmupSteps: clonePtr(h.WarmupSteps), WeightDecay: clonePtr(h.WeightDecay),
		GradientAccumulationSteps: clonePtr(h.GradientAccumulationSteps), MaxGradNorm: clonePtr(h.MaxGradNorm),
	}
}

// overlay returns p with every field the input sets replaced by the value sent.
// p must have every optional field set (a preset does).
func (in HyperparameterInput) overlay(p Hyperparameters) Hyperparameters {
	h := p.clone()
	setFrom(&h.BaseModel, in.BaseModel)
	setFrom(&h.LearningRate, in.LearningRate)
	setFrom(&h.BatchSize, in.BatchSize)
	setFrom(&h.NumEpochs, in.NumEpochs)
	setFrom(&h.AutoEpochs, in.AutoEpochs)
	setFrom(&h.LoRARank, in.LoRARank)
	setFrom(&h.LoRAAlpha, in.LoRAAlpha)
	setFrom(&h.LoRADropout, in.LoRADropout)
	setFrom(h.WarmupSteps, in.WarmupSteps)
	setFrom(h.WeightDecay, in.WeightDecay)
	setFrom(h.GradientAccumulationSteps, in.GradientAccumulationSteps)
	setFrom(h.MaxGradNorm, in.MaxGradNorm)
	return h
}

func setFrom[T any](dst, src *T) {
	if src != nil {
		*dst = *src
	}
}

// Preset is a named, fully resolved set of hyperparameters.
type Preset struct {
	ID              PresetID        `json:"id"`
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Hyperparameters Hyperparameters `json:"hyperparameters"`
}

// GPU is a GPU type the platform rents, priced per GPU-hour. A run uses
// NumGPUs of one type and costs PricePerGPUHour × NumGPUs per hour.
type GPU struct {
	Type            string       `json:"gpu_type"`
	Name            string       `json:"name"`
	MemoryGB        int          `json:"gpu_memory_gb"`     // per GPU
	PricePerGPUHour money.Amount `json:"cost_per_gpu_hour"` // per GPU
	MinGPUs         int          `json:"min_gpus"`
	MaxGPUs         int          `json:"max_gpus"`
	// The throughput model's inputs (docs/estimates.md): dense bf16 tensor
	// peak from NVIDIA's datasheets, and the assumed fraction of it a LoRA
	// training step achieves.
	PeakBF16TFLOPS float64 `json:"peak_bf16_tflops"`
	Utilization    float64 `json:"assumed_utilization"`
}

// BaseModel is a base model LoRA adapters can be trained on. The
// architecture fields come from the model's config.json on Hugging Face; they
// size the adapter and the LoRA compute.
type BaseModel struct {
	ID             string  `json:"id"` // the Hugging Face repository id, e.g. "mistralai/Mistral-7B-v0.1"
	Name           string  `json:"name"`
	Parameters     float64 `json:"parameters_billions"`
	ContextLength  int     `json:"context_length"`
	MinGPUMemoryGB int     `json:"min_gpu_memory_gb"` // for a bf16 LoRA run, summed over the run's GPUs
	Layers         int     `json:"num_layers"`
	HiddenSize     int     `json:"hidden_size"`
	Intermediate   int     `json:"intermediate_size"`
	AttentionHeads int     `json:"num_attention_heads"`
	KVHeads        int     `json:"num_key_value_heads"`
	// TokenRatio converts the dataset's cl100k_base token count into this
	// model's tokens (assumption, see docs/estimates.md).
	TokenRatio float64 `json:"tokens_per_cl100k_token"`
}

func ptr[T any](v T) *T { return &v }

func dollars(d float64) money.Amount {
	a, err := money.Dollars(d)
	if err != nil {
		panic(err)
	}
	return a
}

var presets = []Preset{
	{
		ID:          PresetConservative,
		Name:        "Conservative",
		Description: "Low learning rate and rank, 3 epochs: the safest choice for small or noisy datasets, with the least risk of overfitting.",
		Hyperparameters: Hyperparameters{
			BaseModel: DefaultBaseModel, LearningRate: 1e-4, BatchSize: 4, NumEpochs: 3,
			LoRARank: 8, LoRAAlpha: 16, LoRADropout: 0.05,
			WarmupSteps: ptr(100), WeightDecay: ptr(0.01), GradientAccumulationSteps: ptr(1), MaxGradNorm: ptr(1.0),
		},
	},
	{
		ID:          PresetBalanced,
		Name:        "Balanced",
		Description: "The default: rank 16, 5 epochs, learning rate 2e-4; suits most datasets of a few hundred to a few thousand conversations.",
		Hyperparameters: Hyperparameters{
			BaseModel: DefaultBaseModel, LearningRate: 2e-4, BatchSize: 8, NumEpochs: 5,
			LoRARank: 16, LoRAAlpha: 32, LoRADropout: 0.1,
			WarmupSteps: ptr(200), WeightDecay: ptr(0.01), GradientAccumulationSteps: ptr(1), MaxGradNorm: ptr(1.0),
		},
	},
	{
		ID:          PresetAggressive,
		Name:        "Aggressive",
		Description: "High learning rate and rank, 10 epochs: learns the most from large, clean datasets; watch the validation loss for overfitting.",
		Hyperparameters: Hyperparameters{
			BaseModel: DefaultBaseModel, LearningRate: 3e-4, BatchSize: 16, NumEpochs: 10,
			LoRARank: 32, LoRAAlpha: 64, LoRADropout: 0.1,
			WarmupSteps: ptr(500), WeightDecay: ptr(0.01), GradientAccumulationSteps: ptr(1), MaxGradNorm: ptr(1.0),
		},
	},
	{
		ID:          PresetCustom,
		Name:        "Custom",
		Description: "Starts from Balanced; edit any value.",
		Hyperparameters: Hyperparameters{
			BaseModel: DefaultBaseModel, LearningRate: 2e-4, BatchSize: 8, NumEpochs: 5,
			LoRARank: 16, LoRAAlpha: 32, LoRADropout: 0.1,
			WarmupSteps: ptr(200), WeightDecay: ptr(0.01), GradientAccumulationSteps: ptr(1), MaxGradNorm: ptr(1.0),
		},
	},
}

// The spec's GPU_OPTIONS, one row per GPU type (its 2×A100 row is a count,
// not a type, and double counted memory and price).
var gpus = []GPU{
	{Type: "A6000-48GB", Name: "NVIDIA RTX A6000 48 GB", MemoryGB: 48, PricePerGPUHour: dollars(1.50), MinGPUs: 1, MaxGPUs: 8, PeakBF16TFLOPS: 154.8, Utilization: 0.40},
	{Type: "A100-80GB", Name: "NVIDIA A100 80 GB SXM", MemoryGB: 80, PricePerGPUHour: dollars(3.00), MinGPUs: 1, MaxGPUs: 8, PeakBF16TFLOPS: 312, Utilization: 0.45},
	{Type: "H100-80GB", Name: "NVIDIA H100 80 GB SXM", MemoryGB: 80, PricePerGPUHour: dollars(5.00), MinGPUs: 1, MaxGPUs: 8, PeakBF16TFLOPS: 989.4, Utilization: 0.30},
}

// minMemoryFactor: a bf16 LoRA run needs about 1.5 × the bf16 weights
// (docs/estimates.md); MinGPUMemoryGB = ceil(1.5 × 2 bytes × parameters).
const minMemoryFactor = 1.5

var baseModels = []BaseModel{
	{ID: "mistralai/Mistral-7B-v0.1", Name: "Mistral 7B v0.1", Parameters: 7.24, ContextLength: 32768, MinGPUMemoryGB: 22,
		Layers: 32, HiddenSize: 4096, Intermediate: 14336, AttentionHeads: 32, KVHeads: 8, TokenRatio: 1.15},
	{ID: "meta-llama/Llama-3.1-8B", Name: "Llama 3.1 8B", Parameters: 8.03, ContextLength: 131072, MinGPUMemoryGB: 25,
		Layers: 32, HiddenSize: 4096, Intermediate: 14336, AttentionHeads: 32, KVHeads: 8, TokenRatio: 1.0},
	{ID: "Qwen/Qwen2.5-7B", Name: "Qwen2.5 7B", Parameters: 7.62, ContextLength: 131072, MinGPUMemoryGB: 23,
		Layers: 28, HiddenSize: 3584, Intermediate: 18944, AttentionHeads: 28, KVHeads: 4, TokenRatio: 1.0},
	{ID: "meta-llama/Llama-3.1-70B", Name: "Llama 3.1 70B", Parameters: 70.55, ContextLength: 131072, MinGPUMemoryGB: 212,
		Layers: 80, HiddenSize: 8192, Intermediate: 28672, AttentionHeads: 64, KVHeads: 8, TokenRatio: 1.0},
}

// Presets returns the presets, custom last.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	for i, p := range presets {
		out[i] = p
		out[i].Hyperparameters = p.Hyperparameters.clone()
	}
	return out
}

// PresetByID returns a preset; "" is not a preset.
func PresetByID(id PresetID) (Preset, bool) {
	for _, p := range presets {
		if p.ID == id {
			p.Hyperparameters = p.Hyperparameters.clone()
			return p, true
		}
	}
	return Preset{}, false
}

// GPUs returns the GPU catalog.
func GPUs() []GPU { return slices.Clone(gpus) }

// GPUByType returns a GPU type by its exact name, e.g. "A100-80GB".
func GPUByType(t string) (GPU, bool) {
	for _, g := range gpus {
		if g.Type == t {
			return g, true
		}
	}
	return GPU{}, false
}

// BaseModels returns the base-model catalog.
func BaseModels() []BaseModel { return slices.Clone(baseModels) }

// BaseModelByID finds a model by its Hugging Face id, or by the id's last
// part ("Mistral-7B-v0.1"), case-insensitively.
func BaseModelByID(id string) (BaseModel, bool) {
	for _, m := range baseModels {
		if m.ID == id {
			return m, true
		}
	}
	for _, m := range baseModels {
		_, short, _ := strings.Cut(m.ID, "/")
		if strings.EqualFold(m.ID, id) || strings.EqualFold(short, id) {
			return m, true
		}
	}
	return BaseModel{}, false
}

// clone copies the optional fields so callers can't modify the catalog.
func (h Hyperparameters) clone() Hyperparameters {
	h.WarmupSteps = clonePtr(h.WarmupSteps)
	h.WeightDecay = clonePtr(h.WeightDecay)
	h.GradientAccumulationSteps = clonePtr(h.GradientAccumulationSteps)
	h.MaxGradNorm = clonePtr(h.MaxGradNorm)
	return h
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Limit is the legal range of one numeric field; the frontend renders its
// inputs from these, and Resolve enforces them.
type Limit struct {
	Field        string  `json:"field"` // path in the request, e.g. "hyperparameters.learning_rate"
	Min          float64 `json:"min"`
	Max          float64 `json:"max"`
	MinExclusive bool    `json:"min_exclusive"`
	MaxExclusive bool    `json:"max_exclusive"`
	Integer      bool    `json:"integer"`
}

const (
	fLearningRate = "hyperparameters.learning_rate"
	fBatchSize    = "hyperparameters.batch_size"
	fNumEpochs    = "hyperparameters.num_epochs"
	fRank         = "hyperparameters.lora_rank"
	fAlpha        = "hyperparameters.lora_alpha"
	fDropout      = "hyperparameters.lora_dropout"
	fWarmup       = "hyperparameters.warmup_steps"
	fWeightDecay  = "hyperparameters.weight_decay"
	fGradAccum    = "hyperparameters.gradient_accumulation_steps"
	fMaxGradNorm  = "hyperparameters.max_grad_norm"
	fBaseModel    = "hyperparameters.base_model"
	fAutoEpochs   = "hyperparameters.auto_epochs"
	fHyper        = "hyperparameters"
	fGPUType      = "gpu_config.gpu_type"
	fNumGPUs      = "gpu_config.num_gpus"
	fGPUMemory    = "gpu_config.gpu_memory_gb"
	fGPUPrice     = "gpu_config.cost_per_gpu_hour"
	fGPUConfig    = "gpu_config"
	fDataset      = "dataset_id"
	fPreset       = "preset_id"
	fBudget       = "budget"
)

var limits = []Limit{
	{Field: fLearningRate, Min: 0, Max: 0.01, MinExclusive: true},
	{Field: fBatchSize, Min: 1, Max: 512, Integer: true},
	{Field: fNumEpochs, Min: 1, Max: 50, Integer: true},
	{Field: fRank, Min: 1, Max: 256, Integer: true},
	{Field: fAlpha, Min: 1, Max: 1024, Integer: true},
	{Field: fDropout, Min: 0, Max: 1, MaxExclusive: true},
	{Field: fWarmup, Min: 0, Max: 100_000, Integer: true},
	{Field: fWeightDecay, Min: 0, Max: 1},
	{Field: fGradAccum, Min: 1, Max: 128, Integer: true},
	{Field: fMaxGradNorm, Min: 0, Max: 100, MinExclusive: true},
	{Field: fNumGPUs, Min: 1, Max: 8, Integer: true}, // and at most the GPU type's max_gpus
}

// Limits returns the legal range of every numeric field.
func Limits() []Limit { return slices.Clone(limits) }

func limitOf(field string) Limit {
	for _, l := range limits {
		if l.Field == field {
			return l
		}
	}
	panic("training: no limit for " + field)
}

// contains is false for NaN.
func (l Limit) contains(v float64) bool {
	lo := v > l.Min || (!l.MinExclusive && v == l.Min)
	hi := v < l.Max || (!l.MaxExclusive && v == l.Max)
	return lo && hi
}

func (l Limit) describe() string {
	lo := "at least " + num(l.Min)
	if l.MinExclusive {
		lo = "greater than " + num(l.Min)
	}
	hi := "at most " + num(l.Max)
	if l.MaxExclusive {
		hi = "less than " + num(l.Max)
	}
	if l.Integer && !l.MinExclusive && !l.MaxExclusive {
		return fmt.Sprintf("must be between %s and %s", num(l.Min), num(l.Max))
	}
	return "must be " + lo + " and " + hi
}

// num formats a number in its shortest form.
func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// Auto epochs, adapted from the OpenAI Cookbook's chat fine-tuning
// data-preparation notebook (target 3 epochs, at least 100 and at most 25,000
// examples seen in total); our cap is 10 epochs (the aggressive preset), not
// the cookbook's 25.
const (
	AutoEpochsTarget      = 3
	AutoEpochsMinExamples = 100
	AutoEpochsMaxExamples = 25_000
	AutoEpochsMin         = 1
	AutoEpochsMax         = 10
)

// AutoEpochs chooses the number of epochs for a training split of n
// conversations: 3, raised to see at least 100 examples (at most 10
// epochs), lowered to see at most 25,000 (at least 1 epoch).
func AutoEpochs(n int) int {
	switch {
	case n <= 0:
		return AutoEpochsMax
	case n*AutoEpochsTarget < AutoEpochsMinExamples:
		return min(AutoEpochsMax, AutoEpochsMinExamples/n)
	case n*AutoEpochsTarget > AutoEpochsMaxExamples:
		return max(AutoEpochsMin, AutoEpochsMaxExamples/n)
	}
	return AutoEpochsTarget
}

// AutoEpochsRule describes AutoEpochs in words, for the catalog.
const AutoEpochsRule = "3 epochs; for small datasets, enough epochs to see at least 100 conversations (⌊100 ÷ n⌋, at most 10); " +
	"for large ones, at most 25,000 conversations in total (⌊25,000 ÷ n⌋, at least 1); n = conversations in the training split."

// Catalog is everything the configurator page renders, in one response.
type Catalog struct {
	Presets    []Preset    `json:"presets"`
	GPUs       []GPU       `json:"gpu_types"`
	BaseModels []BaseModel `json:"base_models"`
	Limits     []Limit     `json:"limits"`
	AutoEpochs struct {
		Rule        string `json:"rule"`
		Target      int    `json:"target_epochs"`
		MinExamples int    `json:"min_examples"`
		MaxExamples int    `json:"max_examples"`
		MinEpochs   int    `json:"min_epochs"`
		MaxEpochs   int    `json:"max_epochs"`
	} `json:"auto_epochs"`
}

// Catalogs returns every catalog.
func Catalogs() Catalog {
	c := Catalog{Presets: Presets(), GPUs: GPUs(), BaseModels: BaseModels(), Limits: Limits()}
	c.AutoEpochs.Rule = AutoEpochsRule
	c.AutoEpochs.Target = AutoEpochsTarget
	c.AutoEpochs.MinExamples = AutoEpochsMinExamples
	c.AutoEpochs.MaxExamples = AutoEpochsMaxExamples
	c.AutoEpochs.MinEpochs = AutoEpochsMin
	c.AutoEpochs.MaxEpochs = AutoEpochsMax
	return c
}
