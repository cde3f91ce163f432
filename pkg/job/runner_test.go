package job_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/app"
	"github.com/brightrun/brightrun/pkg/blob"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/dynamo"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/s3local"
	"github.com/brightrun/brightrun/pkg/series"
	"github.com/brightrun/brightrun/pkg/testkit"
	"github.com/brightrun/brightrun/pkg/training"
)

// The runner's tests run the workflow's tasks against the real pieces:
// DynamoDB Local, an in-process S3 server that verifies signatures, and the
// GPU-cluster simulator behind a real HTTP server on a fake clock. The
// test drives the tasks as the state machine does (Submit, Wait, Poll …),
// its Wait states advancing the fake clock.

const (
	simToken       = "runner-test-token"
	datasetsBucket = "datasets"
	modelsBucket   = "models"
	owner          = "u1"
	datasetID      = "d1"
	datasetName    = "Support chats"
	partSize       = 5 << 20
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bus records the events the runner publishes; fail > 0 makes that many
// puts fail (a bus outage).
type bus struct {
	mu   sync.Mutex
	all  []published
	fail int
}

type published struct {
	Type   string
	ID     string
	Detail json.RawMessage
}

func (b *bus) Put(_ context.Context, typ string, detail any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail > 0 {
		b.fail--
		return errors.New("event bus unavailable")
	}
	raw, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	var id struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(raw, &id)
	b.all = append(b.all, published{Type: typ, ID: id.EventID, Detail: raw})
	return nil
}

// count is how many times the event with this id was published.
func (b *bus) count(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, p := range b.all {
		if p.ID == id {
			n++
		}
	}
	return n
}

func (b *bus) of(typ string) []published {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []published
	for _, p := range b.all {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

// costs sums the CostAccrued amounts as a consumer deduplicating by event
// id would; a repeated id must carry the same detail.
func (b *bus) costs(t *testing.T) (sum money.Amount, n int) {
	t.Helper()
	seen := map[string]string{}
	for _, p := range b.of(event.CostAccrued) {
		if prev, ok := seen[p.ID]; ok {
			if prev != string(p.Detail) {
				t.Errorf("CostAccrued %s published twice with different details:\n%s\n%s", p.ID, prev, p.Detail)
			}
			continue
		}
		seen[p.ID] = string(p.Detail)
		var d event.CostAccruedDetail
		if err := json.Unmarshal(p.Detail, &d); err != nil {
			t.Fatal(err)
		}
		if d.AmountMicros <= 0 || d.UserID != owner || d.EventID == "" {
			t.Errorf("CostAccrued detail %s: want a positive amount for %s with an id", p.Detail, owner)
		}
		sum += money.Amount(d.AmountMicros)
		n++
	}
	return sum, n
}

// env is one test's platform.
type env struct {
	t       *testing.T
	store   *dynamo.Store
	sim     *gpusim.Sim
	clock   *fakeClock
	client  *gpucluster.Client
	runner  *job.Runner
	bus     *bus
	blob    *blob.Store
	jobs    *job.Service
	s3      *s3.Client
	url     string // the simulator's
	nextID  string // the id of the next job created ("" = a ULID)
	created int
	mu      sync.Mutex
	gets    map[string]int // artifact downloads by file name
	submits int            // POST /v1/jobs
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newEnv starts the platform. The simulator runs 20× (a 10-minute run takes
// 30 s of fake clock); the runner polls every fake second, so its time
// scale is 1/20 (a 240 s budget is 12 s), and Wait states are scaled as the
// local interpreter does (a 60 s wait is 3 s).
func newEnv(t *testing.T, o gpusim.Options) *env {
	t.Helper()
	ctx := context.Background()
	store, _ := testkit.Table(t)
	srv, err := s3local.StartInProcess(ctx, s3local.InProcessOptions{AccessKey: "AKIDRUNNER", SecretKey: "runner-secret", Buckets: []string{datasetsBucket, modelsBucket}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e := &env{t: t, store: store, clock: &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}, bus: &bus{},
		blob: blob.New(srv.Client()), s3: srv.Client(), gets: map[string]int{}}
	o.Token, o.Clock, o.Seed, o.FetchDatasets = simToken, e.clock.Now, 7, true
	if o.TimeScale == 0 {
		o.TimeScale = 20
	}
	if e.sim, err = gpusim.New(o); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/files/") {
			e.gets[path.Base(r.URL.Path)]++
		}
		if r.Method == http.MethodPost && r.URL.Path == "/v1/jobs" {
			e.submits++
		}
		e.mu.Unlock()
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.client, err = gpucluster.New(hs.URL, simToken, gpucluster.Options{Timeout: 2 * time.Second, MaxAttempts: 4,
		BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	e.runner = &job.Runner{
		Store: store, Cluster: e.client, Objects: app.NewRunnerObjects(e.blob, partSize), Events: e.bus, ModelsBucket: modelsBucket,
		PollInterval: time.Second, Now: e.clock.Now, Downsample: series.Downsample,
		Sleep: func(ctx context.Context, d time.Duration) error { e.clock.Advance(d); return ctx.Err() },
		NewID: func() string { return ulid.Make().String() },
		Log:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	e.seedDataset()
	e.jobs = &job.Service{Store: store, Workflow: nopWorkflow{}, Now: e.clock.Now,
		NewID: func() string {
			if id := e.nextID; id != "" {
				e.nextID = ""
				return id
			}
			return ulid.Make().String()
		},
		Training: &training.Service{Datasets: store, Profiles: store, Spending: store, Now: e.clock.Now}}
	return e
}

type nopWorkflow struct{}

func (nopWorkflow) StartJob(context.Context, string, string, time.Time) error { return nil }

// seedDataset stores a ready dataset: the object in S3 (the simulator
// fetches it through the presigned URL and checks size and sha256) and its
// record.
func (e *env) seedDataset() {
	t, ctx := e.t, context.Background()
	now := e.clock.Now()
	body := bytes.Repeat([]byte(`{"conversation_id":"c","turns":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`+"\n"), 2000)
	key := "datasets/" + owner + "/" + datasetID + "/train.jsonl"
	if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(datasetsBucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateProfile(ctx, identity.User{ID: owner, Email: "u1@example.com", Name: "U1", Role: identity.RoleUser, SubscriptionTier: identity.TierFree, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	d := dataset.Dataset{ID: datasetID, UserID: owner, Name: datasetName, Status: dataset.StatusUploading, StorageBucket: datasetsBucket, StoragePath: key,
		FileName: "train.jsonl", FileSize: int64(len(body)), CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.StartValidation(ctx, owner, datasetID, "run", now, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	format := dataset.FormatLoRAv4
	stats := &dataset.Stats{Conversations: 250, TrainConversations: 200, ValidationConversations: 50, TotalTurns: 1000, TotalTokens: 200_000, TokensExact: true}
	if ok, err := e.store.FinishValidation(ctx, owner, datasetID, "run", dataset.Result{Status: dataset.StatusReady, Format: &format, Stats: stats, SHA256: sha(body)}, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// createJob creates a queued job through the job service: 3 epochs of 25
// steps (200 conversations, batch 8), rank 2 (a 10.5 MB adapter: a
// three-part upload at 5 MiB parts).
func (e *env) createJob(id string) job.Job {
	e.t.Helper()
	if id == "" { // deterministic, so the simulator's timing jitter is too
		e.created++
		id = fmt.Sprintf("job-%s-%d", strings.NewReplacer("/", "-", "_", "-").Replace(e.t.Name()), e.created)
	}
	e.nextID = id
	req := training.Request{DatasetID: datasetID, PresetID: training.PresetBalanced,
		Hyperparameters: training.HyperparameterInput{NumEpochs: ptr(3), WarmupSteps: ptr(10), LoRARank: ptr(2), LoRAAlpha: ptr(4)},
		GPUConfig:       training.GPUConfig{GPUType: "A100-80GB", NumGPUs: 1}}
	c, err := e.jobs.Create(context.Background(), owner, req)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Job
}

func ptr[T any](v T) *T { return &v }

// waitScale is what the local interpreter multiplies Wait states by
// (BRIGHTRUN_WAIT_SCALE = 1/time scale); the tests' simulator runs 20×, the
// runner's poll scale is the same 1/20.
const waitScale = 1.0 / 20

// secs is the fake-clock time of a Wait state of n seconds.
func secs(n int) time.Duration { return time.Duration(float64(n) * waitScale * float64(time.Second)) }

func in(jobID string) job.TaskInput { return job.TaskInput{JobID: jobID, UserID: owner} }

// typeName is the errorType aws-lambda-go reports for err.
func typeName(err error) string {
	if err == nil {
		return "<nil>"
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// submit runs Submit and its Wait state.
func (e *env) submit(jobID string) job.SubmitOutput {
	e.t.Helper()
	out, err := e.runner.Submit(context.Background(), in(jobID))
	if err != nil {
		e.t.Fatalf("submit: %v (%s)", err, typeName(err))
	}
	e.clock.Advance(secs(out.WaitSeconds))
	return out
}

// poll runs one Poll state (budget 240 s, as the state machine passes) and
// the Wait after it.
func (e *env) poll(jobID string, polls int) (job.PollOutput, error) {
	ti := in(jobID)
	ti.Polls, ti.BudgetSeconds = polls, 240
	out, err := e.runner.Poll(context.Background(), ti)
	if err == nil && (out.Status == job.PollQueued || out.Status == job.PollRunning) {
		e.clock.Advance(secs(out.WaitSeconds))
	}
	return out, err
}

// pollUntil polls until stop says so or the status is final.
func (e *env) pollUntil(jobID string, stop func(job.PollOutput) bool) job.PollOutput {
	e.t.Helper()
	for i := range 60 {
		out, err := e.poll(jobID, i)
		if err != nil {
			e.t.Fatalf("poll %d: %v (%s)", i, err, typeName(err))
		}
		if out.Polls != i+1 {
			e.t.Errorf("poll %d: polls %d, want %d", i, out.Polls, i+1)
		}
		if stop(out) || (out.Status != job.PollQueued && out.Status != job.PollRunning) {
			return out
		}
	}
	e.t.Fatal("the job did not end in 60 polls")
	return job.PollOutput{}
}

func (e *env) run(jobID string) job.Run {
	e.t.Helper()
	r, err := e.store.JobRun(context.Background(), owner, jobID)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// clusterStatus is the simulator's view of the job now.
func (e *env) clusterStatus(ext string) gpucluster.Job {
	e.t.Helper()
	st, err := e.client.Status(context.Background(), ext)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// simPoints are every metric point the simulator serves now.
func (e *env) simPoints(ext string) []gpucluster.MetricsPoint {
	e.t.Helper()
	var all []gpucluster.MetricsPoint
	after := 0
	for {
		p, err := e.client.Metrics(context.Background(), ext, after, 7) // small pages
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, p.Points...)
		after = p.NextAfterStep
		if !p.HasMore {
			return all
		}
	}
}

func (e *env) simLogs(ext string) []gpucluster.LogEntry {
	e.t.Helper()
	var all []gpucluster.LogEntry
	cur := ""
	for {
		p, err := e.client.Logs(context.Background(), ext, cur, 50)
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, p.Entries...)
		cur = p.NextCursor
		if !p.HasMore {
			return all
		}
	}
}

// checkTelemetry: the table holds exactly the simulator's metric points,
// log lines and checkpoints, each once.
func (e *env) checkTelemetry(jobID, ext string) {
	t, ctx := e.t, context.Background()
	t.Helper()
	want := e.simPoints(ext)
	got, err := e.store.MetricPoints(ctx, jobID, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("metric points: %d stored, the simulator serves %d", len(got), len(want))
	}
	for i, p := range want {
		g := got[i]
		if g.Step != p.Step || g.Epoch != p.Epoch || g.TrainingLoss != p.TrainingLoss || g.LearningRate != p.LearningRate ||
			!g.Timestamp.Equal(p.Timestamp) || (g.ValidationLoss == nil) != (p.ValidationLoss == nil) || g.GradientNorm == nil || *g.GradientNorm != p.GradientNorm {
			t.Fatalf("point %d: stored %+v, simulator %+v", i, g, p)
		}
	}
	wantLogs := e.simLogs(ext)
	lines, err := e.store.LogLinesAfter(ctx, jobID, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	e.checkFeed(jobID, got, lines)
	// The overview holds every point of a short run, once.
	ov, err := e.store.MetricsOverview(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Through != got[len(got)-1].Step || len(ov.Points) != len(got) {
		t.Fatalf("overview: %d points through %d; %d stored through %d", len(ov.Points), ov.Through, len(got), got[len(got)-1].Step)
	}
	for i, p := range ov.Points {
		if p.Step != got[i].Step || p.TrainingLoss != got[i].TrainingLoss || !p.Timestamp.Equal(got[i].Timestamp.Truncate(time.Millisecond)) {
			t.Fatalf("overview point %d: %+v, stored %+v", i, p, got[i])
		}
	}
	if len(lines) != len(wantLogs) {
		t.Fatalf("log lines: %d stored, the simulator has %d", len(lines), len(wantLogs))
	}
	for i, l := range lines {
		if l.Seq != int64(i+1) || l.Message != wantLogs[i].Message || l.Level != wantLogs[i].Level {
			t.Fatalf("log line %d: stored %+v, simulator %+v", i, l, wantLogs[i])
		}
	}
	cps, err := e.client.Checkpoints(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := e.store.RunCheckpoints(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(cps) {
		t.Fatalf("checkpoints: %d stored, the simulator has %d", len(stored), len(cps))
	}
	for i, c := range cps {
		if stored[i].Step != c.Step || stored[i].Epoch != c.Epoch || stored[i].SizeBytes != c.SizeBytes {
			t.Errorf("checkpoint %d: stored %+v, simulator %+v", i, stored[i], c)
		}
	}
}

// checkCost: the job's final cost is the cluster's billable time priced
// per GPU-hour, and the sum of its CostAccrued events.
func (e *env) checkCost(jobID string, st gpucluster.Job) money.Amount {
	t := e.t
	t.Helper()
	j := e.run(jobID).Job
	if j.FinalCost == nil {
		t.Fatalf("final cost not set: %+v", j)
	}
	want := job.CostOf(j, st.BillableSeconds)
	if *j.FinalCost != want || j.CurrentCost != want || want <= 0 {
		t.Errorf("final cost %d, current %d; want %d (%.3f billable s)", *j.FinalCost, j.CurrentCost, want, st.BillableSeconds)
	}
	sum, n := e.bus.costs(t)
	if sum != *j.FinalCost || n < 2 {
		t.Errorf("CostAccrued: %d events summing to %d, want several summing to the final cost %d", n, sum, *j.FinalCost)
	}
	return *j.FinalCost
}

// statuses lists the JobStatusChanged transitions published, "from>to".
func (e *env) statuses() []string {
	var out []string
	for _, p := range e.bus.of(event.JobStatusChanged) {
		var d event.JobStatusChangedDetail
		_ = json.Unmarshal(p.Detail, &d)
		if d.FromStatus != d.ToStatus {
			out = append(out, d.FromStatus+">"+d.ToStatus)
		}
	}
	return out
}

func TestRunnerHappyPath(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	ctx := context.Background()
	j := e.createJob("")

	if out := e.submit(j.ID); out.Status != "initializing" || out.WaitSeconds != 60 {
		t.Fatalf("submit: got %+v, want initializing with a 60 s wait (queued at the cluster)", out)
	}
	r := e.run(j.ID)
	if r.Job.Status != job.StatusInitializing || r.Job.ExternalJobID == nil || r.Job.StartedAt == nil || r.Job.CurrentStage != job.StageQueued {
		t.Fatalf("after submit: %+v", r.Job)
	}
	ext := *r.Job.ExternalJobID
	if u, id, err := e.store.JobByExternalID(ctx, ext); err != nil || u != owner || id != j.ID {
		t.Fatalf("EXTJOB lookup: %s %s %v", u, id, err)
	}

	sawRunning := false
	final := e.pollUntil(j.ID, func(o job.PollOutput) bool {
		if o.Status == job.PollRunning {
			sawRunning = true
			if o.WaitSeconds != 5 {
				t.Errorf("running: wait %d, want 5", o.WaitSeconds)
			}
		}
		return false
	})
	if final.Status != job.PollCompleted || !sawRunning {
		t.Fatalf("final poll: %+v (saw running: %v)", final, sawRunning)
	}
	if e.submits != 1 || len(e.sim.Jobs()) != 1 {
		t.Errorf("cluster submissions: %d requests, %d jobs; want 1 and 1", e.submits, len(e.sim.Jobs()))
	}
	st := e.clusterStatus(ext)
	e.checkTelemetry(j.ID, ext)
	r = e.run(j.ID)
	if r.Job.Status != job.StatusRunning || r.Job.CurrentStep != st.TotalSteps || r.Job.CurrentMetrics == nil || r.Job.CurrentMetrics.ValidationLoss == nil {
		t.Errorf("after the last poll: status %s step %d/%d metrics %+v", r.Job.Status, r.Job.CurrentStep, st.TotalSteps, r.Job.CurrentMetrics)
	}

	cp, err := e.runner.CopyArtifacts(ctx, in(j.ID))
	if err != nil || cp.Artifacts != 3 {
		t.Fatalf("copy: %+v, %v", cp, err)
	}
	arts, err := e.client.Artifacts(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		e.checkObject(job.ModelObjectKey(owner, j.ID, a.Name), a)
	}
	fin, err := e.runner.Finalize(ctx, in(j.ID))
	if err != nil || fin.ModelID == "" {
		t.Fatalf("finalize: %+v, %v", fin, err)
	}
	again, err := e.runner.Finalize(ctx, in(j.ID))
	if err != nil || again.ModelID != fin.ModelID {
		t.Fatalf("finalize retried: %+v, %v; want the same model %s", again, err, fin.ModelID)
	}

	r = e.run(j.ID)
	jj := r.Job
	if jj.Status != job.StatusCompleted || jj.CurrentStage != job.StageCompleted || jj.Progress != 100 || jj.CompletedAt == nil ||
		jj.ArtifactID == nil || *jj.ArtifactID != fin.ModelID || len(r.Outbox) != 0 {
		t.Fatalf("completed job: %+v (outbox %d)", jj, len(r.Outbox))
	}
	finalCost := e.checkCost(j.ID, st)
	if end := e.feedEnd(j.ID); end.Type != job.FeedComplete || !strings.Contains(string(end.Data.(json.RawMessage)), fin.ModelID) {
		t.Errorf("the feed's last entry: %s %s, want complete with the model", end.Type, end.Data)
	}
	m, err := e.store.RunModel(ctx, owner, fin.ModelID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != datasetName+" – custom" || m.Version != "v1" || m.Status != job.ModelStatusStored || m.JobID != j.ID || m.DatasetID != datasetID ||
		m.ParentModelID != nil || m.Configuration.DatasetName != datasetName || m.Configuration.Hyperparameters.LoRARank != 2 ||
		m.Artifacts.AdapterModelPath != job.ModelObjectKey(owner, j.ID, gpucluster.FileAdapterModel) || m.Artifacts.FileSizes.AdapterModel != arts[0].SizeBytes ||
		len(m.Files) != 3 || m.Files[0].SHA256 != arts[0].SHA256 || m.TrainingSummary.TotalCost != finalCost || m.TrainingSummary.TotalEpochs != 3 {
		t.Errorf("model: %+v", m)
	}
	if n, err := e.store.CountModelVersions(ctx, owner, datasetID, job.ConfigHash(jj)); err != nil || n != 1 {
		t.Errorf("versions of this dataset and configuration: %d, %v; the next is v2", n, err)
	}

	if got := e.statuses(); !reflect.DeepEqual(got, []string{"queued>initializing", "initializing>running"}) {
		t.Errorf("status changes published: %v", got)
	}
	stages := map[string]bool{}
	for _, p := range e.bus.of(event.JobStatusChanged) {
		var d event.JobStatusChangedDetail
		_ = json.Unmarshal(p.Detail, &d)
		stages[d.ToStage] = true
	}
	// Polls are 20 simulated seconds apart: validation of 50 conversations
	// may fall between two, a 30 s checkpoint save cannot.
	for _, s := range []string{"training", "saving"} {
		if !stages[s] {
			t.Errorf("no JobStatusChanged into stage %s (got %v)", s, stages)
		}
	}
	done := e.bus.of(event.JobCompleted)
	var dc event.JobCompletedDetail
	if len(done) != 1 || json.Unmarshal(done[0].Detail, &dc) != nil || dc.ModelID != fin.ModelID || dc.FinalCostMicros != int64(finalCost) {
		t.Errorf("JobCompleted: %+v", done)
	}
}

// checkObject: the artifact is in the models bucket, byte for byte (its
// sha256 recomputed), with the checksum as metadata.
func (e *env) checkObject(key string, a gpucluster.Artifact) {
	e.t.Helper()
	ctx := context.Background()
	info, err := e.blob.Stat(ctx, modelsBucket, key)
	if err != nil || info.Size != a.SizeBytes || info.Metadata[blob.MetaSHA256] != a.SHA256 {
		e.t.Fatalf("%s: %+v, %v; want %d bytes with sha256 metadata %s", key, info, err, a.SizeBytes, a.SHA256)
	}
	rc, err := e.blob.Open(ctx, modelsBucket, key)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		e.t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
		e.t.Fatalf("%s: stored bytes hash to %s, the cluster's sha256 is %s", key, got, a.SHA256)
	}
}

// crashingStore makes chosen writes fail, before or after they happen, as
// a Lambda dying there would.
type crashingStore struct {
	*dynamo.Store
	mu                  sync.Mutex
	afterProgress       int // RecordProgress writes, then fails
	beforeTelemetry     int // AdvanceTelemetry fails without writing
	beforeSubmittedMark int // MarkSubmitted fails without writing
}

func (s *crashingStore) take(n *int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

func (s *crashingStore) RecordProgress(ctx context.Context, userID, jobID string, p job.Progress, evs []job.Event) (bool, error) {
	ok, err := s.Store.RecordProgress(ctx, userID, jobID, p, evs)
	if err == nil && ok && s.take(&s.afterProgress) {
		return false, errors.New("the Lambda died after writing the progress")
	}
	return ok, err
}

func (s *crashingStore) AdvanceTelemetry(ctx context.Context, userID, jobID string, from, to job.Cursor) (bool, error) {
	if s.take(&s.beforeTelemetry) {
		return false, errors.New("the Lambda died before advancing the cursors")
	}
	return s.Store.AdvanceTelemetry(ctx, userID, jobID, from, to)
}

func (s *crashingStore) MarkSubmitted(ctx context.Context, userID, jobID, externalID string, stage job.Stage, now time.Time, evs []job.Event) (bool, error) {
	if s.take(&s.beforeSubmittedMark) {
		return false, errors.New("the Lambda died after submitting")
	}
	return s.Store.MarkSubmitted(ctx, userID, jobID, externalID, stage, now, evs)
}

// TestPollRetriedAfterCrash: a poll that dies after storing points but
// before advancing the cursors, or after writing the cost but before
// publishing, or that cannot reach the bus, is simply run again: no point,
// line or cost is stored or counted twice, and every event is published
// once, with its first id, by its writer or, once it is a leftover, by a
// later task.
func TestPollRetriedAfterCrash(t *testing.T) {
	e := newEnv(t, gpusim.Options{TimeScale: 5}) // a 2-minute run: room for the steps below
	cs := &crashingStore{Store: e.store}
	e.runner.Store = cs
	e.runner.LeftoverAge = time.Second // this run lasts 2 minutes: the default would outlast its steps
	ctx := context.Background()
	j := e.createJob("")
	e.submit(j.ID)
	e.pollUntil(j.ID, func(o job.PollOutput) bool { return o.Status == job.PollRunning })
	ext := *e.run(j.ID).Job.ExternalJobID
	once := func(label string) job.PollOutput { // one iteration: budget 1 s scales below the interval
		t.Helper()
		ti := in(j.ID)
		ti.BudgetSeconds = 1
		out, err := e.runner.Poll(ctx, ti)
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		return out
	}
	step := func(label string) {
		t.Helper()
		e.checkTelemetry(j.ID, ext)
		r := e.run(j.ID)
		sum, _ := e.bus.costs(t)
		if len(r.Outbox) != 0 || sum != r.Accrued || r.Accrued != job.CostOf(r.Job, e.clusterStatus(ext).BillableSeconds) {
			t.Fatalf("%s: outbox %d, CostAccrued sum %d, accrued %d; want an empty outbox and the sum = accrued = the cluster's cost", label, len(r.Outbox), sum, r.Accrued)
		}
	}

	// crash advances the clock and polls once until the armed crash hits.
	crash := func(armed *int) {
		t.Helper()
		for range 10 {
			e.clock.Advance(5 * time.Second)
			ti := in(j.ID)
			ti.BudgetSeconds = 1
			if _, err := e.runner.Poll(ctx, ti); err != nil {
				return
			}
		}
		t.Fatalf("no crash in 10 polls (%d armed)", *armed)
	}

	// Dies between the points and the cursors.
	cs.beforeTelemetry = 1
	crash(&cs.beforeTelemetry)
	once("retry after dying before the cursors")
	step("after dying before the cursors")

	// Dies after the progress write, before publishing its events. They
	// are the dead writer's until they are LeftoverAge old: a retry before
	// that leaves them (the writer might still be publishing them), one
	// after publishes each exactly once.
	cs.afterProgress = 1
	crash(&cs.afterProgress)
	var left []string
	for _, ev := range e.run(j.ID).Outbox {
		left = append(left, ev.ID)
	}
	if len(left) == 0 {
		t.Fatal("the crash left no events in the outbox")
	}
	once("an immediate retry")
	for _, id := range left {
		if got := e.bus.count(id); got != 0 {
			t.Errorf("an immediate retry published its dead writer's event %s %d times, want 0", id, got)
		}
	}
	e.clock.Advance(e.runner.LeftoverAge)
	once("a retry after the leftover age")
	for _, id := range left {
		if got := e.bus.count(id); got != 1 {
			t.Errorf("event %s published %d times after the leftover age, want 1", id, got)
		}
	}
	step("after dying before publishing")

	// The same poll again, nothing changed: nothing new.
	costsBefore := len(e.bus.of(event.CostAccrued))
	once("an identical poll")
	if got := len(e.bus.of(event.CostAccrued)); got != costsBefore {
		t.Errorf("an identical poll published %d CostAccrued", got-costsBefore)
	}

	// The bus is down for a while: events wait in the outbox.
	e.clock.Advance(5 * time.Second)
	if st := e.clusterStatus(ext); st.Status != gpucluster.StatusRunning {
		t.Fatalf("the cluster job is %s already: slow the simulator down", st.Status)
	}
	e.bus.fail = 100
	once("the bus down")
	if r := e.run(j.ID); len(r.Outbox) == 0 {
		t.Fatal("events lost while the bus was down")
	}
	e.bus.fail = 0
	e.clock.Advance(e.runner.LeftoverAge)
	once("the bus back")
	step("after the bus outage")

	final := e.pollUntil(j.ID, func(job.PollOutput) bool { return false })
	if final.Status != job.PollCompleted {
		t.Fatalf("final: %+v", final)
	}
	e.checkTelemetry(j.ID, ext)
	if _, err := e.runner.CopyArtifacts(ctx, in(j.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.Finalize(ctx, in(j.ID)); err != nil {
		t.Fatal(err)
	}
	e.checkCost(j.ID, e.clusterStatus(ext))
}

// TestFlakyCluster: 5xx bursts, rate limits and timeouts on the way are
// absorbed by the client's retries; a slow submit that the cluster carried
// out is not submitted twice; nothing is stored twice. When retries run
// out, poll-job fails with ClusterUnavailable (retried by the state
// machine) and the next poll carries on.
func TestFlakyCluster(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	var err error
	if e.client, err = gpucluster.New(e.url, simToken, gpucluster.Options{Timeout: 300 * time.Millisecond, MaxAttempts: 4,
		BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}); err != nil {
		t.Fatal(err)
	}
	e.runner.Cluster = e.client
	ctx := context.Background()
	j := e.createJob("")
	// The first submit attempt is slow: the client times out, the cluster
	// creates the job anyway, the retry meets its idempotency.
	if err := e.sim.SetFaults(gpusim.Faults{Delays: &gpusim.DelayBurst{Count: 1, DelayMS: 600}}); err != nil {
		t.Fatal(err)
	}
	e.submit(j.ID)
	if e.submits != 2 || len(e.sim.Jobs()) != 1 {
		t.Fatalf("slow submit: %d requests, %d cluster jobs; want 2 and 1", e.submits, len(e.sim.Jobs()))
	}
	ext := *e.run(j.ID).Job.ExternalJobID

	// Retries run out: ClusterUnavailable, unwrapped.
	if err := e.sim.SetFaults(gpusim.Faults{Errors: &gpusim.ErrorBurst{Count: 4, Status: 503}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.poll(j.ID, 0); typeName(err) != "ClusterUnavailable" {
		t.Fatalf("poll with the cluster down: %v (%s), want ClusterUnavailable", err, typeName(err))
	}

	faults := []gpusim.Faults{
		{Errors: &gpusim.ErrorBurst{Count: 3, Status: 503}},
		{Errors: &gpusim.ErrorBurst{Count: 2, Status: 429}},
		{Delays: &gpusim.DelayBurst{Count: 1, DelayMS: 500}},
		{Errors: &gpusim.ErrorBurst{Count: 3, Status: 502}, Delays: &gpusim.DelayBurst{Count: 1, DelayMS: 500}},
	}
	for i := 1; i < 60; i++ {
		if err := e.sim.SetFaults(faults[i%len(faults)]); err != nil {
			t.Fatal(err)
		}
		out, err := e.poll(j.ID, i)
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		if out.Status == job.PollCompleted {
			break
		}
	}
	e.sim.ClearFaults()
	if st := e.clusterStatus(ext); st.Status != gpucluster.StatusCompleted {
		t.Fatalf("cluster status %s", st.Status)
	}
	e.checkTelemetry(j.ID, ext)
	if err := e.sim.SetFaults(gpusim.Faults{Errors: &gpusim.ErrorBurst{Count: 3, Status: 503, Target: "all"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.CopyArtifacts(ctx, in(j.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.Finalize(ctx, in(j.ID)); err != nil {
		t.Fatal(err)
	}
	e.checkCost(j.ID, e.clusterStatus(ext))
	if len(e.sim.Jobs()) != 1 {
		t.Errorf("cluster jobs: %d, want 1", len(e.sim.Jobs()))
	}
}

// TestClusterFailure: the cluster fails the job mid-run; poll-job reports
// failed with the cluster's reason; mark-job-failed (as the state machine
// calls it, Cause = the poll output) stores it, ends the job with the cost
// accrued, publishes JobFailed once; repeating it changes nothing.
func TestClusterFailure(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	ctx := context.Background()
	j := e.createJob(gpusim.PrefixFail + ulid.Make().String())
	e.submit(j.ID)
	out := e.pollUntil(j.ID, func(job.PollOutput) bool { return false })
	if out.Status != job.PollFailed || !strings.Contains(out.Reason, "CUDA out of memory at step") {
		t.Fatalf("poll: %+v, want failed with the cluster's CUDA OOM reason", out)
	}
	cause, _ := json.Marshal(out)
	mf := in(j.ID)
	mf.Error = &job.TaskError{Error: job.ErrTrainingFailed, Cause: string(cause)}
	for range 2 {
		if err := e.runner.MarkFailed(ctx, mf); err != nil {
			t.Fatal(err)
		}
	}
	r := e.run(j.ID)
	if r.Job.Status != job.StatusFailed || r.Job.ErrorMessage == nil || !strings.Contains(*r.Job.ErrorMessage, out.Reason) || r.Job.CompletedAt == nil {
		t.Fatalf("failed job: %+v", r.Job)
	}
	ext := *r.Job.ExternalJobID
	e.checkCost(j.ID, e.clusterStatus(ext))
	e.checkTelemetry(j.ID, ext)
	fails := e.bus.of(event.JobFailed)
	var d event.JobFailedDetail
	if len(fails) != 1 || json.Unmarshal(fails[0].Detail, &d) != nil || d.Error != job.ErrTrainingFailed || d.Message != *r.Job.ErrorMessage {
		t.Errorf("JobFailed: %+v", fails)
	}
	// A finished job is not touched by a late mark.
	mc := in(j.ID)
	if err := e.runner.MarkCancelled(ctx, mc); err != nil || e.run(j.ID).Job.Status != job.StatusFailed {
		t.Errorf("mark cancelled on a failed job: %v, status %s", err, e.run(j.ID).Job.Status)
	}
	if got := e.feedEnd(j.ID); got.Type != job.FeedError || !strings.Contains(string(got.Data.(json.RawMessage)), "CUDA out of memory") {
		t.Errorf("the feed's last entry: %s %s, want error with the reason", got.Type, got.Data)
	}
}

// feedEnd is the job's last feed entry.
func (e *env) feedEnd(jobID string) job.FeedEntry {
	feed, err := e.store.FeedEntries(context.Background(), jobID, 0, 100_000)
	if err != nil || len(feed) == 0 {
		e.t.Fatalf("feed: %d entries, %v", len(feed), err)
	}
	return feed[len(feed)-1]
}

// TestForgottenJob: the cluster forgets the job; poll-job returns the
// cluster's JobNotFound (the state machine's Catch → MarkFailed), and the
// job ends failed with a readable message.
func TestForgottenJob(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	ctx := context.Background()
	j := e.createJob(gpusim.PrefixForget + ulid.Make().String())
	e.submit(j.ID)
	var err error
	for i := 0; i < 60 && err == nil; i++ {
		var out job.PollOutput
		if out, err = e.poll(j.ID, i); err == nil && out.Status != job.PollQueued && out.Status != job.PollRunning {
			t.Fatalf("poll: %+v, want the job forgotten", out)
		}
	}
	if typeName(err) != "JobNotFound" {
		t.Fatalf("poll of a forgotten job: %v (%s), want JobNotFound", err, typeName(err))
	}
	cause, _ := json.Marshal(map[string]string{"errorType": typeName(err), "errorMessage": err.Error()})
	mf := in(j.ID)
	mf.Error = &job.TaskError{Error: "JobNotFound", Cause: string(cause)}
	if err := e.runner.MarkFailed(ctx, mf); err != nil {
		t.Fatal(err)
	}
	r := e.run(j.ID)
	if r.Job.Status != job.StatusFailed || r.Job.ErrorMessage == nil || !strings.Contains(*r.Job.ErrorMessage, "lost track of the job") ||
		r.Job.FinalCost == nil || *r.Job.FinalCost != r.Accrued {
		t.Fatalf("forgotten job: %+v", r.Job)
	}
	if sum, _ := e.bus.costs(t); sum != *r.Job.FinalCost {
		t.Errorf("CostAccrued sum %d, final cost %d", sum, *r.Job.FinalCost)
	}
	// Tasks on a job that does not exist fail with JobMissing; marking one
	// is a no-op.
	if _, err := e.runner.Poll(ctx, in("no-such-job")); typeName(err) != "JobMissing" {
		t.Errorf("poll of a missing job: %v (%s)", err, typeName(err))
	}
	if err := e.runner.MarkFailed(ctx, in("no-such-job")); err != nil {
		t.Errorf("mark failed of a missing job: %v", err)
	}
}

// TestCancel: a running job the user cancels is cancelled at the cluster by
// the next poll and ends cancelled with the cost of the GPU time used; a
// job cancelled while queued is never submitted.
func TestRunnerCancel(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	ctx := context.Background()
	t.Run("running", func(t *testing.T) {
		j := e.createJob("")
		e.submit(j.ID)
		e.pollUntil(j.ID, func(o job.PollOutput) bool { return o.Status == job.PollRunning && e.run(j.ID).Job.CurrentStep > 0 })
		if c, err := e.jobs.Cancel(ctx, owner, j.ID); err != nil || !c.CancelRequested {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		out, err := e.poll(j.ID, 50)
		if err != nil || out.Status != job.PollCancelled {
			t.Fatalf("poll after cancel: %+v, %v", out, err)
		}
		ext := *e.run(j.ID).Job.ExternalJobID
		st := e.clusterStatus(ext)
		if st.Status != gpucluster.StatusCancelled {
			t.Fatalf("cluster status %s, want cancelled", st.Status)
		}
		for range 2 {
			if err := e.runner.MarkCancelled(ctx, in(j.ID)); err != nil {
				t.Fatal(err)
			}
		}
		r := e.run(j.ID)
		if r.Job.Status != job.StatusCancelled || r.Job.CompletedAt == nil {
			t.Fatalf("cancelled job: %+v", r.Job)
		}
		e.checkCost(j.ID, st)
		e.checkTelemetry(j.ID, ext)
		if got := e.bus.of(event.JobCancelled); len(got) < 1 || got[0].ID != j.ID+":cancelled" {
			t.Errorf("JobCancelled: %+v", got)
		}
	})
	t.Run("queued", func(t *testing.T) {
		j := e.createJob("")
		if c, err := e.jobs.Cancel(ctx, owner, j.ID); err != nil || c.Status != job.StatusCancelled {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		jobsBefore := len(e.sim.Jobs())
		if out := e.submit(j.ID); out.Status != "cancelled" || out.WaitSeconds != 0 {
			t.Fatalf("submit of a cancelled job: %+v", out)
		}
		if out, err := e.poll(j.ID, 0); err != nil || out.Status != job.PollCancelled {
			t.Fatalf("poll: %+v, %v", out, err)
		}
		if err := e.runner.MarkCancelled(ctx, in(j.ID)); err != nil {
			t.Fatal(err)
		}
		if len(e.sim.Jobs()) != jobsBefore {
			t.Error("a job cancelled while queued was submitted")
		}
		found := false
		for _, p := range e.bus.of(event.JobCancelled) {
			found = found || p.ID == j.ID+":cancelled"
		}
		if !found {
			t.Error("no JobCancelled for the job cancelled while queued")
		}
	})
}

// TestSubmitIdempotent: submit-job retried — after success, or after dying
// between the cluster's answer and the table write — leaves one cluster
// job; the job's stored configuration resolves to the same submission.
func TestSubmitIdempotent(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	cs := &crashingStore{Store: e.store, beforeSubmittedMark: 1}
	e.runner.Store = cs
	ctx := context.Background()
	j := e.createJob("")
	if _, err := e.runner.Submit(ctx, in(j.ID)); err == nil {
		t.Fatal("the crashing submit succeeded")
	}
	if r := e.run(j.ID); r.Job.Status != job.StatusQueued || r.Job.ExternalJobID != nil {
		t.Fatalf("after the crash: %+v", r.Job)
	}
	first := e.submit(j.ID)
	second := e.submit(j.ID)
	if first.Status != "initializing" || second.Status != "initializing" {
		t.Fatalf("submits: %+v then %+v", first, second)
	}
	if e.submits != 2 || len(e.sim.Jobs()) != 1 {
		t.Fatalf("%d submissions reached the cluster making %d jobs; want 2 (the crashed one and its retry) and 1", e.submits, len(e.sim.Jobs()))
	}
	if ext := e.run(j.ID).Job.ExternalJobID; ext == nil || *ext != e.sim.Jobs()[0] {
		t.Fatalf("stored cluster id %v, cluster job %s", ext, e.sim.Jobs()[0])
	}
	if got := e.statuses(); len(got) != 1 {
		t.Errorf("status changes published: %v, want one queued>initializing", got)
	}
	// The job's dataset deleted before submit: DatasetUnavailable.
	j2 := e.createJob("")
	if err := e.store.DeleteDataset(ctx, owner, datasetID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.runner.Submit(ctx, in(j2.ID)); typeName(err) != "DatasetUnavailable" {
		t.Fatalf("submit without its dataset: %v (%s)", err, typeName(err))
	}
}

// brokenDownloads makes the next downloads of one file die after a few
// bytes (for good, once resumes run out), in front of the real cluster.
type brokenDownloads struct {
	job.Cluster
	name string
	mu   sync.Mutex
	left int
}

type dyingReader struct{ n int }

func (d *dyingReader) Read(p []byte) (int, error) {
	if d.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), d.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	d.n -= k
	return k, nil
}

func (d *dyingReader) Close() error { return nil }

func (b *brokenDownloads) Download(ctx context.Context, url string, offset int64) (io.ReadCloser, error) {
	b.mu.Lock()
	broken := b.left > 0 && strings.Contains(url, "/"+b.name+"?")
	if broken {
		b.left--
	}
	b.mu.Unlock()
	if broken {
		return &dyingReader{n: 10}, nil
	}
	return b.Cluster.Download(ctx, url, offset)
}

// TestCopyArtifactsResumes: cut streams are resumed from the byte reached
// (Range); a file whose download keeps dying fails the task with
// ClusterUnavailable, and the retry skips the files already stored with
// the cluster's checksum and copies the rest.
func TestCopyArtifactsResumes(t *testing.T) {
	e := newEnv(t, gpusim.Options{TimeScale: 100})
	ctx := context.Background()
	j := e.createJob("")
	e.submit(j.ID)
	if out := e.pollUntil(j.ID, func(job.PollOutput) bool { return false }); out.Status != job.PollCompleted {
		t.Fatalf("final poll %+v", out)
	}
	ext := *e.run(j.ID).Job.ExternalJobID
	arts, err := e.client.Artifacts(ctx, ext)
	if err != nil || len(arts) != 3 || arts[0].Name != gpucluster.FileAdapterModel || arts[0].SizeBytes < 2*partSize {
		t.Fatalf("artifacts: %+v, %v; want the adapter first, over two parts", arts, err)
	}
	// Two cuts of the adapter, resumed in the task; the tokenizer dies for good.
	if err := e.sim.SetFaults(gpusim.Faults{Cuts: &gpusim.CutBurst{Count: 2, AfterBytes: 3 << 20}}); err != nil {
		t.Fatal(err)
	}
	broken := &brokenDownloads{Cluster: e.client, name: gpucluster.FileTokenizer, left: 100}
	e.runner.Cluster = broken
	_, err = e.runner.CopyArtifacts(ctx, in(j.ID))
	if typeName(err) != "ClusterUnavailable" {
		t.Fatalf("copy with a dying download: %v (%s), want ClusterUnavailable", err, typeName(err))
	}
	e.checkObject(job.ModelObjectKey(owner, j.ID, arts[0].Name), arts[0])
	e.checkObject(job.ModelObjectKey(owner, j.ID, arts[1].Name), arts[1])
	if _, err := e.blob.Stat(ctx, modelsBucket, job.ModelObjectKey(owner, j.ID, arts[2].Name)); err == nil {
		t.Fatal("the broken file was stored")
	}
	if got := e.gets[arts[0].Name]; got != 3 {
		t.Errorf("adapter downloads: %d, want 3 (two cut, resumed)", got)
	}
	if _, err := e.runner.Finalize(ctx, in(j.ID)); typeName(err) != "ArtifactsMissing" {
		t.Errorf("finalize before the copy finished: %v (%s)", err, typeName(err))
	}

	broken.left = 0
	before := map[string]int{}
	for k, v := range e.gets {
		before[k] = v
	}
	out, err := e.runner.CopyArtifacts(ctx, in(j.ID))
	if err != nil || out.Artifacts != 3 {
		t.Fatalf("retried copy: %+v, %v", out, err)
	}
	for _, a := range arts[:2] {
		if e.gets[a.Name] != before[a.Name] {
			t.Errorf("%s downloaded again (%d → %d), want it skipped", a.Name, before[a.Name], e.gets[a.Name])
		}
	}
	if e.gets[arts[2].Name] != 1 {
		t.Errorf("tokenizer downloads: %d, want 1", e.gets[arts[2].Name])
	}
	for _, a := range arts {
		e.checkObject(job.ModelObjectKey(owner, j.ID, a.Name), a)
	}
	if r := e.run(j.ID); len(r.Artifacts) != 3 || r.Artifacts[2].SHA256 != arts[2].SHA256 {
		t.Errorf("recorded artifacts: %+v", r.Artifacts)
	}
	fin, err := e.runner.Finalize(ctx, in(j.ID))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := e.store.RunModel(ctx, owner, fin.ModelID); err != nil || m.Artifacts.TokenizerPath == "" || m.Artifacts.FileSizes.Tokenizer != arts[2].SizeBytes {
		t.Errorf("model: %+v, %v", m, err)
	}
}

func TestFailureMessages(t *testing.T) {
	poll, _ := json.Marshal(job.PollOutput{Status: "failed", Reason: "CUDA out of memory at step 12: tried to allocate 2.00 GiB"})
	for _, c := range []struct {
		te   job.TaskError
		want string
	}{
		{job.TaskError{Error: "TrainingFailed", Cause: string(poll)}, "Training failed on the GPU cluster: CUDA out of memory at step 12: tried to allocate 2.00 GiB"},
		{job.TaskError{Error: "TrainingFailed", Cause: "not json"}, "Training failed on the GPU cluster."},
		{job.TaskError{Error: "JobNotFound", Cause: `{"errorType":"JobNotFound"}`}, "The GPU cluster lost track of the job; nothing more will be charged for it."},
		{job.TaskError{Error: "JobTimedOut"}, "The job did not finish within its time limit and was stopped."},
		{job.TaskError{Error: "ClusterUnavailable"}, "The GPU cluster could not be reached for too long; the job was stopped."},
		{job.TaskError{Error: "Rejected", Cause: `{"errorMessage":"gpucluster: Submit: rejected: HTTP 401 UNAUTHORIZED: bad token"}`}, "The GPU cluster rejected the job."},
		{job.TaskError{Error: "DatasetUnavailable"}, "The job's dataset is no longer available."},
		{job.TaskError{Error: "ArtifactCorrupt"}, "The trained model's files could not be copied intact from the GPU cluster."},
		{job.TaskError{Error: "States.Timeout"}, "A step of the training workflow timed out."},
		{job.TaskError{Error: "Lambda.ServiceException"}, "A step of the training workflow could not be run."},
		{job.TaskError{Error: "States.Runtime"}, "The training workflow failed unexpectedly."},
		{job.TaskError{Error: "Error", Cause: `{"errorMessage":"internal: put item: AccessDenied"}`}, "The training workflow failed unexpectedly."},
	} {
		if got := job.FailureMessage(c.te); got != c.want {
			t.Errorf("%s: got %q, want %q", c.te.Error, got, c.want)
		}
	}
	// The task error names are the Go type names.
	for _, c := range []struct {
		err  error
		want string
	}{{&job.JobMissing{}, "JobMissing"}, {&job.DatasetUnavailable{}, "DatasetUnavailable"}, {&job.ArtifactCorrupt{}, "ArtifactCorrupt"},
		{&job.ArtifactsMissing{}, "ArtifactsMissing"}, {&job.JobNotSubmitted{}, "JobNotSubmitted"}, {&job.JobConfigInvalid{}, "JobConfigInvalid"}} {
		if got := typeName(c.err); got != c.want {
			t.Errorf("type name %s, want %s", got, c.want)
		}
	}
}

// racingStore lets another poll write between a poll's read and its write.
type racingStore struct {
	*dynamo.Store
	race func()
}

func (s *racingStore) RecordProgress(ctx context.Context, userID, jobID string, p job.Progress, evs []job.Event) (bool, error) {
	if f := s.race; f != nil {
		s.race = nil
		f()
	}
	return s.Store.RecordProgress(ctx, userID, jobID, p, evs)
}

// TestConcurrentPollsAccrueOnce: two polls overlap (a timed-out task and its
// retry); the one that saw the cluster later writes first. The other's
// compare-and-set fails; it reads again, finds a later view stored, and
// writes nothing — no cost is counted twice and the job never goes back.
func TestConcurrentPollsAccrueOnce(t *testing.T) {
	e := newEnv(t, gpusim.Options{TimeScale: 5})
	ctx := context.Background()
	j := e.createJob("")
	e.submit(j.ID)
	e.pollUntil(j.ID, func(o job.PollOutput) bool { return o.Status == job.PollRunning })
	e.clock.Advance(3 * time.Second)

	other := *e.runner
	rs := &racingStore{Store: e.store}
	e.runner.Store = rs
	one := in(j.ID)
	one.BudgetSeconds = 1
	rs.race = func() {
		e.clock.Advance(4 * time.Second)
		if _, err := other.Poll(ctx, one); err != nil {
			t.Errorf("the other poll: %v", err)
		}
	}
	if _, err := e.runner.Poll(ctx, one); err != nil {
		t.Fatal(err)
	}
	r := e.run(j.ID)
	ext := *r.Job.ExternalJobID
	st := e.clusterStatus(ext)
	if want := job.CostOf(r.Job, st.BillableSeconds); r.Accrued != want || r.Billable != st.BillableSeconds {
		t.Errorf("accrued %d at %.3f s; want %d at the later poll's %.3f s", r.Accrued, r.Billable, want, st.BillableSeconds)
	}
	if sum, _ := e.bus.costs(t); sum != r.Accrued {
		t.Errorf("CostAccrued sum %d, accrued %d", sum, r.Accrued)
	}
	if r.Job.CurrentStep != st.Step {
		t.Errorf("step %d, the later poll saw %d", r.Job.CurrentStep, st.Step)
	}
	e.checkTelemetry(j.ID, ext)
}

// TestPollStaysWhileInitializing: while the cluster initializes the job
// (GPUs held, the model loading), a poll invocation keeps polling for its
// whole budget, as while running, instead of returning at once: start-up
// then costs a few state transitions, not one loop per 30 s.
func TestPollStaysWhileInitializing(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	j := e.createJob("")
	e.submit(j.ID)
	const budget = 240 * time.Second / 20 // the runner's poll scale is 1 s / 20 s
	for i := range 60 {
		ti := in(j.ID)
		ti.Polls, ti.BudgetSeconds = i, 240
		before := e.clock.Now()
		out, err := e.runner.Poll(context.Background(), ti)
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		took := e.clock.Now().Sub(before)
		if stage := e.run(j.ID).Job.CurrentStage; stage == job.StageInitializing && (took < budget-e.runner.PollInterval || out.WaitSeconds != 5) {
			t.Fatalf("poll %d returned while initializing after %v with wait %d s; want the %v budget used and a 5 s wait", i, took, out.WaitSeconds, budget)
		}
		if out.Status != job.PollQueued {
			break
		}
		e.clock.Advance(secs(out.WaitSeconds))
	}
	// The initializing stage was seen (and recorded) on the way.
	seen := false
	for _, p := range e.bus.of(event.JobStatusChanged) {
		var d event.JobStatusChangedDetail
		if json.Unmarshal(p.Detail, &d) == nil && d.JobID == j.ID && d.ToStage == string(job.StageInitializing) {
			seen = true
		}
	}
	if !seen {
		t.Fatal("no JobStatusChanged to the initializing stage: the test did not see the phase it is about")
	}
}

// checkFeed: the job's feed is numbered 1..n without a gap, reports every
// stored metric point and log line exactly once and in order, and ends with
// at most one final entry, last.
func (e *env) checkFeed(jobID string, points []job.MetricPoint, lines []job.LogLine) {
	t := e.t
	t.Helper()
	feed, err := e.store.FeedEntries(context.Background(), jobID, 0, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	var seqs []int64
	for i, f := range feed {
		if f.Seq != int64(i+1) {
			t.Fatalf("feed entry %d: id %d, want %d", i, f.Seq, i+1)
		}
		raw, _ := f.Data.(json.RawMessage)
		switch f.Type {
		case job.FeedMetrics:
			var d job.FeedMetricsData
			if err := json.Unmarshal(raw, &d); err != nil || len(d.Points) == 0 || d.Points[0].Step != d.FromStep || d.Points[len(d.Points)-1].Step != d.ToStep {
				t.Fatalf("feed metrics entry %d: %s (%v)", f.Seq, raw, err)
			}
			for _, p := range d.Points {
				steps = append(steps, p.Step)
			}
		case job.FeedLog:
			var d job.FeedLogData
			if err := json.Unmarshal(raw, &d); err != nil || len(d.Lines) == 0 {
				t.Fatalf("feed log entry %d: %s (%v)", f.Seq, raw, err)
			}
			for _, l := range d.Lines {
				seqs = append(seqs, l.Seq)
			}
		case job.FeedComplete, job.FeedError:
			if i != len(feed)-1 {
				t.Fatalf("feed entry %d (%s) is final but %d entries follow", f.Seq, f.Type, len(feed)-1-i)
			}
		case job.FeedStage, job.FeedProgress, job.FeedCost:
		default:
			t.Fatalf("feed entry %d: unknown type %q", f.Seq, f.Type)
		}
	}
	if len(steps) != len(points) {
		t.Fatalf("feed reports %d metric points, %d are stored", len(steps), len(points))
	}
	for i, p := range points {
		if steps[i] != p.Step {
			t.Fatalf("feed metric point %d: step %d, stored %d", i, steps[i], p.Step)
		}
	}
	if len(seqs) != len(lines) {
		t.Fatalf("feed reports %d log lines, %d are stored", len(seqs), len(lines))
	}
	for i, l := range lines {
		if seqs[i] != l.Seq {
			t.Fatalf("feed log line %d: seq %d, stored %d", i, seqs[i], l.Seq)
		}
	}
}

// TestMarkStopped: the backstop for a stopped execution ends a running job
// failed with a message for the stop and cancels its cluster job; other
// statuses, repeats and finished jobs change nothing.
func TestMarkStopped(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	ctx := context.Background()
	j := e.createJob("")
	e.submit(j.ID)
	e.pollUntil(j.ID, func(o job.PollOutput) bool { return o.Status == job.PollRunning })
	input := fmt.Sprintf(`{"job_id":%q,"user_id":%q,"continued":0}`, j.ID, owner)
	detail := func(status string) event.ExecutionStatusChangeDetail {
		return event.ExecutionStatusChangeDetail{Name: j.ID, Status: status, Input: &input}
	}
	if err := e.runner.MarkStopped(ctx, detail("SUCCEEDED")); err != nil || e.run(j.ID).Job.Status != job.StatusRunning {
		t.Fatalf("SUCCEEDED: %v, status %s; want nothing changed", err, e.run(j.ID).Job.Status)
	}
	for range 2 { // a redelivered event changes nothing twice
		if err := e.runner.MarkStopped(ctx, detail("ABORTED")); err != nil {
			t.Fatal(err)
		}
	}
	r := e.run(j.ID)
	if r.Job.Status != job.StatusFailed || r.Job.ErrorMessage == nil || !strings.Contains(*r.Job.ErrorMessage, "stopped by an operator") {
		t.Fatalf("ABORTED: %s %v", r.Job.Status, r.Job.ErrorMessage)
	}
	if st := e.clusterStatus(*r.Job.ExternalJobID); st.Status != gpucluster.StatusCancelled {
		t.Errorf("cluster job: %s, want cancelled", st.Status)
	}
	if n := len(e.bus.of(event.JobFailed)); n != 1 {
		t.Errorf("JobFailed events: %d, want 1", n)
	}
	// A later TIMED_OUT for the same job keeps the first message.
	if err := e.runner.MarkStopped(ctx, detail("TIMED_OUT")); err != nil || !strings.Contains(*e.run(j.ID).Job.ErrorMessage, "stopped by an operator") {
		t.Errorf("TIMED_OUT after the job failed: %v, %s", err, *e.run(j.ID).Job.ErrorMessage)
	}
	bad := "not json"
	if err := e.runner.MarkStopped(ctx, event.ExecutionStatusChangeDetail{Status: "FAILED", Input: &bad}); typeName(err) != "InvalidTaskInput" {
		t.Errorf("unreadable input: %v, want InvalidTaskInput", err)
	}
}
