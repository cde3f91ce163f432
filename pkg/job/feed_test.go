package job

import (
	"slices"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/money"
)

func TestFeedDiff(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	points := func(from, to int) []MetricPoint {
		var out []MetricPoint
		for s := from; s <= to; s++ {
			out = append(out, MetricPoint{Step: s})
		}
		return out
	}
	lines := func(from, to int64) []LogLine {
		var out []LogLine
		for s := from; s <= to; s++ {
			out = append(out, LogLine{Seq: s})
		}
		return out
	}
	cost := money.Amount(1_250_000)
	modelID := "m1"
	running := Job{Status: StatusRunning, CurrentStage: StageTraining, Progress: 40, CurrentEpoch: 2, CurrentStep: 1200, CurrentCost: cost}
	atRunning := FeedState{Seq: 7, Status: StatusRunning, Stage: StageTraining, Progress: 40, Epoch: 2, Step: 1200, Cost: cost, MetricsStep: 1200, LogSeq: 30}
	cases := []struct {
		name      string
		state     FeedState
		job       Job
		cursor    Cursor
		telemetry FeedTelemetry
		wantTypes []string
		wantState func(FeedState) bool
	}{
		{"a new job that is still queued: nothing", FeedState{}, Job{Status: StatusQueued, CurrentStage: StageQueued}, Cursor{}, FeedTelemetry{},
			nil, func(s FeedState) bool { return s.Seq == 0 }},
		{"submitted: the first entry is the stage", FeedState{}, Job{Status: StatusInitializing, CurrentStage: StageQueued}, Cursor{}, FeedTelemetry{},
			[]string{FeedStage}, func(s FeedState) bool { return s.Seq == 1 && s.Status == StatusInitializing }},
		{"nothing changed", atRunning, running, Cursor{MetricsAfter: 1200, LogSeq: 30}, FeedTelemetry{},
			nil, func(s FeedState) bool { return s == atRunning }},
		{"1,201 new points: three metrics entries, then progress and cost",
			atRunning, Job{Status: StatusRunning, CurrentStage: StageTraining, Progress: 60, CurrentEpoch: 3, CurrentStep: 2401, CurrentCost: cost + 1},
			Cursor{MetricsAfter: 2401, LogSeq: 30}, FeedTelemetry{Points: points(1201, 2401)},
			[]string{FeedMetrics, FeedMetrics, FeedMetrics, FeedProgress, FeedCost},
			func(s FeedState) bool {
				return s.Seq == 12 && s.MetricsStep == 2401 && s.Step == 2401 && s.Cost == cost+1
			}},
		{"250 log lines: two log entries", atRunning, running, Cursor{MetricsAfter: 1200, LogSeq: 280}, FeedTelemetry{Lines: lines(31, 280)},
			[]string{FeedLog, FeedLog}, func(s FeedState) bool { return s.Seq == 9 && s.LogSeq == 280 }},
		{"stage change comes first", atRunning, Job{Status: StatusRunning, CurrentStage: StageValidating, Progress: 40, CurrentEpoch: 2, CurrentStep: 1200, CurrentCost: cost},
			Cursor{MetricsAfter: 1200, LogSeq: 30}, FeedTelemetry{}, []string{FeedStage}, func(s FeedState) bool { return s.Stage == StageValidating }},
		{"completed: the end is the last entry", atRunning,
			Job{Status: StatusCompleted, CurrentStage: StageCompleted, Progress: 100, CurrentEpoch: 2, CurrentStep: 1200, CurrentCost: cost, FinalCost: &cost, ArtifactID: &modelID},
			Cursor{MetricsAfter: 1200, LogSeq: 30}, FeedTelemetry{}, []string{FeedStage, FeedProgress, FeedComplete}, func(s FeedState) bool { return s.Ended }},
		{"failed: error", atRunning, Job{Status: StatusFailed, CurrentStage: StageTraining, Progress: 40, CurrentEpoch: 2, CurrentStep: 1200, CurrentCost: cost},
			Cursor{MetricsAfter: 1200, LogSeq: 30}, FeedTelemetry{}, []string{FeedStage, FeedError}, func(s FeedState) bool { return s.Ended }},
		{"cancelled while queued: stage and complete", FeedState{}, Job{Status: StatusCancelled, CurrentStage: StageQueued},
			Cursor{}, FeedTelemetry{}, []string{FeedStage, FeedComplete}, func(s FeedState) bool { return s.Ended && s.Seq == 2 }},
		{"ended: nothing more, ever", FeedState{Seq: 9, Status: StatusCompleted, Ended: true}, Job{Status: StatusCompleted, Progress: 100, CurrentCost: cost},
			Cursor{MetricsAfter: 5}, FeedTelemetry{Points: points(1, 5)}, nil, func(s FeedState) bool { return s.Seq == 9 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			entries, next := feedDiff(c.state, c.job, c.cursor, c.telemetry, now)
			var types []string
			for i, e := range entries {
				types = append(types, e.Type)
				if e.Seq != c.state.Seq+int64(i)+1 || !e.At.Equal(now) {
					t.Errorf("entry %d: seq %d at %v, want %d at %v", i, e.Seq, e.At, c.state.Seq+int64(i)+1, now)
				}
			}
			if !slices.Equal(types, c.wantTypes) || !c.wantState(next) {
				t.Fatalf("got %v, state %+v; want %v", types, next, c.wantTypes)
			}
			// Every point and line is in exactly one entry, in order.
			var steps []int
			for _, e := range entries {
				if d, ok := e.Data.(FeedMetricsData); ok {
					for _, p := range d.Points {
						steps = append(steps, p.Step)
					}
					if len(d.Points) > feedPointsPerEntry || d.FromStep != d.Points[0].Step || d.ToStep != d.Points[len(d.Points)-1].Step {
						t.Errorf("metrics entry %d: %d points, steps %d–%d", e.Seq, len(d.Points), d.FromStep, d.ToStep)
					}
				}
			}
			if !c.state.Ended && len(steps) != len(c.telemetry.Points) {
				t.Errorf("points reported: got %d, want %d", len(steps), len(c.telemetry.Points))
			}
		})
	}
}
