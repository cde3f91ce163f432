package gpusim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

// Faults are simulator-wide: bursts that hit the next requests, and job
// faults for the next submissions. POST /_sim/faults takes the same JSON.
type Faults struct {
	// Errors: the next Count requests answer Status (default 503) with the
	// error body; a 429 (or any status with RetryAfterSeconds) carries
	// Retry-After.
	Errors *ErrorBurst `json:"errors,omitempty"`
	// Delays: the next Count requests wait Delay (real time, whatever the
	// clock) before being served — a client with a shorter timeout times
	// out, and the request still takes effect, as on a slow server.
	Delays *DelayBurst `json:"delays,omitempty"`
	// Cuts: the next Count downloads are cut (the connection dropped) after
	// AfterBytes bytes of the body.
	Cuts *CutBurst `json:"cuts,omitempty"`
	// NextJobs: the next submissions that create a job take these faults,
	// one each, in order (appended to those still waiting).
	NextJobs []JobFault `json:"next_jobs,omitempty"`
}

// Targets of a burst.
const (
	targetAPI   = "api"   // /v1 (the default)
	targetFiles = "files" // artifact downloads
	targetAll   = "all"
)

// ErrorBurst makes the next Count requests fail.
type ErrorBurst struct {
	Count             int    `json:"count"`
	Status            int    `json:"status,omitempty"` // 500–599 or 429; default 503
	RetryAfterSeconds int    `json:"retry_after_seconds,omitempty"`
	Target            string `json:"target,omitempty"` // api (default), files, all
}

// DelayBurst makes the next Count requests slow.
type DelayBurst struct {
	Count   int    `json:"count"`
	DelayMS int    `json:"delay_ms"`
	Target  string `json:"target,omitempty"` // api (default), files, all
}

// CutBurst cuts the next Count downloads short.
type CutBurst struct {
	Count      int   `json:"count"`
	AfterBytes int64 `json:"after_bytes"`
}

// JobFault is what goes wrong with one job. Fail and forget may be
// combined; the earlier happens.
type JobFault struct {
	// The job fails when its progress reaches FailAtProgress (0–100), or
	// while running step FailAtStep (1-based); at most one of the two.
	FailAtProgress *float64 `json:"fail_at_progress,omitempty"`
	FailAtStep     int      `json:"fail_at_step,omitempty"`
	// FailCode and FailReason are the job's error; "{step}" in the reason
	// is replaced by the step it failed in. Defaults: CUDA_OOM and a CUDA
	// out-of-memory message.
	FailCode   string `json:"fail_code,omitempty"`
	FailReason string `json:"fail_reason,omitempty"`
	// The cluster forgets the job (404 from then on) when its progress
	// reaches ForgetAtProgress, or at once with ForgetNow.
	ForgetAtProgress *float64 `json:"forget_at_progress,omitempty"`
	ForgetNow        bool     `json:"forget_now,omitempty"`
}

// Job id prefixes that bring a fault without any set-up.
const (
	PrefixFail   = "fail-"   // fails with CUDA out of memory in the middle step of the run
	PrefixForget = "forget-" // forgotten at 50 % progress
)

func (f JobFault) validate() error {
	switch {
	case f.FailAtProgress != nil && f.FailAtStep != 0:
		return fmt.Errorf("fail_at_progress and fail_at_step exclude each other")
	case f.FailAtProgress != nil && (math.IsNaN(*f.FailAtProgress) || *f.FailAtProgress < 0 || *f.FailAtProgress > 100):
		return fmt.Errorf("fail_at_progress must be 0–100")
	case f.FailAtStep < 0:
		return fmt.Errorf("fail_at_step must be positive")
	case f.ForgetAtProgress != nil && (math.IsNaN(*f.ForgetAtProgress) || *f.ForgetAtProgress < 0 || *f.ForgetAtProgress > 100):
		return fmt.Errorf("forget_at_progress must be 0–100")
	}
	return nil
}

func (b *ErrorBurst) validate() error {
	if b == nil {
		return nil
	}
	if b.Count < 0 || (b.Status != 0 && b.Status != http.StatusTooManyRequests && (b.Status < 500 || b.Status > 599)) || b.RetryAfterSeconds < 0 {
		return fmt.Errorf("errors: count ≥ 0, status 429 or 500–599, retry_after_seconds ≥ 0")
	}
	return validTarget(b.Target)
}

func validTarget(t string) error {
	switch t {
	case "", targetAPI, targetFiles, targetAll:
		return nil
	}
	return fmt.Errorf("target must be api, files or all")
}

// faultState is what remains of the bursts (under Sim.mu).
type faultState struct {
	errors ErrorBurst
	delays DelayBurst
	cuts   CutBurst
	next   []JobFault
}

func (fs *faultState) set(f Faults) {
	if f.Errors != nil {
		fs.errors = *f.Errors
	}
	if f.Delays != nil {
		fs.delays = *f.Delays
	}
	if f.Cuts != nil {
		fs.cuts = *f.Cuts
	}
	fs.next = append(fs.next, f.NextJobs...)
}

func (fs *faultState) get() Faults {
	e, d, c := fs.errors, fs.delays, fs.cuts
	return Faults{Errors: &e, Delays: &d, Cuts: &c, NextJobs: append([]JobFault{}, fs.next...)}
}

func hits(target, route string) bool {
	if target == "" {
		target = targetAPI
	}
	return target == targetAll || target == route
}

// SetFaults adds to the simulator's faults (bursts given replace the
// current ones; next-job faults are appended).
func (s *Sim) SetFaults(f Faults) error {
	if err := f.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.set(f)
	return nil
}

// Faults returns what remains of the simulator-wide faults.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.get()
}

// ClearFaults removes every simulator-wide fault (jobs keep theirs).
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faultState{}
}

// SetJobFault gives a job a fault; id is the cluster's id or our job id.
// A moment already past takes effect now.
func (s *Sim) SetJobFault(id string, f JobFault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		j = s.byJobID[id]
	}
	now := s.now()
	if j == nil || j.forgotten(j.offset(now)) {
		return fmt.Errorf("gpusim: no job %q", id)
	}
	j.apply(f, j.offset(now))
	return nil
}

func (f Faults) check() error {
	if err := f.Errors.validate(); err != nil {
		return err
	}
	if d := f.Delays; d != nil {
		if d.Count < 0 || d.DelayMS < 0 {
			return fmt.Errorf("delays: count and delay_ms ≥ 0")
		}
		if err := validTarget(d.Target); err != nil {
			return err
		}
	}
	if c := f.Cuts; c != nil && (c.Count < 0 || c.AfterBytes < 0) {
		return fmt.Errorf("cuts: count and after_bytes ≥ 0")
	}
	for _, jf := range f.NextJobs {
		if err := jf.validate(); err != nil {
			return err
		}
	}
	return nil
}

// faultFor is the fault a new job takes: its id's prefix, else the next
// queued job fault (under s.mu).
func (s *Sim) faultFor(jobID string, p *plan) (JobFault, bool) {
	switch {
	case strings.HasPrefix(jobID, PrefixFail):
		return JobFault{FailAtStep: max(1, ceilDiv(p.total, 2))}, true
	case strings.HasPrefix(jobID, PrefixForget):
		half := 50.0
		return JobFault{ForgetAtProgress: &half}, true
	case len(s.faults.next) > 0:
		f := s.faults.next[0]
		s.faults.next = s.faults.next[1:]
		return f, true
	}
	return JobFault{}, false
}

// apply sets a job's fault; no moment is earlier than now (offset x).
func (j *job) apply(f JobFault, x float64) {
	p := j.p
	fail := math.Inf(1)
	switch {
	case f.FailAtStep > 0:
		s := min(f.FailAtStep, p.total)
		fail = p.stepTime(s) - p.stepDur/2 // while running step s
	case f.FailAtProgress != nil:
		fail = p.atProgress(*f.FailAtProgress)
	}
	if !math.IsInf(fail, 1) {
		fail = max(fail, x)
		if fail < j.failAt {
			j.failAt = fail
			_, _, done := p.at(fail)
			running := min(p.total, done+1)
			code, reason := f.FailCode, f.FailReason
			if code == "" {
				code = "CUDA_OOM"
			}
			if reason == "" {
				reason = fmt.Sprintf("CUDA out of memory at step {step}: tried to allocate 2.00 GiB (GPU 0; %d GiB total capacity; %.2f GiB already allocated)",
					p.gpu.MemoryGB, float64(p.gpu.MemoryGB)*0.97)
			}
			j.failCode, j.failReason = code, strings.ReplaceAll(reason, "{step}", strconv.Itoa(running))
		}
	}
	switch {
	case f.ForgetNow:
		j.forgetAt = min(j.forgetAt, x)
	case f.ForgetAtProgress != nil:
		j.forgetAt = min(j.forgetAt, max(x, p.atProgress(*f.ForgetAtProgress)))
	}
}

// withFaults applies the bursts to requests of one route group.
func (s *Sim) withFaults(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		fs := &s.faults
		var delay time.Duration
		if fs.delays.Count > 0 && hits(fs.delays.Target, route) {
			fs.delays.Count--
			delay = time.Duration(fs.delays.DelayMS) * time.Millisecond
		}
		var fail *ErrorBurst
		if fs.errors.Count > 0 && hits(fs.errors.Target, route) {
			fs.errors.Count--
			e := fs.errors
			fail = &e
		}
		var cut int64 = -1
		if route == targetFiles && fs.cuts.Count > 0 {
			fs.cuts.Count--
			cut = fs.cuts.AfterBytes
		}
		s.mu.Unlock()

		if delay > 0 {
			s.o.Logger.Info("gpusim: fault: slow response", "path", r.URL.Path, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if fail != nil {
			status := fail.Status
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			ra := fail.RetryAfterSeconds
			if status == http.StatusTooManyRequests && ra == 0 {
				ra = 1
			}
			if ra > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(ra))
			}
			code, msg := gpucluster.CodeUnavailable, "the cluster is temporarily unavailable (injected fault)"
			switch {
			case status == http.StatusTooManyRequests:
				code, msg = gpucluster.CodeRateLimited, "too many requests (injected fault)"
			case status == http.StatusInternalServerError:
				code, msg = gpucluster.CodeInternal, "internal error (injected fault)"
			}
			s.o.Logger.Info("gpusim: fault: error", "path", r.URL.Path, "status", status)
			writeError(w, status, code, msg)
			return
		}
		if cut >= 0 {
			s.o.Logger.Info("gpusim: fault: download cut", "path", r.URL.Path, "after_bytes", cut)
			w = &cutWriter{ResponseWriter: w, left: cut}
		}
		h.ServeHTTP(w, r)
	})
}

// cutWriter drops the connection after left bytes of body.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		return c.ResponseWriter.Write(b)
	}
	n, _ := c.ResponseWriter.Write(b[:c.left])
	c.left = 0
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	_ = n
	panic(http.ErrAbortHandler)
}

func (s *Sim) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

func (s *Sim) postFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSubmitBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, "body: "+err.Error())
		return
	}
	if err := s.SetFaults(f); err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, err.Error())
		return
	}
	s.getFaults(w, r)
}

func (s *Sim) deleteFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	s.getFaults(w, r)
}

func (s *Sim) postJobFault(w http.ResponseWriter, r *http.Request) {
	var f JobFault
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSubmitBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, "body: "+err.Error())
		return
	}
	if err := f.validate(); err != nil {
		writeError(w, http.StatusBadRequest, gpucluster.CodeInvalidRequest, err.Error())
		return
	}
	if err := s.SetJobFault(r.PathValue("id"), f); err != nil {
		writeError(w, http.StatusNotFound, gpucluster.CodeJobNotFound, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
