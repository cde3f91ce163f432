package dynamo_test

import (
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/optional"
	"github.com/brightrun/brightrun/pkg/testkit"
)

func newDataset(id string, created time.Time) dataset.Dataset {
	return dataset.Dataset{ID: id, UserID: "u1", Name: "n " + id, Status: dataset.StatusUploading, StorageBucket: "b",
		StoragePath: "datasets/u1/" + id + "/f.jsonl", FileName: "f.jsonl", FileSize: 10, CreatedAt: created, UpdatedAt: created}
}

// TestDatasetTransitions: every status change is conditional, so duplicate
// deliveries and stale runs change nothing twice.
func TestDatasetTransitions(t *testing.T) {
	s, _ := testkit.Table(t)
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if err := s.CreateDataset(ctx, newDataset("d1", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDataset(ctx, newDataset("d1", t0)); apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("second create: got %v, want Conflict", err)
	}
	stale := t0.Add(-20 * time.Minute)

	start := func(token string, now time.Time) bool {
		t.Helper()
		ok, err := s.StartValidation(ctx, "u1", "d1", token, now, now.Add(-20*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !start("run-a", t0) {
		t.Fatal("uploading → validating refused")
	}
	if start("run-b", t0.Add(time.Minute)) {
		t.Fatal("a second run took a fresh validating state")
	}
	// The other user's partition has no d1.
	if ok, _ := s.StartValidation(ctx, "u2", "d1", "run-x", t0, stale); ok {
		t.Fatal("another user's key started validation")
	}
	// run-a crashed; 21 minutes later a retry takes over with run-c.
	if !start("run-c", t0.Add(21*time.Minute)) {
		t.Fatal("a stale run was not taken over")
	}
	res := dataset.Result{Status: dataset.StatusReady, SHA256: "abc", Stats: &dataset.Stats{Conversations: 12, TotalTokens: 900}, Issues: []dataset.Issue{{Line: 3, Code: dataset.CodeUnknownKey}}}
	if ok, err := s.FinishValidation(ctx, "u1", "d1", "run-a", res, t0.Add(22*time.Minute)); err != nil || ok {
		t.Fatalf("superseded run finished: ok=%v err=%v", ok, err)
	}
	if ok, err := s.FinishValidation(ctx, "u1", "d1", "run-c", res, t0.Add(22*time.Minute)); err != nil || !ok {
		t.Fatalf("owning run: ok=%v err=%v", ok, err)
	}
	if ok, _ := s.FinishValidation(ctx, "u1", "d1", "run-c", res, t0.Add(23*time.Minute)); ok {
		t.Fatal("finished twice")
	}
	if start("run-d", t0.Add(2*time.Hour)) {
		t.Fatal("a ready dataset went back to validating")
	}
	d, err := s.Dataset(ctx, "u1", "d1", true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != dataset.StatusReady || !d.TrainingReady || d.ValidationToken != "run-c" || *d.SHA256 != "abc" || d.Statistics.Conversations != 12 ||
		len(d.ValidationErrors) != 1 || d.ValidationErrors[0].Line != 3 || d.UploadedAt == nil || !d.UploadedAt.Equal(t0) || len(d.SampleData) != 0 {
		t.Fatalf("after validation: got %+v", d)
	}
	// Summaries don't carry the report.
	if d, _ := s.Dataset(ctx, "u1", "d1", false); d.ValidationErrors != nil {
		t.Errorf("summary read carried the report")
	}
}

func TestDatasetAbandonAndDelete(t *testing.T) {
	s, _ := testkit.Table(t)
	t0 := time.Now().UTC()
	for _, id := range []string{"d1", "d2"} {
		if err := s.CreateDataset(ctx, newDataset(id, t0)); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := s.StartValidation(ctx, "u1", "d1", "r1", t0, t0.Add(-time.Hour)); !ok {
		t.Fatal("start")
	}
	if err := s.AbandonValidation(ctx, "u1", "d1", "other"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Dataset(ctx, "u1", "d1", false); d.Status != dataset.StatusValidating {
		t.Fatalf("abandon with a foreign token changed the status to %s", d.Status)
	}
	if err := s.AbandonValidation(ctx, "u1", "d1", "r1"); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Dataset(ctx, "u1", "d1", false); d.Status != dataset.StatusUploading || d.ValidationToken != "" {
		t.Fatalf("after abandon: got %s token %q", d.Status, d.ValidationToken)
	}

	name := "renamed"
	if _, err := s.UpdateDataset(ctx, "u1", "d2", &name, optional.Of("desc"), t0); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDataset(ctx, "u1", "d2", t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"get", func() error { _, err := s.Dataset(ctx, "u1", "d2", false); return err }()},
		{"update", func() error {
			_, err := s.UpdateDataset(ctx, "u1", "d2", &name, optional.Value[string]{}, t0)
			return err
		}()},
		{"delete again", s.DeleteDataset(ctx, "u1", "d2", t0)},
		{"other user", s.DeleteDataset(ctx, "u2", "d1", t0)},
	} {
		if apperr.KindOf(c.err) != apperr.NotFound {
			t.Errorf("%s after delete: got %v, want NotFound", c.name, c.err)
		}
	}
	if ok, _ := s.StartValidation(ctx, "u1", "d2", "r2", t0, t0); ok {
		t.Error("a deleted dataset started validation")
	}
	list, err := s.ListDatasets(ctx, "u1")
	if err != nil || len(list) != 1 || list[0].ID != "d1" {
		t.Fatalf("list: got %v %v, want only d1", list, err)
	}
}
