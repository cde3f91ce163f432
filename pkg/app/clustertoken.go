package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

// rotatingCluster is the GPU-cluster client of a function whose token comes
// from Secrets Manager. A warm function keeps the token it read at cold
// start; when the cluster's operator rotates it, every call would answer
// 401 and the workflow would fail running jobs (Rejected is not retried).
// So on a 401 the secret is read again — at most once a minute — and the
// call is repeated once with the new token.
type rotatingCluster struct {
	newClient func(token string) (*gpucluster.Client, error)
	readToken func(ctx context.Context) (string, error)
	now       func() time.Time

	mu       sync.Mutex
	client   *gpucluster.Client
	token    string
	reloaded time.Time
}

const tokenReloadEvery = time.Minute

func newRotatingCluster(ctx context.Context, newClient func(string) (*gpucluster.Client, error), readToken func(context.Context) (string, error)) (*rotatingCluster, error) {
	tok, err := readToken(ctx)
	if err != nil {
		return nil, err
	}
	c, err := newClient(tok)
	if err != nil {
		return nil, err
	}
	return &rotatingCluster{newClient: newClient, readToken: readToken, now: time.Now, client: c, token: tok, reloaded: time.Now()}, nil
}

// withClient runs call, and once more with a re-read token if the cluster
// answered 401 and the token changed.
func withClient[T any](ctx context.Context, r *rotatingCluster, call func(*gpucluster.Client) (T, error)) (T, error) {
	r.mu.Lock()
	c := r.client
	r.mu.Unlock()
	out, err := call(c)
	var rej *gpucluster.Rejected
	if !errors.As(err, &rej) || rej.StatusCode != http.StatusUnauthorized {
		return out, err
	}
	fresh, ok := r.reload(ctx, c)
	if !ok {
		return out, err
	}
	return call(fresh)
}

// reload reads the token again unless that happened within the minute;
// ok is false when there is no new client to try (rate-limited, unreadable
// or unchanged token).
func (r *rotatingCluster) reload(ctx context.Context, failed *gpucluster.Client) (*gpucluster.Client, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != failed { // another call reloaded meanwhile
		return r.client, true
	}
	if r.now().Sub(r.reloaded) < tokenReloadEvery {
		return nil, false
	}
	r.reloaded = r.now()
	tok, err := r.readToken(ctx)
	if err != nil || tok == r.token {
		return nil, false
	}
	c, err := r.newClient(tok)
	if err != nil {
		return nil, false
	}
	r.client, r.token = c, tok
	return c, true
}

func (r *rotatingCluster) Submit(ctx context.Context, req gpucluster.SubmitRequest) (gpucluster.Job, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) (gpucluster.Job, error) { return c.Submit(ctx, req) })
}
func (r *rotatingCluster) Status(ctx context.Context, id string) (gpucluster.Job, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) (gpucluster.Job, error) { return c.Status(ctx, id) })
}
func (r *rotatingCluster) Metrics(ctx context.Context, id string, afterStep, limit int) (gpucluster.MetricsPage, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) (gpucluster.MetricsPage, error) {
		return c.Metrics(ctx, id, afterStep, limit)
	})
}
func (r *rotatingCluster) Logs(ctx context.Context, id, after string, limit int) (gpucluster.LogPage, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) (gpucluster.LogPage, error) { return c.Logs(ctx, id, after, limit) })
}
func (r *rotatingCluster) Checkpoints(ctx context.Context, id string) ([]gpucluster.Checkpoint, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) ([]gpucluster.Checkpoint, error) { return c.Checkpoints(ctx, id) })
}
func (r *rotatingCluster) Cancel(ctx context.Context, id string) (gpucluster.Job, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) (gpucluster.Job, error) { return c.Cancel(ctx, id) })
}
func (r *rotatingCluster) Artifacts(ctx context.Context, id string) ([]gpucluster.Artifact, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) ([]gpucluster.Artifact, error) { return c.Artifacts(ctx, id) })
}
func (r *rotatingCluster) Download(ctx context.Context, url string, offset int64) (io.ReadCloser, error) {
	return withClient(ctx, r, func(c *gpucluster.Client) (io.ReadCloser, error) { return c.Download(ctx, url, offset) })
}
