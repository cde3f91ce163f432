package lambdahost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/lambdahost"
)

// fnBinary and streamBinary are testdata/fn and testdata/streamfn built
// as a deployed function is built.
var fnBinary, streamBinary string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "lambdahost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	fnBinary, streamBinary = filepath.Join(dir, "fn"), filepath.Join(dir, "streamfn")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", dir+"/", "./testdata/fn", "./testdata/streamfn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/fn and testdata/streamfn: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// syncBuffer collects the functions' output, written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newHost starts a Host of fns (Binary defaults to the test function) and
// closes it when the test ends.
func newHost(t *testing.T, fns ...lambdahost.Function) (*lambdahost.Host, *syncBuffer) {
	t.Helper()
	for i := range fns {
		if fns[i].Binary == "" {
			fns[i].Binary = fnBinary
		}
	}
	out := &syncBuffer{}
	h := lambdahost.New(fns, out, slog.New(slog.DiscardHandler))
	t.Cleanup(h.Close)
	return h, out
}

type fnResponse struct {
	Pid   int    `json:"pid"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Env   string `json:"env"`
}

func call(ctx context.Context, h *lambdahost.Host, name string, req map[string]any) (fnResponse, error) {
	payload, err := json.Marshal(req)
	if err != nil {
		return fnResponse{}, err
	}
	out, err := h.Invoke(ctx, name, payload)
	if err != nil {
		return fnResponse{}, err
	}
	var res fnResponse
	if err := json.Unmarshal(out, &res); err != nil {
		return fnResponse{}, fmt.Errorf("decode response %q: %w", out, err)
	}
	return res, nil
}

// mustCall invokes a request that must succeed and returns its response.
func mustCall(t *testing.T, h *lambdahost.Host, name string, req map[string]any) fnResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := call(ctx, h, name, req)
	if err != nil {
		t.Fatalf("invoke %v: got error %v, want success", req, err)
	}
	if res.Pid == 0 {
		t.Fatalf("invoke %v: response has no pid", req)
	}
	return res
}

func asFunctionError(t *testing.T, err error) *lambdahost.Error {
	t.Helper()
	var fe *lambdahost.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got error %v (%T), want a *lambdahost.Error", err, err)
	}
	return fe
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// children lists the live (not zombie) child processes of the test.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	me := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces, so cut at the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == me {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestEchoPreservesPayloadBytes(t *testing.T) {
	h, _ := newHost(t, lambdahost.Function{Name: "echo"})
	big := `{"op":"echo","pad":"` + strings.Repeat("abcdefghij", 100_000) + `"}`
	tests := []struct {
		name    string
		payload string
	}{
		{"compact", `{"op":"echo","n":1}`},
		{"whitespace and key order kept", "{ \"z\" : 1,\n\t\"op\": \"echo\" ,\"a\":[ 1 , 2 ] }"},
		{"number spelling kept", `{"op":"echo","f":1.50,"e":3e2,"big":12345678901234567890}`},
		{"html and unicode not re-escaped", `{"op":"echo","s":"<a href=\"x\">&amp;</a> héllo \u00e9 🚀"}`},
		{"1 MB", big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Invoke(context.Background(), "echo", []byte(tt.payload))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if !bytes.Equal(got, []byte(tt.payload)) {
				g, w := string(got), tt.payload
				if len(g) > 200 {
					g = g[:200] + "…"
				}
				if len(w) > 200 {
					w = w[:200] + "…"
				}
				t.Errorf("got %d bytes %q, want %d bytes %q", len(got), g, len(tt.payload), w)
			}
		})
	}
}

func TestFunctionErrors(t *testing.T) {
	type workerFate int
	const (
		reused workerFate = iota
		replaced
		either
	)
	tests := []struct {
		name     string
		payload  []byte
		wantType string
		wantMsg  string // substring
		wantFate workerFate
	}{
		{
			name:     "named error type",
			payload:  []byte(`{"op":"fail","msg":"cluster unavailable"}`),
			wantType: "TestFailure", wantMsg: "cluster unavailable", wantFate: reused,
		},
		{
			name:     "plain errors.New-style error",
			payload:  []byte(`{"op":"nope"}`),
			wantType: "errorString", wantMsg: `unknown op "nope"`, wantFate: reused,
		},
		{
			name:     "payload the handler cannot decode",
			payload:  []byte(`[1,2]`),
			wantType: "UnmarshalTypeError", wantMsg: "cannot unmarshal array", wantFate: reused,
		},
		{
			name:     "panic reports the value then the runtime exits",
			payload:  []byte(`{"op":"panic","msg":"boom"}`),
			wantType: "string", wantMsg: "boom", wantFate: replaced,
		},
		{
			name:     "process exit mid-invocation",
			payload:  []byte(`{"op":"exit","code":2}`),
			wantType: "Runtime.ExitError", wantFate: replaced,
		},
		{
			name:     "process exit 0 mid-invocation",
			payload:  []byte(`{"op":"exit","code":0}`),
			wantType: "Runtime.ExitError", wantFate: replaced,
		},
		{
			name:     "response over 6 MB",
			payload:  []byte(`{"op":"echo","pad":"` + strings.Repeat("x", 6<<20) + `"}`),
			wantType: "Function.ResponseSizeTooLarge", wantMsg: "6 MB", wantFate: either,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHost(t, lambdahost.Function{Name: "f", MaxWorkers: 1})
			before := mustCall(t, h, "f", map[string]any{"op": "env"})

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := h.Invoke(ctx, "f", tt.payload)
			if err == nil {
				t.Fatalf("got response %.100q, want a %s error", out, tt.wantType)
			}
			fe := asFunctionError(t, err)
			if fe.Type != tt.wantType {
				t.Errorf("errorType: got %q, want %q (error %v)", fe.Type, tt.wantType, err)
			}
			if !strings.Contains(fe.Message, tt.wantMsg) {
				t.Errorf("errorMessage: got %q, want it to contain %q", fe.Message, tt.wantMsg)
			}

			// Whatever happened, the next invocation works.
			after := mustCall(t, h, "f", map[string]any{"op": "env"})
			switch tt.wantFate {
			case reused:
				if after.Pid != before.Pid {
					t.Errorf("worker after a function error: got pid %d, want the same worker %d", after.Pid, before.Pid)
				}
			case replaced:
				if after.Pid == before.Pid {
					t.Errorf("worker after a crash: got the same pid %d, want a new worker", after.Pid)
				}
			}
		})
	}
}

// A crashed worker must never take the next invocation down with it, however
// quickly that invocation follows.
func TestNextInvocationAfterPanicSucceeds(t *testing.T) {
	h, _ := newHost(t, lambdahost.Function{Name: "f", MaxWorkers: 1})
	for i := range 50 {
		_, err := h.Invoke(context.Background(), "f", []byte(`{"op":"panic","msg":"boom"}`))
		if fe := asFunctionError(t, err); fe.Type != "string" {
			t.Fatalf("round %d: panic: got errorType %q, want %q", i, fe.Type, "string")
		}
		if _, err := call(context.Background(), h, "f", map[string]any{"op": "env"}); err != nil {
			t.Fatalf("round %d: invocation right after a panic: got %v, want success", i, err)
		}
	}
}

func TestTimeoutKillsAndReplacesWorker(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h, _ := newHost(t, lambdahost.Function{Name: "slow", Timeout: timeout, MaxWorkers: 1})
	first := mustCall(t, h, "slow", map[string]any{"op": "env"})

	start := time.Now()
	_, err := call(context.Background(), h, "slow", map[string]any{"op": "sleep", "ms": 5000})
	elapsed := time.Since(start)
	fe := asFunctionError(t, err)
	if fe.Type != "Sandbox.Timedout" {
		t.Errorf("errorType: got %q, want %q", fe.Type, "Sandbox.Timedout")
	}
	if want := "Task timed out after 0.30 seconds"; fe.Message != want {
		t.Errorf("errorMessage: got %q, want %q", fe.Message, want)
	}
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("Invoke returned after %v, want about %v", elapsed, timeout)
	}
	if processExists(first.Pid) {
		t.Errorf("timed-out worker pid %d still exists, want it killed", first.Pid)
	}

	next := mustCall(t, h, "slow", map[string]any{"op": "sleep", "ms": 10})
	if next.Pid == first.Pid {
		t.Errorf("invocation after a timeout ran in pid %d, the killed worker; want a new one", next.Pid)
	}
}

func TestInitFailure(t *testing.T) {
	tests := []struct {
		name     string
		fn       lambdahost.Function
		wantMsg  []string // substrings of the error
		wantType string   // errorType of a wrapped *Error, if any
	}{
		{
			name:    "exits before lambda.Start",
			fn:      lambdahost.Function{Name: "crash-init", Env: []string{"FN_INIT=exit"}, MaxWorkers: 1},
			wantMsg: []string{"crash-init", "initialisation"},
		},
		{
			name:     "reports an init error through the Runtime API",
			fn:       lambdahost.Function{Name: "report-init", Env: []string{"FN_INIT=report"}, MaxWorkers: 1},
			wantMsg:  []string{"report-init", "initialise", "TABLE_NAME is not set"},
			wantType: "ConfigError",
		},
		{
			name:    "binary missing",
			fn:      lambdahost.Function{Name: "missing", Binary: filepath.Join(t.TempDir(), "nope"), MaxWorkers: 1},
			wantMsg: []string{"missing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHost(t, tt.fn)
			// Twice: a failed start must free its slot (MaxWorkers is 1), so
			// the second attempt fails too instead of waiting forever.
			for attempt := 1; attempt <= 2; attempt++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				out, err := h.Invoke(ctx, tt.fn.Name, []byte(`{"op":"env"}`))
				cancel()
				if err == nil {
					t.Fatalf("attempt %d: got response %q, want an init error", attempt, out)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("attempt %d: got %v, want an init error (slot leaked?)", attempt, err)
				}
				for _, s := range tt.wantMsg {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("attempt %d: got error %q, want it to mention %q", attempt, err, s)
					}
				}
				if tt.wantType != "" {
					if fe := asFunctionError(t, err); fe.Type != tt.wantType {
						t.Errorf("attempt %d: errorType: got %q, want %q", attempt, fe.Type, tt.wantType)
					}
				}
			}
		})
	}
}

func TestInitHangHonoursContext(t *testing.T) {
	h, _ := newHost(t, lambdahost.Function{Name: "hang", Env: []string{"FN_INIT=hang"}, MaxWorkers: 1})
	before := children(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.Invoke(ctx, "hang", []byte(`{"op":"env"}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Invoke returned after %v, want soon after the context's deadline", d)
	}
	for _, pid := range children(t) {
		if !slices.Contains(before, pid) {
			t.Errorf("pid %d of the abandoned init is still running", pid)
		}
	}
}

func TestUnknownFunction(t *testing.T) {
	h, _ := newHost(t, lambdahost.Function{Name: "known"})
	_, err := h.Invoke(context.Background(), "unknown", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), `"unknown"`) {
		t.Errorf("got %v, want an error naming the unknown function", err)
	}
	var fe *lambdahost.Error
	if errors.As(err, &fe) {
		t.Errorf("got function error %v, want a host error", fe)
	}
}

func TestMaxWorkersBoundsConcurrency(t *testing.T) {
	const (
		maxWorkers = 2
		calls      = 6
		sleep      = 200 * time.Millisecond
	)
	h, _ := newHost(t, lambdahost.Function{Name: "sleepy", MaxWorkers: maxWorkers})
	results := make([]fnResponse, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range calls {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			results[i], errs[i] = call(ctx, h, "sleepy", map[string]any{"op": "sleep", "ms": sleep.Milliseconds()})
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}

	pids := map[int]bool{}
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, r := range results {
		pids[r.Pid] = true
		edges = append(edges, edge{r.Start, +1}, edge{r.End, -1})
	}
	// Ends sort before starts at the same instant: touching is not overlapping.
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}

	if len(pids) > maxWorkers {
		t.Errorf("distinct worker pids: got %d, want at most %d", len(pids), maxWorkers)
	}
	if peak > maxWorkers {
		t.Errorf("overlapping invocations: got %d, want at most %d", peak, maxWorkers)
	}
	if peak < maxWorkers {
		t.Errorf("overlapping invocations: got %d, want %d (the bound should also be reached)", peak, maxWorkers)
	}
	if want := calls / maxWorkers * sleep; elapsed < want {
		t.Errorf("6 calls took %v, want at least %v", elapsed, want)
	}
}

func TestContextCancelledWhileWaitingForWorker(t *testing.T) {
	h, _ := newHost(t, lambdahost.Function{Name: "one", MaxWorkers: 1})
	busy := make(chan error, 1)
	go func() {
		_, err := call(context.Background(), h, "one", map[string]any{"op": "sleep", "ms": 600})
		busy <- err
	}()
	time.Sleep(150 * time.Millisecond) // let the first call take the only worker

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := call(ctx, h, "one", map[string]any{"op": "env"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a busy worker: got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("gave up after %v, want about 100ms", d)
	}
	if err := <-busy; err != nil {
		t.Errorf("the busy call: got %v, want success", err)
	}
	mustCall(t, h, "one", map[string]any{"op": "env"})
}

func TestWarmReuse(t *testing.T) {
	h, _ := newHost(t, lambdahost.Function{Name: "warm"})
	first := mustCall(t, h, "warm", map[string]any{"op": "env"})
	for i := range 4 {
		if got := mustCall(t, h, "warm", map[string]any{"op": "env"}); got.Pid != first.Pid {
			t.Errorf("sequential call %d: got pid %d, want the warm worker %d", i+2, got.Pid, first.Pid)
		}
	}
}

func TestWarm(t *testing.T) {
	h, _ := newHost(t,
		lambdahost.Function{Name: "good"},
		lambdahost.Function{Name: "bad", Env: []string{"FN_INIT=exit"}},
	)
	before := children(t)
	err := h.Warm(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("Warm: got %v, want an error naming %q", err, "bad")
	}
	if strings.Contains(err.Error(), "good:") {
		t.Errorf("Warm: got %v, want no error for %q", err, "good")
	}
	var started []int
	for _, pid := range children(t) {
		if !slices.Contains(before, pid) {
			started = append(started, pid)
		}
	}
	if len(started) != 1 {
		t.Fatalf("Warm started pids %v, want exactly one (good)", started)
	}
	if got := mustCall(t, h, "good", map[string]any{"op": "env"}); got.Pid != started[0] {
		t.Errorf("first call after Warm: got pid %d, want the warmed worker %d", got.Pid, started[0])
	}
}

func TestEnvironmentAndOutput(t *testing.T) {
	h, out := newHost(t, lambdahost.Function{Name: "talker", Env: []string{"FN_VALUE=from-config"}})
	if got := mustCall(t, h, "talker", map[string]any{"op": "env"}); got.Env != "from-config" {
		t.Errorf("FN_VALUE in the function: got %q, want %q", got.Env, "from-config")
	}
	mustCall(t, h, "talker", map[string]any{"op": "log", "lines": []string{"hello", "world"}})
	want := "[talker] hello\n[talker] world\n"
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("function output: got %q, want it to contain %q", out.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseStopsEveryProcess(t *testing.T) {
	before := children(t)
	out := &syncBuffer{}
	h := lambdahost.New([]lambdahost.Function{
		{Name: "a", Binary: fnBinary, MaxWorkers: 3},
		{Name: "b", Binary: fnBinary},
	}, out, slog.New(slog.DiscardHandler))

	// Three idle workers of a ...
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { _, errs[i] = call(context.Background(), h, "a", map[string]any{"op": "sleep", "ms": 100}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	// ... and one of b busy when Close comes.
	busy := make(chan error, 1)
	go func() {
		_, err := call(context.Background(), h, "b", map[string]any{"op": "sleep", "ms": 10_000})
		busy <- err
	}()

	var started []int
	deadline := time.Now().Add(5 * time.Second)
	for {
		started = started[:0]
		for _, pid := range children(t) {
			if !slices.Contains(before, pid) {
				started = append(started, pid)
			}
		}
		if len(started) == 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(started) != 4 {
		t.Fatalf("worker processes: got %d (%v), want 4", len(started), started)
	}
	time.Sleep(100 * time.Millisecond) // let the busy call reach its worker

	start := time.Now()
	h.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v, want well under the 2s SIGKILL grace", d)
	}
	for _, pid := range started {
		if processExists(pid) {
			t.Errorf("pid %d still exists after Close", pid)
		}
	}
	select {
	case err := <-busy:
		if err == nil {
			t.Error("the in-flight call: got success, want an error")
		}
	case <-time.After(3 * time.Second):
		t.Error("the in-flight call did not return after Close")
	}
	if _, err := h.Invoke(context.Background(), "a", []byte(`{"op":"env"}`)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Invoke after Close: got %v, want a host-closed error", err)
	}
}
