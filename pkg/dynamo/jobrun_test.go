package dynamo_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dynamo"
	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/money"
	"github.com/brightrun/brightrun/pkg/testkit"
)

func queuedJob(t *testing.T, s *dynamo.Store, id string, now time.Time) {
	t.Helper()
	if err := s.CreateJob(ctx, job.Job{ID: id, UserID: "u1", DatasetID: "d1", Status: job.StatusQueued, CurrentStage: job.StageQueued,
		TotalEpochs: 3, TotalSteps: 75, QueuedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

func ev(id string, at time.Time) job.Event {
	return job.Event{ID: id, Type: event.CostAccrued, At: at, Detail: event.CostAccruedDetail{EventID: id, AmountMicros: 5}}
}

// TestJobRunTransitions: each write of the workflow is conditional on what
// its writer read, so a repeated or concurrent task changes nothing twice;
// events ride along in the outbox until acknowledged.
func TestJobRunTransitions(t *testing.T) {
	s, table := testkit.Table(t)
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	queuedJob(t, s, "j1", t0)
	queuedJob(t, s, "j2", t0)

	// Submitted once; the lookup points back; another job cannot take the id.
	ok, err := s.MarkSubmitted(ctx, "u1", "j1", "sim-1", job.StageQueued, t0, []job.Event{ev("j1:status:initializing", t0)})
	if err != nil || !ok {
		t.Fatalf("mark submitted: %v %v", ok, err)
	}
	if ok, _ := s.MarkSubmitted(ctx, "u1", "j1", "sim-1", job.StageQueued, t0.Add(time.Minute), nil); ok {
		t.Error("marked submitted twice")
	}
	if ok, _ := s.MarkSubmitted(ctx, "u1", "j2", "sim-1", job.StageQueued, t0, nil); ok {
		t.Error("a second job took the cluster id sim-1")
	}
	if _, err := s.JobRun(ctx, "u2", "j1"); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("another user's job: %v, want NotFound", err)
	}
	r, err := s.JobRun(ctx, "u1", "j1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Job.Status != job.StatusInitializing || r.Job.ExternalJobID == nil || *r.Job.ExternalJobID != "sim-1" || r.Job.StartedAt == nil ||
		len(r.Outbox) != 1 || r.Outbox[0].ID != "j1:status:initializing" {
		t.Fatalf("after submit: %+v, outbox %+v", r.Job, r.Outbox)
	}
	if u, j, err := s.JobByExternalID(ctx, "sim-1"); u != "u1" || j != "j1" || err != nil {
		t.Errorf("lookup: %s %s %v", u, j, err)
	}

	// Cursors move only from where they were read.
	c1 := job.Cursor{MetricsAfter: 10, LogCursor: "c1", LogSeq: 4, CheckpointsAfter: 0}
	if ok, err := s.AdvanceTelemetry(ctx, "u1", "j1", job.Cursor{}, c1); err != nil || !ok {
		t.Fatalf("advance: %v %v", ok, err)
	}
	if ok, _ := s.AdvanceTelemetry(ctx, "u1", "j1", job.Cursor{}, job.Cursor{MetricsAfter: 99}); ok {
		t.Error("advanced from stale cursors")
	}

	// Cost accrues compare-and-set on the amount read.
	p := job.Progress{FromStatus: job.StatusInitializing, ToStatus: job.StatusRunning, Stage: job.StageTraining, Progress: 10, Epoch: 1, Step: 3,
		FromAccrued: 0, Accrued: 1000, Billable: 1.2, Now: t0.Add(time.Minute)}
	if ok, err := s.RecordProgress(ctx, "u1", "j1", p, []job.Event{ev("j1:cost:1200", p.Now)}); err != nil || !ok {
		t.Fatalf("record progress: %v %v", ok, err)
	}
	if ok, _ := s.RecordProgress(ctx, "u1", "j1", p, nil); ok {
		t.Error("the same accrual was written twice")
	}
	p2 := p
	p2.FromStatus, p2.FromAccrued, p2.Accrued = job.StatusRunning, 1000, 2500
	if ok, err := s.RecordProgress(ctx, "u1", "j1", p2, []job.Event{ev("j1:cost:3000", p.Now.Add(time.Second))}); err != nil || !ok {
		t.Fatalf("second accrual: %v %v", ok, err)
	}
	r, _ = s.JobRun(ctx, "u1", "j1")
	if r.Cursor != c1 || r.Accrued != 2500 || r.Job.CurrentCost != 2500 || r.Job.Status != job.StatusRunning || r.Job.CurrentStage != job.StageTraining || len(r.Outbox) != 3 {
		t.Fatalf("after progress: cursor %+v accrued %d job %+v outbox %d", r.Cursor, r.Accrued, r.Job, len(r.Outbox))
	}
	if r.Outbox[0].ID != "j1:status:initializing" || r.Outbox[2].ID != "j1:cost:3000" {
		t.Errorf("outbox order: %v, %v, %v", r.Outbox[0].ID, r.Outbox[1].ID, r.Outbox[2].ID)
	}
	if err := s.AckEvents(ctx, "j1", []string{"j1:status:initializing", "j1:cost:1200", "j1:cost:3000"}); err != nil {
		t.Fatal(err)
	}
	if r, _ = s.JobRun(ctx, "u1", "j1"); len(r.Outbox) != 0 {
		t.Errorf("outbox after ack: %+v", r.Outbox)
	}
	// Acknowledging for a job that does not exist creates nothing.
	if err := s.AckEvents(ctx, "nope", []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if out, _ := testkit.DynamoClient(t).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: r2key("JOB#nope", "#META")}); out.Item != nil {
		t.Errorf("ack created an item: %v", out.Item)
	}

	// Completing: the model and the job in one transaction, once.
	if err := s.SaveArtifacts(ctx, "u1", "j1", []job.Artifact{{Name: "adapter_model.safetensors", Key: "models/u1/j1/adapter_model.safetensors", SizeBytes: 10, SHA256: "ab"}}, t0); err != nil {
		t.Fatal(err)
	}
	m := job.Model{ID: "m1", UserID: "u1", JobID: "j1", DatasetID: "d1", Name: "d – balanced", Version: "v1", Status: job.ModelStatusStored, ConfigHash: "h1",
		Files: []job.Artifact{{Name: "adapter_model.safetensors", SHA256: "ab"}}, CreatedAt: t0, UpdatedAt: t0}
	if ok, _ := s.CompleteJob(ctx, "u1", "j1", m, 1000, nil); ok {
		t.Error("completed with a stale accrued cost")
	}
	if _, err := s.RunModel(ctx, "u1", "m1"); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("a failed completion left a model: %v", err)
	}
	if ok, err := s.CompleteJob(ctx, "u1", "j1", m, 2500, []job.Event{ev("j1:completed", t0)}); err != nil || !ok {
		t.Fatalf("complete: %v %v", ok, err)
	}
	m2 := m
	m2.ID = "m2"
	if ok, _ := s.CompleteJob(ctx, "u1", "j1", m2, 2500, nil); ok {
		t.Error("completed twice")
	}
	r, _ = s.JobRun(ctx, "u1", "j1")
	if r.Job.Status != job.StatusCompleted || r.Job.FinalCost == nil || *r.Job.FinalCost != 2500 || r.Job.ArtifactID == nil || *r.Job.ArtifactID != "m1" ||
		len(r.Artifacts) != 1 || r.Artifacts[0].SHA256 != "ab" || r.Job.Progress != 100 || r.Job.CompletedAt == nil {
		t.Fatalf("completed: %+v artifacts %+v", r.Job, r.Artifacts)
	}
	got, err := s.RunModel(ctx, "u1", "m1")
	if err != nil || got.Name != m.Name || got.Version != "v1" || got.ConfigHash != "h1" || len(got.Files) != 1 || !got.CreatedAt.Equal(t0) {
		t.Errorf("model: %+v, %v", got, err)
	}
	if n, err := s.CountModels(ctx, "u1", []string{job.ModelStatusStored}); err != nil || n != 1 {
		t.Errorf("stored models counted by the dashboard: %d, %v", n, err)
	}
	if n, _ := s.CountModelVersions(ctx, "u1", "d1", "h1"); n != 1 {
		t.Errorf("versions of d1/h1: %d", n)
	}
	if n, _ := s.CountModelVersions(ctx, "u1", "d1", "other"); n != 0 {
		t.Errorf("versions of another configuration: %d", n)
	}
	// A final job does not end again.
	if ok, _ := s.EndJob(ctx, "u1", "j1", job.Ending{To: job.StatusFailed, FromAccrued: 2500, Accrued: 2500, Now: t0}, nil); ok {
		t.Error("a completed job was failed")
	}

	// Ending a queued job (j2): failed, with its cost; once.
	msg := "boom"
	e := job.Ending{To: job.StatusFailed, ErrorMessage: &msg, FromAccrued: 0, Accrued: money.Amount(0), Now: t0}
	if ok, err := s.EndJob(ctx, "u1", "j2", e, []job.Event{ev("j2:failed", t0)}); err != nil || !ok {
		t.Fatalf("end: %v %v", ok, err)
	}
	if ok, _ := s.EndJob(ctx, "u1", "j2", e, nil); ok {
		t.Error("ended twice")
	}
	r, _ = s.JobRun(ctx, "u1", "j2")
	if r.Job.Status != job.StatusFailed || r.Job.ErrorMessage == nil || *r.Job.ErrorMessage != "boom" || r.Job.FinalCost == nil || len(r.Outbox) != 1 {
		t.Errorf("ended: %+v outbox %d", r.Job, len(r.Outbox))
	}
	// The cluster id noted on a job that is no longer queued.
	if err := s.NoteExternalID(ctx, "u1", "j2", "sim-2", t0); err != nil {
		t.Fatal(err)
	}
	if r, _ = s.JobRun(ctx, "u1", "j2"); r.Job.ExternalJobID == nil || *r.Job.ExternalJobID != "sim-2" {
		t.Errorf("noted id: %v", r.Job.ExternalJobID)
	}
}

func r2key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{schema.PK: &types.AttributeValueMemberS{Value: pk}, schema.SK: &types.AttributeValueMemberS{Value: sk}}
}
