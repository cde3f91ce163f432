package gpucluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/training"
)

// reply is one scripted answer.
type reply struct {
	status int
	body   string
	header map[string]string
	delay  time.Duration
}

// script answers requests with its replies in order (the last repeats)
// and records them.
type script struct {
	mu      sync.Mutex
	replies []reply
	reqs    []*http.Request
	bodies  []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := len(s.reqs)
	s.reqs = append(s.reqs, r)
	s.bodies = append(s.bodies, string(b))
	rep := s.replies[min(i, len(s.replies)-1)]
	s.mu.Unlock()
	if rep.delay > 0 {
		select {
		case <-time.After(rep.delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (s *script) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// waits records the client's backoffs instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func errBody(code, msg string) string {
	return fmt.Sprintf(`{"error":{"code":%q,"message":%q}}`, code, msg)
}

const okJob = `{"id":"c-1","job_id":"j-1","status":"running","stage":"training","progress":42.5,"epoch":2,"step":10,"total_steps":30}`

func newClient(t *testing.T, url string, o gpucluster.Options) *gpucluster.Client {
	t.Helper()
	c, err := gpucluster.New(url, "tok", o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetries(t *testing.T) {
	future := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		op        string // Status (default) or Submit
		replies   []reply
		timeout   time.Duration
		wantCalls int
		wantWaits []time.Duration // exact waits, when Retry-After decides them; else only their count
		nWaits    int
		check     func(t *testing.T, err error)
	}{
		{name: "ok", replies: []reply{{200, okJob, nil, 0}}, wantCalls: 1},
		{name: "503 burst then success", replies: []reply{{503, errBody("UNAVAILABLE", "x"), nil, 0}, {502, "<html>bad gateway</html>", nil, 0}, {200, okJob, nil, 0}},
			wantCalls: 3, nWaits: 2},
		{name: "5xx until attempts run out", replies: []reply{{500, errBody("INTERNAL", "boom"), nil, 0}}, wantCalls: 5, nWaits: 4,
			check: func(t *testing.T, err error) {
				var cu *gpucluster.ClusterUnavailable
				if !errors.As(err, &cu) || cu.Attempts != 5 || cu.StatusCode != 500 || cu.Code != "INTERNAL" || cu.Message != "boom" || cu.Op != "Status" {
					t.Errorf("err = %#v, want ClusterUnavailable after 5 attempts, last HTTP 500 INTERNAL", err)
				}
			}},
		{name: "429 with Retry-After seconds", replies: []reply{{429, errBody("RATE_LIMITED", "slow down"), map[string]string{"Retry-After": "3"}, 0}, {200, okJob, nil, 0}},
			wantCalls: 2, wantWaits: []time.Duration{3 * time.Second}},
		{name: "429 with Retry-After date", replies: []reply{{429, "", map[string]string{"Retry-After": future}, 0}, {200, okJob, nil, 0}},
			wantCalls: 2, nWaits: 1},
		{name: "Retry-After capped", replies: []reply{{503, "", map[string]string{"Retry-After": "3600"}, 0}, {200, okJob, nil, 0}},
			wantCalls: 2, wantWaits: []time.Duration{gpucluster.DefaultMaxRetryAfter}},
		{name: "timeout then success", timeout: 50 * time.Millisecond, replies: []reply{{200, okJob, nil, 2 * time.Second}, {200, okJob, nil, 0}},
			wantCalls: 2, nWaits: 1},
		{name: "timeouts until attempts run out", timeout: 30 * time.Millisecond, replies: []reply{{200, okJob, nil, 2 * time.Second}}, wantCalls: 5, nWaits: 4,
			check: func(t *testing.T, err error) {
				var cu *gpucluster.ClusterUnavailable
				if !errors.As(err, &cu) || cu.StatusCode != 0 || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want ClusterUnavailable wrapping a deadline", err)
				}
			}},
		{name: "garbled 200 retried", replies: []reply{{200, `{"id":`, nil, 0}, {200, okJob, nil, 0}}, wantCalls: 2, nWaits: 1},
		{name: "400 not retried", replies: []reply{{400, errBody("INVALID_REQUEST", "bad"), nil, 0}}, wantCalls: 1,
			check: wantRejected(400, "INVALID_REQUEST", "bad")},
		{name: "401 not retried", replies: []reply{{401, errBody("UNAUTHORIZED", "token"), nil, 0}}, wantCalls: 1,
			check: wantRejected(401, "UNAUTHORIZED", "token")},
		{name: "403 without an error body", replies: []reply{{403, "forbidden", nil, 0}}, wantCalls: 1,
			check: wantRejected(403, "HTTP_403", "forbidden")},
		{name: "404 on a job", replies: []reply{{404, errBody("JOB_NOT_FOUND", "no job"), nil, 0}}, wantCalls: 1,
			check: func(t *testing.T, err error) {
				var nf *gpucluster.JobNotFound
				if !errors.As(err, &nf) || nf.ID != "c/1" || nf.Code != "JOB_NOT_FOUND" {
					t.Errorf("err = %v, want JobNotFound for c/1", err)
				}
			}},
		{name: "404 on submit is a rejection", op: "Submit", replies: []reply{{404, errBody("NOT_FOUND", "no route"), nil, 0}}, wantCalls: 1,
			check: wantRejected(404, "NOT_FOUND", "no route")},
		{name: "409 on submit", op: "Submit", replies: []reply{{409, errBody("IDEMPOTENCY_CONFLICT", "different body"), nil, 0}}, wantCalls: 1,
			check: func(t *testing.T, err error) {
				var c *gpucluster.Conflict
				if !errors.As(err, &c) || c.Code != "IDEMPOTENCY_CONFLICT" || c.Op != "Submit" {
					t.Errorf("err = %v, want Conflict", err)
				}
			}},
		{name: "submit retried through 503 (idempotent)", op: "Submit", replies: []reply{{503, "", nil, 0}, {201, okJob, nil, 0}}, wantCalls: 2, nWaits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{replies: tt.replies}
			srv := httptest.NewServer(s)
			defer srv.Close()
			var w waits
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			c := newClient(t, srv.URL, gpucluster.Options{Timeout: timeout, Sleep: w.sleep})
			var err error
			var j gpucluster.Job
			if tt.op == "Submit" {
				j, err = c.Submit(context.Background(), gpucluster.SubmitRequest{JobID: "j-1"})
			} else {
				j, err = c.Status(context.Background(), "c/1")
			}
			if tt.check != nil {
				tt.check(t, err)
			} else if err != nil || j.ID != "c-1" || j.Progress != 42.5 || j.Stage != gpucluster.StageTraining {
				t.Errorf("got %+v, %v; want the job", j, err)
			}
			if got := s.calls(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			switch {
			case tt.wantWaits != nil:
				if !reflect.DeepEqual(w.d, tt.wantWaits) {
					t.Errorf("waits %v, want %v", w.d, tt.wantWaits)
				}
			case len(w.d) != tt.nWaits:
				t.Errorf("waits %v, want %d", w.d, tt.nWaits)
			}
		})
	}
}

func wantRejected(status int, code, msg string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var r *gpucluster.Rejected
		if !errors.As(err, &r) || r.StatusCode != status || r.Code != code || r.Message != msg {
			t.Errorf("err = %v, want Rejected %d %s %q", err, status, code, msg)
		}
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	s := &script{replies: []reply{{503, "", nil, 0}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	var w waits
	c := newClient(t, srv.URL, gpucluster.Options{MaxAttempts: 7, BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Sleep: w.sleep})
	_, err := c.Status(context.Background(), "x")
	var cu *gpucluster.ClusterUnavailable
	if !errors.As(err, &cu) || cu.Attempts != 7 {
		t.Fatalf("err = %v", err)
	}
	ceil := []time.Duration{100, 200, 400, 800, 1000, 1000}
	if len(w.d) != len(ceil) {
		t.Fatalf("waits %v", w.d)
	}
	for i, d := range w.d {
		hi := ceil[i] * time.Millisecond
		if d < hi/2 || d > hi {
			t.Errorf("wait %d = %v, want %v–%v", i+1, d, hi/2, hi)
		}
	}
}

func TestContext(t *testing.T) {
	s := &script{replies: []reply{{503, "", nil, 0}}}
	srv := httptest.NewServer(s)
	defer srv.Close()

	// Cancelled during the backoff: the caller's cancellation, not a typed error.
	ctx, cancel := context.WithCancel(context.Background())
	c := newClient(t, srv.URL, gpucluster.Options{Sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }})
	_, err := c.Status(ctx, "x")
	if !errors.Is(err, context.Canceled) || errors.As(err, new(*gpucluster.ClusterUnavailable)) || s.calls() != 1 {
		t.Errorf("cancelled: %v after %d calls, want context.Canceled after 1", err, s.calls())
	}

	// A Retry-After beyond the deadline: give up at once, typed, with the
	// wait asked for.
	s2 := &script{replies: []reply{{429, "", map[string]string{"Retry-After": "30"}, 0}}}
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	var w waits
	c2 := newClient(t, srv2.URL, gpucluster.Options{Sleep: w.sleep})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	_, err = c2.Status(ctx2, "x")
	var cu *gpucluster.ClusterUnavailable
	if !errors.As(err, &cu) || cu.RetryAfter != 30*time.Second || cu.StatusCode != 429 || len(w.d) != 0 || s2.calls() != 1 {
		t.Errorf("err = %v, waits %v, calls %d; want ClusterUnavailable (429, retry after 30s) at once", err, w.d, s2.calls())
	}

	// Nothing listens: connection errors, retried, then typed.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	var w3 waits
	c3 := newClient(t, url, gpucluster.Options{MaxAttempts: 3, Sleep: w3.sleep})
	_, err = c3.Status(context.Background(), "x")
	if !errors.As(err, &cu) || cu.Attempts != 3 || cu.StatusCode != 0 || cu.Err == nil || len(w3.d) != 2 {
		t.Errorf("connection refused: %v (waits %v), want ClusterUnavailable after 3 attempts", err, w3.d)
	}
}

// The error types are the names Step Functions match on (aws-lambda-go
// reports a pointer's element type name).
func TestErrorTypeNames(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&gpucluster.ClusterUnavailable{}, "ClusterUnavailable"},
		{&gpucluster.JobNotFound{}, "JobNotFound"},
		{&gpucluster.Rejected{}, "Rejected"},
		{&gpucluster.Conflict{}, "Conflict"},
	} {
		if got := reflect.TypeOf(c.err).Elem().Name(); got != c.want {
			t.Errorf("type name %q, want %q", got, c.want)
		}
		if c.err.Error() == "" {
			t.Errorf("%s: empty message", c.want)
		}
	}
}

// Requests carry the token, the JSON body and the cursors.
func TestRequests(t *testing.T) {
	s := &script{replies: []reply{{200, `{"points":[],"next_after_step":0,"has_more":false,"entries":[],"next_cursor":"","checkpoints":[],"artifacts":[]}`, nil, 0}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := newClient(t, srv.URL+"/", gpucluster.Options{})
	ctx := context.Background()
	m, _ := training.BaseModelByID(training.DefaultBaseModel)
	g, _ := training.GPUByType("A100-80GB")
	p, _ := training.PresetByID(training.PresetBalanced)
	cfg := training.Config{Hyperparameters: p.Hyperparameters, GPU: g, NumGPUs: 2, Model: m}
	ds := training.DatasetProfile{TrainConversations: 1800, ValidationConversations: 200, TotalTokens: 1_200_000, Turns: 8000, SizeBytes: 6_000_000, TokensExact: true}
	sub := gpucluster.NewSubmitRequest("job-1", cfg, ds, "https://s3/x?sig=1", "ab", "brightrun_lora_v4")
	if sub.StepsPerEpoch != 113 || sub.TotalSteps != 565 || sub.GPU != (gpucluster.GPU{Type: "A100-80GB", Count: 2}) || sub.Dataset.TotalTurns != 8000 {
		t.Errorf("NewSubmitRequest = %+v", sub)
	}
	calls := []func() error{
		func() error { _, err := c.Submit(ctx, sub); return err },
		func() error { _, err := c.Metrics(ctx, "a b", 40, 100); return err },
		func() error { _, err := c.Logs(ctx, "a b", "cur/1", 0); return err },
		func() error { _, err := c.Checkpoints(ctx, "a b"); return err },
		func() error { _, err := c.Cancel(ctx, "a b"); return err },
		func() error { _, err := c.Artifacts(ctx, "a b"); return err },
		func() error { _, err := c.Status(ctx, "a b"); return err },
	}
	for _, call := range calls {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"POST /v1/jobs", "GET /v1/jobs/a%20b/metrics?after_step=40&limit=100", "GET /v1/jobs/a%20b/logs?after=cur%2F1",
		"GET /v1/jobs/a%20b/checkpoints", "POST /v1/jobs/a%20b/cancel", "GET /v1/jobs/a%20b/artifacts", "GET /v1/jobs/a%20b",
	}
	for i, r := range s.reqs {
		if got := r.Method + " " + r.URL.RequestURI(); got != want[i] {
			t.Errorf("request %d = %s, want %s", i, got, want[i])
		}
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("request %d: Authorization %q", i, r.Header.Get("Authorization"))
		}
	}
	if ct := s.reqs[0].Header.Get("Content-Type"); ct != "application/json" || !strings.Contains(s.bodies[0], `"job_id":"job-1"`) ||
		!strings.Contains(s.bodies[0], `"hyperparameters":{"base_model":"mistralai/Mistral-7B-v0.1","learning_rate":0.0002`) ||
		!strings.Contains(s.bodies[0], `"steps_per_epoch":113,"total_steps":565`) {
		t.Errorf("submit: %s %s", ct, s.bodies[0])
	}
	for _, bad := range []string{"", "ftp://x", "http://"} {
		if _, err := gpucluster.New(bad, "t", gpucluster.Options{}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := gpucluster.New("http://x", "", gpucluster.Options{}); err == nil {
		t.Error("New with no token accepted")
	}
}
