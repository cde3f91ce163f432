package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/testkit"
)

// monitored is one finished job shared by the monitoring tests (a run takes
// ~9 s; every test reads it, none changes it).
var monitored struct {
	owner   account
	dataset string
	job     job.Job
}

func finishedJob(t *testing.T) (account, string, job.Job) {
	t.Helper()
	if monitored.job.ID == "" {
		a := signUp(t, "Watcher")
		ds := readyDataset(t, a.Token, 256<<10, 61)
		j := waitJob(t, a.Token, startJob(t, a.Token, ds, "balanced").ID, "finished", final)
		if j.Status != job.StatusCompleted {
			t.Fatalf("job: got %s, want completed", j.Status)
		}
		monitored.owner, monitored.dataset, monitored.job = a, ds, j
	}
	return monitored.owner, monitored.dataset, monitored.job
}

type jobDetail struct {
	job.Job
	Dataset *struct {
		ID                 string `json:"id"`
		Name               string `json:"name"`
		TotalTrainingPairs *int64 `json:"total_training_pairs"`
	} `json:"dataset"`
	MetricsCount  int  `json:"metrics_count"`
	QueuePosition *int `json:"queue_position"`
}

func TestJobListAndDetail(t *testing.T) {
	a, ds, done := finishedJob(t)
	// A second job, cancelled while queued, so filters have something to
	// tell apart.
	var c createdJob
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs", Token: a.Token, Body: map[string]any{
		"dataset_id": ds, "preset_id": "conservative", "gpu_config": map[string]any{"gpu_type": "A100-80GB", "num_gpus": 1}}}, http.StatusCreated, "").Into(t, &c)
	var queued jobDetail
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + c.Job.ID, Token: a.Token}, http.StatusOK, "").Into(t, &queued)
	if queued.Status == job.StatusQueued && (queued.QueuePosition == nil || *queued.QueuePosition < 1) {
		t.Errorf("queued job: queue_position %v, want ≥ 1", queued.QueuePosition)
	}
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs/" + c.Job.ID + "/cancel", Token: a.Token}, http.StatusOK, "")
	second := waitJob(t, a.Token, c.Job.ID, "finished", final)

	type list struct {
		Jobs       []job.Job `json:"jobs"`
		Total      int       `json:"total"`
		Page       int       `json:"page"`
		Limit      int       `json:"limit"`
		TotalPages int       `json:"totalPages"`
	}
	ids := func(q string) (list, string) {
		var l list
		api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs" + q, Token: a.Token}, http.StatusOK, "").Into(t, &l)
		s := ""
		for _, j := range l.Jobs {
			s += j.ID[len(j.ID)-4:] + " "
		}
		return l, s
	}
	short := func(js ...job.Job) string {
		s := ""
		for _, j := range js {
			s += j.ID[len(j.ID)-4:] + " "
		}
		return s
	}
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	cases := []struct {
		query string
		want  string
	}{
		{"", short(second, done)}, // newest first
		{"?status=completed", short(done)},
		{"?status=" + url.QueryEscape(string(second.Status)+",completed"), short(second, done)},
		{"?status=active", ""},
		{"?dataset_id=" + ds, short(second, done)},
		{"?dataset_id=someone-elses", ""},
		{"?created_from=" + today + "&created_to=" + today, short(second, done)},
		{"?created_from=" + tomorrow, ""},
		{"?created_to=" + url.QueryEscape(done.CreatedAt.UTC().Format(time.RFC3339Nano)), short(done)},
		{"?limit=1", short(second)},
		{"?limit=1&page=2", short(done)},
		{"?limit=1&page=3", ""},
	}
	for _, c := range cases {
		l, got := ids(c.query)
		if got != c.want {
			t.Errorf("GET /api/jobs%s: got %q, want %q", c.query, got, c.want)
		}
		if c.query == "?limit=1" && (l.Total != 2 || l.TotalPages != 2 || l.Limit != 1 || l.Page != 1) {
			t.Errorf("GET /api/jobs?limit=1: total %d, totalPages %d, limit %d, page %d; want 2, 2, 1, 1", l.Total, l.TotalPages, l.Limit, l.Page)
		}
	}

	var d jobDetail
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + done.ID, Token: a.Token}, http.StatusOK, "").Into(t, &d)
	if d.ID != done.ID || d.Dataset == nil || d.Dataset.ID != ds || d.Dataset.Name == "" || d.Dataset.TotalTrainingPairs == nil ||
		d.MetricsCount != d.CurrentStep || d.QueuePosition != nil || d.GPUConfig.GPUType != "A100-80GB" || d.PresetID != "balanced" {
		t.Errorf("detail: got %+v (dataset %+v, metrics_count %d)", d.Job, d.Dataset, d.MetricsCount)
	}
}

func TestJobMetricsHistory(t *testing.T) {
	a, _, j := finishedJob(t)
	type history struct {
		Points      []job.MetricPoint `json:"points"`
		TotalPoints int               `json:"total_points"`
		Downsampled bool              `json:"downsampled"`
		FromStep    int               `json:"from_step"`
		ToStep      int               `json:"to_step"`
	}
	get := func(q string) history {
		var h history
		api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + j.ID + "/metrics" + q, Token: a.Token}, http.StatusOK, "").Into(t, &h)
		return h
	}
	all := get("?max_points=5000")
	if all.TotalPoints != j.TotalSteps || len(all.Points) != j.TotalSteps || all.Downsampled || all.ToStep != j.TotalSteps {
		t.Fatalf("full history: %d of %d points (downsampled %v, to_step %d), want all %d", len(all.Points), all.TotalPoints, all.Downsampled, all.ToStep, j.TotalSteps)
	}
	small := get("?max_points=40")
	if !small.Downsampled || len(small.Points) != 40 || small.TotalPoints != j.TotalSteps ||
		small.Points[0].Step != 1 || small.Points[len(small.Points)-1].Step != j.TotalSteps {
		t.Fatalf("max_points=40: %d points (downsampled %v), first %d, last %d", len(small.Points), small.Downsampled, small.Points[0].Step, small.Points[len(small.Points)-1].Step)
	}
	kept := map[int]bool{}
	for _, p := range small.Points {
		kept[p.Step] = true
	}
	for i := 1; i < len(all.Points); i++ {
		// An epoch's boundary is its last step (where validation runs).
		if all.Points[i].Epoch != all.Points[i-1].Epoch && !kept[all.Points[i-1].Step] {
			t.Errorf("the last step of epoch %d (%d) not kept", all.Points[i-1].Epoch, all.Points[i-1].Step)
		}
		if all.Points[i].ValidationLoss != nil && !kept[all.Points[i].Step] {
			t.Errorf("validation point at step %d not kept", all.Points[i].Step)
		}
	}
	r := get("?from_step=10&to_step=19")
	if r.TotalPoints != 10 || r.Points[0].Step != 10 || r.Points[9].Step != 19 || r.FromStep != 10 || r.ToStep != 19 {
		t.Errorf("steps 10–19: got %d points from %d to %d", r.TotalPoints, r.FromStep, r.ToStep)
	}
	if e := get(fmt.Sprintf("?from_step=%d", j.TotalSteps+1)); e.TotalPoints != 0 || len(e.Points) != 0 {
		t.Errorf("after the last step: got %d points", e.TotalPoints)
	}
}

func TestJobLogsCheckpointsAndEvents(t *testing.T) {
	a, _, j := finishedJob(t)
	// Logs: paging by next_cursor reads every line once.
	type logPage struct {
		Lines      []job.LogLine `json:"lines"`
		NextCursor string        `json:"next_cursor"`
		HasMore    bool          `json:"has_more"`
	}
	var all []job.LogLine
	after := "0"
	for range 100 {
		var p logPage
		api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + j.ID + "/logs?limit=7&after=" + after, Token: a.Token}, http.StatusOK, "").Into(t, &p)
		all = append(all, p.Lines...)
		after = p.NextCursor
		if !p.HasMore {
			break
		}
	}
	if len(all) < 10 {
		t.Fatalf("logs: %d lines", len(all))
	}
	for i, l := range all {
		if l.Seq != int64(i+1) {
			t.Fatalf("log line %d: seq %d (a gap or a repeat)", i, l.Seq)
		}
	}
	var warn logPage
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + j.ID + "/logs?level=warning&limit=1000", Token: a.Token}, http.StatusOK, "").Into(t, &warn)
	wantWarn := 0
	for _, l := range all {
		if l.Level == "WARNING" || l.Level == "ERROR" {
			wantWarn++
		}
	}
	if len(warn.Lines) != wantWarn {
		t.Errorf("level=warning: %d lines, want %d", len(warn.Lines), wantWarn)
	}
	for _, l := range warn.Lines {
		if l.Level != "WARNING" && l.Level != "ERROR" {
			t.Errorf("level=warning returned a %s line", l.Level)
		}
	}

	var cps struct{ Checkpoints []job.Checkpoint }
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + j.ID + "/checkpoints", Token: a.Token}, http.StatusOK, "").Into(t, &cps)
	if len(cps.Checkpoints) != j.TotalEpochs || cps.Checkpoints[len(cps.Checkpoints)-1].Epoch != j.TotalEpochs {
		t.Errorf("checkpoints: got %+v, want one per epoch (%d)", cps.Checkpoints, j.TotalEpochs)
	}

	// Events: read in pages of 5 from the start, then again from the
	// middle: the same ids, no gap, no repeat, the end marked done.
	feed := readFeed(t, a.Token, j.ID, "0", 5)
	if len(feed) < 5 || feed[0].Type != job.FeedStage || feed[len(feed)-1].Type != job.FeedComplete {
		t.Fatalf("feed: %d events, first %s, last %s", len(feed), feed[0].Type, feed[len(feed)-1].Type)
	}
	for i, e := range feed {
		if e.Seq != int64(i+1) {
			t.Fatalf("feed event %d: id %d", i, e.Seq)
		}
	}
	mid := len(feed) / 2
	rest := readFeed(t, a.Token, j.ID, strconv.FormatInt(feed[mid].Seq, 10), 50)
	if len(rest) != len(feed)-mid-1 || rest[0].Seq != feed[mid].Seq+1 {
		t.Errorf("resumed after %d: %d events from %d, want %d from %d", feed[mid].Seq, len(rest), rest[0].Seq, len(feed)-mid-1, feed[mid].Seq+1)
	}
	var steps []int
	for _, e := range feed {
		if e.Type == job.FeedMetrics {
			var d job.FeedMetricsData
			if err := json.Unmarshal(e.Data.(json.RawMessage), &d); err != nil {
				t.Fatal(err)
			}
			for _, p := range d.Points {
				steps = append(steps, p.Step)
			}
		}
	}
	if len(steps) != j.TotalSteps || steps[0] != 1 || steps[len(steps)-1] != j.TotalSteps {
		t.Errorf("the feed's metric points: %d, want every step 1..%d once", len(steps), j.TotalSteps)
	}
}

type feedEvent struct {
	Seq  int64           `json:"id"`
	Type string          `json:"type"`
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// readFeed pages through GET /api/jobs/{id}/events until done.
func readFeed(t *testing.T, tok, id, after string, limit int) []job.FeedEntry {
	t.Helper()
	var out []job.FeedEntry
	for range 1000 {
		var p struct {
			Events     []feedEvent `json:"events"`
			NextCursor string      `json:"next_cursor"`
			Done       bool        `json:"done"`
		}
		api.Expect(t, testkit.Request{Method: "GET", Path: fmt.Sprintf("/api/jobs/%s/events?after=%s&limit=%d", id, after, limit), Token: tok}, http.StatusOK, "").Into(t, &p)
		for _, e := range p.Events {
			out = append(out, job.FeedEntry{Seq: e.Seq, Type: e.Type, At: e.At, Data: e.Data})
		}
		if p.Done {
			return out
		}
		if len(p.Events) == 0 {
			t.Fatalf("feed of a finished job: no events after %s and not done", after)
		}
		after = p.NextCursor
	}
	t.Fatal("the feed did not end")
	return nil
}

func TestMonitoringIsolationAndBadInput(t *testing.T) {
	a, _, j := finishedJob(t)
	other := signUp(t, "Snoop")
	base := "/api/jobs/" + j.ID
	testkit.AssertNotFoundForOthers(t, api, a.Token, other.Token,
		testkit.Request{Method: "GET", Path: base},
		testkit.Request{Method: "GET", Path: base + "/metrics"},
		testkit.Request{Method: "GET", Path: base + "/logs"},
		testkit.Request{Method: "GET", Path: base + "/checkpoints"},
		testkit.Request{Method: "GET", Path: base + "/events"},
	)
	// The other user's list does not show it.
	var l struct{ Total int }
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs", Token: other.Token}, http.StatusOK, "").Into(t, &l)
	if l.Total != 0 {
		t.Errorf("another user's list: total %d, want 0", l.Total)
	}
	bad := []struct{ path, field string }{
		{"/api/jobs?status=running,bogus", "status"},
		{"/api/jobs?created_from=yesterday", "created_from"},
		{"/api/jobs?created_from=2026-12-07&created_to=2026-12-01", "created_to"},
		{"/api/jobs?limit=1000", "limit"},
		{"/api/jobs?cursor=abc", "cursor"},
		{base + "/metrics?max_points=1", "max_points"},
		{base + "/metrics?from_step=0", "from_step"},
		{base + "/metrics?from_step=20&to_step=10", "to_step"},
		{base + "/metrics?to_step=x", "to_step"},
		{base + "/logs?level=loud", "level"},
		{base + "/logs?after=-1", "after"},
		{base + "/logs?limit=0", "limit"},
		{base + "/events?after=abc", "after"},
		{base + "/events?limit=501", "limit"},
	}
	for _, b := range bad {
		res := api.Expect(t, testkit.Request{Method: "GET", Path: b.path, Token: a.Token}, http.StatusBadRequest, "VALIDATION_ERROR")
		if len(res.Error.Fields[b.field]) == 0 {
			t.Errorf("GET %s: fields %v, want %q named", b.path, res.Error.Fields, b.field)
		}
	}
	for _, p := range []string{"/api/jobs", base, base + "/metrics", base + "/logs", base + "/checkpoints", base + "/events"} {
		api.Expect(t, testkit.Request{Method: "GET", Path: p}, http.StatusUnauthorized, "")
	}
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/no-such-job/metrics", Token: a.Token}, http.StatusNotFound, "NOT_FOUND")
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	ID, Name string
	Data     json.RawMessage
}

// openStream GETs the job's stream; it fails the test unless the answer is
// want, and returns the events read until the server closes the stream.
func openStream(t *testing.T, path string, headers map[string]string, want int) ([]sseEvent, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, st.APIURL+path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		t.Fatalf("GET %s: got %d, want %d", path, res.StatusCode, want)
	}
	if want != http.StatusOK {
		return nil, res
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type: got %q, want text/event-stream", ct)
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.Data != nil {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = json.RawMessage(strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry: "):
		default:
			t.Fatalf("stream: unexpected line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("stream ended badly: %v", err)
	}
	return out, res
}

// TestJobStream: the SSE stream carries the same feed as /events, with ids,
// names and payloads; Last-Event-ID resumes after an id; the token may be a
// header or access_token; another user's job is a 404.
func TestJobStream(t *testing.T) {
	a, _, j := finishedJob(t)
	feed := readFeed(t, a.Token, j.ID, "0", 500)
	path := "/api/jobs/" + j.ID + "/stream"
	auth := map[string]string{"Authorization": "Bearer " + a.Token}

	got, _ := openStream(t, path, auth, http.StatusOK)
	if len(got) != len(feed) {
		t.Fatalf("stream: %d events, the feed has %d", len(got), len(feed))
	}
	for i, e := range got {
		f := feed[i]
		if e.ID != strconv.FormatInt(f.Seq, 10) || e.Name != f.Type || string(e.Data) != string(f.Data.(json.RawMessage)) {
			t.Fatalf("stream event %d: %s %s %s; feed %d %s %s", i, e.ID, e.Name, e.Data, f.Seq, f.Type, f.Data)
		}
	}
	if got[len(got)-1].Name != job.FeedComplete {
		t.Errorf("last event: %s, want complete", got[len(got)-1].Name)
	}

	mid := feed[len(feed)/2].Seq
	resumed, _ := openStream(t, path, map[string]string{"Authorization": "Bearer " + a.Token, "Last-Event-ID": strconv.FormatInt(mid, 10)}, http.StatusOK)
	if len(resumed) != len(feed)-int(mid) || resumed[0].ID != strconv.FormatInt(mid+1, 10) {
		t.Errorf("Last-Event-ID %d: %d events from %s, want %d from %d", mid, len(resumed), resumed[0].ID, len(feed)-int(mid), mid+1)
	}
	byQuery, _ := openStream(t, path+"?access_token="+url.QueryEscape(a.Token), nil, http.StatusOK)
	if len(byQuery) != len(feed) {
		t.Errorf("access_token: %d events, want %d", len(byQuery), len(feed))
	}

	other := signUp(t, "StreamSnoop")
	openStream(t, path, map[string]string{"Authorization": "Bearer " + other.Token}, http.StatusNotFound)
	openStream(t, path, nil, http.StatusUnauthorized)
	openStream(t, path, map[string]string{"Authorization": "Bearer " + a.Token + "x"}, http.StatusUnauthorized)
	openStream(t, path+"?after=abc", auth, http.StatusBadRequest)
	openStream(t, "/api/jobs/no-such-job/stream", auth, http.StatusNotFound)
}

// TestJobStreamLive: a stream opened when the job is created shows it run —
// stage changes, metrics, progress and cost arriving over time — and closes
// after complete.
func TestJobStreamLive(t *testing.T) {
	a := signUp(t, "LiveWatcher")
	ds := readyDataset(t, a.Token, 128<<10, 62)
	j := startJob(t, a.Token, ds, "balanced")
	start := time.Now()
	got, _ := openStream(t, "/api/jobs/"+j.ID+"/stream", map[string]string{"Authorization": "Bearer " + a.Token}, http.StatusOK)
	took := time.Since(start)
	names := map[string]int{}
	for i, e := range got {
		names[e.Name]++
		if e.ID != strconv.Itoa(i+1) {
			t.Fatalf("event %d: id %s", i, e.ID)
		}
	}
	if names["stage"] < 3 || names["metrics"] < 2 || names["progress"] < 2 || names["cost"] < 2 || names["complete"] != 1 || got[len(got)-1].Name != "complete" {
		t.Fatalf("live stream: %v (last %s)", names, got[len(got)-1].Name)
	}
	if took < 2*time.Second {
		t.Errorf("the stream ended after %v: it did not follow the run", took)
	}
}

// TestJobMetricsOverview: a history longer than RawSpan steps is answered
// from the job's overview — max_points points, the run's first and last
// step, every epoch's last step — and a zoom of ≤ RawSpan steps from every
// stored point.
func TestJobMetricsOverview(t *testing.T) {
	a := signUp(t, "LongRun")
	const steps, epochs = 4000, 8
	id := seedHistory(t, a.ID, steps, epochs)
	var h struct {
		Points      []job.MetricPoint `json:"points"`
		TotalPoints int               `json:"total_points"`
		Downsampled bool              `json:"downsampled"`
		Resolution  string            `json:"resolution"`
		ToStep      int               `json:"to_step"`
	}
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + id + "/metrics?max_points=100", Token: a.Token}, http.StatusOK, "").Into(t, &h)
	if h.Resolution != "overview" || len(h.Points) != 100 || h.TotalPoints != steps || !h.Downsampled || h.ToStep != steps ||
		h.Points[0].Step != 1 || h.Points[99].Step != steps {
		t.Fatalf("whole run: %s, %d points of %d, steps %d..%d", h.Resolution, len(h.Points), h.TotalPoints, h.Points[0].Step, h.ToStep)
	}
	kept := map[int]bool{}
	for _, p := range h.Points {
		kept[p.Step] = true
	}
	for e := 1; e <= epochs; e++ {
		if !kept[e*steps/epochs] {
			t.Errorf("the last step of epoch %d (%d) is not in the answer", e, e*steps/epochs)
		}
	}
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + id + "/metrics?from_step=1001&to_step=2000&max_points=5000", Token: a.Token}, http.StatusOK, "").Into(t, &h)
	if h.Resolution != "raw" || len(h.Points) != 1000 || h.Downsampled || h.Points[0].Step != 1001 || h.ToStep != 2000 {
		t.Fatalf("zoom: %s, %d points, %d..%d", h.Resolution, len(h.Points), h.Points[0].Step, h.ToStep)
	}
}
