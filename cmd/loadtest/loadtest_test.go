package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestParseMix(t *testing.T) {
	ws, err := parseMix(" metrics=2, list=1 ,get=2,logs=0")
	if err != nil {
		t.Fatal(err)
	}
	want := []weight{{epList, 1}, {epGet, 2}, {epMetrics, 2}} // endpoint order, zero dropped
	if !slices.Equal(ws, want) {
		t.Fatalf("got %v, want %v", ws, want)
	}
	if got := mixString(ws); got != "list 20%, get 40%, metrics 40%" {
		t.Errorf("mixString: %q", got)
	}
	for _, bad := range []string{"", "list=0", "list", "list=x", "list=-1", "list=1,list=2", "stream=1", "get=101"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q): no error", bad)
		}
	}
}

func TestSequenceSpreadsWeights(t *testing.T) {
	seq := sequence([]weight{{epList, 1}, {epGet, 2}, {epMetrics, 2}})
	if got := strings.Join(seq, " "); got != "get metrics list get metrics" {
		t.Errorf("1,2,2: got %q", got)
	}
	// Counts follow the weights and no endpoint repeats back to back while
	// another is due.
	seq = sequence([]weight{{epList, 1}, {epGet, 3}, {epMetrics, 3}, {epLogs, 1}})
	counts := map[string]int{}
	for i, ep := range seq {
		counts[ep]++
		if i > 0 && seq[i-1] == ep {
			t.Errorf("%s twice in a row in %v", ep, seq)
		}
	}
	if len(seq) != 8 || counts[epList] != 1 || counts[epGet] != 3 || counts[epMetrics] != 3 || counts[epLogs] != 1 {
		t.Errorf("counts %v in %v", counts, seq)
	}
}

func TestPlan(t *testing.T) {
	seq := []string{epGet, epMetrics, epList}
	// Over many requests every client sends the mix in proportion and
	// visits each of its user's jobs equally.
	for c := range 7 {
		eps, jobs := map[string]int{}, map[int]int{}
		for n := range 3 * 4 * 10 {
			s := plan(seq, c, n, 4)
			eps[s.Endpoint]++
			jobs[s.Job]++
		}
		if eps[epGet] != 40 || eps[epMetrics] != 40 || eps[epList] != 40 {
			t.Errorf("client %d: endpoints %v", c, eps)
		}
		if jobs[0] != 30 || jobs[1] != 30 || jobs[2] != 30 || jobs[3] != 30 {
			t.Errorf("client %d: jobs %v", c, jobs)
		}
	}
	// Clients start at different points of the cycle.
	if plan(seq, 0, 0, 4).Endpoint == plan(seq, 1, 0, 4).Endpoint {
		t.Error("clients 0 and 1 start with the same endpoint")
	}
	if s := plan(seq, 3, 5, 0); s.Job != 0 {
		t.Errorf("no jobs: job %d", s.Job)
	}
}

func TestPathAndClassifyAgree(t *testing.T) {
	for _, ep := range endpointOrder {
		u := "http://127.0.0.1:8080" + path(ep, "01JOB", 500)
		if got := classify(u); got != ep {
			t.Errorf("classify(%s) = %s, want %s", u, got, ep)
		}
	}
	if got := path(epMetrics, "a b", 40); got != "/api/jobs/a%20b/metrics?max_points=40" {
		t.Errorf("metrics path: %s", got)
	}
	for _, u := range []string{"http://x/api/me", "http://x/api/jobs/1/cancel", "http://x/api/jobs/1/stream/x", "::"} {
		if got := classify(u); got != "other" {
			t.Errorf("classify(%s) = %s, want other", u, got)
		}
	}
}

func TestChoose(t *testing.T) {
	cases := []struct {
		cs   []candidate
		want int
	}{
		{nil, -1},
		{[]candidate{{false, 0}, {true, 3}, {true, 2}}, 2},   // live first, least watched
		{[]candidate{{false, 5}, {false, 1}, {false, 1}}, 1}, // no live: least watched finished, first on ties
		{[]candidate{{true, 1}, {false, 0}}, 0},
	}
	for _, c := range cases {
		if got := choose(c.cs); got != c.want {
			t.Errorf("choose(%v) = %d, want %d", c.cs, got, c.want)
		}
	}
}

func TestRegistryWatchSpreadsStreams(t *testing.T) {
	r := newRegistry(make([]user, 2))
	r.add(0, jobWith("done", "completed"), false)
	r.add(0, jobWith("a", "running"), true)
	r.add(1, jobWith("b", "queued"), true)
	got := map[string]int{}
	for range 6 {
		j, ok := r.watch()
		if !ok {
			t.Fatal("no job")
		}
		got[j.ID]++
	}
	if got["a"] != 3 || got["b"] != 3 || got["done"] != 0 {
		t.Errorf("watchers: %v, want 3 on each live job", got)
	}
	r.setStatus("a", "completed")
	r.setStatus("b", "failed")
	r.unwatch("a")
	if j, _ := r.watch(); j.ID != "done" {
		t.Errorf("with no live job: got %s, want the least watched finished one", j.ID)
	}
	if id, n := r.userJob(0, 3); n != 2 || id != "a" {
		t.Errorf("userJob(0, 3) = %s, %d", id, n)
	}
}

func TestQuantile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6} // 1..10, unsorted
	for q, want := range map[float64]time.Duration{0: 1, 0.5: 5, 0.9: 9, 0.95: 10, 0.99: 10, 1: 10} {
		if got := quantile(ds, q); got != want {
			t.Errorf("q%.2f: got %d, want %d", q, got, want)
		}
	}
	if ds[0] != 5 {
		t.Error("quantile sorted its input")
	}
	if quantile(nil, 0.5) != 0 || intQuantile([]int{3, 1, 2}, 0.5) != 2 {
		t.Error("empty or int quantile")
	}
}

func TestPeakInFlight(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	spans := []span{
		{at(0), at(10)},
		{at(5), at(15)},
		{at(10), at(20)}, // starts as the first ends: not three at once
		{at(12), at(13)},
	}
	if got := peakInFlight(spans); got != 3 { // 5..10: two; 12..13: three (2nd, 3rd, 4th)
		t.Errorf("got %d, want 3", got)
	}
	if peakInFlight(nil) != 0 {
		t.Error("no spans")
	}
}

func TestParseCPULine(t *testing.T) {
	busy, total, ok := parseCPULine("cpu  100 5 50 800 40 3 2 0 7 0\n")
	if !ok || total != 1000 || busy != 160 { // idle 800 + iowait 40 are not busy; guest (7) is inside user
		t.Errorf("got busy %d, total %d, ok %v", busy, total, ok)
	}
	if _, _, ok := parseCPULine("cpu0 1 2 3 4"); ok {
		t.Error("a per-CPU line accepted")
	}
}

func TestRateSearch(t *testing.T) {
	// capacity is the true limit: a step passes at or below it.
	run := func(start, capacity, limit int) (best int, tried []int) {
		s := newRateSearch(start, 1.5, 2, limit)
		for range 50 {
			r := s.rate()
			tried = append(tried, r)
			if s.record(r <= capacity) {
				return s.best(), tried
			}
		}
		t.Fatalf("did not end: %v", tried)
		return 0, nil
	}
	best, tried := run(100, 260, 2000)
	if !slices.Equal(tried, []int{100, 150, 225, 338, 281, 253}) || best != 253 {
		t.Errorf("capacity 260: tried %v, best %d", tried, best)
	}
	if best, tried := run(100, 50, 2000); best != 0 || len(tried) != 1 {
		t.Errorf("nothing passes: tried %v, best %d", tried, best)
	}
	if best, tried := run(100, 1e6, 400); best != 400 || tried[len(tried)-1] != 400 {
		t.Errorf("limit 400: tried %v, best %d", tried, best)
	}
}

func TestEvaluate(t *testing.T) {
	metrics := func(p95 time.Duration, rate float64) *vegeta.Metrics {
		m := &vegeta.Metrics{Rate: rate, Requests: 3000}
		m.Latencies.P95 = p95
		return m
	}
	g := goals{P95: 50 * time.Millisecond, RateShare: 0.95, OpenShare: 0.9}
	ok := stepResult{
		Rate: 100, Total: metrics(20*time.Millisecond, 99.9),
		PerEndpoint: map[string]*vegeta.Metrics{epGet: metrics(10*time.Millisecond, 40), epMetrics: metrics(40*time.Millisecond, 40)},
		Gauge:       []gauge{{Open: 50}, {Open: 46}, {Open: 49}},
	}
	if cs := evaluate(ok, 50, g, true); !passed(cs) {
		t.Fatalf("all within the goal: %+v", cs)
	}
	missed := func(name string, r stepResult, withStreams bool) {
		t.Helper()
		cs := evaluate(r, 50, g, withStreams)
		for _, c := range cs {
			if c.Name == name && !c.OK {
				if passed(cs) {
					t.Errorf("%s missed but passed", name)
				}
				return
			}
		}
		t.Errorf("%s: not missed in %+v", name, cs)
	}
	r := ok
	r.PerEndpoint = map[string]*vegeta.Metrics{epMetrics: metrics(51*time.Millisecond, 40)}
	missed("p95 metrics", r, true) // one slow endpoint is enough
	r = ok
	r.APIErrors = 1
	missed("API errors", r, true)
	r = ok
	r.Total = metrics(20*time.Millisecond, 90)
	missed("rate", r, true)
	r = ok
	r.Gauge = []gauge{{Open: 4}, {Open: 4}, {Open: 50}}
	missed("streams open", r, true)
	if !passed(evaluate(r, 50, g, false)) {
		t.Error("the rate search does not judge open streams")
	}
	r.Streams.Errors = 2
	missed("stream errors", r, false)
}

func TestReadSSE(t *testing.T) {
	body := "retry: 2000\n\nid: 1\nevent: stage\ndata: {\"a\":1}\n\n: heartbeat\n\nid: 2\nevent: metrics\ndata: x\ndata: y\n\nevent: complete\ndata: {}\n\n"
	var got []sseEvent
	beats := 0
	var retry time.Duration
	err := readSSE(strings.NewReader(body), sseHandler{
		Event:   func(e sseEvent) { got = append(got, e) },
		Comment: func() { beats++ },
		Retry:   func(d time.Duration) { retry = d },
	})
	want := []sseEvent{{"1", "stage", `{"a":1}`}, {"2", "metrics", "x\ny"}, {"2", "complete", "{}"}}
	if err != nil || !slices.Equal(got, want) || beats != 1 || retry != 2*time.Second {
		t.Errorf("got %v (err %v), %d heartbeats, retry %s; want %v", got, err, beats, retry, want)
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":      "http://127.0.0.1:8080",
		"http://127.0.0.1:18080/api": "http://127.0.0.1:18080",
		"http://localhost:8080/":     "http://localhost:8080",
		"http://[::1]:8080/api/":     "http://[::1]:8080",
	} {
		if got, err := apiBase(in); err != nil || got != want {
			t.Errorf("apiBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://example.com", "127.0.0.1:8080", "ftp://127.0.0.1"} {
		if _, err := apiBase(bad); err == nil {
			t.Errorf("apiBase(%q): no error", bad)
		}
	}
}

func jobWith(id, status string) jobView { return jobView{ID: id, Status: jobStatus(status)} }
