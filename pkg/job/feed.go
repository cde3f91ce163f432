package job

import (
	"time"

	"github.com/brightrun/brightrun/pkg/money"
)

// The job feed is one ordered list of what changed in a job — for
// frontends that poll GET /api/jobs/{id}/events and for the Server-Sent
// Events of GET /api/jobs/{id}/stream. Each entry has a sequence number
// that never changes: a client resumes after the last id it saw and gets
// every later entry once, in order (docs/adr/0005-job-feed.md).
//
// The workflow's tasks append to it (Runner.appendFeed) after every change
// they commit: the entries are the difference between what the feed last
// reported (FeedState, stored on the job) and the job now, appended with
// the new FeedState in one transaction that is conditional on the feed's
// sequence — so a retried or concurrent task never appends an entry twice
// and never leaves a gap.

// Feed entry types, the SSE event names.
const (
	FeedStage    = "stage"    // status or stage changed
	FeedProgress = "progress" // progress, epoch, step or ETA moved
	FeedMetrics  = "metrics"  // new metric points
	FeedLog      = "log"      // new log lines
	FeedCost     = "cost"     // the cost so far grew
	FeedComplete = "complete" // the job ended completed or cancelled
	FeedError    = "error"    // the job failed
)

// FeedEntry is one entry. Data is one of the Feed*Data types when built;
// read back from the store it is their JSON (json.RawMessage).
type FeedEntry struct {
	Seq  int64     `json:"id"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Data any       `json:"data"`
}

// FeedStageData: the job's status and stage now and before.
type FeedStageData struct {
	Status     Status `json:"status"`
	Stage      Stage  `json:"stage"`
	FromStatus Status `json:"from_status"`
	FromStage  Stage  `json:"from_stage"`
}

// FeedProgressData: where the run is.
type FeedProgressData struct {
	Progress              float64    `json:"progress"`
	CurrentEpoch          int        `json:"current_epoch"`
	TotalEpochs           int        `json:"total_epochs"`
	CurrentStep           int        `json:"current_step"`
	TotalSteps            int        `json:"total_steps"`
	EstimatedCompletionAt *time.Time `json:"estimated_completion_at"`
}

// FeedMetricsData: the metric points of steps FromStep..ToStep (all of
// them; a long gap is split over several entries), and the job's current
// metrics.
type FeedMetricsData struct {
	FromStep int           `json:"from_step"`
	ToStep   int           `json:"to_step"`
	Points   []MetricPoint `json:"points"`
	Current  *Metrics      `json:"current_metrics,omitempty"`
}

// FeedLogData: log lines FromSeq..ToSeq.
type FeedLogData struct {
	FromSeq int64     `json:"from_seq"`
	ToSeq   int64     `json:"to_seq"`
	Lines   []LogLine `json:"lines"`
}

// FeedCostData: the cost so far and the estimate.
type FeedCostData struct {
	CurrentCost        money.Amount `json:"current_cost"`
	EstimatedTotalCost money.Amount `json:"estimated_total_cost"`
}

// FeedEndData: the job's end (complete: completed or cancelled; error:
// failed).
type FeedEndData struct {
	Status       Status        `json:"status"`
	FinalCost    *money.Amount `json:"final_cost"`
	ArtifactID   *string       `json:"artifact_id"`
	ErrorMessage *string       `json:"error_message"`
	CompletedAt  *time.Time    `json:"completed_at"`
}

// FeedState is what the feed has reported so far, stored on the job.
type FeedState struct {
	Seq         int64        `json:"seq"`
	Status      Status       `json:"status"`
	Stage       Stage        `json:"stage"`
	Progress    float64      `json:"progress"`
	Epoch       int          `json:"epoch"`
	Step        int          `json:"step"`
	ETA         *time.Time   `json:"eta,omitempty"`
	Cost        money.Amount `json:"cost"`
	MetricsStep int          `json:"metrics_step"` // the last step whose point is in the feed
	LogSeq      int64        `json:"log_seq"`      // the last log line in the feed
	Ended       bool         `json:"ended"`
}

// Entry sizes: a DynamoDB item holds 400 KB; a metric point is ~250 bytes
// of JSON, a log line up to ~1 KB.
const (
	feedPointsPerEntry = 500
	feedLinesPerEntry  = 200
)

// FeedTelemetry is what a feed entry may need besides the job: the metric
// points after the feed's last step and the log lines after its last line,
// in order (the caller loads them; see Runner.appendFeed).
type FeedTelemetry struct {
	Points []MetricPoint
	Lines  []LogLine
}

// feedDiff returns the entries that bring the feed from s to the job's
// current state, numbered from s.Seq+1, and the new state. The job j and
// cursor c are read from the store; t holds the points in
// (s.MetricsStep, c.MetricsAfter] and lines in (s.LogSeq, c.LogSeq].
func feedDiff(s FeedState, j Job, c Cursor, t FeedTelemetry, now time.Time) ([]FeedEntry, FeedState) {
	if s.Ended {
		return nil, s
	}
	var out []FeedEntry
	add := func(typ string, data any) {
		s.Seq++
		out = append(out, FeedEntry{Seq: s.Seq, Type: typ, At: now, Data: data})
	}
	if j.Status != s.Status || j.CurrentStage != s.Stage {
		from := s
		if from.Status == "" { // the feed's first entry: the job's beginning
			from.Status, from.Stage = StatusQueued, StageQueued
		}
		if j.Status != from.Status || j.CurrentStage != from.Stage {
			add(FeedStage, FeedStageData{Status: j.Status, Stage: j.CurrentStage, FromStatus: from.Status, FromStage: from.Stage})
		}
		s.Status, s.Stage = j.Status, j.CurrentStage
	}
	for len(t.Points) > 0 {
		n := min(len(t.Points), feedPointsPerEntry)
		batch := t.Points[:n]
		t.Points = t.Points[n:]
		d := FeedMetricsData{FromStep: s.MetricsStep + 1, ToStep: batch[n-1].Step, Points: batch}
		if len(t.Points) == 0 {
			d.Current = j.CurrentMetrics
		}
		add(FeedMetrics, d)
		s.MetricsStep = d.ToStep
	}
	s.MetricsStep = max(s.MetricsStep, c.MetricsAfter)
	for len(t.Lines) > 0 {
		n := min(len(t.Lines), feedLinesPerEntry)
		batch := t.Lines[:n]
		t.Lines = t.Lines[n:]
		add(FeedLog, FeedLogData{FromSeq: s.LogSeq + 1, ToSeq: batch[n-1].Seq, Lines: batch})
		s.LogSeq = batch[n-1].Seq
	}
	s.LogSeq = max(s.LogSeq, c.LogSeq)
	if j.Progress != s.Progress || j.CurrentEpoch != s.Epoch || j.CurrentStep != s.Step || !sameTime(j.EstimatedCompletionAt, s.ETA) {
		add(FeedProgress, FeedProgressData{Progress: j.Progress, CurrentEpoch: j.CurrentEpoch, TotalEpochs: j.TotalEpochs,
			CurrentStep: j.CurrentStep, TotalSteps: j.TotalSteps, EstimatedCompletionAt: j.EstimatedCompletionAt})
		s.Progress, s.Epoch, s.Step, s.ETA = j.Progress, j.CurrentEpoch, j.CurrentStep, j.EstimatedCompletionAt
	}
	if j.CurrentCost != s.Cost {
		add(FeedCost, FeedCostData{CurrentCost: j.CurrentCost, EstimatedTotalCost: j.EstimatedTotalCost})
		s.Cost = j.CurrentCost
	}
	if j.Status.Terminal() {
		end := FeedEndData{Status: j.Status, FinalCost: j.FinalCost, ArtifactID: j.ArtifactID, ErrorMessage: j.ErrorMessage, CompletedAt: j.CompletedAt}
		if j.Status == StatusFailed {
			add(FeedError, end)
		} else {
			add(FeedComplete, end)
		}
		s.Ended = true
	}
	return out, s
}
