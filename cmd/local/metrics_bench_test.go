package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/series"
	"github.com/brightrun/brightrun/pkg/training"
)

// BenchmarkMetrics100k: GET /api/jobs/{id}/metrics of a job with 100,000
// stored steps, through the local gateway, the get-job-metrics binary and
// DynamoDB Local (goal for the whole run at 500 points: ≤ 100 ms). The
// history is written to the table first, which takes a minute.
func BenchmarkMetrics100k(b *testing.B) {
	a := signUp(b, "Historian")
	id := seedHistory(b, a.ID, 100_000, 10)
	client := &http.Client{}
	get := func(query string, wantPoints int, wantResolution string) time.Duration {
		req, _ := http.NewRequest("GET", st.APIURL+"/api/jobs/"+id+"/metrics"+query, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		var env struct {
			Data struct {
				Points     []json.RawMessage `json:"points"`
				Resolution string            `json:"resolution"`
			}
		}
		if res.StatusCode != http.StatusOK || json.Unmarshal(body, &env) != nil || len(env.Data.Points) != wantPoints || env.Data.Resolution != wantResolution {
			b.Fatalf("GET metrics%s: status %d, %d points (%s), want %d (%s)", query, res.StatusCode, len(env.Data.Points), env.Data.Resolution, wantPoints, wantResolution)
		}
		return took
	}
	for _, c := range []struct {
		name, query, resolution string
		points                  int
	}{
		{"whole-run-500", "?max_points=500", "overview", 500},
		{"zoom-1000-steps-500", "?from_step=50001&to_step=51000&max_points=500", "raw", 500},
		{"zoom-1500-steps-all", "?from_step=50001&to_step=51500&max_points=5000", "raw", 1500},
	} {
		b.Run(c.name, func(b *testing.B) {
			get(c.query, c.points, c.resolution) // warm the worker
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				lat = append(lat, get(c.query, c.points, c.resolution))
			}
			reportLatency(b, lat)
		})
	}
}

// seedHistory stores a job of userID with a metric history of steps points
// (a decaying, wiggling loss; a validation point at each epoch's end), its
// overview built as poll-job builds it (15 points a poll), and its cursors.
func seedHistory(tb testing.TB, userID string, steps, epochs int) string {
	tb.Helper()
	const perPoll = 15
	ctx := context.Background()
	now := time.Now().UTC()
	id := ulid.Make().String()
	if err := st.Store.CreateJob(ctx, job.Job{ID: id, UserID: userID, DatasetID: "none", PresetID: training.PresetBalanced, Status: job.StatusQueued,
		CurrentStage: job.StageQueued, TotalEpochs: epochs, TotalSteps: steps, QueuedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		tb.Fatal(err)
	}
	var ov job.Overview
	batch := make([]job.MetricPoint, 0, 1000)
	for s := 1; s <= steps; s++ {
		gn, tp, gu := 1.0, 3000.0, 95.0
		p := job.MetricPoint{Step: s, Epoch: (s-1)/(steps/epochs) + 1, Timestamp: now.Add(time.Duration(s) * time.Second),
			TrainingLoss: 2.5*math.Exp(-float64(s)/float64(steps/5)) + 0.3 + 0.05*math.Sin(float64(s)/7), LearningRate: 2e-4, GradientNorm: &gn, Throughput: &tp, GPUUtilization: &gu}
		if s%(steps/epochs) == 0 {
			v := p.TrainingLoss + 0.05
			p.ValidationLoss = &v
		}
		batch = append(batch, p)
		if len(batch) == cap(batch) || s == steps {
			if err := st.Store.PutMetricPoints(ctx, id, batch); err != nil {
				tb.Fatal(err)
			}
			for i := 0; i < len(batch); i += perPoll {
				ov = job.ExtendOverview(ov, batch[i:min(i+perPoll, len(batch))], series.Downsample)
			}
			batch = batch[:0]
		}
	}
	if ok, err := st.Store.PutMetricsOverview(ctx, id, ov, 0); err != nil || !ok {
		tb.Fatal(ok, err)
	}
	if ok, err := st.Store.AdvanceTelemetry(ctx, userID, id, job.Cursor{}, job.Cursor{MetricsAfter: steps, MetricsCount: steps}); err != nil || !ok {
		tb.Fatal(ok, err)
	}
	return id
}
