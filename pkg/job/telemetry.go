package job

import "time"

// MetricPoint is one training step's measurements (the spec's MetricsPoint).
type MetricPoint struct {
	Step           int       `json:"step"`
	Epoch          int       `json:"epoch"`
	Timestamp      time.Time `json:"timestamp"`
	TrainingLoss   float64   `json:"training_loss"`
	ValidationLoss *float64  `json:"validation_loss"`
	LearningRate   float64   `json:"learning_rate"`
	GradientNorm   *float64  `json:"gradient_norm"`
	Throughput     *float64  `json:"throughput"`      // tokens/s
	GPUUtilization *float64  `json:"gpu_utilization"` // percent
}

// LogLine is one line of the job's log (the spec's JobLog). Seq is the
// cluster's sequence number, which makes storing a line idempotent.
type LogLine struct {
	Seq       int64     `json:"seq"`
	Timestamp time.Time `json:"timestamp"`
	Level     string    `json:"level"` // INFO, WARNING, ERROR
	Message   string    `json:"message"`
}

// Checkpoint is a saved training state (the spec's Checkpoint).
type Checkpoint struct {
	Step      int       `json:"step"`
	Epoch     int       `json:"epoch"`
	Loss      float64   `json:"loss"`
	SizeBytes int64     `json:"file_size"`
	CreatedAt time.Time `json:"created_at"`
}

// Overview is a shape-preserving reduction of a job's whole metric history
// (first and last point, loss extremes, every epoch boundary and validation
// point kept), kept up to date by poll-job, so a chart of a long run is one
// small read instead of every point (docs/adr/0005-job-feed.md). Through is
// the last step it includes.
type Overview struct {
	Through int
	Points  []MetricPoint
}

// Overview sizes: it grows by the new points of each poll and is reduced
// back to OverviewKeep when it passes OverviewMax.
const (
	OverviewMax  = 2000
	OverviewKeep = 1000
)
