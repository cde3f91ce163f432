package series_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/series"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func f64(v float64) *float64 { return &v }

// gen describes a synthetic training run.
type gen struct {
	n         int     // steps
	epochLen  int     // steps per epoch (0: one epoch)
	evalEvery int     // extra mid-epoch validation every k steps (0: none)
	noise     float64 // stddev of the loss noise
	seed      uint64
	nilEvery  int // leave the optional fields nil on every k-th step (0: never)
}

// series builds a noisy decaying loss with a warmup/decay learning rate and
// validation_loss on the last step of every epoch, like the trainer reports.
func (g gen) series() []job.MetricPoint {
	r := rand.New(rand.NewPCG(g.seed, 42))
	epochLen := g.epochLen
	if epochLen <= 0 {
		epochLen = g.n + 1
	}
	pts := make([]job.MetricPoint, g.n)
	for i := range pts {
		step := i + 1
		loss := 0.4 + 2.6*math.Exp(-float64(step)/(float64(g.n)/5+1)) + g.noise*r.NormFloat64()
		p := job.MetricPoint{
			Step:         step,
			Epoch:        i/epochLen + 1,
			Timestamp:    t0.Add(time.Duration(step) * time.Second),
			TrainingLoss: loss,
			LearningRate: 3e-4 * min(1, float64(step)/100),
		}
		if g.nilEvery == 0 || i%g.nilEvery != 0 {
			p.GradientNorm = f64(1 + r.Float64())
			p.Throughput = f64(5000 + 100*r.NormFloat64())
			p.GPUUtilization = f64(90 + 5*r.Float64())
		}
		if (i+1)%epochLen == 0 || (g.evalEvery > 0 && (i+1)%g.evalEvery == 0) {
			p.ValidationLoss = f64(loss + 0.05 + 0.01*r.Float64())
		}
		pts[i] = p
	}
	return pts
}

// rules is an independent statement of Downsample's keep rules.
type rules struct {
	priority []int // last, first, min TL, max TL, min VL; deduplicated
	bounds   []int // epoch boundaries and validation points not in priority
}

func keepRules(pts []job.MetricPoint) rules {
	n := len(pts)
	minTL, maxTL, minVL := -1, -1, -1
	for i, p := range pts {
		if !math.IsNaN(p.TrainingLoss) {
			if minTL < 0 || p.TrainingLoss < pts[minTL].TrainingLoss {
				minTL = i
			}
			if maxTL < 0 || p.TrainingLoss > pts[maxTL].TrainingLoss {
				maxTL = i
			}
		}
		if p.ValidationLoss != nil && !math.IsNaN(*p.ValidationLoss) &&
			(minVL < 0 || *p.ValidationLoss < *pts[minVL].ValidationLoss) {
			minVL = i
		}
	}
	var r rules
	for _, i := range []int{n - 1, 0, minTL, maxTL, minVL} {
		if i >= 0 && !slices.Contains(r.priority, i) {
			r.priority = append(r.priority, i)
		}
	}
	for i := 1; i < n-1; i++ {
		boundary := pts[i].Epoch != pts[i+1].Epoch || pts[i].ValidationLoss != nil
		if boundary && !slices.Contains(r.priority, i) {
			r.bounds = append(r.bounds, i)
		}
	}
	return r
}

// indexOf maps each output point back to its input index by Step (the
// generators use distinct steps) and checks it is an unmodified copy.
func indexOf(t *testing.T, in, got []job.MetricPoint) []int {
	t.Helper()
	pos := make(map[int]int, len(in))
	for i, p := range in {
		pos[p.Step] = i
	}
	idx := make([]int, len(got))
	for k, p := range got {
		i, ok := pos[p.Step]
		if !ok {
			t.Fatalf("output point %d (step %d) is not in the input", k, p.Step)
		}
		if !samePoint(in[i], p) {
			t.Fatalf("output point %d (step %d) differs from the input: got %+v, want %+v", k, p.Step, p, in[i])
		}
		idx[k] = i
	}
	return idx
}

// samePoint compares every field, pointers by identity (NaN equals NaN).
func samePoint(a, b job.MetricPoint) bool {
	eq := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	return a.Step == b.Step && a.Epoch == b.Epoch && a.Timestamp.Equal(b.Timestamp) &&
		eq(a.TrainingLoss, b.TrainingLoss) && eq(a.LearningRate, b.LearningRate) &&
		a.ValidationLoss == b.ValidationLoss && a.GradientNorm == b.GradientNorm &&
		a.Throughput == b.Throughput && a.GPUUtilization == b.GPUUtilization
}

// check asserts every documented property of Downsample(in, max) == got,
// where in is sorted by step with distinct steps.
func check(t *testing.T, in []job.MetricPoint, maxPoints int, got []job.MetricPoint) {
	t.Helper()
	n := len(in)
	if n <= maxPoints {
		if len(got) != n || (n > 0 && &got[0] != &in[0]) {
			t.Fatalf("n=%d max=%d: got %d points (aliased=%v), want the input unchanged",
				n, maxPoints, len(got), n > 0 && len(got) > 0 && &got[0] == &in[0])
		}
		return
	}
	wantLen := max(maxPoints, 0)
	if len(got) != wantLen {
		t.Fatalf("n=%d max=%d: got %d points, want %d", n, maxPoints, len(got), wantLen)
	}
	if got == nil {
		t.Fatalf("n=%d max=%d: got nil, want a non-nil slice", n, maxPoints)
	}
	idx := indexOf(t, in, got)
	for k := 1; k < len(idx); k++ {
		if idx[k] <= idx[k-1] {
			t.Fatalf("n=%d max=%d: output not a strictly increasing subsequence at %d: %d after %d",
				n, maxPoints, k, idx[k], idx[k-1])
		}
	}
	if maxPoints <= 0 {
		return
	}
	if maxPoints == 1 {
		if idx[0] != n-1 {
			t.Fatalf("max=1: got index %d, want the last point %d", idx[0], n-1)
		}
		return
	}
	r := keepRules(in)
	kept := func(i int) bool { _, ok := slices.BinarySearch(idx, i); return ok }
	for k, i := range r.priority {
		if k < maxPoints && !kept(i) {
			t.Fatalf("n=%d max=%d: priority point %d (index %d, step %d) dropped", n, maxPoints, k, i, in[i].Step)
		}
	}
	room := maxPoints - min(len(r.priority), maxPoints)
	if len(r.bounds) <= room {
		for _, i := range r.bounds {
			if !kept(i) {
				t.Fatalf("n=%d max=%d: epoch boundary/validation point %d (step %d, epoch %d) dropped",
					n, maxPoints, i, in[i].Step, in[i].Epoch)
			}
		}
		return
	}
	// Overflow: nothing but priority points and boundaries, the boundaries
	// evenly spread (consecutive kept ones at most ceil(B/room) apart).
	var ord []int // ordinals of the kept boundaries in r.bounds
	for _, i := range idx {
		if o, ok := slices.BinarySearch(r.bounds, i); ok {
			ord = append(ord, o)
		} else if !slices.Contains(r.priority, i) {
			t.Fatalf("n=%d max=%d: overflow kept non-boundary %d", n, maxPoints, i)
		}
	}
	if len(ord) != room {
		t.Fatalf("n=%d max=%d: kept %d boundaries, want %d", n, maxPoints, len(ord), room)
	}
	if room == 0 {
		return
	}
	gap := (len(r.bounds) + room - 1) / room
	if ord[0] > gap || len(r.bounds)-1-ord[len(ord)-1] > gap {
		t.Fatalf("n=%d max=%d: kept boundaries %d..%d of %d, want them spread over all", n, maxPoints, ord[0], ord[len(ord)-1], len(r.bounds))
	}
	for k := 1; k < len(ord); k++ {
		if ord[k]-ord[k-1] > gap {
			t.Fatalf("n=%d max=%d: boundaries %d..%d skipped, want gaps <= %d", n, maxPoints, ord[k-1], ord[k], gap)
		}
	}
}

func TestDownsampleUnchangedWhenSmall(t *testing.T) {
	cases := []struct{ n, max int }{
		{0, 0}, {0, 500}, {1, 1}, {1, 2}, {2, 2}, {499, 500}, {500, 500}, {10, 1000},
	}
	for _, c := range cases {
		in := gen{n: c.n, epochLen: 7, noise: 0.05, seed: 1}.series()
		got := series.Downsample(in, c.max)
		if len(got) != len(in) || (len(in) > 0 && &got[0] != &in[0]) {
			t.Errorf("n=%d max=%d: got %d points, want the input slice itself", c.n, c.max, len(got))
		}
	}
}

func TestDownsampleLengthAndKeepRules(t *testing.T) {
	sizes := []int{1, 2, 3, 5, 10, 101, 1000, 10_007}
	budgets := []int{-1, 0, 1, 2, 3, 4, 5, 6, 10, 50, 500}
	shapes := []gen{
		{epochLen: 0},               // one epoch, no validation until the end
		{epochLen: 10},              // many epochs
		{epochLen: 3, evalEvery: 2}, // boundaries everywhere: overflow
		{epochLen: 250, evalEvery: 50},
		{epochLen: 1}, // every step its own epoch
	}
	for _, size := range sizes {
		for _, maxPoints := range budgets {
			for s, g := range shapes {
				g.n, g.noise, g.seed = size, 0.1, uint64(size*31+s)
				in := g.series()
				t.Run(fmt.Sprintf("n%d/max%d/shape%d", size, maxPoints, s), func(t *testing.T) {
					check(t, in, maxPoints, series.Downsample(in, maxPoints))
				})
			}
		}
	}
}

func TestDownsampleSmallBudgets(t *testing.T) {
	// 0 and 1 cannot keep both ends; the length bound wins (documented).
	in := gen{n: 100, epochLen: 10, noise: 0.1, seed: 3}.series()
	cases := []struct {
		max   int
		steps []int
	}{
		{-5, []int{}},
		{0, []int{}},
		{1, []int{100}},
		{2, []int{1, 100}},
	}
	for _, c := range cases {
		got := series.Downsample(in, c.max)
		steps := []int{}
		for _, p := range got {
			steps = append(steps, p.Step)
		}
		if got == nil || !slices.Equal(steps, c.steps) {
			t.Errorf("max=%d: got steps %v (nil=%v), want %v", c.max, steps, got == nil, c.steps)
		}
	}
}

func TestDownsampleKeepsFirstLastExtremesAndBoundaries(t *testing.T) {
	// 100k steps, 20 epochs of 5000 with validation at each epoch's end.
	in := gen{n: 100_000, epochLen: 5000, noise: 0.08, seed: 7}.series()
	got := series.Downsample(in, 500)
	check(t, in, 500, got)

	steps := map[int]bool{}
	for _, p := range got {
		steps[p.Step] = true
	}
	r := keepRules(in)
	minTL, maxTL := in[r.priority[2]].Step, in[r.priority[3]].Step
	want := []int{1, 100_000, minTL, maxTL}
	for e := 1; e <= 20; e++ {
		want = append(want, e*5000) // last step of each epoch, carries validation_loss
	}
	for _, s := range want {
		if !steps[s] {
			t.Errorf("step %d not kept", s)
		}
	}
	var vals int
	for _, p := range got {
		if p.ValidationLoss != nil {
			vals++
		}
	}
	if vals != 20 {
		t.Errorf("got %d validation points, want 20", vals)
	}
}

func TestDownsampleTooManyBoundaries(t *testing.T) {
	// 800 epochs of 10 steps with max 500: priority points plus evenly spaced
	// epoch ends, exactly 500.
	in := gen{n: 8000, epochLen: 10, noise: 0.05, seed: 11}.series()
	got := series.Downsample(in, 500)
	check(t, in, 500, got)

	var epochs []int
	for _, p := range got {
		if p.ValidationLoss != nil {
			epochs = append(epochs, p.Epoch)
		}
	}
	if len(epochs) < 495 {
		t.Fatalf("got %d epoch ends, want >= 495", len(epochs))
	}
	if epochs[0] > 2 || epochs[len(epochs)-1] < 799 {
		t.Errorf("epoch ends span %d..%d, want about 1..800", epochs[0], epochs[len(epochs)-1])
	}
	for k := 1; k < len(epochs); k++ {
		if d := epochs[k] - epochs[k-1]; d > 2 {
			t.Errorf("epochs %d and %d kept with %d skipped in between, want evenly spaced", epochs[k-1], epochs[k], d-1)
		}
	}
}

func TestDownsampleProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 6))
	for iter := range 300 {
		g := gen{
			n:         r.IntN(3000) + 1,
			epochLen:  r.IntN(400),
			evalEvery: r.IntN(3) * r.IntN(200),
			noise:     r.Float64() * 0.5,
			seed:      r.Uint64(),
			nilEvery:  r.IntN(4),
		}
		maxPoints := r.IntN(700) - 5
		in := g.series()
		if r.IntN(10) == 0 { // plateaus and exact ties
			for i := range in {
				in[i].TrainingLoss = math.Round(in[i].TrainingLoss)
			}
		}
		t.Run(fmt.Sprint(iter), func(t *testing.T) {
			check(t, in, maxPoints, series.Downsample(in, maxPoints))
		})
	}
}

func TestDownsampleUnsortedInput(t *testing.T) {
	sorted := gen{n: 2000, epochLen: 100, noise: 0.1, seed: 5}.series()
	shuffled := slices.Clone(sorted)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	before := slices.Clone(shuffled)

	got := series.Downsample(shuffled, 300)
	check(t, sorted, 300, got)
	if want := series.Downsample(sorted, 300); !slices.EqualFunc(got, want, samePoint) {
		t.Errorf("shuffled input gave a different result than sorted input")
	}
	if !slices.EqualFunc(shuffled, before, samePoint) {
		t.Errorf("input was modified")
	}
	// Small and unsorted: everything, sorted, in a copy.
	small := series.Downsample(shuffled[:50], 500)
	if len(small) != 50 || !slices.IsSortedFunc(small, func(a, b job.MetricPoint) int { return a.Step - b.Step }) {
		t.Errorf("small unsorted input: got %d points, sorted=%v", len(small), slices.IsSortedFunc(small, func(a, b job.MetricPoint) int { return a.Step - b.Step }))
	}
}

func TestDownsampleNilFieldsSurvive(t *testing.T) {
	in := gen{n: 5000, epochLen: 1000, noise: 0.1, seed: 9, nilEvery: 2}.series()
	got := series.Downsample(in, 200)
	check(t, in, 200, got) // every field, pointers by identity
	var nils, set int
	for _, p := range got {
		if p.GradientNorm == nil && p.Throughput == nil && p.GPUUtilization == nil {
			nils++
		} else {
			set++
		}
	}
	if nils == 0 || set == 0 {
		t.Errorf("got %d points with nil fields and %d with values, want both", nils, set)
	}
}

func TestDownsampleNonFinite(t *testing.T) {
	in := gen{n: 3000, epochLen: 300, noise: 0.1, seed: 13}.series()
	for _, i := range []int{0, 17, 18, 19, 1500, 2999} {
		in[i].TrainingLoss = math.NaN()
	}
	in[700].TrainingLoss = math.Inf(1)
	in[701].TrainingLoss = math.Inf(-1)
	got := series.Downsample(in, 100)
	check(t, in, 100, got)
}

// maxDeviation is the largest |loss - line through kept points| over all of
// in, interpolating linearly in step.
func maxDeviation(in, kept []job.MetricPoint) float64 {
	var worst float64
	k := 0
	for _, p := range in {
		for k+1 < len(kept)-1 && kept[k+1].Step <= p.Step {
			k++
		}
		a, b := kept[k], kept[k+1]
		y := a.TrainingLoss + (b.TrainingLoss-a.TrainingLoss)*float64(p.Step-a.Step)/float64(b.Step-a.Step)
		worst = max(worst, math.Abs(p.TrainingLoss-y))
	}
	return worst
}

// envelopeError is the largest difference, over windows of w steps, between
// the range (min and max loss) of in and of kept in that window: how far the
// band a dense chart shows has shrunk.
func envelopeError(in, kept []job.MetricPoint, w int) float64 {
	type band struct{ lo, hi float64 }
	bands := func(pts []job.MetricPoint) map[int]band {
		m := map[int]band{}
		for _, p := range pts {
			k := (p.Step - 1) / w
			b, ok := m[k]
			if !ok {
				b = band{math.Inf(1), math.Inf(-1)}
			}
			m[k] = band{min(b.lo, p.TrainingLoss), max(b.hi, p.TrainingLoss)}
		}
		return m
	}
	full, got := bands(in), bands(kept)
	var worst float64
	for k, b := range full {
		g, ok := got[k]
		if !ok {
			return math.Inf(1)
		}
		worst = max(worst, g.lo-b.lo, b.hi-g.hi)
	}
	return worst
}

// everyNth is the naive sampler: maxPoints evenly spaced indices including
// both ends.
func everyNth(in []job.MetricPoint, maxPoints int) []job.MetricPoint {
	out := make([]job.MetricPoint, maxPoints)
	for k := range out {
		out[k] = in[k*(len(in)-1)/(maxPoints-1)]
	}
	return out
}

func TestDownsampleKeepsShape(t *testing.T) {
	cases := []struct {
		name  string
		g     gen
		max   int
		spike []int // indices given a loss spike well above the local curve
		band  bool  // noise dominates the trend within a window: compare envelopes
	}{
		{"noiseless", gen{n: 100_000, epochLen: 10_000, seed: 20}, 500, nil, false},
		{"smooth", gen{n: 100_000, epochLen: 10_000, noise: 0.005, seed: 21}, 500, nil, false},
		{"noisy", gen{n: 100_000, epochLen: 10_000, noise: 0.05, seed: 22}, 500, nil, true},
		{"spikes", gen{n: 100_000, epochLen: 10_000, noise: 0.05, seed: 23}, 500, []int{33_333, 61_017, 88_888}, true},
		{"short", gen{n: 5000, epochLen: 500, noise: 0.05, seed: 24}, 200, []int{2601}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.g.series()
			for _, i := range c.spike {
				in[i].TrainingLoss += 1.5
			}
			got := series.Downsample(in, c.max)
			check(t, in, c.max, got)
			naive := everyNth(in, c.max)
			dGot, dNaive := maxDeviation(in, got), maxDeviation(in, naive)
			// LTTB runs through local extremes, so on pure noise the points
			// between them can sit a little further from its line than from
			// a line through random points: up to 1.32× over 20 seeds and
			// noise levels 0.001..0.2 (0.97× on a noiseless curve). A
			// kept spike's triangle also counts against LTTB here, so the
			// envelope below is the better measure of shape where noise
			// dominates: LTTB keeps each window's band, every-n-th shrinks
			// it and loses spikes entirely.
			w := 10 * c.g.n / c.max // ten buckets
			eGot, eNaive := envelopeError(in, got, w), envelopeError(in, naive, w)
			t.Logf("max |deviation|: lttb %.4f, every-n-th %.4f; envelope error per %d steps: lttb %.4f, every-n-th %.4f",
				dGot, dNaive, w, eGot, eNaive)
			if dGot > 1.5*dNaive {
				t.Errorf("max deviation %.4f, want <= 1.5 × every-n-th's %.4f", dGot, dNaive)
			}
			if c.band && eGot > eNaive {
				t.Errorf("envelope error %.4f, want <= every-n-th's %.4f", eGot, eNaive)
			}

			lo, hi := math.Inf(1), math.Inf(-1)
			for _, p := range in {
				lo, hi = min(lo, p.TrainingLoss), max(hi, p.TrainingLoss)
			}
			gLo, gHi := math.Inf(1), math.Inf(-1)
			for _, p := range got {
				gLo, gHi = min(gLo, p.TrainingLoss), max(gHi, p.TrainingLoss)
			}
			if gLo != lo || gHi != hi {
				t.Errorf("range [%g, %g], want [%g, %g]", gLo, gHi, lo, hi)
			}
			steps := map[int]bool{}
			for _, p := range got {
				steps[p.Step] = true
			}
			for _, i := range c.spike {
				if !steps[in[i].Step] {
					t.Errorf("spike at step %d dropped", in[i].Step)
				}
			}
		})
	}
}

func FuzzDownsample(f *testing.F) {
	f.Add(uint64(1), uint16(1000), int16(100), uint8(10), uint8(0), uint8(0), false)
	f.Add(uint64(2), uint16(3000), int16(500), uint8(3), uint8(2), uint8(2), false)
	f.Add(uint64(3), uint16(10), int16(1), uint8(0), uint8(0), uint8(1), true)
	f.Add(uint64(4), uint16(600), int16(2), uint8(1), uint8(7), uint8(0), true)
	f.Add(uint64(5), uint16(0), int16(-3), uint8(0), uint8(0), uint8(0), false)
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, maxPoints int16, epochLen, evalEvery, nilEvery uint8, weird bool) {
		g := gen{
			n:         int(n) % 5000,
			epochLen:  int(epochLen),
			evalEvery: int(evalEvery),
			noise:     0.2,
			seed:      seed,
			nilEvery:  int(nilEvery),
		}
		in := g.series()
		if weird { // ties, NaN and infinities
			r := rand.New(rand.NewPCG(seed, 7))
			for i := range in {
				switch r.IntN(8) {
				case 0:
					in[i].TrainingLoss = math.NaN()
				case 1:
					in[i].TrainingLoss = math.Inf(1 - 2*r.IntN(2))
				case 2:
					in[i].TrainingLoss = 1
				}
			}
		}
		check(t, in, int(maxPoints), series.Downsample(in, int(maxPoints)))
	})
}

func ExampleDownsample() {
	var pts []job.MetricPoint
	for step := 1; step <= 10_000; step++ {
		p := job.MetricPoint{Step: step, Epoch: (step-1)/2500 + 1, TrainingLoss: 3 / math.Sqrt(float64(step))}
		if step%2500 == 0 {
			p.ValidationLoss = f64(p.TrainingLoss + 0.1)
		}
		pts = append(pts, p)
	}
	out := series.Downsample(pts, series.DefaultMaxPoints)
	var ends []int
	for _, p := range out {
		if p.ValidationLoss != nil {
			ends = append(ends, p.Step)
		}
	}
	fmt.Println(len(out), out[0].Step, out[len(out)-1].Step, ends)
	// Output: 500 1 10000 [2500 5000 7500 10000]
}

func BenchmarkDownsample100k(b *testing.B) {
	in := gen{n: 100_000, epochLen: 10_000, noise: 0.05, seed: 1}.series()
	b.ReportAllocs()
	for b.Loop() {
		if out := series.Downsample(in, 500); len(out) != 500 {
			b.Fatalf("got %d points", len(out))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/call")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/call")
}

func BenchmarkDownsample100kManyEpochs(b *testing.B) {
	// 1000 epochs of 100 steps: boundaries overflow the budget.
	in := gen{n: 100_000, epochLen: 100, noise: 0.05, seed: 1}.series()
	b.ReportAllocs()
	for b.Loop() {
		series.Downsample(in, 500)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/call")
}

func TestDownsampleDuplicateSteps(t *testing.T) {
	// A resumed job can report a step twice; such points are distinct and
	// keep their input order.
	in := gen{n: 3000, epochLen: 300, noise: 0.1, seed: 17}.series()
	for i := range in {
		in[i].Step = i / 3
	}
	got := series.Downsample(in, 100)
	if len(got) != 100 {
		t.Fatalf("got %d points, want 100", len(got))
	}
	pos := map[*float64]int{} // GradientNorm pointers identify the points
	for i, p := range in {
		pos[p.GradientNorm] = i
	}
	prev := -1
	for k, p := range got {
		i, ok := pos[p.GradientNorm]
		if !ok || i <= prev {
			t.Fatalf("point %d: input index %d (found=%v) after %d, want a strictly increasing subsequence", k, i, ok, prev)
		}
		prev = i
	}
	if !samePoint(got[0], in[0]) || !samePoint(got[99], in[2999]) {
		t.Errorf("first/last not kept: got steps %d, %d", got[0].Step, got[99].Step)
	}
}
