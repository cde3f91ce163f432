package series

import (
	"math"
	"testing"

	"github.com/brightrun/brightrun/pkg/job"
)

// TestOverviewKeepsShape: a 100,000-step run fed to the overview 15 points
// at a time (a 20 s poll) stays within OverviewMax points and keeps what a
// chart must show: the first and last step, every epoch's last step, every
// validation point, and the lowest training loss.
func TestOverviewKeepsShape(t *testing.T) {
	const steps, epochs = 100_000, 10
	var ov job.Overview
	var all []job.MetricPoint
	batch := make([]job.MetricPoint, 0, 15)
	for s := 1; s <= steps; s++ {
		p := job.MetricPoint{Step: s, Epoch: (s-1)/(steps/epochs) + 1, TrainingLoss: 2.5*math.Exp(-float64(s)/20000) + 0.3 + 0.05*math.Sin(float64(s)/7)}
		if s%(steps/epochs) == 0 {
			v := p.TrainingLoss + 0.05
			p.ValidationLoss = &v
		}
		all = append(all, p)
		batch = append(batch, p)
		if len(batch) == cap(batch) || s == steps {
			ov = job.ExtendOverview(ov, batch, Downsample)
			batch = batch[:0]
			if len(ov.Points) > job.OverviewMax {
				t.Fatalf("after step %d: %d points, more than %d", s, len(ov.Points), job.OverviewMax)
			}
		}
	}
	// Feeding the same points again changes nothing (a retried poll).
	if again := job.ExtendOverview(ov, all[len(all)-30:], Downsample); len(again.Points) != len(ov.Points) || again.Through != ov.Through {
		t.Fatalf("repeated points: %d points through %d, want %d through %d", len(again.Points), again.Through, len(ov.Points), ov.Through)
	}
	kept := map[int]bool{}
	for i, p := range ov.Points {
		kept[p.Step] = true
		if i > 0 && p.Step <= ov.Points[i-1].Step {
			t.Fatalf("point %d: step %d after %d", i, p.Step, ov.Points[i-1].Step)
		}
	}
	minStep := 0
	for _, p := range all {
		if minStep == 0 || p.TrainingLoss < all[minStep-1].TrainingLoss {
			minStep = p.Step
		}
	}
	want := []int{1, steps, minStep}
	for e := 1; e <= epochs; e++ {
		want = append(want, e*steps/epochs)
	}
	for _, s := range want {
		if !kept[s] {
			t.Errorf("step %d is not in the overview", s)
		}
	}
	if ov.Through != steps || len(ov.Points) < job.OverviewKeep {
		t.Errorf("overview: %d points through %d", len(ov.Points), ov.Through)
	}
}
