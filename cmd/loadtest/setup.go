package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/brightrun/brightrun/pkg/dataset/datasetgen"
)

// user is one signed-up account of this run.
type user struct {
	Email, ID, Token, Dataset string
}

// jobRef is what the tool knows of one job: its owner, its last seen status
// and how many stream clients watch it.
type jobRef struct {
	ID       string
	User     int
	Status   jobStatus
	Watchers int
	Keeper   bool // created during the run to keep streams live
}

// registry holds the run's users and jobs; the targeter, the stream clients
// and the job keeper share it.
type registry struct {
	mu     sync.Mutex
	users  []user
	jobs   []*jobRef
	byID   map[string]*jobRef
	byUser [][]string
}

func newRegistry(users []user) *registry {
	return &registry{users: users, byID: map[string]*jobRef{}, byUser: make([][]string, len(users))}
}

func (r *registry) add(u int, j jobView, keeper bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref := &jobRef{ID: j.ID, User: u, Status: j.Status, Keeper: keeper}
	r.jobs = append(r.jobs, ref)
	r.byID[j.ID] = ref
	r.byUser[u] = append(r.byUser[u], j.ID)
}

// userJob returns user u's job number i (modulo their count) and how many
// jobs they have.
func (r *registry) userJob(u, i int) (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := r.byUser[u]
	if len(ids) == 0 {
		return "", 0
	}
	return ids[i%len(ids)], len(ids)
}

func (r *registry) jobCount(u int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byUser[u])
}

func (r *registry) setStatus(id string, s jobStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref, ok := r.byID[id]; ok {
		ref.Status = s
	}
}

// counts returns how many jobs are active (queued, initializing, running)
// and how many finished.
func (r *registry) counts() (active, finished int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j.Status.Terminal() {
			finished++
		} else {
			active++
		}
	}
	return active, finished
}

// watch picks a job for a stream client and counts it as watched; the
// caller must unwatch it. Live jobs come first (their streams stay open and
// carry events as the run goes), the least watched of them; a finished
// job's stream sends its whole feed and closes.
func (r *registry) watch() (jobRef, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cands := make([]candidate, len(r.jobs))
	for i, j := range r.jobs {
		cands[i] = candidate{Live: !j.Status.Terminal(), Watchers: j.Watchers}
	}
	i := choose(cands)
	if i < 0 {
		return jobRef{}, false
	}
	r.jobs[i].Watchers++
	return *r.jobs[i], true
}

func (r *registry) unwatch(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref, ok := r.byID[id]; ok && ref.Watchers > 0 {
		ref.Watchers--
	}
}

// candidate is a job as choose sees it.
type candidate struct {
	Live     bool
	Watchers int
}

// choose returns the index of the live candidate with the fewest watchers,
// else of the finished one with the fewest; the first such on ties; -1 if
// there is none.
func choose(cs []candidate) int {
	best := -1
	for i, c := range cs {
		if best < 0 || c.Live && !cs[best].Live || c.Live == cs[best].Live && c.Watchers < cs[best].Watchers {
			best = i
		}
	}
	return best
}

// setupResult says what set-up made and how long it took.
type setupResult struct {
	Users, Datasets, Jobs       int
	UsersTook, DatasetsTook     time.Duration
	WaitTook, Total             time.Duration
	Running, Finished, WithData int
	Note                        string
}

// setup signs up the users, gives each a validated dataset and jobs, and
// waits until the jobs have metrics, so list, get and metrics read real data.
func setup(ctx context.Context, c *apiClient, cfg config, runID string, log io.Writer) (*registry, setupResult, error) {
	var res setupResult
	start := time.Now()
	users := make([]user, cfg.Users)
	// Sign-up hashes the password with bcrypt: a few at a time is enough on
	// two cores.
	err := parallel(ctx, cfg.Users, 4, func(ctx context.Context, i int) error {
		u := &users[i]
		u.Email = fmt.Sprintf("loadtest-%s-%02d@example.com", runID, i)
		var err error
		u.ID, u.Token, err = c.signUp(ctx, u.Email, "load test password", fmt.Sprintf("Load %02d", i))
		return err
	})
	if err != nil {
		return nil, res, fmt.Errorf("sign-up: %w", err)
	}
	res.Users, res.UsersTook = cfg.Users, time.Since(start)
	fmt.Fprintf(log, "  %d users signed up and logged in (%s)\n", cfg.Users, res.UsersTook.Round(time.Millisecond))

	t := time.Now()
	err = parallel(ctx, cfg.Users, 4, func(ctx context.Context, i int) error {
		body, err := dataset(uint64(i+1), int64(cfg.DatasetKB)<<10)
		if err != nil {
			return err
		}
		users[i].Dataset, err = c.uploadDataset(ctx, users[i].Token, "load test "+runID, body)
		return err
	})
	if err != nil {
		return nil, res, fmt.Errorf("datasets: %w", err)
	}
	res.Datasets, res.DatasetsTook = cfg.Users, time.Since(t)
	fmt.Fprintf(log, "  %d datasets of %d KiB uploaded to presigned URLs and validated (%s)\n", cfg.Users, cfg.DatasetKB, res.DatasetsTook.Round(time.Millisecond))

	reg := newRegistry(users)
	t = time.Now()
	for i := range users {
		for k := range cfg.JobsPerUser {
			j, err := c.createJob(ctx, users[i].Token, users[i].Dataset, fmt.Sprintf("loadtest-%s-%d-%d", runID, i, k))
			if err != nil {
				return nil, res, fmt.Errorf("create job: %w", err)
			}
			reg.add(i, j, false)
			res.Jobs++
		}
	}
	fmt.Fprintf(log, "  %d jobs created (balanced, 1×A100-80GB); waiting until each user has a finished job (at most %s)…\n", res.Jobs, cfg.SetupWait)

	// Wait until every user has a finished job (a full metric history, so
	// max_points downsamples) or, failing that, at least metrics.
	deadline := time.Now().Add(cfg.SetupWait)
	for {
		finishedUsers, dataUsers := 0, 0
		res.Running, res.Finished, res.WithData = 0, 0, 0
		for i := range users {
			jobs, err := c.listJobs(ctx, users[i].Token, "")
			if err != nil {
				return nil, res, err
			}
			fin, data := false, false
			for _, j := range jobs {
				reg.setStatus(j.ID, j.Status)
				switch {
				case j.Status.Terminal():
					res.Finished++
					fin = true
				case j.Status == statusRunning:
					res.Running++
				}
				if j.CurrentStep > 0 {
					res.WithData++
					data = true
				}
			}
			if fin {
				finishedUsers++
			}
			if data {
				dataUsers++
			}
		}
		if finishedUsers == len(users) {
			break
		}
		if time.Now().After(deadline) {
			if dataUsers < len(users) {
				return nil, res, fmt.Errorf("after %s only %d of %d users have a job with metrics (running %d, finished %d)", cfg.SetupWait, dataUsers, len(users), res.Running, res.Finished)
			}
			res.Note = fmt.Sprintf("not every user's job finished within %s; going on with %d finished, %d with metrics", cfg.SetupWait, res.Finished, res.WithData)
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return nil, res, err
		}
	}
	res.WaitTook, res.Total = time.Since(t), time.Since(start)
	fmt.Fprintf(log, "  jobs: %d finished, %d running, %d with metrics (%s)\n", res.Finished, res.Running, res.WithData, res.WaitTook.Round(time.Millisecond))
	if res.Note != "" {
		fmt.Fprintf(log, "  note: %s\n", res.Note)
	}
	return reg, res, nil
}

// dataset generates a realistic brightrun_lora_v4 file, in process, with the
// generator behind cmd/datagen.
func dataset(seed uint64, size int64) ([]byte, error) {
	r, err := datasetgen.NewReader(datasetgen.Options{Seed: seed}, size)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// parallel runs f(0..n-1), at most limit at once, and returns the first
// error (the others are cancelled).
func parallel(ctx context.Context, n, limit int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}

// keeper keeps live jobs running during the load, so stream clients watch
// jobs that move: it reads the users' job lists every interval and creates
// a job whenever fewer than live are active. Its calls are not part of the
// measured load (they are counted apart).
type keeper struct {
	c        *apiClient
	reg      *registry
	live     int
	interval time.Duration
	runID    string

	mu      sync.Mutex
	seq     int // Idempotency-Key suffix: one per attempt
	created int
	errs    []string
}

func (k *keeper) run(ctx context.Context) {
	next := 0 // round-robin over users for new jobs
	for ctx.Err() == nil {
		k.refresh(ctx)
		active, _ := k.reg.counts()
		for ; active < k.live && ctx.Err() == nil; active++ {
			u := next % len(k.reg.users)
			next++
			usr := k.reg.users[u]
			k.mu.Lock()
			n := k.seq
			k.seq++
			k.mu.Unlock()
			j, err := k.c.createJob(ctx, usr.Token, usr.Dataset, fmt.Sprintf("loadtest-%s-keeper-%d", k.runID, n))
			if err != nil {
				k.fail(ctx, err)
				continue
			}
			k.reg.add(u, j, true)
			k.mu.Lock()
			k.created++
			k.mu.Unlock()
		}
		_ = sleep(ctx, k.interval)
	}
}

// refresh updates the status of every user's jobs that were last seen
// active.
func (k *keeper) refresh(ctx context.Context) {
	for u, usr := range k.reg.users {
		if !k.hasActive(u) {
			continue
		}
		jobs, err := k.c.listJobs(ctx, usr.Token, "")
		if err != nil {
			k.fail(ctx, err)
			continue
		}
		for _, j := range jobs {
			k.reg.setStatus(j.ID, j.Status)
		}
	}
}

func (k *keeper) hasActive(u int) bool {
	k.reg.mu.Lock()
	defer k.reg.mu.Unlock()
	for _, j := range k.reg.jobs {
		if j.User == u && !j.Status.Terminal() {
			return true
		}
	}
	return false
}

func (k *keeper) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the run ended mid-call
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.errs = append(k.errs, err.Error())
}

// cancelActive cancels the keeper's jobs that are still active, so a run
// leaves the stack idle for the next one; it returns how many it cancelled.
func (k *keeper) cancelActive(ctx context.Context) int {
	k.reg.mu.Lock()
	var todo []jobRef
	for _, j := range k.reg.jobs {
		if j.Keeper && !j.Status.Terminal() {
			todo = append(todo, *j)
		}
	}
	k.reg.mu.Unlock()
	n := 0
	for _, j := range todo {
		// 409 JOB_FINISHED: it completed meanwhile, nothing to do.
		err := k.c.do(ctx, "POST", "/api/jobs/"+j.ID+"/cancel", k.reg.users[j.User].Token, nil, nil, http.StatusOK, nil)
		var ae *apiError
		switch {
		case err == nil:
			n++
		case errors.As(err, &ae) && ae.Status == http.StatusConflict:
			k.c.fails.Add(-1) // not a failure
		default:
			k.fail(ctx, err)
		}
	}
	return n
}

func (k *keeper) stats() (created int, errs []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.created, append([]string(nil), k.errs...)
}
