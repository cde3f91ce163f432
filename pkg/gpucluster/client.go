// Package gpucluster is the client of the GPU cluster's HTTP API, the
// contract in docs/gpu-cluster-api.md: submit (idempotent on our job id),
// status, metrics and logs after a cursor, checkpoints, cancel, artifacts
// and their downloads.
//
// Every call has a per-attempt timeout and is retried with exponential
// backoff and jitter on 5xx, 429 (honouring Retry-After), timeouts and
// connection errors — every call is safe to repeat: submit and cancel are
// idempotent, the rest read. A 4xx other than 429 is never retried. Errors
// are typed: *ClusterUnavailable, *JobNotFound, *Rejected, *Conflict.
package gpucluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxAttempts   = 5
	DefaultBaseBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff    = 20 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second

	maxBody      = 32 << 20 // a success body
	maxErrorBody = 64 << 10
)

// Options tune a Client; the zero value takes every default.
type Options struct {
	// HTTPClient sends the requests; nil: a client of its own. Its Timeout
	// should be 0 (downloads stream for longer than any call timeout).
	HTTPClient *http.Client
	// Timeout bounds one attempt: until the whole answer is read, or for
	// Download until the response headers arrive and then between reads of
	// the body. Default 30 s.
	Timeout time.Duration
	// MaxAttempts is the number of requests a call makes at most (first try
	// included). Default 5.
	MaxAttempts int
	// Backoff before retry n (n = 1, 2, …) is BaseBackoff × 2^(n−1), capped
	// at MaxBackoff, with equal jitter (half fixed, half random). Defaults
	// 500 ms and 20 s.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter caps how long a Retry-After makes the client wait
	// (longer: it waits this long). Default 60 s.
	MaxRetryAfter time.Duration
	// UserAgent is sent with every request. Default "brightrun-gpucluster/1".
	UserAgent string
	// Sleep waits between attempts; nil: a timer that stops early when ctx
	// ends. Tests replace it to record the waits.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client talks to one cluster. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	o     Options

	mu  sync.Mutex
	rnd *rand.Rand
}

// New returns a client of the cluster at baseURL (e.g.
// "https://gpu.example.com"; the API lives under its /v1) that
// authenticates with a bearer token.
func New(baseURL, token string, o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gpucluster: base URL %q is not an http(s) URL", baseURL)
	}
	if token == "" {
		return nil, errors.New("gpucluster: empty token")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = DefaultBaseBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.UserAgent == "" {
		o.UserAgent = "brightrun-gpucluster/1"
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return &Client{base: u, token: token, hc: o.HTTPClient, o: o, rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}, nil
}

// Submit starts a job, or returns the job an earlier Submit of the same
// request started (Job.Created tells which). The same JobID with a
// different request is a *Conflict.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (Job, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return Job{}, fmt.Errorf("gpucluster: Submit: %w", err)
	}
	var j Job
	status, err := c.call(ctx, "Submit", http.MethodPost, "/v1/jobs", nil, body, "", &j)
	j.Created = status == http.StatusCreated
	return j, err
}

// Status returns the job's status, stage, progress and latest metrics.
func (c *Client) Status(ctx context.Context, id string) (Job, error) {
	var j Job
	_, err := c.call(ctx, "Status", http.MethodGet, jobPath(id, ""), nil, nil, id, &j)
	return j, err
}

// Metrics returns up to limit points (0: the cluster's default, 500) with
// a step greater than afterStep, oldest first. Asking again with the same
// afterStep returns the same points; the caller dedupes by step.
func (c *Client) Metrics(ctx context.Context, id string, afterStep, limit int) (MetricsPage, error) {
	q := url.Values{"after_step": {strconv.Itoa(afterStep)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p MetricsPage
	_, err := c.call(ctx, "Metrics", http.MethodGet, jobPath(id, "/metrics"), q, nil, id, &p)
	return p, err
}

// Logs returns up to limit entries (0: the cluster's default, 500) after
// the cursor ("" = from the first), oldest first.
func (c *Client) Logs(ctx context.Context, id, after string, limit int) (LogPage, error) {
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p LogPage
	_, err := c.call(ctx, "Logs", http.MethodGet, jobPath(id, "/logs"), q, nil, id, &p)
	if err == nil && p.NextCursor == "" {
		p.NextCursor = after
	}
	return p, err
}

// Checkpoints lists the job's checkpoints, oldest first.
func (c *Client) Checkpoints(ctx context.Context, id string) ([]Checkpoint, error) {
	var l CheckpointList
	_, err := c.call(ctx, "Checkpoints", http.MethodGet, jobPath(id, "/checkpoints"), nil, nil, id, &l)
	return l.Checkpoints, err
}

// Cancel stops the job. It is idempotent: cancelling a cancelled job
// changes nothing, and a completed or failed job stays as it is — the
// returned job's status says which.
func (c *Client) Cancel(ctx context.Context, id string) (Job, error) {
	var j Job
	_, err := c.call(ctx, "Cancel", http.MethodPost, jobPath(id, "/cancel"), nil, nil, id, &j)
	return j, err
}

// Artifacts lists a completed job's files with fresh download URLs. Before
// completion it is a *Conflict (JOB_NOT_COMPLETED).
func (c *Client) Artifacts(ctx context.Context, id string) ([]Artifact, error) {
	var l ArtifactList
	_, err := c.call(ctx, "Artifacts", http.MethodGet, jobPath(id, "/artifacts"), nil, nil, id, &l)
	return l.Artifacts, err
}

func jobPath(id, suffix string) string { return "/v1/jobs/" + url.PathEscape(id) + suffix }

// call makes the request, retrying transient failures, and decodes a 2xx
// answer into out. It returns the final HTTP status.
func (c *Client) call(ctx context.Context, op, method, path string, q url.Values, body []byte, jobID string, out any) (int, error) {
	target := c.base.String() + path // path is escaped already
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	return c.retry(ctx, op, func() (int, time.Duration, error) {
		return c.attempt(ctx, op, method, target, body, jobID, out)
	})
}

// retry runs try until it succeeds, fails for good, the attempts run out
// or ctx ends, waiting between attempts. try returns a *transient error for
// a failure worth retrying, with the Retry-After the cluster asked for.
func (c *Client) retry(ctx context.Context, op string, try func() (int, time.Duration, error)) (int, error) {
	var last ClusterUnavailable
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, c.gaveUp(op, attempt-1, last, err)
		}
		status, retryAfter, err := try()
		if err == nil {
			return status, nil
		}
		var t *transient
		if !errors.As(err, &t) {
			return status, err
		}
		last = ClusterUnavailable{Op: op, Attempts: attempt, StatusCode: t.status, Code: t.code, Message: t.message, RetryAfter: retryAfter, Err: t.err}
		if ctx.Err() != nil {
			return status, c.gaveUp(op, attempt, last, ctx.Err())
		}
		if attempt >= c.o.MaxAttempts {
			return status, &last
		}
		wait := c.backoff(attempt)
		if retryAfter > 0 {
			wait = min(retryAfter, c.o.MaxRetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// The wait would outlast the caller: give up now, with the
			// typed error the caller can schedule its own retry on.
			return status, &last
		}
		if err := c.o.Sleep(ctx, wait); err != nil {
			return status, c.gaveUp(op, attempt, last, err)
		}
	}
}

// gaveUp is the error when ctx ended: ctx's own error if the caller
// cancelled or nothing was tried yet; else (the deadline passed while the
// cluster failed or was slow) ClusterUnavailable carrying it.
func (c *Client) gaveUp(op string, attempts int, last ClusterUnavailable, ctxErr error) error {
	if attempts == 0 || errors.Is(ctxErr, context.Canceled) {
		return fmt.Errorf("gpucluster: %s: %w", op, ctxErr)
	}
	last.Op, last.Attempts = op, attempts
	if last.Err != nil {
		last.Err = errors.Join(ctxErr, last.Err)
	} else {
		last.Err = ctxErr
	}
	return &last
}

// transient marks a failure worth retrying.
type transient struct {
	status        int
	code, message string
	err           error
}

func (t *transient) Error() string {
	if t.err != nil {
		return t.err.Error()
	}
	return fmt.Sprintf("HTTP %d %s: %s", t.status, t.code, t.message)
}

// attempt makes one request within the per-attempt timeout.
func (c *Client) attempt(ctx context.Context, op, method, target string, body []byte, jobID string, out any) (int, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, target, rd)
	if err != nil {
		return 0, 0, fmt.Errorf("gpucluster: %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.o.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, 0, &transient{err: err} // timeout or connection error
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return resp.StatusCode, 0, &transient{status: resp.StatusCode, err: fmt.Errorf("reading the answer: %w", err)}
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return resp.StatusCode, 0, &transient{status: resp.StatusCode, err: fmt.Errorf("decoding the answer: %w", err)}
			}
		}
		return resp.StatusCode, 0, nil
	}
	code, msg := readError(resp)
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After")), classify(op, resp.StatusCode, code, msg, jobID)
}

// classify turns a non-2xx status into the client's error.
func classify(op string, status int, code, msg, jobID string) error {
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return &transient{status: status, code: code, message: msg}
	case status == http.StatusNotFound && jobID != "":
		return &JobNotFound{Op: op, ID: jobID, Code: code, Message: msg}
	case status == http.StatusConflict:
		return &Conflict{Op: op, Code: code, Message: msg}
	default:
		return &Rejected{Op: op, StatusCode: status, Code: code, Message: msg}
	}
}

// readError reads {"error":{"code","message"}}; another body becomes code
// HTTP_<status> and the body's start as the message.
func readError(resp *http.Response) (code, msg string) {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e ErrorResponse
	if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
		return e.Error.Code, e.Error.Message
	}
	msg = strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return "HTTP_" + strconv.Itoa(resp.StatusCode), msg
}

// retryAfter parses Retry-After: seconds or an HTTP date; 0 if absent or
// unparsable.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(0, s)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// backoff is the wait before retry n: BaseBackoff × 2^(n−1) capped at
// MaxBackoff, half of it fixed and half random.
func (c *Client) backoff(n int) time.Duration {
	d := c.o.MaxBackoff
	if n-1 < 30 {
		d = min(c.o.MaxBackoff, c.o.BaseBackoff<<(n-1))
	}
	half := d / 2
	c.mu.Lock()
	j := time.Duration(c.rnd.Int64N(int64(half) + 1))
	c.mu.Unlock()
	return half + j
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
