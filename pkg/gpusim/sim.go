// Package gpusim is an in-memory GPU cluster implementing the contract of
// docs/gpu-cluster-api.md, for the local stack and the tests.
//
// A job's whole timeline is laid out at submission from the estimator's
// model (training.StartupSeconds, Throughput, EvalSpeedup, SaveSeconds), so
// at TimeScale 1 a run takes what training.EstimateRun says, give or take
// a documented jitter. Every answer is computed from the clock — the stage,
// step, metrics, logs and checkpoints at "now" — and every random number is
// a pure function of the seed, the job and an index: nothing runs in the
// background, and asking twice gives the same answer. Artifacts are real
// files (a safetensors adapter sized from the rank and model, a PEFT
// adapter_config.json, a tokenizer.json) generated while they stream.
//
// Faults are injectable per simulator and per job (Faults, JobFault, the
// /_sim endpoints and the fail-/forget- job id prefixes).
package gpusim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

// Defaults of Options.
const (
	DefaultQueueSeconds = 30
	DefaultURLTTL       = time.Hour
	maxSubmitBody       = 1 << 20
	defaultPageLimit    = 500
	maxPageLimit        = 1000
)

// Options configure a simulator.
type Options struct {
	// Token is the bearer token every /v1 and /_sim request must carry.
	Token string
	// TimeScale is simulated seconds per clock second: 1 runs in real time,
	// 100 runs a 43-minute job in 26 s. ≤ 0 means 1.
	TimeScale float64
	// Seed makes runs reproducible: the same seed and job id give the same
	// curves, timings and artifact bytes.
	Seed uint64
	// Clock is the time; nil: time.Now. Tests pass a fake clock.
	Clock func() time.Time
	// QueueSeconds is how long (simulated) a job waits in the queue before
	// its GPUs are allocated: 0 means DefaultQueueSeconds, < 0 none.
	QueueSeconds float64
	// ExactTiming turns the timing jitter off: every run then takes exactly
	// what the estimator's model says.
	ExactTiming bool
	// FetchDatasets makes Submit GET the dataset URL and check its size and
	// SHA-256; a failure fails the job during initializing (as a cluster
	// that cannot read the data would). HTTPClient fetches (nil: default).
	FetchDatasets bool
	HTTPClient    *http.Client
	// PublicURL is the base of download URLs (e.g. "http://127.0.0.1:8089");
	// "": taken from each request's Host.
	PublicURL string
	// URLTTL is how long a download URL is valid (clock time); 0: 1 h.
	URLTTL time.Duration
	// Faults are in force from the start.
	Faults Faults
	// Logger logs faults and submissions; nil: discard.
	Logger *slog.Logger
}

func (o *Options) queueSeconds() float64 {
	switch {
	case o.QueueSeconds == 0:
		return DefaultQueueSeconds
	case o.QueueSeconds < 0:
		return 0
	}
	return o.QueueSeconds
}

// Sim is the simulator: an http.Handler.
type Sim struct {
	o      Options
	secret []byte
	mux    *http.ServeMux

	mu      sync.Mutex
	jobs    map[string]*job // by the cluster's id
	byJobID map[string]*job // by our job id
	gens    map[string]int  // submissions per job id (a forgotten job's id can be submitted again)
	faults  faultState
}

// job is one submission.
type job struct {
	id          string
	p           *plan
	fingerprint string
	created     time.Time // clock time of the submission = offset 0
	scale       float64

	// Offsets (simulated seconds) of what stops or hides the job; +Inf:
	// never.
	cancelAt, failAt, forgetAt float64
	failCode, failReason       string

	art     *artifactSet
	artOnce sync.Once
}

// New returns a simulator.
func New(o Options) (*Sim, error) {
	if o.Token == "" {
		return nil, errors.New("gpusim: empty token")
	}
	if o.TimeScale <= 0 || math.IsNaN(o.TimeScale) || math.IsInf(o.TimeScale, 0) {
		o.TimeScale = 1
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.URLTTL <= 0 {
		o.URLTTL = DefaultURLTTL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	key := sha256.Sum256(fmt.Appendf(nil, "gpusim-url-key/%d/%s", o.Seed, o.Token))
	s := &Sim{
		o: o, secret: key[:],
		jobs: map[string]*job{}, byJobID: map[string]*job{}, gens: map[string]int{},
	}
	s.faults.set(o.Faults)
	s.routes()
	return s, nil
}

func (s *Sim) now() time.Time { return s.o.Clock() }

// offset is the job's simulated seconds since submission at t.
func (j *job) offset(t time.Time) float64 { return t.Sub(j.created).Seconds() * j.scale }

// clockAt is the clock time of offset x.
func (j *job) clockAt(x float64) time.Time {
	return j.created.Add(time.Duration(x / j.scale * float64(time.Second))).UTC().Round(time.Millisecond)
}

// forgotten reports whether the cluster has forgotten the job at offset x.
func (j *job) forgotten(x float64) bool { return x >= j.forgetAt }

// stopAt is when the job was (or will be) cancelled or failed; +Inf if
// never before its end.
func (j *job) stopAt() float64 {
	s := min(j.cancelAt, j.failAt)
	if s >= j.p.end {
		return math.Inf(1)
	}
	return s
}

// snapshot is a job's state at one moment.
type snapshot struct {
	x       float64 // now
	vis     float64 // events up to here have happened: min(now, stop)
	stopped bool    // cancelled or failed by now
	status  gpucluster.Status
	stage   gpucluster.Stage
	epoch   int
	step    int
}

func (j *job) at(x float64) snapshot {
	p := j.p
	sn := snapshot{x: x, vis: x}
	if stop := j.stopAt(); stop <= x {
		sn.vis, sn.stopped = stop, true
		sn.stage, sn.epoch, sn.step = p.at(stop)
		sn.status = gpucluster.StatusCancelled
		if j.failAt <= j.cancelAt {
			sn.status = gpucluster.StatusFailed
		}
		return sn
	}
	sn.stage, sn.epoch, sn.step = p.at(x)
	switch sn.stage {
	case gpucluster.StageQueued:
		sn.status = gpucluster.StatusQueued
	case gpucluster.StageInitializing:
		sn.status = gpucluster.StatusInitializing
	case gpucluster.StageCompleted:
		sn.status = gpucluster.StatusCompleted
		sn.vis = p.end
	default:
		sn.status = gpucluster.StatusRunning
	}
	return sn
}

// view is the job as the API shows it at clock time now (under s.mu).
func (s *Sim) view(j *job, now time.Time) gpucluster.Job {
	p := j.p
	sn := j.at(j.offset(now))
	v := gpucluster.Job{
		ID: j.id, JobID: p.req.JobID, BaseModel: p.model.ID, GPU: p.req.GPU,
		Status: sn.status, Stage: sn.stage, Progress: p.progress(sn.vis),
		Epoch: sn.epoch, TotalEpochs: p.epochs, Step: sn.step, TotalSteps: p.total, StepsPerEpoch: p.perEpoch,
		CreatedAt: j.clockAt(0),
	}
	if sn.vis >= p.queue {
		t := j.clockAt(p.queue)
		v.StartedAt = &t
		v.BillableSeconds = round(min(sn.vis, p.end)-p.queue, 3)
	}
	if sn.status.Terminal() {
		t := j.clockAt(min(sn.vis, p.end))
		v.FinishedAt = &t
	} else {
		eta := int64(math.Ceil((p.end - sn.x) / j.scale))
		at := j.clockAt(p.end)
		v.ETASeconds, v.EstimatedCompletionAt = &eta, &at
	}
	if sn.status == gpucluster.StatusQueued {
		v.QueuePosition = 1
		for _, o := range s.jobs {
			if o != j && o.created.Before(j.created) {
				if osn := o.at(o.offset(now)); osn.status == gpucluster.StatusQueued && !o.forgotten(osn.x) {
					v.QueuePosition++
				}
			}
		}
	}
	if last := p.lastPointAtOrBefore(sn.step); last > 0 {
		if !p.published(last, sn.vis, sn.stopped) {
			last = p.lastPointAtOrBefore(last - 1)
		}
		if last > 0 {
			m := p.point(j, last, p.validationDone(p.epochOf(last), sn.vis))
			v.LatestMetrics = &m
		}
	}
	for e := min(sn.epoch, p.epochs); e >= 1; e-- {
		if p.validationDone(e, sn.vis) {
			l := p.validationLoss(e)
			v.LatestValidationLoss = &l
			break
		}
	}
	if sn.status == gpucluster.StatusFailed {
		v.Error = &gpucluster.ErrorBody{Code: j.failCode, Message: j.failReason}
	}
	return v
}

// ServeHTTP implements the contract.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Sim) routes() {
	m := http.NewServeMux()
	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		m.Handle(pattern, s.withFaults(targetAPI, s.withAuth(http.HandlerFunc(h))))
	}
	api("POST /v1/jobs", s.submit)
	api("GET /v1/jobs/{id}", s.status)
	api("GET /v1/jobs/{id}/metrics", s.metrics)
	api("GET /v1/jobs/{id}/logs", s.logs)
	api("GET /v1/jobs/{id}/checkpoints", s.checkpoints)
	api("POST /v1/jobs/{id}/cancel", s.cancel)
	api("GET /v1/jobs/{id}/artifacts", s.artifacts)
	api("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, gpucluster.CodeNotFound, "no route "+r.Method+" "+r.URL.Path)
	})
	m.Handle("GET /files/{id}/{name}", s.withFaults(targetFiles, http.HandlerFunc(s.file)))

	admin := func(pattern string, h func(w http.ResponseWriter, r *http.Request)) {
		m.Handle(pattern, s.withAuth(http.HandlerFunc(h)))
	}
	admin("GET /_sim/faults", s.getFaults)
	admin("POST /_sim/faults", s.postFaults)
	admin("DELETE /_sim/faults", s.deleteFaults)
	admin("POST /_sim/jobs/{id}/faults", s.postJobFault)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, gpucluster.CodeNotFound, "no route "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

func (s *Sim) withAuth(h http.Handler) http.Handler {
	want := []byte("Bearer " + s.o.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gpu-cluster"`)
			writeError(w, http.StatusUnauthorized, gpucluster.CodeUnauthorized, "missing or invalid bearer token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, gpucluster.ErrorResponse{Error: gpucluster.ErrorBody{Code: code, Message: msg}})
}

// lookup finds a visible job by the cluster's id, or answers 404 (under s.mu).
func (s *Sim) lookup(w http.ResponseWriter, id string, now time.Time) *job {
	j := s.jobs[id]
	if j == nil || j.forgotten(j.offset(now)) {
		writeError(w, http.StatusNotFound, gpucluster.CodeJobNotFound, fmt.Sprintf("no job %q", id))
		return nil
	}
	return j
}

func (s *Sim) submit(w http.ResponseWriter, r *http.Request) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSubmitBody))
	dec.DisallowUnknownFields()
	var req gpucluster.SubmitRequest
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, "body: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, "body: more than one JSON value")
		return
	}
	fp := fingerprint(req)

	// A replay answers from the existing job; a new job may fetch its
	// dataset first (outside the lock), then is created unless a concurrent
	// submit won.
	if s.replay(w, req.JobID, fp) {
		return
	}
	seed := s.jobSeed(req.JobID)
	p, err := newPlan(req, &s.o, seed)
	if err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, err.Error())
		return
	}
	var fetchErr error
	if s.o.FetchDatasets {
		fetchErr = s.fetchDataset(r.Context(), req.Dataset)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if old := s.byJobID[req.JobID]; old != nil {
		if !old.forgotten(old.offset(now)) {
			s.answerReplay(w, old, fp, now)
			return
		}
		delete(s.jobs, old.id)
	}
	s.gens[req.JobID]++
	gen := s.gens[req.JobID]
	if gen > 1 { // a forgotten job submitted again: a new run
		if p, err = newPlan(req, &s.o, s.jobSeed(req.JobID)^mix(uint64(gen))); err != nil {
			writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, err.Error())
			return
		}
	}
	idSum := sha256.Sum256(fmt.Appendf(nil, "%d/%s/%d", s.o.Seed, req.JobID, gen))
	j := &job{
		id: "sim-" + hex.EncodeToString(idSum[:12]), p: p, fingerprint: fp, created: now, scale: s.o.TimeScale,
		cancelAt: math.Inf(1), failAt: math.Inf(1), forgetAt: math.Inf(1),
	}
	if fetchErr != nil {
		j.failAt = p.queue + datasetFailSeconds
		j.failCode, j.failReason = "DATASET_UNAVAILABLE", "dataset download failed: "+fetchErr.Error()
	} else if f, ok := s.faultFor(req.JobID, p); ok {
		j.apply(f, 0)
	}
	s.jobs[j.id] = j
	s.byJobID[req.JobID] = j
	s.o.Logger.Info("gpusim: job submitted", "id", j.id, "job_id", req.JobID, "model", p.model.ID,
		"gpu", fmt.Sprintf("%d×%s", req.GPU.Count, req.GPU.Type), "steps", p.total,
		"run_seconds", math.Round(p.runSeconds()), "clock_seconds", math.Round(p.end/j.scale))
	writeJSON(w, http.StatusCreated, s.view(j, now))
}

// replay answers a submission of a job id already running; false if there
// is none (or it was forgotten).
func (s *Sim) replay(w http.ResponseWriter, jobID, fp string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	old := s.byJobID[jobID]
	if old == nil || old.forgotten(old.offset(now)) {
		return false
	}
	s.answerReplay(w, old, fp, now)
	return true
}

func (s *Sim) answerReplay(w http.ResponseWriter, old *job, fp string, now time.Time) {
	if old.fingerprint != fp {
		writeError(w, http.StatusConflict, gpucluster.CodeIdempotencyConflict,
			fmt.Sprintf("job_id %q was submitted before with a different request (job %s)", old.p.req.JobID, old.id))
		return
	}
	writeJSON(w, http.StatusOK, s.view(old, now))
}

// fingerprint identifies a submission: every field but the dataset URL
// (presigned again on every retry).
func fingerprint(req gpucluster.SubmitRequest) string {
	req.Dataset.URL = ""
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Sim) jobSeed(jobID string) uint64 {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d/%s", s.o.Seed, jobID))
	return binary.LittleEndian.Uint64(sum[:8])
}

func (s *Sim) status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if j := s.lookup(w, r.PathValue("id"), now); j != nil {
		writeJSON(w, http.StatusOK, s.view(j, now))
	}
}

func (s *Sim) cancel(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	j := s.lookup(w, r.PathValue("id"), now)
	if j == nil {
		return
	}
	if x := j.offset(now); !j.at(x).status.Terminal() {
		j.cancelAt = x
	}
	writeJSON(w, http.StatusOK, s.view(j, now))
}

// pageArgs reads limit (default 500, 1–1000).
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultPageLimit, nil
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 || n > maxPageLimit || fmt.Sprint(n) != v {
		return 0, fmt.Errorf("limit must be an integer from 1 to %d", maxPageLimit)
	}
	return n, nil
}

func (s *Sim) metrics(w http.ResponseWriter, r *http.Request) {
	limit, err := pageLimit(r)
	after := 0
	if v := r.URL.Query().Get("after_step"); err == nil && v != "" {
		if _, e := fmt.Sscan(v, &after); e != nil || after < 0 || fmt.Sprint(after) != v {
			err = errors.New("after_step must be a non-negative integer")
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	j := s.lookup(w, r.PathValue("id"), now)
	if j == nil {
		return
	}
	p := j.p
	sn := j.at(j.offset(now))
	page := gpucluster.MetricsPage{Points: []gpucluster.MetricsPoint{}, NextAfterStep: after}
	step := p.nextPoint(after)
	for ; step <= p.total && p.published(step, sn.vis, sn.stopped); step = p.nextPoint(step) {
		if len(page.Points) == limit {
			page.HasMore = true
			break
		}
		page.Points = append(page.Points, p.point(j, step, p.validationDone(p.epochOf(step), sn.vis)))
		page.NextAfterStep = step
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Sim) checkpoints(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	j := s.lookup(w, r.PathValue("id"), now)
	if j == nil {
		return
	}
	p := j.p
	sn := j.at(j.offset(now))
	l := gpucluster.CheckpointList{Checkpoints: []gpucluster.Checkpoint{}}
	for e := 1; e <= p.epochs && p.ckptEnd(e) <= sn.vis; e++ {
		step := e * p.perEpoch
		c := gpucluster.Checkpoint{
			Name: fmt.Sprintf("checkpoint-%d", step), Step: step, Epoch: e,
			TrainingLoss: p.trainingLoss(step), SizeBytes: p.ckptBytes,
			URI:       fmt.Sprintf("sim://%s/checkpoints/checkpoint-%d/", j.id, step),
			CreatedAt: j.clockAt(p.ckptEnd(e)),
		}
		if p.hasVal {
			v := p.validationLoss(e)
			c.ValidationLoss = &v
		}
		l.Checkpoints = append(l.Checkpoints, c)
	}
	writeJSON(w, http.StatusOK, l)
}

// Jobs lists the cluster ids of the jobs the simulator knows (forgotten
// ones included), oldest first — for tests and the local stack.
func (s *Sim) Jobs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	js := make([]*job, 0, len(s.jobs))
	for _, j := range s.jobs {
		js = append(js, j)
	}
	sort.Slice(js, func(a, b int) bool { return js[a].created.Before(js[b].created) })
	ids := make([]string, len(js))
	for i, j := range js {
		ids[i] = j.id
	}
	return ids
}

// sign returns the signature of a download URL.
func (s *Sim) sign(id, name string, expires int64) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s/%s/%d", id, name, expires)
	return hex.EncodeToString(m.Sum(nil))
}
