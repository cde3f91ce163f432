package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
	"github.com/brightrun/brightrun/pkg/gpusim"
)

// TestRotatingClusterToken: the real simulator behind a front that accepts
// only the current token. After the operator rotates it (and updates the
// secret), the next call's 401 makes the client read the secret again and
// repeat the call once; within a minute of a reload it does not read again.
func TestRotatingClusterToken(t *testing.T) {
	sim, err := gpusim.New(gpusim.Options{Token: "sim-token"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	current, secret, reads := "t1", "t1", 0
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := r.Header.Get("Authorization") == "Bearer "+current
		mu.Unlock()
		if ok {
			r.Header.Set("Authorization", "Bearer sim-token")
		}
		sim.ServeHTTP(w, r) // answers 401 for any other token
	}))
	defer front.Close()
	set := func(cluster, stored string) {
		mu.Lock()
		current, secret = cluster, stored
		mu.Unlock()
	}
	readToken := func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return secret, nil
	}
	newClient := func(tok string) (*gpucluster.Client, error) {
		return gpucluster.New(front.URL, tok, gpucluster.Options{Timeout: 2 * time.Second, MaxAttempts: 1})
	}
	ctx := context.Background()
	rc, err := newRotatingCluster(ctx, newClient, readToken)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	rc.now = func() time.Time { return clock }

	// A call that needs a valid token: a job the cluster does not know is
	// 404 when authorised, 401 otherwise.
	status := func() error { _, err := rc.Status(ctx, "no-such-job"); return err }
	authorised := func(err error) bool {
		var nf *gpucluster.JobNotFound
		return errors.As(err, &nf)
	}
	unauthorised := func(err error) bool {
		var rej *gpucluster.Rejected
		return errors.As(err, &rej) && rej.StatusCode == http.StatusUnauthorized
	}
	steps := []struct {
		name           string
		cluster, store string
		advance        time.Duration
		want           func(error) bool
		wantReads      int
	}{
		{"the cold start's token works", "t1", "t1", 0, authorised, 1},
		{"rotated within the minute of the cold start: no reload yet", "t2", "t2", 30 * time.Second, unauthorised, 1},
		{"rotated, a minute later: reloaded and repeated", "t2", "t2", 31 * time.Second, authorised, 2},
		{"rotated again at once: rate-limited", "t3", "t3", 10 * time.Second, unauthorised, 2},
		{"the secret not updated yet: read, nothing to retry with", "t4", "t3", time.Minute, unauthorised, 3},
		{"updated later: reloaded", "t4", "t4", time.Minute, authorised, 4},
	}
	for _, s := range steps {
		set(s.cluster, s.store)
		clock = clock.Add(s.advance)
		err := status()
		mu.Lock()
		n := reads
		mu.Unlock()
		if !s.want(err) || n != s.wantReads {
			t.Fatalf("%s: got %v after %d secret reads, want %d reads", s.name, err, n, s.wantReads)
		}
	}
}
