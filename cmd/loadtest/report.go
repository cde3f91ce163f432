package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// stepResult is what one attack at one rate measured.
type stepResult struct {
	Rate         int
	Duration     time.Duration
	Total        *vegeta.Metrics
	PerEndpoint  map[string]*vegeta.Metrics
	PeakInFlight int
	APIErrors    int     // transport errors and non-2xx answers
	CPUBusy      float64 // share of all cores busy on this machine, -1 if unknown
	Streams      streamSnap
	Gauge        []gauge
	SideErrors   int // set-up/keeper calls that failed during the step
}

// span is one request's time on the wire.
type span struct{ Start, End time.Time }

// peakInFlight is the largest number of spans open at one instant: how many
// requests the open-model attacker really had outstanding at worst (an end
// and a start at the same instant do not overlap).
func peakInFlight(spans []span) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, s := range spans {
		edges = append(edges, edge{s.Start, +1}, edge{s.End, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta // ends first
		}
		return edges[i].at.Before(edges[j].at)
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak
}

// cpuTimes reads the machine's aggregate CPU counters (Linux /proc/stat):
// busy and total jiffies. ok is false elsewhere.
func cpuTimes() (busy, total uint64, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, 0, false
	}
	return parseCPULine(line)
}

// parseCPULine reads "cpu  user nice system idle iowait irq softirq steal
// …": idle and iowait are not busy; guest time is already in user.
func parseCPULine(line string) (busy, total uint64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	var vals []uint64
	for _, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		vals = append(vals, v)
	}
	n := min(len(vals), 8) // user … steal; guest and guest_nice are inside user
	var idle uint64
	for i := range n {
		total += vals[i]
		if i == 3 || i == 4 {
			idle += vals[i]
		}
	}
	return total - idle, total, true
}

// goals are what a run must meet.
type goals struct {
	P95       time.Duration // every endpoint's and the overall p95
	RateShare float64       // achieved ÷ requested rate, at least
	OpenShare float64       // median of sampled open streams ÷ streams wanted, at least
}

// check is one line of the verdict.
type check struct {
	Name, Detail string
	OK           bool
}

// evaluate judges a step against the goals. Streams are judged only when
// withStreams (the rate search judges the API alone, plus stream errors).
func evaluate(r stepResult, streamsWanted int, g goals, withStreams bool) []check {
	var out []check
	add := func(ok bool, name, format string, args ...any) {
		out = append(out, check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	achieved := r.Total.Rate
	add(achieved >= g.RateShare*float64(r.Rate), "rate", "%.1f req/s achieved of %d requested (≥ %.0f%%)", achieved, r.Rate, 100*g.RateShare)
	add(r.Total.Latencies.P95 <= g.P95, "p95 overall", "%s (≤ %s)", ms(r.Total.Latencies.P95), ms(g.P95))
	for _, ep := range sortedKeys(r.PerEndpoint) {
		m := r.PerEndpoint[ep]
		add(m.Latencies.P95 <= g.P95, "p95 "+ep, "%s (≤ %s)", ms(m.Latencies.P95), ms(g.P95))
	}
	add(r.APIErrors == 0, "API errors", "%d of %d requests", r.APIErrors, r.Total.Requests)
	if streamsWanted > 0 {
		add(r.Streams.Errors == 0, "stream errors", "%d", r.Streams.Errors)
		if withStreams {
			open := make([]int, len(r.Gauge))
			for i, gs := range r.Gauge {
				open[i] = gs.Open
			}
			med := intQuantile(open, 0.5)
			add(len(open) > 0 && float64(med) >= g.OpenShare*float64(streamsWanted), "streams open", "median %d of %d wanted (≥ %.0f%%)", med, streamsWanted, 100*g.OpenShare)
		}
	}
	add(r.SideErrors == 0, "other errors", "%d (set-up and job-keeper calls)", r.SideErrors)
	return out
}

func passed(cs []check) bool {
	for _, c := range cs {
		if !c.OK {
			return false
		}
	}
	return true
}

// ms prints a duration in milliseconds with two decimals (seconds above
// 10 s).
func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// printStep prints one attack's figures.
func printStep(w io.Writer, r stepResult, streamsWanted int) {
	m := r.Total
	fmt.Fprintf(w, "API load: %d req/s requested for %s\n", r.Rate, r.Duration)
	fmt.Fprintf(w, "  rate achieved   %.1f req/s (throughput %.1f ok/s), %d requests, peak %d in flight\n", m.Rate, m.Throughput, m.Requests, r.PeakInFlight)
	fmt.Fprintf(w, "  success ratio   %.4f\n", m.Success)
	fmt.Fprintf(w, "  status codes    %s\n", codes(m.StatusCodes))
	if r.CPUBusy >= 0 {
		fmt.Fprintf(w, "  machine CPU     %.0f%% busy of all cores during the attack (everything on this machine, this tool included)\n", 100*r.CPUBusy)
	}
	fmt.Fprintf(w, "\n  %-12s %7s %9s %9s %9s %9s %9s %9s %10s\n", "endpoint", "reqs", "mean", "p50", "p90", "p95", "p99", "max", "bytes/req")
	row := func(name string, m *vegeta.Metrics) {
		l := m.Latencies
		fmt.Fprintf(w, "  %-12s %7d %9s %9s %9s %9s %9s %9s %10.0f\n", name, m.Requests, msShort(l.Mean), msShort(l.P50), msShort(l.P90), msShort(l.P95), msShort(l.P99), msShort(l.Max), m.BytesIn.Mean)
	}
	for _, ep := range sortedKeys(r.PerEndpoint) {
		row(ep, r.PerEndpoint[ep])
	}
	row("all", m)
	fmt.Fprintf(w, "  (milliseconds; percentiles from vegeta's t-digest)\n")
	if len(m.Errors) == 0 {
		fmt.Fprintf(w, "  errors          none\n")
	} else {
		fmt.Fprintf(w, "  errors          %d distinct:\n", len(m.Errors))
		for i, e := range m.Errors {
			if i == 10 {
				fmt.Fprintf(w, "    … %d more\n", len(m.Errors)-10)
				break
			}
			fmt.Fprintf(w, "    %s\n", e)
		}
	}
	if streamsWanted > 0 {
		s := r.Streams
		open, waiting := make([]int, len(r.Gauge)), make([]int, len(r.Gauge))
		for i, g := range r.Gauge {
			open[i], waiting[i] = g.Open, g.Waiting
		}
		fmt.Fprintf(w, "  streams in this window: %d requests sent, %d answers 200 received, %d events, %d heartbeats, %d ran to complete, %d errors\n",
			s.Opened, s.OK, s.Events, s.Heartbeats, s.Completed, s.Errors)
		if len(open) > 0 {
			fmt.Fprintf(w, "  streams open (sampled every 100 ms): min %d, median %d, max %d of %d; waiting for an answer: min %d, median %d, max %d\n",
				intQuantile(open, 0), intQuantile(open, 0.5), intQuantile(open, 1), streamsWanted, intQuantile(waiting, 0), intQuantile(waiting, 0.5), intQuantile(waiting, 1))
		}
	}
}

// printStreams prints the stream clients' totals over the whole run.
func printStreams(w io.Writer, s *streamStats, wanted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(w, "Live streams (%d clients, whole run including warm-up):\n", wanted)
	var cs []string
	keys := make([]int, 0, len(s.codes))
	for k := range s.codes {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		cs = append(cs, fmt.Sprintf("%d×%d", k, s.codes[k]))
	}
	fmt.Fprintf(w, "  requests        %d sent, status %s, %d still waiting for an answer when the run ended\n", s.opened, orNone(strings.Join(cs, " ")), s.cutWaiting)
	fmt.Fprintf(w, "  events          %d (+ %d heartbeats); %d streams ran to the job's complete event\n", s.events, s.heartbeats, s.completed)
	fmt.Fprintf(w, "  time to headers p50 %s, p95 %s, max %s (longest wait, answered or not: %s)\n", ms(quantile(s.ttfb, 0.5)), ms(quantile(s.ttfb, 0.95)), ms(quantile(s.ttfb, 1)), ms(s.longestWait))
	fmt.Fprintf(w, "  to first event  p50 %s, p95 %s, max %s\n", ms(quantile(s.ttfe, 0.5)), ms(quantile(s.ttfe, 0.95)), ms(quantile(s.ttfe, 1)))
	peakOpen, peakWaiting := 0, 0
	for _, g := range s.samples {
		peakOpen, peakWaiting = max(peakOpen, g.Open), max(peakWaiting, g.Waiting)
	}
	fmt.Fprintf(w, "  concurrency     at most %d streams open at once, at most %d waiting for an answer at once\n", peakOpen, peakWaiting)
	if peakOpen < wanted && s.cutWaiting > 0 {
		fmt.Fprintf(w, "                  (streams waited with no answer while %d were open: the server serves only so many at once)\n", peakOpen)
	}
	if len(s.errs) == 0 {
		fmt.Fprintf(w, "  errors          none\n")
		return
	}
	kinds := make([]string, 0, len(s.errs))
	for k := range s.errs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  error %-10s %d (e.g. %.200s)\n", k, s.errs[k], s.errSample[k])
	}
}

func printChecks(w io.Writer, cs []check) {
	for _, c := range cs {
		mark := "ok  "
		if !c.OK {
			mark = "MISS"
		}
		fmt.Fprintf(w, "  %s %-16s %s\n", mark, c.Name, c.Detail)
	}
}

func msShort(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

func codes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if k == "0" {
			name = "0 (no answer)"
		}
		parts[i] = fmt.Sprintf("%s×%d", name, m[k])
	}
	return orNone(strings.Join(parts, " "))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
