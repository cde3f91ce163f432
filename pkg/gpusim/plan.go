package gpusim

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/training"
)

// Limits of a submission.
const (
	maxTotalSteps = 100_000_000
	// maxPoints bounds a run's metrics points: a run of more steps reports
	// every ⌈steps ÷ maxPoints⌉-th step (and every epoch's last).
	maxPoints = 2000
	// maxStepLogs bounds a run's periodic step logs.
	maxStepLogs = 100
	// trainerStateBytes: a checkpoint's scheduler, RNG and trainer state.
	trainerStateBytes = 16 << 10
	// datasetFailSeconds: a dataset that cannot be fetched fails the job
	// this long after it leaves the queue.
	datasetFailSeconds = 15
)

// plan is a job's whole timeline, fixed at submission: every duration in
// simulated seconds from the submission (offset 0). The job's state at any
// moment is computed from it; nothing runs in the background.
type plan struct {
	req   gpucluster.SubmitRequest
	model training.BaseModel
	gpu   training.GPU
	h     training.Hyperparameters // optional fields filled

	epochs, perEpoch, total int
	effBatch, warmup        int
	hasVal                  bool
	trainTok, valTok        int64 // model tokens per epoch
	modelTput               float64
	tput                    float64 // this run's tokens/s: the model's × its speed factor
	sharded                 bool

	queue, startup, stepDur, val, ckpt, final float64
	trainStart, epochDur, end                 float64

	adapterParams, adapterBytes, ckptBytes int64

	// stride: every stride-th step is a metrics point (and every epoch's
	// last); logEvery: every logEvery-th step is logged.
	stride, logEvery int

	seed uint64
	c    curve
}

var jobIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// newPlan validates a submission and lays out its timeline. The error is
// the 400's message.
func newPlan(req gpucluster.SubmitRequest, o *Options, seed uint64) (*plan, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if !jobIDPattern.MatchString(req.JobID) {
		bad("job_id must be 1–128 characters of A–Z, a–z, 0–9, '.', '_', ':', '-'")
	}
	model, modelOK := training.BaseModelByID(req.BaseModel)
	if !modelOK {
		bad("base_model %q is not a supported model", req.BaseModel)
	}
	h := req.Hyperparameters
	if h.BaseModel != "" {
		if m, ok := training.BaseModelByID(h.BaseModel); !ok || (modelOK && m.ID != model.ID) {
			bad("hyperparameters.base_model %q differs from base_model %q", h.BaseModel, req.BaseModel)
		}
	}
	gpu, gpuOK := training.GPUByType(req.GPU.Type)
	switch {
	case !gpuOK:
		bad("gpu.type %q is not a GPU type of this cluster", req.GPU.Type)
	case req.GPU.Count < gpu.MinGPUs || req.GPU.Count > gpu.MaxGPUs:
		bad("gpu.count must be between %d and %d for %s (got %d)", gpu.MinGPUs, gpu.MaxGPUs, gpu.Type, req.GPU.Count)
	case modelOK && !training.Fits(gpu, req.GPU.Count, model):
		bad("%s needs %d GB of GPU memory; %d × %s has %d GB", model.ID, model.MinGPUMemoryGB, req.GPU.Count, gpu.Type, gpu.MemoryGB*req.GPU.Count)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if !finite(h.LearningRate) || h.LearningRate <= 0 || h.LearningRate > 1 {
		bad("hyperparameters.learning_rate must be in (0, 1]")
	}
	if h.BatchSize < 1 {
		bad("hyperparameters.batch_size must be at least 1")
	}
	if h.NumEpochs < 1 || h.NumEpochs > 1000 {
		bad("hyperparameters.num_epochs must be between 1 and 1000")
	}
	if h.LoRARank < 1 || h.LoRARank > 4096 {
		bad("hyperparameters.lora_rank must be between 1 and 4096")
	}
	if h.LoRAAlpha < 1 {
		bad("hyperparameters.lora_alpha must be at least 1")
	}
	if !finite(h.LoRADropout) || h.LoRADropout < 0 || h.LoRADropout >= 1 {
		bad("hyperparameters.lora_dropout must be in [0, 1)")
	}
	h.WarmupSteps = orDefault(h.WarmupSteps, 0)
	h.WeightDecay = orDefault(h.WeightDecay, 0.0)
	h.GradientAccumulationSteps = orDefault(h.GradientAccumulationSteps, 1)
	h.MaxGradNorm = orDefault(h.MaxGradNorm, 1.0)
	if *h.WarmupSteps < 0 {
		bad("hyperparameters.warmup_steps must not be negative")
	}
	if !finite(*h.WeightDecay) || *h.WeightDecay < 0 {
		bad("hyperparameters.weight_decay must not be negative")
	}
	if *h.GradientAccumulationSteps < 1 {
		bad("hyperparameters.gradient_accumulation_steps must be at least 1")
	}
	if !finite(*h.MaxGradNorm) || *h.MaxGradNorm <= 0 {
		bad("hyperparameters.max_grad_norm must be positive")
	}
	d := req.Dataset
	if !strings.HasPrefix(d.URL, "http://") && !strings.HasPrefix(d.URL, "https://") {
		bad("dataset.url must be an http(s) URL")
	}
	if d.SHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(d.SHA256) {
		bad("dataset.sha256 must be 64 lowercase hex digits")
	}
	if d.SizeBytes < 0 || d.TotalTokens < 0 || d.TotalTurns < 0 || d.ValidationConversations < 0 {
		bad("dataset sizes and counts must not be negative")
	}
	if d.TrainConversations < 1 {
		bad("dataset.train_conversations must be at least 1")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}

	cfg := training.Config{Hyperparameters: h, GPU: gpu, NumGPUs: req.GPU.Count, Model: model}
	perEpoch, total := req.StepsPerEpoch, req.TotalSteps
	if perEpoch == 0 && total == 0 {
		perEpoch, total = cfg.Steps(d.TrainConversations)
	}
	if perEpoch < 1 || total != perEpoch*h.NumEpochs || total > maxTotalSteps {
		return nil, fmt.Errorf("total_steps (%d) must be steps_per_epoch (%d) × num_epochs (%d), at most %d; or send neither", total, perEpoch, h.NumEpochs, maxTotalSteps)
	}

	p := &plan{
		req: req, model: model, gpu: gpu, h: h,
		epochs: h.NumEpochs, perEpoch: perEpoch, total: total,
		effBatch: cfg.EffectiveBatch(), warmup: *h.WarmupSteps,
		hasVal:  d.ValidationConversations > 0,
		sharded: training.Sharded(gpu, model),
		seed:    seed,
	}
	p.trainTok, p.valTok = training.ModelTokens(model, training.DatasetProfile{
		TrainConversations: d.TrainConversations, ValidationConversations: d.ValidationConversations,
		TotalTokens: d.TotalTokens, Turns: d.TotalTurns,
	})
	p.modelTput = training.Throughput(gpu.Type, model, h.LoRARank, req.GPU.Count)

	// Jitter (docs/gpu-cluster-api.md "Timing"): start-up runs 0–10 % over
	// the model, training and validation throughput 5 % under to 3 % over.
	startF, speedF := 1.0, 1.0
	if !o.ExactTiming {
		startF = 1 + 0.10*p.u(streamTiming, 0)
		speedF = 0.95 + 0.08*p.u(streamTiming, 1)
	}
	p.tput = p.modelTput * speedF
	p.queue = o.queueSeconds()
	p.startup = training.StartupSeconds(model) * startF
	p.stepDur = float64(p.trainTok) / float64(perEpoch) / p.tput
	if p.hasVal {
		p.val = float64(p.valTok) / (training.EvalSpeedup * p.tput)
	}
	p.ckpt = training.CheckpointSeconds
	p.final = training.FinalSaveSeconds
	p.trainStart = p.queue + p.startup
	p.epochDur = float64(perEpoch)*p.stepDur + p.val + p.ckpt
	p.end = p.trainStart + float64(p.epochs)*p.epochDur + p.final

	p.adapterParams = training.AdapterParams(model, h.LoRARank)
	p.adapterBytes = training.AdapterBytes(model, h.LoRARank)
	// A checkpoint: the bf16 adapter, AdamW's two fp32 moments per
	// parameter, and the trainer state.
	p.ckptBytes = p.adapterBytes + 8*p.adapterParams + trainerStateBytes

	p.stride = max(1, ceilDiv(total, maxPoints))
	p.logEvery = max(1, ceilDiv(total, maxStepLogs))
	p.c = newCurve(p)
	return p, nil
}

func orDefault[T any](p *T, v T) *T {
	if p != nil {
		return p
	}
	return &v
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// runSeconds is the billable length of the run: start-up to final save.
func (p *plan) runSeconds() float64 { return p.end - p.queue }

func (p *plan) epochOf(step int) int { return (step-1)/p.perEpoch + 1 }

func (p *plan) epochStart(e int) float64 { return p.trainStart + float64(e-1)*p.epochDur }

// stepTime is when step s (1-based) completes.
func (p *plan) stepTime(s int) float64 {
	e := p.epochOf(s)
	return p.epochStart(e) + float64(s-(e-1)*p.perEpoch)*p.stepDur
}

// valEnd is when epoch e's validation pass ends (= its last step's end
// without a validation split); ckptEnd when its checkpoint is saved.
func (p *plan) valEnd(e int) float64 {
	return p.epochStart(e) + float64(p.perEpoch)*p.stepDur + p.val
}

func (p *plan) ckptEnd(e int) float64 { return p.valEnd(e) + p.ckpt }

// trainingEnd is when the last checkpoint is saved and the final save starts.
func (p *plan) trainingEnd() float64 { return p.trainStart + float64(p.epochs)*p.epochDur }

// at is the stage, epoch in progress and steps completed at offset x.
func (p *plan) at(x float64) (stage gpucluster.Stage, epoch, step int) {
	switch {
	case x < p.queue:
		return gpucluster.StageQueued, 0, 0
	case x < p.trainStart:
		return gpucluster.StageInitializing, 0, 0
	case x >= p.end:
		return gpucluster.StageCompleted, p.epochs, p.total
	case x >= p.trainingEnd():
		return gpucluster.StageSaving, p.epochs, p.total
	}
	e := min(p.epochs, int((x-p.trainStart)/p.epochDur)+1)
	within := x - p.epochStart(e)
	trainDur := float64(p.perEpoch) * p.stepDur
	switch {
	case within < trainDur:
		done := p.perEpoch
		if p.stepDur > 0 {
			done = min(p.perEpoch, int(within/p.stepDur))
		}
		// Agree with stepTime despite rounding.
		for done > 0 && p.stepTime((e-1)*p.perEpoch+done) > x {
			done--
		}
		for done < p.perEpoch && p.stepTime((e-1)*p.perEpoch+done+1) <= x {
			done++
		}
		return gpucluster.StageTraining, e, (e-1)*p.perEpoch + done
	case within < trainDur+p.val:
		return gpucluster.StageValidating, e, e * p.perEpoch
	default:
		return gpucluster.StageSaving, e, e * p.perEpoch
	}
}

// progress is the share of the run's expected duration elapsed at x, 0–100.
func (p *plan) progress(x float64) float64 {
	if x >= p.end {
		return 100
	}
	f := (x - p.queue) / p.runSeconds()
	return math.Floor(max(0, min(1, f))*10000) / 100
}

// atProgress is the offset where progress reaches pct.
func (p *plan) atProgress(pct float64) float64 {
	return p.queue + max(0, min(100, pct))/100*p.runSeconds()
}

// Metrics points are every stride-th step, every epoch's last and the last.
func (p *plan) isPoint(s int) bool {
	return s >= 1 && s <= p.total && (s%p.stride == 0 || s%p.perEpoch == 0)
}

// nextPoint is the first point step after step s (> total if none).
func (p *plan) nextPoint(s int) int {
	return min((s/p.stride+1)*p.stride, (s/p.perEpoch+1)*p.perEpoch)
}

// lastPointAtOrBefore is the last point step ≤ s (0 if none).
func (p *plan) lastPointAtOrBefore(s int) int {
	if s <= 0 {
		return 0
	}
	return max(s/p.stride*p.stride, s/p.perEpoch*p.perEpoch)
}

// published reports whether the point of step s is served when events up
// to offset vis are visible. An epoch's last step waits for its validation
// loss — unless the job stopped first (stopped), then it is served without.
func (p *plan) published(s int, vis float64, stopped bool) bool {
	if p.stepTime(s) > vis {
		return false
	}
	if p.hasVal && s%p.perEpoch == 0 && !stopped {
		return p.valEnd(p.epochOf(s)) <= vis
	}
	return true
}

// validationDone reports whether epoch e's validation loss is known at vis.
func (p *plan) validationDone(e int, vis float64) bool {
	return p.hasVal && e >= 1 && e <= p.epochs && p.valEnd(e) <= vis
}
