package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/testkit"
)

var creating = route.Route{Method: "POST", Path: "/api/things", Function: "create-thing", Idempotent: true}

// counter is a creating handler: each run makes a new thing.
type counter struct {
	runs    atomic.Int32
	fail    error
	started chan struct{}
	release chan struct{}
}

func (c *counter) handle(_ context.Context, req *httpapi.Request) (httpapi.Response, error) {
	n := c.runs.Add(1)
	if c.started != nil {
		c.started <- struct{}{}
		<-c.release
	}
	if c.fail != nil {
		return httpapi.Response{}, c.fail
	}
	return httpapi.Created(map[string]any{"id": fmt.Sprintf("thing-%d", n), "body": string(req.Body())}), nil
}

func withKey(user, key, body string) events.APIGatewayV2HTTPRequest {
	ev := authed(user, "", body)
	ev.Headers["idempotency-key"] = key
	return ev
}

func TestIdempotencyReplay(t *testing.T) {
	store, _ := testkit.Table(t)
	s := server(nil)
	s.Idempotency = store
	c := &counter{}
	h := s.Handle(creating, c.handle)

	first, _ := h(ctx, withKey("u1", "k1", `{"n":1}`))
	again, _ := h(ctx, withKey("u1", "k1", `{"n":1}`))
	if first.StatusCode != 201 || again.StatusCode != 201 || again.Body != first.Body {
		t.Fatalf("replay: got %d %s then %d %s, want the same 201 twice", first.StatusCode, first.Body, again.StatusCode, again.Body)
	}
	if again.Headers["Idempotent-Replayed"] != "true" || first.Headers["Idempotent-Replayed"] != "" {
		t.Errorf("Idempotent-Replayed: got %q then %q, want \"\" then \"true\"", first.Headers["Idempotent-Replayed"], again.Headers["Idempotent-Replayed"])
	}
	if n := c.runs.Load(); n != 1 {
		t.Fatalf("handler runs: got %d, want 1", n)
	}

	reused, _ := h(ctx, withKey("u1", "k1", `{"n":2}`))
	if e := decode(t, reused); reused.StatusCode != 409 || e.Error.Code != "IDEMPOTENCY_KEY_REUSED" {
		t.Fatalf("same key, other body: got %d %s, want 409 IDEMPOTENCY_KEY_REUSED", reused.StatusCode, reused.Body)
	}
	// Keys are per user: another user's k1 is a new request.
	other, _ := h(ctx, withKey("u2", "k1", `{"n":1}`))
	noKey, _ := h(ctx, authed("u1", "", `{"n":1}`))
	if other.StatusCode != 201 || noKey.StatusCode != 201 || c.runs.Load() != 3 {
		t.Fatalf("other user / no key: got %d, %d after %d runs, want 201, 201 after 3", other.StatusCode, noKey.StatusCode, c.runs.Load())
	}
	for _, bad := range []string{strings.Repeat("k", 256), "tab\there", "caf\u00e9"} {
		res, _ := h(ctx, withKey("u1", bad, `{}`))
		if e := decode(t, res); res.StatusCode != 400 || len(e.Error.Fields["Idempotency-Key"]) == 0 {
			t.Errorf("key %q: got %d %s, want 400 naming Idempotency-Key", bad, res.StatusCode, res.Body)
		}
	}
}

func TestIdempotencyStoresClientErrorsAndReleasesOurs(t *testing.T) {
	store, _ := testkit.Table(t)
	s := server(nil)
	s.Idempotency = store

	invalid := &counter{fail: apperr.Fields{"name": {"is required"}}.Err()}
	h := s.Handle(creating, invalid.handle)
	a, _ := h(ctx, withKey("u1", "bad", `{}`))
	b, _ := h(ctx, withKey("u1", "bad", `{}`))
	if a.StatusCode != 400 || b.StatusCode != 400 || a.Body != b.Body || invalid.runs.Load() != 1 {
		t.Fatalf("client error replay: got %d, %d after %d runs, want 400 twice after 1 run", a.StatusCode, b.StatusCode, invalid.runs.Load())
	}

	broken := &counter{fail: apperr.Wrap(fmt.Errorf("throttled"), "put")}
	h = s.Handle(creating, broken.handle)
	for i := range 2 {
		res, _ := h(ctx, withKey("u1", "flaky", `{}`))
		if res.StatusCode != 500 {
			t.Fatalf("attempt %d: got %d, want 500", i, res.StatusCode)
		}
	}
	if n := broken.runs.Load(); n != 2 {
		t.Fatalf("after our failure the key must be free: handler ran %d times, want 2", n)
	}
}

func TestIdempotencyConcurrentDoubleClick(t *testing.T) {
	store, _ := testkit.Table(t)
	s := server(nil)
	s.Idempotency = store
	c := &counter{started: make(chan struct{}), release: make(chan struct{})}
	h := s.Handle(creating, c.handle)

	var wg sync.WaitGroup
	var first events.APIGatewayV2HTTPResponse
	wg.Go(func() { first, _ = h(ctx, withKey("u1", "dbl", `{"n":1}`)) })
	<-c.started // the first request is inside the handler
	second, _ := h(ctx, withKey("u1", "dbl", `{"n":1}`))
	close(c.release)
	wg.Wait()
	if e := decode(t, second); second.StatusCode != 409 || e.Error.Code != "IDEMPOTENCY_IN_PROGRESS" {
		t.Fatalf("second click: got %d %s, want 409 IDEMPOTENCY_IN_PROGRESS", second.StatusCode, second.Body)
	}
	if first.StatusCode != 201 || c.runs.Load() != 1 {
		t.Fatalf("first click: got %d after %d runs, want 201 after 1", first.StatusCode, c.runs.Load())
	}
	third, _ := h(ctx, withKey("u1", "dbl", `{"n":1}`))
	if third.Body != first.Body {
		t.Fatalf("after completion: got %s, want the replay %s", third.Body, first.Body)
	}
}

func TestIdempotentRouteNeedsAStore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("want a panic at cold start for an idempotent route without a store")
		}
	}()
	server(nil).Handle(creating, (&counter{}).handle)
}
