// Command loadtest measures the monitoring API of a running local platform
// (`make dev`): 100 clients polling job lists, job details and metric
// histories like monitoring pages, in an open model with vegeta, while 50
// clients hold live job streams (Server-Sent Events). It prepares its own
// data through the API first: users, datasets, training jobs.
//
//	go run ./cmd/loadtest [-api http://127.0.0.1:8080] [-duration 30s] [-rate 200] [-max]
//
// It prints the figures for docs/performance.md and exits 1 when the goal
// (p95 ≤ 50 ms, zero errors, the streams open) is missed, unless -goal=false.
// It talks only to the given loopback API and the S3 URLs the API presigns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// config is every flag.
type config struct {
	API         string
	Users       int
	DatasetKB   int
	JobsPerUser int
	SetupWait   time.Duration

	Clients    int
	ClientRate float64
	Rate       int
	Duration   time.Duration
	Warmup     time.Duration
	Mix        string
	MaxPoints  int
	Timeout    time.Duration

	Streams  int
	LiveJobs int

	Goal      bool
	GoalP95   time.Duration
	GoalOpen  float64
	GoalRate  float64
	Max       bool
	MaxFactor float64
	MaxBisect int
	MaxLimit  int
	Step      time.Duration
	Cooldown  time.Duration
}

func main() {
	code, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.StringVar(&c.API, "api", "http://127.0.0.1:8080", "base URL of the local API (a loopback address; with or without /api)")
	fs.IntVar(&c.Users, "users", 10, "users to sign up; clients are spread over them")
	fs.IntVar(&c.DatasetKB, "dataset-kb", 2048, "size of each user's generated dataset, KiB (a 2 MiB run lasts ~15–30 s at the simulator's 100×)")
	fs.IntVar(&c.JobsPerUser, "jobs-per-user", 1, "jobs each user starts during set-up")
	fs.DurationVar(&c.SetupWait, "setup-wait", 90*time.Second, "how long set-up waits for each user to have a finished job")
	fs.IntVar(&c.Clients, "clients", 100, "concurrent monitoring clients")
	fs.Float64Var(&c.ClientRate, "client-rate", 1, "requests per second of each client")
	fs.IntVar(&c.Rate, "rate", 0, "total requests per second (0: clients × client-rate); the start rate of -max")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "length of the attack")
	fs.DurationVar(&c.Warmup, "warmup", 5*time.Second, "streams and job keeper run this long before the attack")
	fs.StringVar(&c.Mix, "mix", "list=1,get=2,metrics=2", "weights of list, get, metrics, logs, events, checkpoints in each client's cycle")
	fs.IntVar(&c.MaxPoints, "max-points", 500, "max_points of the metrics calls")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout of the API load")
	fs.IntVar(&c.Streams, "streams", 50, "concurrent live SSE stream clients (0: none)")
	fs.IntVar(&c.LiveJobs, "live-jobs", 5, "jobs kept active during the run so streams follow running jobs (0: none)")
	fs.BoolVar(&c.Goal, "goal", true, "exit 1 when the goal is missed (false: exit 0 whenever the measurement ran)")
	fs.DurationVar(&c.GoalP95, "goal-p95", 50*time.Millisecond, "goal: p95 overall and per endpoint at most this")
	fs.Float64Var(&c.GoalOpen, "goal-open", 0.9, "goal: median of the sampled open streams at least this share of -streams")
	fs.Float64Var(&c.GoalRate, "goal-rate", 0.95, "goal: achieved rate at least this share of the requested")
	fs.BoolVar(&c.Max, "max", false, "find the highest rate meeting the API goal: steps up from -rate by -max-factor, then bisects")
	fs.Float64Var(&c.MaxFactor, "max-factor", 1.5, "-max: rate factor between steps while climbing")
	fs.IntVar(&c.MaxBisect, "max-bisect", 2, "-max: bisection steps after the first failing rate")
	fs.IntVar(&c.MaxLimit, "max-limit", 2000, "-max: never attack above this rate")
	fs.DurationVar(&c.Step, "step", 15*time.Second, "-max: length of each step")
	fs.DurationVar(&c.Cooldown, "cooldown", 3*time.Second, "-max: pause between steps")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	base, err := apiBase(c.API)
	if err != nil {
		return c, err
	}
	c.API = base
	if c.Rate == 0 {
		c.Rate = int(float64(c.Clients)*c.ClientRate + 0.5)
	}
	switch {
	case c.Users < 1 || c.Clients < 1 || c.Rate < 1:
		return c, errors.New("-users, -clients and the rate must be at least 1")
	case c.Duration <= 0 || c.Step <= 0:
		return c, errors.New("-duration and -step must be positive")
	case c.JobsPerUser < 1:
		return c, errors.New("-jobs-per-user must be at least 1 (get and metrics need a job)")
	case c.DatasetKB < 16 || c.DatasetKB > 64<<10:
		return c, errors.New("-dataset-kb must be 16..65536 (one presigned PUT)")
	case c.Streams < 0 || c.LiveJobs < 0:
		return c, errors.New("-streams and -live-jobs must not be negative")
	}
	return c, nil
}

// apiBase checks that the URL is a loopback http(s) address (this tool
// loads a local stack and nothing else) and returns it without /api.
func apiBase(raw string) (string, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("-api %q: want a URL such as http://127.0.0.1:8080", raw)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("-api %q: only loopback addresses (127.0.0.0/8, ::1, localhost): this tool loads a local stack", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/api")
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

func run(args []string, out io.Writer) (int, error) {
	cfg, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	weights, err := parseMix(cfg.Mix)
	if err != nil {
		return 2, err
	}
	seq := sequence(weights)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	runID := strconv.FormatInt(time.Now().Unix()%1_000_000, 36) + strconv.FormatUint(rand.Uint64N(1296), 36)
	printHeader(out, cfg, runID, weights, seq)

	// Set-up and keeper calls share one client; its failures during the
	// load count as errors too.
	setupHTTP := &http.Client{Timeout: 60 * time.Second}
	c := &apiClient{base: cfg.API, http: setupHTTP}
	fmt.Fprintf(out, "Set-up (through the API only):\n")
	reg, sres, err := setup(ctx, c, cfg, runID, out)
	if err != nil {
		return 2, fmt.Errorf("set-up: %w", err)
	}
	fmt.Fprintf(out, "  set-up took %s\n\n", sres.Total.Round(time.Millisecond))

	// Streams, the keeper and the gauge run for the whole load, from the
	// warm-up on.
	loadCtx, endLoad := context.WithCancel(ctx)
	var bg sync.WaitGroup
	stats := newStreamStats()
	kc := &apiClient{base: cfg.API, http: setupHTTP}
	kp := &keeper{c: kc, reg: reg, live: cfg.LiveJobs, interval: 2 * time.Second, runID: runID}
	if cfg.LiveJobs > 0 {
		bg.Go(func() { kp.run(loadCtx) })
	}
	if cfg.Streams > 0 {
		st := &streamer{base: cfg.API, reg: reg, stats: stats, retry0: 2 * time.Second,
			http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Streams, DisableCompression: true}}}
		bg.Go(func() { stats.sample(loadCtx, 100*time.Millisecond) })
		for i := range cfg.Streams {
			bg.Go(func() {
				// A little stagger: 50 tabs are not opened in the same millisecond.
				if sleep(loadCtx, time.Duration(i)*20*time.Millisecond) == nil {
					st.client(loadCtx)
				}
			})
		}
	}
	fmt.Fprintf(out, "Warm-up %s: %d stream clients, job keeper (%d live jobs)…\n\n", cfg.Warmup, cfg.Streams, cfg.LiveJobs)
	_ = sleep(ctx, cfg.Warmup)

	a := &attacker{cfg: cfg, reg: reg, seq: seq, stats: stats, side: func() int { return int(kc.fails.Load()) }}
	a.headers = make([]http.Header, len(reg.users))
	for i, u := range reg.users {
		a.headers[i] = http.Header{"Authorization": {"Bearer " + u.Token}, "Accept": {"application/json"}}
	}

	g := goals{P95: cfg.GoalP95, RateShare: cfg.GoalRate, OpenShare: cfg.GoalOpen}
	ok := true
	if !cfg.Max {
		r := a.attack(ctx, cfg.Rate, cfg.Duration)
		printStep(out, r, cfg.Streams)
		endLoad()
		bg.Wait()
		fmt.Fprintln(out)
		printAfter(out, stats, cfg, kp, kc)
		// Errors count over the whole run, warm-up included.
		r.Streams.Errors = stats.snap().Errors
		r.SideErrors = int(kc.fails.Load())
		checks := evaluate(r, cfg.Streams, g, true)
		fmt.Fprintf(out, "\nGoal (%s):\n", verdictWord(passed(checks)))
		printChecks(out, checks)
		ok = passed(checks)
	} else {
		s := newRateSearch(cfg.Rate, cfg.MaxFactor, cfg.MaxBisect, cfg.MaxLimit)
		type row struct {
			r      stepResult
			passed bool
		}
		var rows []row
		for ctx.Err() == nil {
			r := a.attack(ctx, s.rate(), cfg.Step)
			checks := evaluate(r, cfg.Streams, g, false)
			fmt.Fprintf(out, "── step %d: %d req/s → %s\n", len(rows)+1, s.rate(), verdictWord(passed(checks)))
			printStep(out, r, cfg.Streams)
			printChecks(out, checks)
			fmt.Fprintln(out)
			rows = append(rows, row{r, passed(checks)})
			if s.record(passed(checks)) {
				break
			}
			_ = sleep(ctx, cfg.Cooldown)
		}
		endLoad()
		bg.Wait()
		fmt.Fprintf(out, "Rate search (each step %s; pass = p95 ≤ %s overall and per endpoint, zero API and stream errors, ≥ %.0f%% of the rate):\n",
			cfg.Step, ms(cfg.GoalP95), 100*cfg.GoalRate)
		fmt.Fprintf(out, "  %8s %9s %9s %9s %9s %7s %7s  %s\n", "req/s", "achieved", "p50", "p95", "p99", "errors", "CPU", "verdict")
		for _, x := range rows {
			l := x.r.Total.Latencies
			cpu := "?"
			if x.r.CPUBusy >= 0 {
				cpu = fmt.Sprintf("%.0f%%", 100*x.r.CPUBusy)
			}
			fmt.Fprintf(out, "  %8d %9.1f %9s %9s %9s %7d %7s  %s\n", x.r.Rate, x.r.Total.Rate, msShort(l.P50), msShort(l.P95), msShort(l.P99), x.r.APIErrors+int(x.r.Streams.Errors), cpu, verdictWord(x.passed))
		}
		if b := s.best(); b > 0 {
			fmt.Fprintf(out, "  highest rate meeting the goal: %d req/s (with %d live streams)\n", b, cfg.Streams)
		} else if len(rows) > 0 {
			fmt.Fprintf(out, "  no rate met the goal (lowest tried: %d req/s)\n", rows[0].r.Rate)
			ok = false
		}
		fmt.Fprintln(out)
		printAfter(out, stats, cfg, kp, kc)
	}
	if ctx.Err() != nil {
		return 2, errors.New("interrupted")
	}
	if !ok && cfg.Goal {
		return 1, nil
	}
	return 0, nil
}

func verdictWord(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// printAfter prints what ran beside the load: streams, the keeper, set-up
// calls.
func printAfter(out io.Writer, stats *streamStats, cfg config, kp *keeper, kc *apiClient) {
	if cfg.Streams > 0 {
		printStreams(out, stats, cfg.Streams)
	}
	active, finished := kp.reg.counts()
	// After the measurement: leave no keeper job running into the next run.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	cancelled := kp.cancelActive(ctx)
	cancel()
	created, errs := kp.stats()
	fmt.Fprintf(out, "Job keeper: %d jobs created during the run, %d calls (%d failed); at the end %d jobs active (%d of them now cancelled), %d finished\n",
		created, kc.calls.Load(), kc.fails.Load(), active, cancelled, finished)
	for i, e := range errs {
		if i == 5 {
			fmt.Fprintf(out, "  … %d more\n", len(errs)-5)
			break
		}
		fmt.Fprintf(out, "  error: %.300s\n", e)
	}
}

func printHeader(w io.Writer, cfg config, runID string, ws []weight, seq []string) {
	fmt.Fprintf(w, "BrightRun monitoring load test — run %s, %s\n", runID, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  target        %s (this machine: %d CPUs, shared by this tool and the stack under test)\n", cfg.API, runtime.NumCPU())
	fmt.Fprintf(w, "  set-up        %d users (emails loadtest-%s-NN@example.com), each: one generated %d KiB dataset (presigned PUT, validated),\n", cfg.Users, runID, cfg.DatasetKB)
	fmt.Fprintf(w, "                %d job(s) (balanced, 1×A100-80GB); waits until each user has a finished job (≤ %s)\n", cfg.JobsPerUser, cfg.SetupWait)
	mode := fmt.Sprintf("%d req/s for %s", cfg.Rate, cfg.Duration)
	if cfg.Max {
		mode = fmt.Sprintf("rate search from %d req/s (×%g until a step fails, then %d bisections; ≤ %d), %s per step", cfg.Rate, cfg.MaxFactor, cfg.MaxBisect, cfg.MaxLimit, cfg.Step)
	}
	fmt.Fprintf(w, "  API load      %d clients (client i is user i mod %d, with that user's token), %s,\n", cfg.Clients, cfg.Users, mode)
	fmt.Fprintf(w, "                open model: vegeta's constant pacer sends on schedule and adds workers, so no send waits for an answer\n")
	fmt.Fprintf(w, "                (default rate: %g req/s per client); per-request timeout %s; keep-alive connections\n", cfg.ClientRate, cfg.Timeout)
	fmt.Fprintf(w, "  mix           %s; each client cycles %s, walking its user's jobs one per cycle\n", mixString(ws), strings.Join(seq, " → "))
	for _, wt := range ws {
		fmt.Fprintf(w, "                %-8s GET %s\n", wt.Endpoint, strings.Replace(path(wt.Endpoint, "ID", cfg.MaxPoints), "/ID", "/{id}", 1))
	}
	if cfg.Streams > 0 {
		fmt.Fprintf(w, "  streams       %d SSE clients on GET /api/jobs/{id}/stream (Authorization: Bearer), each on the least-watched active job;\n", cfg.Streams)
		fmt.Fprintf(w, "                after the job's complete event: another job after the server's retry delay; a broken stream: the same job with Last-Event-ID\n")
	}
	if cfg.LiveJobs > 0 {
		fmt.Fprintf(w, "  job keeper    keeps %d jobs active (creates one whenever fewer; reads job lists every 2 s); its calls are not in the figures\n", cfg.LiveJobs)
	}
	fmt.Fprintf(w, "  warm-up       streams and keeper start %s before the load\n", cfg.Warmup)
	fmt.Fprintf(w, "  goal          p95 ≤ %s overall and per endpoint; zero API errors (transport or non-2xx); ≥ %.0f%% of the rate achieved;\n", ms(cfg.GoalP95), 100*cfg.GoalRate)
	if cfg.Streams > 0 {
		fmt.Fprintf(w, "                zero stream errors (non-200, broken, ended before complete, error event);")
		if !cfg.Max {
			fmt.Fprintf(w, " median of open streams ≥ %.0f%% of %d", 100*cfg.GoalOpen, cfg.Streams)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "                zero failed set-up/keeper calls; exit status 1 if missed")
	if !cfg.Goal {
		fmt.Fprintf(w, " (off: -goal=false)")
	}
	fmt.Fprintf(w, "\n\n")
}

// attacker runs one vegeta attack at a time against the registry's jobs.
type attacker struct {
	cfg     config
	reg     *registry
	seq     []string
	headers []http.Header // per user
	stats   *streamStats
	side    func() int // failed side calls so far
}

// targeter returns the vegeta targeter: the k-th request goes to client
// k mod clients, which sends its next call of the cycle.
func (a *attacker) targeter() vegeta.Targeter {
	var k atomic.Uint64
	clients := uint64(a.cfg.Clients)
	users := len(a.reg.users)
	return func(t *vegeta.Target) error {
		n := k.Add(1) - 1
		c, m := int(n%clients), int(n/clients)
		u := c % users
		s := plan(a.seq, c, m, a.reg.jobCount(u))
		id, count := a.reg.userJob(u, s.Job)
		if count == 0 {
			s.Endpoint = epList
		}
		t.Method = http.MethodGet
		t.URL = a.cfg.API + path(s.Endpoint, id, a.cfg.MaxPoints)
		t.Header = a.headers[u]
		t.Body = nil
		return nil
	}
}

func (a *attacker) attack(ctx context.Context, rate int, dur time.Duration) stepResult {
	atk := vegeta.NewAttacker(
		vegeta.Timeout(a.cfg.Timeout),
		vegeta.KeepAlive(true),
		vegeta.Workers(uint64(min(a.cfg.Clients, 20))),
		vegeta.Connections(a.cfg.Clients),
	)
	defer context.AfterFunc(ctx, func() { atk.Stop() })()

	r := stepResult{Rate: rate, Duration: dur, Total: &vegeta.Metrics{}, PerEndpoint: map[string]*vegeta.Metrics{}, CPUBusy: -1}
	spans := make([]span, 0, rate*int(dur.Seconds()+1))
	snap0, side0 := a.stats.snap(), a.side()
	busy0, total0, cpuOK := cpuTimes()
	start := time.Now()
	for res := range atk.Attack(a.targeter(), vegeta.Rate{Freq: rate, Per: time.Second}, dur, "monitoring") {
		res.Body = nil // counted in BytesIn; not kept
		r.Total.Add(res)
		ep := classify(res.URL)
		if r.PerEndpoint[ep] == nil {
			r.PerEndpoint[ep] = &vegeta.Metrics{}
		}
		r.PerEndpoint[ep].Add(res)
		spans = append(spans, span{res.Timestamp, res.End()})
		if res.Error != "" || res.Code < 200 || res.Code > 299 {
			r.APIErrors++
		}
	}
	end := time.Now()
	if busy1, total1, ok := cpuTimes(); ok && cpuOK && total1 > total0 {
		r.CPUBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	r.Total.Close()
	for _, m := range r.PerEndpoint {
		m.Close()
	}
	r.PeakInFlight = peakInFlight(spans)
	r.Streams = a.stats.snap().sub(snap0)
	r.Gauge = a.stats.window(start, end)
	r.SideErrors = a.side() - side0
	return r
}
