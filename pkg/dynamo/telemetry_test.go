package dynamo_test

import (
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/testkit"
)

// TestMetricPointsOncePerStep: a retried poll writes the same points again
// (and more, in batches over 25); each step is stored once, in order.
func TestMetricPointsOncePerStep(t *testing.T) {
	s, _ := testkit.Table(t)
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var points []job.MetricPoint
	for step := 1; step <= 60; step++ {
		v := 2.5 - float64(step)/100
		points = append(points, job.MetricPoint{Step: step, Epoch: 1 + step/30, Timestamp: t0.Add(time.Duration(step) * time.Second), TrainingLoss: v, LearningRate: 2e-4, GradientNorm: &v})
	}
	for _, batch := range [][]job.MetricPoint{points[:40], points[20:], points} { // overlapping retries
		if err := s.PutMetricPoints(ctx, "j1", batch); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.MetricPoints(ctx, "j1", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Fatalf("points: got %d, want 60 (one per step)", len(got))
	}
	for i, p := range got {
		if p.Step != i+1 || p.TrainingLoss != points[i].TrainingLoss || p.GradientNorm == nil || !p.Timestamp.Equal(points[i].Timestamp) {
			t.Fatalf("point %d: got %+v, want %+v", i, p, points[i])
		}
	}
	after, _ := s.MetricPoints(ctx, "j1", 55, 10)
	if len(after) != 5 || after[0].Step != 56 {
		t.Fatalf("after step 55: got %d points starting at %d", len(after), after[0].Step)
	}
	if other, _ := s.MetricPoints(ctx, "j2", 0, 10); len(other) != 0 {
		t.Fatalf("another job's points leaked: %v", other)
	}
	if err := s.PutLogLines(ctx, "j1", []job.LogLine{{Seq: 1, Timestamp: t0, Level: "INFO", Message: "start"}, {Seq: 1, Timestamp: t0, Level: "INFO", Message: "start"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCheckpoints(ctx, "j1", []job.Checkpoint{{Step: 30, Epoch: 1, Loss: 2.2, SizeBytes: 84 << 20, CreatedAt: t0}}); err != nil {
		t.Fatal(err)
	}
}
