package job

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dataset"
)

// Monitor serves what the training monitor page reads: the caller's jobs,
// one job in detail, its metric history, logs, checkpoints and feed. Every
// read checks the job is the caller's first (another user's is NotFound).
type Monitor struct {
	Store MonitorStore
	// Downsample reduces a metric history to at most max points keeping its
	// shape (pkg/series.Downsample).
	Downsample func(points []MetricPoint, max int) []MetricPoint
}

// MonitorStore is what the monitor reads (pkg/dynamo).
type MonitorStore interface {
	JobRun(ctx context.Context, userID, jobID string) (Run, error)
	ListJobs(ctx context.Context, userID string, q ListQuery) ([]Job, error)
	Dataset(ctx context.Context, userID, id string, withReport bool) (dataset.Dataset, error)
	QueuedAhead(ctx context.Context, userID, id string) (int, error)
	MetricPointsBetween(ctx context.Context, jobID string, from, to, limit int) ([]MetricPoint, error)
	MetricsOverview(ctx context.Context, jobID string) (Overview, error)
	LogLinesAfter(ctx context.Context, jobID string, afterSeq int64, limit int) ([]LogLine, error)
	RunCheckpoints(ctx context.Context, jobID string) ([]Checkpoint, error)
	FeedEntries(ctx context.Context, jobID string, afterSeq int64, limit int) ([]FeedEntry, error)
}

// ---- GET /api/jobs

// ListQuery filters the caller's jobs. Statuses empty: every status.
type ListQuery struct {
	Page, Limit   int
	Statuses      []Status
	DatasetID     string
	CreatedFrom   *time.Time // inclusive
	CreatedBefore *time.Time // exclusive
}

// AllStatuses in lifecycle order.
var AllStatuses = []Status{StatusQueued, StatusInitializing, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled}

// ActiveStatuses are what status=active means.
var ActiveStatuses = []Status{StatusQueued, StatusInitializing, StatusRunning}

// ParseListQuery reads status (one status, a comma-separated list, or
// "active"), dataset_id, created_from and created_to (RFC 3339 or a date;
// a date in created_to includes that whole day).
func ParseListQuery(q map[string]string, page, limit int) (ListQuery, error) {
	lq := ListQuery{Page: page, Limit: limit, DatasetID: strings.TrimSpace(q["dataset_id"])}
	fields := apperr.Fields{}
	if v, ok := q["status"]; ok {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			switch st := Status(name); {
			case name == "active":
				lq.Statuses = append(lq.Statuses, ActiveStatuses...)
			case slices.Contains(AllStatuses, st):
				lq.Statuses = append(lq.Statuses, st)
			default:
				fields.Add("status", "must be active or one of queued, initializing, running, completed, failed, cancelled (comma-separated for several)")
			}
		}
		slices.Sort(lq.Statuses)
		lq.Statuses = slices.Compact(lq.Statuses)
	}
	if len(lq.DatasetID) > 64 {
		fields.Add("dataset_id", "is not a dataset id")
	}
	parse := func(name string, endOfDay bool) *time.Time {
		v, ok := q[name]
		if !ok {
			return nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return &t
		}
		if d, err := time.Parse(time.DateOnly, v); err == nil {
			if endOfDay {
				d = d.AddDate(0, 0, 1)
			}
			return &d
		}
		fields.Add(name, "must be a date (2026-12-01) or an RFC 3339 time (2026-12-01T09:00:00Z)")
		return nil
	}
	lq.CreatedFrom = parse("created_from", false)
	if t := parse("created_to", true); t != nil {
		if _, err := time.Parse(time.DateOnly, q["created_to"]); err != nil {
			*t = t.Add(time.Nanosecond) // an RFC 3339 bound is inclusive
		}
		lq.CreatedBefore = t
	}
	if lq.CreatedFrom != nil && lq.CreatedBefore != nil && !lq.CreatedFrom.Before(*lq.CreatedBefore) {
		fields.Add("created_to", "must not be before created_from")
	}
	return lq, fields.Err()
}

// List is the GET /api/jobs answer.
type List struct {
	Jobs       []Job `json:"jobs"`
	Total      int   `json:"total"`
	Page       int   `json:"page"`
	Limit      int   `json:"limit"`
	TotalPages int   `json:"totalPages"`
}

// List returns one page of the caller's jobs, newest first. The store
// filters by the key range of the dates and by status and dataset; the page
// is cut here, from every match, so the total is exact (a user's jobs
// number in the hundreds or thousands; see docs/adr/0005-job-feed.md).
func (m *Monitor) List(ctx context.Context, userID string, q ListQuery) (List, error) {
	all, err := m.Store.ListJobs(ctx, userID, q)
	if err != nil {
		return List{}, err
	}
	out := List{Jobs: []Job{}, Total: len(all), Page: q.Page, Limit: q.Limit}
	if q.Limit > 0 {
		out.TotalPages = (len(all) + q.Limit - 1) / q.Limit
	}
	if start := (q.Page - 1) * q.Limit; start < len(all) {
		out.Jobs = all[start:min(start+q.Limit, len(all))]
	}
	return out, nil
}

// ---- GET /api/jobs/{id}

// Detail is a job with what the monitor page shows beside it.
type Detail struct {
	Job
	Dataset       *DatasetSummary `json:"dataset"` // nil once the dataset is deleted
	MetricsCount  int             `json:"metrics_count"`
	QueuePosition *int            `json:"queue_position"` // while queued: 1 = the next of the user's jobs to start
}

// DatasetSummary names the job's dataset.
type DatasetSummary struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	TotalTrainingPairs *int64 `json:"total_training_pairs"` // nil until validated
}

// Detail returns the caller's job in detail.
func (m *Monitor) Detail(ctx context.Context, userID, id string) (Detail, error) {
	run, err := m.Store.JobRun(ctx, userID, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Job: run.Job, MetricsCount: run.Cursor.MetricsCount}
	ds, err := m.Store.Dataset(ctx, userID, run.Job.DatasetID, false)
	switch {
	case err == nil:
		d.Dataset = &DatasetSummary{ID: ds.ID, Name: ds.Name, TotalTrainingPairs: ds.TotalTrainingPairs}
	case apperr.KindOf(err) != apperr.NotFound:
		return Detail{}, err
	}
	if run.Job.Status == StatusQueued {
		ahead, err := m.Store.QueuedAhead(ctx, userID, id)
		if err != nil {
			return Detail{}, err
		}
		pos := ahead + 1
		d.QueuePosition = &pos
	}
	return d, nil
}

// ---- GET /api/jobs/{id}/metrics

// Metrics limits.
const (
	DefaultMaxPoints = 500
	MaxMaxPoints     = 5000
	// maxHistory bounds step numbers: a run of 1,000,000 steps is far
	// beyond any LoRA fine-tune.
	maxHistory = 1_000_000
)

// MetricsQuery selects steps FromStep..ToStep (0: to the end) and how many
// points at most to return.
type MetricsQuery struct {
	FromStep, ToStep, MaxPoints int
}

// ParseMetricsQuery reads from_step, to_step and max_points.
func ParseMetricsQuery(q map[string]string) (MetricsQuery, error) {
	mq := MetricsQuery{FromStep: 1, MaxPoints: DefaultMaxPoints}
	fields := apperr.Fields{}
	integer := func(name string, min, max int, dst *int) {
		v, ok := q[name]
		if !ok {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			fields.Add(name, "must be an integer from %d to %d", min, max)
			return
		}
		*dst = n
	}
	integer("from_step", 1, maxHistory, &mq.FromStep)
	integer("to_step", 1, maxHistory, &mq.ToStep)
	integer("max_points", 2, MaxMaxPoints, &mq.MaxPoints)
	if mq.ToStep != 0 && mq.ToStep < mq.FromStep {
		fields.Add("to_step", "must not be less than from_step")
	}
	return mq, fields.Err()
}

// MetricsHistory is the GET /api/jobs/{id}/metrics answer.
type MetricsHistory struct {
	Points      []MetricPoint `json:"points"`
	TotalPoints int           `json:"total_points"` // stored in the range, before downsampling
	Downsampled bool          `json:"downsampled"`
	// Resolution: "raw" — chosen from every stored point of the range;
	// "overview" — a range of more than RawSpan steps is answered from the
	// job's overview (at most OverviewMax shape-preserving points of the
	// whole run); ask for a narrower range to see every point.
	Resolution string `json:"resolution"`
	FromStep   int    `json:"from_step"`
	ToStep     int    `json:"to_step"` // the last step in the range (0 if none)
}

// RawSpan is the widest range read point by point: about what DynamoDB
// returns in one or two pages (docs/performance.md).
const RawSpan = 1500

// Metrics returns the job's metric points in the range, downsampled to at
// most MaxPoints with the curve's shape kept (first and last point, loss
// extremes, every epoch boundary and validation point).
func (m *Monitor) Metrics(ctx context.Context, userID, id string, q MetricsQuery) (MetricsHistory, error) {
	run, err := m.Store.JobRun(ctx, userID, id)
	if err != nil {
		return MetricsHistory{}, err
	}
	out := MetricsHistory{Points: []MetricPoint{}, Resolution: "raw", FromStep: q.FromStep}
	to := run.Cursor.MetricsAfter // the last stored step
	if q.ToStep != 0 {
		to = min(to, q.ToStep)
	}
	if to < q.FromStep {
		return out, nil
	}
	var points []MetricPoint
	if span := to - q.FromStep + 1; span <= RawSpan {
		if points, err = m.Store.MetricPointsBetween(ctx, id, q.FromStep, to, span); err != nil {
			return MetricsHistory{}, err
		}
		out.TotalPoints = len(points)
	} else {
		ov, err := m.Store.MetricsOverview(ctx, id)
		if err != nil {
			return MetricsHistory{}, err
		}
		lo, _ := slices.BinarySearchFunc(ov.Points, q.FromStep, func(p MetricPoint, step int) int { return p.Step - step })
		hi, _ := slices.BinarySearchFunc(ov.Points, to+1, func(p MetricPoint, step int) int { return p.Step - step })
		points, out.Resolution = ov.Points[lo:hi], "overview"
		// One point per step (the cluster's contract); the whole run's
		// count is kept exactly.
		out.TotalPoints = span
		if q.FromStep == 1 && to == run.Cursor.MetricsAfter {
			out.TotalPoints = run.Cursor.MetricsCount
		}
		out.Downsampled = true
	}
	if len(points) > 0 {
		out.ToStep = points[len(points)-1].Step
		out.Points = points
	}
	if len(points) > q.MaxPoints {
		out.Points, out.Downsampled = m.Downsample(points, q.MaxPoints), true
	}
	return out, nil
}

// ---- GET /api/jobs/{id}/logs

// Log levels, least severe first.
var logLevels = []string{"DEBUG", "INFO", "WARNING", "ERROR"}

// Logs limits.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 1000
	// logScan bounds the lines one filtered request reads; the cursor
	// moves past what was read, so the next request goes on from there.
	logScan = 5000
)

// LogsQuery: lines after the cursor (a line number), at or above MinLevel.
type LogsQuery struct {
	After    int64
	MinLevel string // "" = all
	Limit    int
}

// ParseLogsQuery reads after (the next_cursor of the previous page), level
// (the least severe level to return: INFO returns INFO, WARNING, ERROR)
// and limit.
func ParseLogsQuery(q map[string]string) (LogsQuery, error) {
	lq := LogsQuery{Limit: DefaultLogLimit}
	fields := apperr.Fields{}
	if v, ok := q["after"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			fields.Add("after", "must be the next_cursor of a previous page")
		}
		lq.After = n
	}
	if v, ok := q["level"]; ok {
		lq.MinLevel = strings.ToUpper(v)
		if !slices.Contains(logLevels, lq.MinLevel) {
			fields.Add("level", "must be one of %s", strings.Join(logLevels, ", "))
		}
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLogLimit {
			fields.Add("limit", "must be an integer from 1 to %d", MaxLogLimit)
		}
		lq.Limit = n
	}
	return lq, fields.Err()
}

// LogPage is the GET /api/jobs/{id}/logs answer. NextCursor is the last
// line read (pass it as after); HasMore says more lines were already
// stored when this page was read.
type LogPage struct {
	Lines      []LogLine `json:"lines"`
	NextCursor string    `json:"next_cursor"`
	HasMore    bool      `json:"has_more"`
}

// Logs returns the job's log lines after the cursor.
func (m *Monitor) Logs(ctx context.Context, userID, id string, q LogsQuery) (LogPage, error) {
	run, err := m.Store.JobRun(ctx, userID, id)
	if err != nil {
		return LogPage{}, err
	}
	minRank := slices.Index(logLevels, q.MinLevel)
	out := LogPage{Lines: []LogLine{}}
	cursor, scanned := q.After, 0
	for len(out.Lines) < q.Limit && scanned < logScan && cursor < run.Cursor.LogSeq {
		want := q.Limit - len(out.Lines)
		if q.MinLevel != "" {
			want = min(MaxLogLimit, logScan-scanned) // filtered: read ahead
		}
		batch, err := m.Store.LogLinesAfter(ctx, id, cursor, want)
		if err != nil {
			return LogPage{}, err
		}
		if len(batch) == 0 {
			break
		}
		for _, l := range batch {
			cursor, scanned = l.Seq, scanned+1
			if minRank < 0 || slices.Index(logLevels, strings.ToUpper(l.Level)) >= minRank {
				out.Lines = append(out.Lines, l)
				if len(out.Lines) == q.Limit {
					break
				}
			}
		}
	}
	out.NextCursor = strconv.FormatInt(cursor, 10)
	out.HasMore = cursor < run.Cursor.LogSeq
	return out, nil
}

// ---- GET /api/jobs/{id}/checkpoints

// Checkpoints returns the job's checkpoints in step order.
func (m *Monitor) Checkpoints(ctx context.Context, userID, id string) ([]Checkpoint, error) {
	if _, err := m.Store.JobRun(ctx, userID, id); err != nil {
		return nil, err
	}
	cps, err := m.Store.RunCheckpoints(ctx, id)
	if cps == nil {
		cps = []Checkpoint{}
	}
	return cps, err
}

// ---- GET /api/jobs/{id}/events

// Feed limits.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 500
)

// ParseEventsQuery reads after (the id of the last entry seen; 0 or absent:
// from the start) and limit. lastEventID, the SSE Last-Event-ID header,
// counts as after when after is absent.
func ParseEventsQuery(q map[string]string, lastEventID string) (after int64, limit int, err error) {
	fields := apperr.Fields{}
	limit = DefaultEventLimit
	v, ok := q["after"]
	if !ok {
		v, ok = lastEventID, lastEventID != ""
	}
	if ok {
		n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if perr != nil || n < 0 {
			fields.Add("after", "must be the id of an event of this job's feed")
		}
		after = n
	}
	if v, ok := q["limit"]; ok {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > MaxEventLimit {
			fields.Add("limit", "must be an integer from 1 to %d", MaxEventLimit)
		}
		limit = n
	}
	return after, limit, fields.Err()
}

// EventPage is the GET /api/jobs/{id}/events answer. NextCursor is the id
// of the last event returned (or the request's after when none); Done says
// the feed has ended (the job finished and its last event was returned).
type EventPage struct {
	Events     []FeedEntry `json:"events"`
	NextCursor string      `json:"next_cursor"`
	Done       bool        `json:"done"`
}

// Events returns the job's feed after an event id.
func (m *Monitor) Events(ctx context.Context, userID, id string, after int64, limit int) (EventPage, error) {
	run, err := m.Store.JobRun(ctx, userID, id)
	if err != nil {
		return EventPage{}, err
	}
	entries, err := m.Store.FeedEntries(ctx, id, after, limit)
	if err != nil {
		return EventPage{}, err
	}
	last := after
	if n := len(entries); n > 0 {
		last = entries[n-1].Seq
	} else {
		entries = []FeedEntry{}
	}
	return EventPage{Events: entries, NextCursor: strconv.FormatInt(last, 10), Done: run.Feed.Ended && last >= run.Feed.Seq}, nil
}
