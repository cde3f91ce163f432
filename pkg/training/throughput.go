package training

import "math"

// The throughput and time model. docs/estimates.md gives the source of every
// number; the GPU-cluster simulator uses the same functions, so its runs can
// check the estimates.
const (
	// FLOPs per base-model parameter per training token with frozen
	// weights: 2 forward + 2 backward (gradients of activations only; frozen
	// weights need no weight gradients) + 2 for the forward recomputed by
	// gradient checkpointing.
	BaseFLOPsPerParamToken = 6
	// FLOPs per LoRA parameter-width per token: for an adapted d_in×d_out
	// projection, rank r adds 2·r·(d_in+d_out) forward; backward is twice
	// that (activation and adapter-weight gradients); the recompute adds
	// the forward again: 8·r·(d_in+d_out).
	LoRAFLOPsPerRankWidth = 8
	// MultiGPUExponent: n GPUs run n^0.9 times as fast as one.
	MultiGPUExponent = 0.9
	// ShardedEfficiency multiplies the throughput of a run whose model
	// needs more memory than one GPU has, so its frozen weights are
	// sharded (FSDP) and gathered on every forward and backward.
	ShardedEfficiency = 0.8
	// EvalSpeedup: a validation pass runs forward only (2 of the 6 FLOPs
	// per parameter per token), so at 3 × the training throughput.
	EvalSpeedup = 3.0

	ProvisionSeconds       = 180   // container start, CUDA and NCCL initialisation
	DownloadBytesPerSecond = 250e6 // base-model weights, from the model cache
	LoadBytesPerSecond     = 1e9   // safetensors from local disk into GPU memory
	CheckpointSeconds      = 30    // per epoch: adapter + optimizer state
	FinalSaveSeconds       = 120   // adapter, config and tokenizer saved and uploaded

	// TemplateTokensPerTurn is the chat-template overhead of one turn (e.g.
	// ChatML's <|im_start|>, role, newline, <|im_end|>, newline).
	TemplateTokensPerTurn = 5

	// The duration range around the estimate.
	DurationRangeLow  = 0.8
	DurationRangeHigh = 1.3

	// BytesPerGB is the GB of the storage and transfer prices.
	BytesPerGB = 1 << 30
	// Prices in micro-dollars per GB: S3 Standard storage for a month, and
	// data transfer out to the internet (AWS us-east-1 list prices).
	StorageMicrosPerGBMonth = 23_000
	EgressMicrosPerGB       = 90_000
	// AdapterBytesPerParam: adapters are saved in bf16.
	AdapterBytesPerParam = 2
)

// TargetModules are the projections LoRA adapts: every linear layer of
// attention and MLP, as the QLoRA paper recommends.
var TargetModules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// LoRAWidth is Σ (d_in + d_out) over one layer's TargetModules: q and o are
// h→h, k and v are h→kv, gate and up are h→i, down is i→h, where kv is the
// key/value width (KV heads × head size).
func (m BaseModel) LoRAWidth() int64 {
	h, i := int64(m.HiddenSize), int64(m.Intermediate)
	kv := h
	if m.AttentionHeads > 0 && m.KVHeads > 0 {
		kv = int64(m.KVHeads) * (h / int64(m.AttentionHeads))
	}
	return 2*(h+h) + 2*(h+kv) + 2*(h+i) + (i + h)
}

// AdapterParams is the number of LoRA parameters of rank r:
// r × layers × LoRAWidth (A is r×d_in, B is d_out×r).
func AdapterParams(m BaseModel, rank int) int64 {
	return int64(rank) * int64(m.Layers) * m.LoRAWidth()
}

// AdapterBytes is the size of the saved adapter (bf16).
func AdapterBytes(m BaseModel, rank int) int64 {
	return AdapterParams(m, rank) * AdapterBytesPerParam
}

// WeightBytes is the size of the bf16 base-model weights.
func (m BaseModel) WeightBytes() float64 { return m.Parameters * 1e9 * 2 }

// TrainingFLOPsPerToken is the compute of one training token.
func TrainingFLOPsPerToken(m BaseModel, rank int) float64 {
	return BaseFLOPsPerParamToken*m.Parameters*1e9 +
		LoRAFLOPsPerRankWidth*float64(rank)*float64(m.Layers)*float64(m.LoRAWidth())
}

// MultiGPUSpeedup is how many times faster n GPUs are than one: n^0.9.
func MultiGPUSpeedup(n int) float64 {
	if n < 1 {
		return 0
	}
	return math.Pow(float64(n), MultiGPUExponent)
}

// Sharded reports whether the model needs more memory than one GPU of g
// has, so a run shards its weights across the GPUs.
func Sharded(g GPU, m BaseModel) bool { return m.MinGPUMemoryGB > g.MemoryGB }

// Fits reports whether n GPUs of g have the memory a LoRA run of m needs.
func Fits(g GPU, n int, m BaseModel) bool { return g.MemoryGB*n >= m.MinGPUMemoryGB }

// MinGPUsFor is the fewest GPUs of g a run of m fits on (it may exceed
// g.MaxGPUs).
func MinGPUsFor(g GPU, m BaseModel) int {
	if g.MemoryGB <= 0 {
		return 0
	}
	return max(1, (m.MinGPUMemoryGB+g.MemoryGB-1)/g.MemoryGB)
}

// Throughput is the training throughput in tokens per second, summed over
// the GPUs, of a LoRA run of the given rank on numGPUs GPUs of gpuType:
//
//	utilization × peak bf16 FLOP/s ÷ TrainingFLOPsPerToken × numGPUs^0.9 (× 0.8 when sharded)
//
// It is 0 for an unknown GPU type or a count below 1.
func Throughput(gpuType string, model BaseModel, loraRank, numGPUs int) float64 {
	g, ok := GPUByType(gpuType)
	if !ok {
		return 0
	}
	return throughputOn(g, model, loraRank, numGPUs)
}

func throughputOn(g GPU, m BaseModel, rank, n int) float64 {
	flops := TrainingFLOPsPerToken(m, rank)
	if n < 1 || flops <= 0 {
		return 0
	}
	t := g.Utilization * g.PeakBF16TFLOPS * 1e12 / flops * MultiGPUSpeedup(n)
	if Sharded(g, m) {
		t *= ShardedEfficiency
	}
	return t
}

// StartupSeconds is the billed time before the first step: provisioning,
// downloading the weights and loading them into GPU memory.
func StartupSeconds(m BaseModel) float64 {
	return ProvisionSeconds + m.WeightBytes()/DownloadBytesPerSecond + m.WeightBytes()/LoadBytesPerSecond
}

// SaveSeconds is the time spent saving: a checkpoint per epoch and the
// final save and upload.
func SaveSeconds(epochs int) float64 {
	return CheckpointSeconds*float64(epochs) + FinalSaveSeconds
}
