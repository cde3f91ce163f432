package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID, Name, Data string
}

// sseHandler receives what readSSE parses.
type sseHandler struct {
	Event   func(sseEvent)
	Comment func()              // a heartbeat (": …")
	Retry   func(time.Duration) // the server's reconnection delay
}

// readSSE parses a text/event-stream body until it ends: an event is
// dispatched at the blank line after its data, as EventSource does. It
// returns nil at a clean end and the read error otherwise.
func readSSE(r io.Reader, h sseHandler) error {
	sc := bufio.NewScanner(r)
	// A first page of a finished job's feed can carry hundreds of metric
	// points in one data line.
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var cur sseEvent
	hasData := false
	for sc.Scan() {
		line := sc.Text()
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch {
		case line == "":
			if hasData && h.Event != nil {
				h.Event(cur)
			}
			cur, hasData = sseEvent{ID: cur.ID}, false // the id carries over, as in EventSource
		case field == "":
			if h.Comment != nil {
				h.Comment()
			}
		case field == "id":
			cur.ID = value
		case field == "event":
			cur.Name = value
		case field == "data":
			if hasData {
				cur.Data += "\n"
			}
			cur.Data += value
			hasData = true
		case field == "retry":
			if ms, err := strconv.Atoi(value); err == nil && h.Retry != nil {
				h.Retry(time.Duration(ms) * time.Millisecond)
			}
		}
	}
	return sc.Err()
}

// streamStats counts what the stream clients saw.
type streamStats struct {
	open    atomic.Int64 // streams with their headers received, still reading
	waiting atomic.Int64 // streams sent, no headers yet

	mu          sync.Mutex
	opened      int64 // requests sent
	ok          int64 // 200 text/event-stream
	codes       map[int]int64
	errs        map[string]int64 // kind → count
	errSample   map[string]string
	events      int64
	heartbeats  int64
	completed   int64 // streams that ended with the job's complete event
	cutWaiting  int64 // streams still waiting for headers when the run ended
	ttfb, ttfe  []time.Duration
	samples     []gauge
	longestWait time.Duration
}

// gauge is one sample of how many streams are open and how many wait.
type gauge struct {
	At            time.Time
	Open, Waiting int
}

func newStreamStats() *streamStats {
	return &streamStats{codes: map[int]int64{}, errs: map[string]int64{}, errSample: map[string]string{}}
}

func (s *streamStats) fail(kind, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs[kind]++
	if _, ok := s.errSample[kind]; !ok {
		s.errSample[kind] = msg
	}
}

// snapshot is the counters at one moment (for per-step differences).
type streamSnap struct {
	Opened, OK, Errors, Events, Heartbeats, Completed int64
}

func (s *streamStats) snap() streamSnap {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs int64
	for _, n := range s.errs {
		errs += n
	}
	return streamSnap{s.opened, s.ok, errs, s.events, s.heartbeats, s.completed}
}

func (a streamSnap) sub(b streamSnap) streamSnap {
	return streamSnap{a.Opened - b.Opened, a.OK - b.OK, a.Errors - b.Errors, a.Events - b.Events, a.Heartbeats - b.Heartbeats, a.Completed - b.Completed}
}

// sample records the gauge every interval until ctx ends.
func (s *streamStats) sample(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			g := gauge{At: now, Open: int(s.open.Load()), Waiting: int(s.waiting.Load())}
			s.mu.Lock()
			s.samples = append(s.samples, g)
			s.mu.Unlock()
		}
	}
}

// window returns the gauge samples taken in [from, to).
func (s *streamStats) window(from, to time.Time) []gauge {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []gauge
	for _, g := range s.samples {
		if !g.At.Before(from) && g.At.Before(to) {
			out = append(out, g)
		}
	}
	return out
}

// streamer runs the stream clients.
type streamer struct {
	base   string
	http   *http.Client
	reg    *registry
	stats  *streamStats
	retry0 time.Duration // before the server says otherwise (EventSource's default is ~3 s; our server sends 2 s)
}

// client is one browser tab watching jobs: it opens a job's stream, reads
// it until the job completes, then (after the server's retry delay, as
// EventSource would) opens the stream of another job. A stream that breaks
// is reopened on the same job with Last-Event-ID, as EventSource does.
func (st *streamer) client(ctx context.Context) {
	retry := st.retry0
	for ctx.Err() == nil {
		ref, ok := st.reg.watch()
		if !ok {
			_ = sleep(ctx, time.Second)
			continue
		}
		token := st.reg.users[ref.User].Token
		lastID := ""
		for ctx.Err() == nil {
			out := st.once(ctx, ref.ID, token, lastID)
			if out.retry > 0 {
				retry = out.retry
			}
			if out.terminal != "" || out.status != http.StatusOK || out.canceled {
				break
			}
			lastID = out.lastID // broken: resume where it stopped
			if sleep(ctx, retry) != nil {
				break
			}
		}
		st.reg.unwatch(ref.ID)
		_ = sleep(ctx, retry)
	}
}

// result of one stream request.
type streamOutcome struct {
	status   int
	terminal string // "complete" or "error" if the stream ended with one
	lastID   string
	retry    time.Duration
	canceled bool // the run ended first
}

func (st *streamer) once(ctx context.Context, jobID, token, lastID string) streamOutcome {
	s := st.stats
	var out streamOutcome
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.base+"/api/jobs/"+jobID+"/stream", nil)
	if err != nil {
		s.fail("request", err.Error())
		return out
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	s.mu.Lock()
	s.opened++
	s.mu.Unlock()

	start := time.Now()
	s.waiting.Add(1)
	res, err := st.http.Do(req)
	s.waiting.Add(-1)
	waited := time.Since(start)
	s.mu.Lock()
	s.longestWait = max(s.longestWait, waited)
	s.mu.Unlock()
	if err != nil {
		out.canceled = ctx.Err() != nil
		if out.canceled {
			s.mu.Lock()
			s.cutWaiting++
			s.mu.Unlock()
		} else {
			s.fail("transport", err.Error())
		}
		return out
	}
	defer res.Body.Close()
	out.status = res.StatusCode
	s.mu.Lock()
	s.codes[res.StatusCode]++
	s.ttfb = append(s.ttfb, waited)
	s.mu.Unlock()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 300))
		s.fail(fmt.Sprintf("status %d", res.StatusCode), strings.TrimSpace(string(b)))
		return out
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		s.fail("content-type", ct)
		out.status = 0
		return out
	}
	s.mu.Lock()
	s.ok++
	s.mu.Unlock()

	s.open.Add(1)
	defer s.open.Add(-1)
	first := true
	var errData string
	err = readSSE(res.Body, sseHandler{
		Event: func(e sseEvent) {
			s.mu.Lock()
			s.events++
			if first {
				s.ttfe = append(s.ttfe, time.Since(start))
				first = false
			}
			s.mu.Unlock()
			out.lastID = e.ID
			switch e.Name {
			case feedComplete:
				out.terminal = e.Name
				st.reg.setStatus(jobID, statusCompleted) // the keeper corrects cancelled ones
			case feedError:
				out.terminal, errData = e.Name, e.Data
				st.reg.setStatus(jobID, statusFailed)
			}
		},
		Comment: func() {
			s.mu.Lock()
			s.heartbeats++
			s.mu.Unlock()
		},
		Retry: func(d time.Duration) { out.retry = d },
	})
	switch {
	case ctx.Err() != nil:
		out.canceled = true // the run ended while reading: not an error
	case err != nil && !errors.Is(err, io.EOF):
		s.fail("broken", err.Error())
	case out.terminal == feedError:
		// No faults are injected, so a failed job or a failed feed read is
		// an error either way.
		s.fail("error event", errData)
	case out.terminal == "":
		s.fail("ended early", "the stream closed before the job's complete event")
	default:
		s.mu.Lock()
		s.completed++
		s.mu.Unlock()
	}
	return out
}

// quantile is the nearest-rank q-quantile of ds (sorted or not); 0 for
// none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(q*float64(len(s)) + 0.999999999) // ceil, without float noise on exact ranks
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

// intQuantile is quantile for counts.
func intQuantile(xs []int, q float64) int {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = time.Duration(x)
	}
	return int(quantile(ds, q))
}
