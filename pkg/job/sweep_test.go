package job_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/job"
)

// executions is a stand-in for the training state machine's executions,
// by job and generation: the sweeper's decisions are domain logic (the
// real Step Functions adapter is tested in pkg/workflow, the whole path in
// cmd/local).
type executions struct {
	mu        sync.Mutex
	byName    map[string]job.Execution
	described []string
}

func name(jobID string, gen int) string { return fmt.Sprintf("%s#%d", jobID, gen) }

func (x *executions) set(jobID string, statuses ...string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byName == nil {
		x.byName = map[string]job.Execution{}
	}
	for gen, st := range statuses {
		x.byName[name(jobID, gen)] = job.Execution{Status: st}
	}
}

func (x *executions) Execution(_ context.Context, jobID string, gen int) (job.Execution, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.described = append(x.described, name(jobID, gen))
	ex, ok := x.byName[name(jobID, gen)]
	if !ok {
		return job.Execution{}, apperr.NotFoundf("execution")
	}
	return ex, nil
}

func (x *executions) calls() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.described)
}

// sweeper is e's sweeper; jobs count as idle after 2 fake seconds.
func (e *env) sweeper(x *executions) *job.Sweeper {
	return &job.Sweeper{Runner: e.runner, Store: e.store, Executions: x, MinIdle: 2 * time.Second}
}

func (e *env) sweep(s *job.Sweeper) job.SweepReport {
	e.t.Helper()
	rep, err := s.Sweep(context.Background())
	if err != nil {
		e.t.Fatalf("sweep: %v (%+v)", err, rep)
	}
	return rep
}

// onList reports whether jobID is on the sweep list.
func (e *env) onList(jobID string) (job.SweepEntry, bool) {
	e.t.Helper()
	entries, err := e.store.SweepEntries(context.Background(), "", 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range entries {
		if en.JobID == jobID {
			return en, true
		}
	}
	return job.SweepEntry{}, false
}

// A job is on the sweep list from its creation; while it is younger than
// MinIdle the sweeper leaves it alone. Once idle, a queued job with no
// execution (create-job died before starting it, so its client saw an
// error) is marked failed as create-job marks one it could not start,
// once; a queued job whose execution runs is left as it is.
func TestSweepFailsAJobNeverStarted(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	x := &executions{}
	s := e.sweeper(x)
	orphan, started := e.createJob(""), e.createJob("")
	x.set(started.ID, job.ExecutionRunning)
	if en, ok := e.onList(orphan.ID); !ok || en.UserID != owner || !en.CreatedAt.Equal(orphan.CreatedAt) || en.Generation != 0 {
		t.Fatalf("sweep entry of a new job: %+v, %v; want user %s, created %v, generation 0", en, ok, owner, orphan.CreatedAt)
	}

	if rep := e.sweep(s); rep.Checked != 2 || rep.Failed != 0 {
		t.Errorf("young jobs: %+v, want checked 2 and nothing failed", rep)
	}
	if d := x.calls(); len(d) != 0 {
		t.Errorf("young jobs: described %v; want no calls", d)
	}

	e.clock.Advance(3 * time.Second)
	for i := range 2 {
		rep := e.sweep(s)
		if want := 1 - i; rep.Failed != want {
			t.Errorf("sweep %d: %+v, want failed %d", i+1, rep, want)
		}
	}
	r := e.run(orphan.ID)
	if r.Job.Status != job.StatusFailed || !strings.Contains(deref(r.Job.ErrorMessage), "could not be started; nothing was run or charged") {
		t.Errorf("the orphan: %s (%s), want failed, never started", r.Job.Status, deref(r.Job.ErrorMessage))
	}
	if n := len(e.bus.of(event.JobFailed)); n != 1 {
		t.Errorf("JobFailed published %d times, want 1", n)
	}
	if got := e.run(started.ID).Job.Status; got != job.StatusQueued {
		t.Errorf("the job whose execution runs: %s, want queued", got)
	}
	if _, ok := e.onList(started.ID); !ok {
		t.Error("a job not final left the sweep list")
	}
	if _, ok := e.onList(orphan.ID); ok {
		t.Error("the failed orphan is still on the sweep list")
	}
}

// A running job whose execution stopped without the backstop ending it
// (its status-change event lost), or whose last execution ended without a
// continuation, is marked failed as mark-stopped-job would, its cluster
// job cancelled and JobFailed published once; the next sweep takes it off
// the list. A job whose executions continued is followed to the current
// one, which is remembered.
func TestSweepEndsJobsOfStoppedOrLostExecutions(t *testing.T) {
	tests := []struct {
		name       string
		executions []string // by generation
		wantError  string   // the job's error message contains
		wantGen    int      // the generation the entry remembers while running
	}{
		{"aborted", []string{"ABORTED"}, "stopped by an operator", 0},
		{"timed out after a continuation", []string{job.ExecutionSucceeded, "TIMED_OUT"}, "ran past its time limit", 1},
		{"no continuation", []string{job.ExecutionSucceeded}, "workflow was lost", 0},
		{"running after two continuations", []string{job.ExecutionSucceeded, job.ExecutionSucceeded, job.ExecutionRunning}, "", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, gpusim.Options{TimeScale: 5})
			x := &executions{}
			s := e.sweeper(x)
			j := e.createJob("")
			e.submit(j.ID)
			e.pollUntil(j.ID, func(o job.PollOutput) bool { return o.Status == job.PollRunning })
			ext := *e.run(j.ID).Job.ExternalJobID
			x.set(j.ID, tc.executions...)
			e.clock.Advance(3 * time.Second)

			rep := e.sweep(s)
			r := e.run(j.ID)
			if tc.wantError == "" {
				en, ok := e.onList(j.ID)
				if rep.Failed != 0 || r.Job.Status != job.StatusRunning || !ok || en.Generation != tc.wantGen || rep.Continued != 1 {
					t.Fatalf("got %+v, status %s, entry %+v (%v); want running, generation %d remembered", rep, r.Job.Status, en, ok, tc.wantGen)
				}
				before := x.calls()
				e.clock.Advance(3 * time.Second)
				e.sweep(s)
				after := x.calls()
				if got, want := after[len(before):], []string{name(j.ID, tc.wantGen)}; !slices.Equal(got, want) {
					t.Errorf("the next sweep described %v, want %v (from the remembered generation)", got, want)
				}
				return
			}
			if rep.Failed != 1 || r.Job.Status != job.StatusFailed || r.Job.ErrorMessage == nil || !strings.Contains(*r.Job.ErrorMessage, tc.wantError) {
				t.Fatalf("got %+v, job %s (%v); want failed with %q", rep, r.Job.Status, deref(r.Job.ErrorMessage), tc.wantError)
			}
			if st := e.clusterStatus(ext); st.Status != gpucluster.StatusCancelled {
				t.Errorf("cluster job: %s, want cancelled", st.Status)
			}
			if n := len(e.bus.of(event.JobFailed)); n != 1 {
				t.Errorf("JobFailed published %d times, want 1", n)
			}
			if rep := e.sweep(s); rep.Dropped != 1 || rep.Failed != 0 {
				t.Errorf("next sweep: %+v, want the final job dropped and nothing failed", rep)
			}
			if _, ok := e.onList(j.ID); ok {
				t.Error("a final job with an empty outbox is still on the sweep list")
			}
			if n := len(e.bus.of(event.JobFailed)); n != 1 {
				t.Errorf("after the next sweep JobFailed published %d times, want 1", n)
			}
		})
	}
}

// Events a final job's last task could not publish (the bus was down) wait
// in the outbox: the sweeper leaves them to their writer while they are
// young, then publishes each once and takes the job off the list.
func TestSweepPublishesLeftovers(t *testing.T) {
	e := newEnv(t, gpusim.Options{})
	x := &executions{}
	s := e.sweeper(x)
	j := e.createJob("")
	e.submit(j.ID)
	e.bus.fail = 100
	if err := e.runner.MarkFailed(context.Background(), job.TaskInput{JobID: j.ID, UserID: owner, Error: &job.TaskError{Error: "States.Runtime"}}); err != nil {
		t.Fatal(err)
	}
	e.bus.fail = 0
	left := e.run(j.ID).Outbox
	if len(left) == 0 {
		t.Fatal("no events left in the outbox while the bus was down")
	}

	if rep := e.sweep(s); rep.Dropped != 0 {
		t.Errorf("young leftovers: %+v, want the job kept", rep)
	}
	for _, ev := range left {
		if n := e.bus.count(ev.ID); n != 0 {
			t.Errorf("young event %s published %d times, want 0", ev.ID, n)
		}
	}

	e.clock.Advance(job.DefaultLeftoverAge)
	if rep := e.sweep(s); rep.Dropped != 1 {
		t.Errorf("old leftovers: %+v, want the job dropped", rep)
	}
	for _, ev := range left {
		if n := e.bus.count(ev.ID); n != 1 {
			t.Errorf("event %s published %d times, want 1", ev.ID, n)
		}
	}
	if r := e.run(j.ID); len(r.Outbox) != 0 {
		t.Errorf("outbox after the sweep: %d events", len(r.Outbox))
	}
	if d := x.calls(); len(d) != 0 {
		t.Errorf("a final job: described %v; want no calls", d)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
