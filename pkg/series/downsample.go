// Package series reduces a job's metric history to a chart-sized subset that
// keeps the curve's shape (GET /api/jobs/{id}/metrics?max_points=N).
package series

import (
	"cmp"
	"math"
	"slices"

	"github.com/brightrun/brightrun/pkg/job"
)

// DefaultMaxPoints is the number of points the metrics endpoint returns when
// the request does not say.
const DefaultMaxPoints = 500

// Downsample returns at most maxPoints of points, chosen so that a line chart
// of the result looks like a chart of the whole history.
//
// The input should be sorted by Step. If it is not, Downsample works on a
// stably sorted copy; points itself is never modified. The result is always
// in step order and is a subset of the (sorted) input: every returned point is
// a copy of an input point, with its pointer fields shared and nil pointers
// left nil. No values are synthesised and no point appears twice.
//
// When len(points) <= maxPoints nothing is dropped: a sorted input is
// returned as is (the same slice, so callers must not modify it), an unsorted
// one as a sorted copy.
//
// Otherwise, with n = len(points), the result has exactly maxPoints points:
//
//  1. Priority points, in this order of priority: the last point, the first
//     point, the point with the lowest TrainingLoss, the one with the highest
//     TrainingLoss, and the one with the lowest ValidationLoss (the best
//     evaluation). Ties go to the earliest point; NaN losses are never an
//     extreme. Duplicates count once; a budget smaller than their number
//     keeps the first maxPoints of them in this order.
//  2. Epoch boundaries: every point other than the first and last whose
//     Epoch differs from its successor's (the last step of an epoch, which
//     is where the trainer reports validation_loss), and every point with a
//     non-nil ValidationLoss.
//  3. The remaining budget, maxPoints minus the points kept under 1 and 2, is
//     filled by largest-triangle-three-buckets (LTTB) on (Step,
//     TrainingLoss). The points kept under 1 and 2 are fixed anchors: the
//     budget is shared between the gaps between consecutive anchors in
//     proportion to the number of points in each gap (cumulative rounding,
//     so the shares add up exactly), and LTTB runs inside each gap with the
//     gap's anchors as its fixed ends. LTTB therefore also picks the local
//     spikes and dips that an every-n-th sample would miss. Learning rate,
//     gradient norm, throughput and GPU utilisation ride along with the
//     chosen steps.
//
// If the points of 1 and 2 together exceed maxPoints (say 800 epochs and 500
// points), the priority points are kept and the remaining budget goes to
// evenly spaced epoch boundaries (the j-th of r picks is boundary
// floor((j+½)·B/r) of the B not already kept); there is then no budget left
// for step 3.
//
// maxPoints < 2 cannot keep both ends, and the bound on the length wins:
// maxPoints == 1 returns just the last (most recent) point of a longer
// series and maxPoints <= 0 returns an empty, non-nil slice. The HTTP layer
// should reject or clamp such values before they get here.
//
// Downsample is O(n) for a sorted input (O(n log n) otherwise) and allocates
// only the result and small index slices.
func Downsample(points []job.MetricPoint, maxPoints int) []job.MetricPoint {
	n := len(points)
	if n <= maxPoints {
		if slices.IsSortedFunc(points, byStep) {
			return points
		}
		return sortedCopy(points)
	}
	if maxPoints <= 0 {
		return []job.MetricPoint{}
	}
	pts := points
	sc, sorted := scan(pts)
	if !sorted {
		pts = sortedCopy(points)
		sc, _ = scan(pts)
	}
	idx := selectIndices(pts, sc, maxPoints)
	out := make([]job.MetricPoint, len(idx))
	for i, j := range idx {
		out[i] = pts[j]
	}
	return out
}

func byStep(a, b job.MetricPoint) int { return cmp.Compare(a.Step, b.Step) }

func sortedCopy(points []job.MetricPoint) []job.MetricPoint {
	pts := slices.Clone(points)
	slices.SortStableFunc(pts, byStep)
	return pts
}

// scanned is what one pass over the points finds: the indices of the lowest
// and highest training loss and the lowest validation loss (-1 if none),
// and the epoch boundaries other than the first and last point.
type scanned struct {
	minTL, maxTL, minVL int
	bounds              []int
}

// scan makes that pass, checking on the way that the points are sorted by
// step; it stops early and reports false if they are not.
func scan(pts []job.MetricPoint) (scanned, bool) {
	n := len(pts)
	sc := scanned{minTL: -1, maxTL: -1, minVL: -1}
	for i := range pts {
		p := &pts[i]
		if i > 0 && p.Step < pts[i-1].Step {
			return sc, false
		}
		if tl := p.TrainingLoss; !math.IsNaN(tl) {
			if sc.minTL < 0 || tl < pts[sc.minTL].TrainingLoss {
				sc.minTL = i
			}
			if sc.maxTL < 0 || tl > pts[sc.maxTL].TrainingLoss {
				sc.maxTL = i
			}
		}
		if v := p.ValidationLoss; v != nil && !math.IsNaN(*v) {
			if sc.minVL < 0 || *v < *pts[sc.minVL].ValidationLoss {
				sc.minVL = i
			}
		}
		if i > 0 && i < n-1 && (p.ValidationLoss != nil || p.Epoch != pts[i+1].Epoch) {
			sc.bounds = append(sc.bounds, i)
		}
	}
	return sc, true
}

// selectIndices returns the sorted indices of the points to keep; it needs
// pts sorted by step and len(pts) > maxPoints >= 1.
func selectIndices(pts []job.MetricPoint, sc scanned, maxPoints int) []int {
	n := len(pts)

	// Priority points, best first, without duplicates.
	anchors := make([]int, 0, maxPoints)
	for _, i := range [...]int{n - 1, 0, sc.minTL, sc.maxTL, sc.minVL} {
		if i >= 0 && len(anchors) < maxPoints && !slices.Contains(anchors, i) {
			anchors = append(anchors, i)
		}
	}
	priority := len(anchors)

	// Epoch boundaries: all of them, or evenly spaced ones if they do not fit.
	bounds := slices.DeleteFunc(sc.bounds, func(i int) bool {
		return slices.Contains(anchors[:priority], i)
	})
	if r := maxPoints - priority; len(bounds) <= r {
		anchors = append(anchors, bounds...)
	} else {
		for j := range r {
			anchors = append(anchors, bounds[(2*j+1)*len(bounds)/(2*r)])
		}
	}
	slices.Sort(anchors)

	budget := maxPoints - len(anchors)
	if budget == 0 {
		return anchors
	}
	// Here maxPoints >= 2, so anchors holds 0 and n-1 and every other point
	// lies in some gap; n > maxPoints makes the gaps hold more than budget.
	gapTotal := n - len(anchors)
	out := make([]int, 0, maxPoints)
	seen, given := 0, 0
	for k := 0; k+1 < len(anchors); k++ {
		a, b := anchors[k], anchors[k+1]
		out = append(out, a)
		seen += b - a - 1
		share := roundDiv(budget*seen, gapTotal) - given
		given += share
		out = lttb(out, pts, a, b, share)
	}
	return append(out, anchors[len(anchors)-1])
}

// roundDiv is p/q rounded half up, for p >= 0 and q > 0.
func roundDiv(p, q int) int { return (2*p + q) / (2 * q) }

// lttb appends to dst the indices of k points strictly between a and b,
// chosen by largest-triangle-three-buckets with pts[a] and pts[b] as the
// fixed ends. It needs 0 <= k <= b-a-1.
func lttb(dst []int, pts []job.MetricPoint, a, b, k int) []int {
	m := b - a - 1
	if k <= 0 {
		return dst
	}
	if k >= m {
		for i := a + 1; i < b; i++ {
			dst = append(dst, i)
		}
		return dst
	}
	x := func(i int) float64 { return float64(pts[i].Step) }
	y := func(i int) float64 { return pts[i].TrainingLoss }
	// Bucket i holds interior points [start(i), start(i+1)); each is non-empty
	// because k < m.
	start := func(i int) int { return a + 1 + i*m/k }

	prev := a
	for i := range k {
		lo, hi := start(i), start(i+1)
		// The third corner: the average of the next bucket, or the right
		// anchor for the last bucket. Non-finite losses are left out of the
		// average so that one bad value cannot blank the whole bucket.
		nx, ny := x(b), y(b)
		if i+1 < k {
			var sx, sy float64
			var c int
			for j := hi; j < start(i+2); j++ {
				if v := y(j); !math.IsNaN(v) && !math.IsInf(v, 0) {
					sx += x(j)
					sy += v
					c++
				}
			}
			if c > 0 {
				nx, ny = sx/float64(c), sy/float64(c)
			}
		}
		px, py := x(prev), y(prev)
		best, bestArea := lo, -1.0
		for j := lo; j < hi; j++ {
			// Twice the triangle's area; NaN never wins.
			area := math.Abs((px-nx)*(y(j)-py) - (px-x(j))*(ny-py))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		dst = append(dst, best)
		prev = best
	}
	return dst
}
