package dynamo_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/testkit"
)

// TestSweepList: creating a job puts it on the sweep list in the same
// write (a duplicate id writes neither); the list pages in job id order
// from a cursor; the generation is remembered; dropping an entry twice, or
// noting the generation of a dropped one, is no error and writes nothing.
func TestSweepList(t *testing.T) {
	s, _ := testkit.Table(t)
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("j%d", i)
		queuedJob(t, s, id, t0.Add(time.Duration(i)*time.Minute))
		ids = append(ids, id)
	}
	err := s.CreateJob(ctx, job.Job{ID: "j0", UserID: "u2", Status: job.StatusQueued, CreatedAt: t0, UpdatedAt: t0})
	if apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("a second job j0: %v, want Conflict", err)
	}

	var got []string
	after := ""
	for range 10 {
		page, err := s.SweepEntries(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.JobID)
			if want := t0.Add(time.Duration(len(got)-1) * time.Minute); e.UserID != "u1" || !e.CreatedAt.Equal(want) || e.Generation != 0 {
				t.Errorf("entry %+v: want user u1 (not the rejected duplicate's), created %v, generation 0", e, want)
			}
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].JobID
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("paged entries %v, want %v", got, ids)
	}

	if err := s.NoteSweepGeneration(ctx, "j3", 4); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"j1", "j1", "nope"} {
		if err := s.DropSweepEntry(ctx, id); err != nil {
			t.Errorf("drop %s: %v", id, err)
		}
	}
	if err := s.NoteSweepGeneration(ctx, "j1", 2); err != nil {
		t.Errorf("note on a dropped entry: %v", err)
	}
	all, err := s.SweepEntries(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	gens := map[string]int{}
	for _, e := range all {
		gens[e.JobID] = e.Generation
	}
	if want := map[string]int{"j0": 0, "j2": 0, "j3": 4, "j4": 0}; fmt.Sprint(gens) != fmt.Sprint(want) {
		t.Errorf("entries by generation: %v, want %v", gens, want)
	}
}
