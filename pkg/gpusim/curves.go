package gpusim

import (
	"math"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

// Noise streams: every random number is a pure function of the job's seed,
// a stream and an index, so a value asked for twice is the same.
const (
	streamTiming uint64 = iota + 1
	streamCurve
	streamLoss
	streamValLoss
	streamGrad
	streamSpike
	streamGPU
	streamTput
	streamNode
	streamTensor
)

// mix is splitmix64's finalizer.
func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

func (p *plan) bits(stream, i uint64) uint64 { return mix(p.seed ^ mix(stream<<56^i)) }

// u is uniform in [0, 1).
func (p *plan) u(stream, i uint64) float64 { return float64(p.bits(stream, i)>>11) / (1 << 53) }

// z is standard normal (Box–Muller).
func (p *plan) z(stream, i uint64) float64 {
	u1 := p.u(stream, 2*i)
	u2 := p.u(stream, 2*i+1)
	return math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
}

// curve holds a run's loss-curve parameters (docs/gpu-cluster-api.md
// "Metrics").
type curve struct {
	l0, floor  float64 // initial loss; the smooth curve's asymptote
	k          float64 // decay per epoch at the peak learning rate
	noise      float64 // relative per-step noise of the training loss
	memorise   float64 // training-loss drop per epoch already seen
	overfit    float64 // validation-loss rise × (epoch − 1)²
	gradBase   float64
	gpuBase    float64
	lrPeak     float64
	lrScale    float64
	maxGradClp float64
}

func newCurve(p *plan) curve {
	lrScale := math.Sqrt(p.h.LearningRate / 2e-4)
	lrScale = max(0.2, min(3, lrScale))
	c := curve{
		l0:         1.75 + 0.5*p.u(streamCurve, 0),
		k:          2.0 * lrScale,
		noise:      max(0.01, min(0.12, 0.12/math.Sqrt(float64(p.effBatch)))),
		memorise:   min(0.1, 0.04*lrScale),
		overfit:    0.02 * lrScale * math.Sqrt(1000/max(100, float64(p.req.Dataset.TrainConversations))),
		gradBase:   0.22 + 0.1*p.u(streamCurve, 1),
		gpuBase:    93,
		lrPeak:     p.h.LearningRate,
		lrScale:    lrScale,
		maxGradClp: *p.h.MaxGradNorm,
	}
	c.floor = c.l0 * (0.42 + 0.12*p.u(streamCurve, 2))
	if p.sharded {
		c.gpuBase = 89
	}
	return c
}

// learningRate at step s: linear warmup to the peak over warmup steps, then
// cosine to 0 at the last step.
func (p *plan) learningRate(s int) float64 {
	w, n := p.warmup, p.total
	if w > 0 && s <= w {
		return p.c.lrPeak * float64(s) / float64(w)
	}
	if n <= w {
		return p.c.lrPeak
	}
	return p.c.lrPeak * 0.5 * (1 + math.Cos(math.Pi*float64(s-w)/float64(n-w)))
}

// lrArea is Σ lr(1..s) ÷ peak, in closed form: how much learning has been
// done, in steps at the peak rate.
func (p *plan) lrArea(s int) float64 {
	w, n := float64(p.warmup), float64(p.total)
	x := float64(s)
	if w > 0 && x <= w {
		return x * x / (2 * w)
	}
	if n <= w {
		return w/2 + (x - w)
	}
	return w/2 + (x-w)/2 + (n-w)/(2*math.Pi)*math.Sin(math.Pi*(x-w)/(n-w))
}

// smoothLoss is the noiseless loss after step s:
// floor + (l0 − floor)·exp(−k·learning done in epochs).
func (p *plan) smoothLoss(s int) float64 {
	return p.c.floor + (p.c.l0-p.c.floor)*math.Exp(-p.c.k*p.lrArea(s)/float64(p.perEpoch))
}

// trainingLoss at step s: the smooth curve, lowered a little for every
// epoch already seen (the model has met these examples), with per-step
// noise that shrinks with the batch.
func (p *plan) trainingLoss(s int) float64 {
	e := p.epochOf(s)
	l := p.smoothLoss(s) * max(0.5, 1-p.c.memorise*float64(e-1))
	l *= 1 + p.c.noise*p.z(streamLoss, uint64(s))
	return round(max(0.01, l), 6)
}

// validationLoss after epoch e: the smooth curve at the epoch's end, a
// little above it, rising as later epochs overfit (more so with fewer
// conversations and higher learning rates).
func (p *plan) validationLoss(e int) float64 {
	l := p.smoothLoss(e*p.perEpoch)*1.03 + p.c.overfit*float64((e-1)*(e-1))
	l += 0.004 * p.z(streamValLoss, uint64(e))
	return round(max(0.01, l), 6)
}

// spike reports whether step s has a gradient spike (about 1 step in 250,
// never during warmup's first steps).
func (p *plan) spike(s int) bool { return s > 10 && p.u(streamSpike, uint64(s)) < 0.004 }

// gradNorm at step s (before clipping): decaying from ~1.5 with lognormal
// noise and rare spikes.
func (p *plan) gradNorm(s int) float64 {
	g := p.c.gradBase + 1.3*math.Exp(-5*float64(s)/float64(p.total))
	g *= math.Exp(0.18 * p.z(streamGrad, uint64(s)))
	if p.spike(s) {
		g *= 3 + 3*p.u(streamSpike, uint64(s)+1<<40)
	}
	return round(g, 6)
}

func (p *plan) gpuUtilization(s int) float64 {
	return round(max(85, min(98, p.c.gpuBase+1.8*p.z(streamGPU, uint64(s)))), 2)
}

func (p *plan) throughput(s int) float64 {
	return round(p.tput*(1+0.015*p.z(streamTput, uint64(s))), 1)
}

func (p *plan) tokensAfter(s int) int64 {
	return int64(math.Round(float64(s) * float64(p.trainTok) / float64(p.perEpoch)))
}

// point is step s's metrics; withVal adds the epoch's validation loss.
func (p *plan) point(j *job, s int, withVal bool) gpucluster.MetricsPoint {
	m := gpucluster.MetricsPoint{
		Step:            s,
		Epoch:           p.epochOf(s),
		Timestamp:       j.clockAt(p.stepTime(s)),
		TrainingLoss:    p.trainingLoss(s),
		LearningRate:    round(p.learningRate(s), 12),
		GradientNorm:    p.gradNorm(s),
		Throughput:      p.throughput(s),
		GPUUtilization:  p.gpuUtilization(s),
		TokensProcessed: p.tokensAfter(s),
	}
	if withVal && p.hasVal && s%p.perEpoch == 0 {
		v := p.validationLoss(m.Epoch)
		m.ValidationLoss = &v
	}
	return m
}

func round(v float64, decimals int) float64 {
	f := math.Pow(10, float64(decimals))
	return math.Round(v*f) / f
}
