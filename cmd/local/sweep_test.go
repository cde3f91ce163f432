package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/brightrun/brightrun/pkg/devenv"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/testkit"
	"github.com/brightrun/brightrun/pkg/training"
)

// noStart is a create-job that dies after writing the job, before
// starting its workflow.
type noStart struct{}

func (noStart) StartJob(context.Context, string, string, time.Time) error { return nil }

// orphan creates a job exactly as create-job does, with the same service
// and store, but never starts its workflow.
func orphan(t *testing.T, a account, datasetID string) job.Job {
	t.Helper()
	svc := &job.Service{Store: st.Store, Workflow: noStart{}, NewID: func() string { return ulid.Make().String() }, Now: time.Now,
		Training: &training.Service{Datasets: st.Store, Profiles: st.Store, Spending: st.Store, Now: time.Now}}
	c, err := svc.Create(context.Background(), a.ID, training.Request{DatasetID: datasetID, PresetID: training.PresetBalanced,
		GPUConfig: training.GPUConfig{GPUType: "A100-80GB", NumGPUs: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c.Job
}

// onSweepList reports whether the job is on the sweep list.
func onSweepList(t *testing.T, jobID string) bool {
	t.Helper()
	for after := ""; ; {
		page, err := st.Store.SweepEntries(context.Background(), after, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.JobID == jobID {
				return true
			}
		}
		if len(page) < 100 {
			return false
		}
		after = page[len(page)-1].JobID
	}
}

// TestSweeper: the scheduled sweep-jobs (every 15 minutes, i.e. 9 s at the
// stack's 100×, for jobs idle 10 minutes) repairs what the workflow and its
// backstop cannot see. The two cases wait for the schedule side by side.
func TestSweeper(t *testing.T) {
	t.Run("fails a job never started", func(t *testing.T) { t.Parallel(); sweeperFailsAJobNeverStarted(t) })
	t.Run("ends a job without execution", func(t *testing.T) { t.Parallel(); sweeperEndsAJobWithoutExecution(t) })
}

// A job whose create-job died before starting the workflow (its client
// saw an error) is marked failed by the sweep, as create-job marks a job
// it could not start; it is never started.
func sweeperFailsAJobNeverStarted(t *testing.T) {
	a := signUp(t, "Orphan")
	ds := readyDataset(t, a.Token, 64<<10, 46)
	j := orphan(t, a, ds)
	if !onSweepList(t, j.ID) {
		t.Fatal("a new job is not on the sweep list")
	}
	j = waitJob(t, a.Token, j.ID, "finished", final)
	if j.Status != job.StatusFailed || !strings.Contains(deref(j.ErrorMessage), "could not be started; nothing was run or charged") {
		t.Fatalf("after the sweep: %s (%s), want failed, never started", j.Status, deref(j.ErrorMessage))
	}
	if x, ok := st.Workflow.Describe(j.ID); ok {
		t.Errorf("the sweep started the orphan: execution %s", x.Status)
	}
	if j.FinalCost == nil || *j.FinalCost != 0 {
		t.Errorf("final cost %v, want 0", j.FinalCost)
	}
}

// A job left initializing with no execution at all (what a restart of the
// local stack does to running jobs: executions live in memory) is marked
// failed by the sweep, with a message that says so, and then leaves the
// sweep list.
func sweeperEndsAJobWithoutExecution(t *testing.T) {
	a := signUp(t, "Lost")
	ds := readyDataset(t, a.Token, 64<<10, 47)
	j := orphan(t, a, ds)
	now := time.Now()
	stage := job.StageInitializing
	if ok, err := st.Store.Transition(context.Background(), a.ID, j.ID, job.StatusQueued, job.StatusInitializing, job.Change{Stage: &stage, StartedAt: &now, Now: now}); err != nil || !ok {
		t.Fatalf("transition: %v %v", ok, err)
	}
	j = waitJob(t, a.Token, j.ID, "finished", final)
	if j.Status != job.StatusFailed || j.ErrorMessage == nil || !strings.Contains(*j.ErrorMessage, "workflow was lost") {
		t.Fatalf("got %s (%s), want failed: workflow lost", j.Status, deref(j.ErrorMessage))
	}
	deadline := time.Now().Add(60 * time.Second)
	for onSweepList(t, j.ID) {
		if time.Now().After(deadline) {
			t.Fatal("the failed job is still on the sweep list after 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Another user sees neither job.
	b := signUp(t, "Other")
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + j.ID, Token: b.Token}, http.StatusNotFound, "NOT_FOUND")
}

// TestSweepFixture: sweep-jobs answers a scheduled event with its report;
// a job created a moment ago is checked and left alone (not idle yet).
func TestSweepFixture(t *testing.T) {
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(filepath.Join(root, "events", "eventbridge", "scheduled.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := signUp(t, "Fixture")
	j := orphan(t, a, readyDataset(t, a.Token, 32<<10, 48))
	out, err := st.Host.Invoke(context.Background(), "sweep-jobs", payload)
	if err != nil {
		t.Fatal(err)
	}
	var rep job.SweepReport
	if err := json.Unmarshal(out, &rep); err != nil || rep.Checked == 0 || rep.Errors != 0 || rep.Incomplete {
		t.Errorf("report %s (%v): want entries checked, no errors, complete", out, err)
	}
	var got job.Job
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/jobs/" + j.ID, Token: a.Token}, http.StatusOK, "").Into(t, &got)
	if got.Status != job.StatusQueued {
		t.Errorf("the sweep changed a job created a moment ago: %s", got.Status)
	}
	// Queued: cancelled at once, and the next sweeps drop it.
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/jobs/" + j.ID + "/cancel", Token: a.Token}, http.StatusOK, "")
}
