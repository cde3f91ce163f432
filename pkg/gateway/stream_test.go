package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/localidp"
)

// okStream is a complete streamed Function URL response: the prelude, 8
// NUL bytes, the body.
const okStream = `{"statusCode":200,"headers":{"Content-Type":"text/event-stream"}}` + "\x00\x00\x00\x00\x00\x00\x00\x00" + "data: hello\n\n"

type streamInvocation struct {
	function string
	event    events.LambdaFunctionURLRequest
	raw      []byte
}

func (f *fakeInvoker) InvokeStream(ctx context.Context, function string, payload []byte) (io.ReadCloser, error) {
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.streams = append(f.streams, streamInvocation{function: function, event: ev, raw: payload})
	answer := f.stream
	f.mu.Unlock()
	if answer == nil {
		return io.NopCloser(strings.NewReader(okStream)), nil
	}
	return answer(ctx)
}

func (f *fakeInvoker) onlyStream(t *testing.T) streamInvocation {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.streams) != 1 || len(f.calls) != 0 {
		t.Fatalf("invocations: got %d streamed and %d buffered, want 1 streamed", len(f.streams), len(f.calls))
	}
	return f.streams[0]
}

// chunks is a streamed response given in advance: each Read returns one
// part, then err (io.EOF if nil). It records Close.
type chunks struct {
	parts  [][]byte
	err    error
	closed bool
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	if c.parts[0] = c.parts[0][n:]; len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func (c *chunks) Close() error {
	c.closed = true
	return nil
}

func parts(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// liveStream is a response the test writes while the gateway reads it, one
// write per chunk. Like lambdahost's, it fails its reader when the
// invocation's context ends, and it records Close.
type liveStream struct {
	pr     *io.PipeReader
	pw     *io.PipeWriter
	ctx    context.Context
	closed chan struct{}
	once   sync.Once
}

func newLiveStream(ctx context.Context) *liveStream {
	pr, pw := io.Pipe()
	s := &liveStream{pr: pr, pw: pw, ctx: ctx, closed: make(chan struct{})}
	context.AfterFunc(ctx, func() { _ = pw.CloseWithError(ctx.Err()) })
	return s
}

func (s *liveStream) Read(p []byte) (int, error) { return s.pr.Read(p) }

func (s *liveStream) Close() error {
	s.once.Do(func() {
		_ = s.pr.Close()
		close(s.closed)
	})
	return nil
}

// write hands one chunk to the gateway; it returns once the gateway has
// read it.
func (s *liveStream) write(t *testing.T, chunk string) {
	t.Helper()
	if _, err := s.pw.Write([]byte(chunk)); err != nil {
		t.Fatalf("writing %q to the stream: %v", chunk, err)
	}
}

// liveInvoker answers InvokeStream with a liveStream, handed to the test
// through the returned channel.
func liveInvoker() (*fakeInvoker, chan *liveStream) {
	ch := make(chan *liveStream, 1)
	return &fakeInvoker{stream: func(ctx context.Context) (io.ReadCloser, error) {
		s := newLiveStream(ctx)
		ch <- s
		return s, nil
	}}, ch
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// Stream routes have no authorizer (a Function URL has none: the function
// checks the token); every other route keeps it.
func TestStreamRouteSkipsAuthorizer(t *testing.T) {
	kid := localidp.KeyID(&signingKey.PublicKey)
	expired := sign(t, signingKey, kid, with(claims(), "exp", now.Add(-time.Second).Unix()))
	tests := []struct {
		name         string
		path         string
		auth         string // Authorization header; "" means none
		wantStatus   int
		wantStreamed bool
	}{
		{"stream, no token", "/api/jobs/j1/stream", "", 200, true},
		{"stream, garbage token", "/api/jobs/j1/stream", "Bearer garbage", 200, true},
		{"stream, expired token", "/api/jobs/j1/stream", "Bearer " + expired, 200, true},
		{"stream, valid token", "/api/jobs/j1/stream", "Bearer " + validToken(t), 200, true},
		{"other route, no token", "/api/me", "", 401, false},
		{"other route, expired token", "/api/me", "Bearer " + expired, 401, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{}
			var opts []reqOpt
			if tt.auth != "" {
				opts = append(opts, header("Authorization", tt.auth))
			}
			w := serve(newGateway(inv), "GET", tt.path, nil, opts...)
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %q)", w.Code, tt.wantStatus, w.Body.String())
			}
			if !tt.wantStreamed {
				if n := inv.count(); n != 0 {
					t.Errorf("invocations: got %d, want 0", n)
				}
				return
			}
			got := inv.onlyStream(t)
			if got.function != "stream-job" {
				t.Errorf("function: got %q, want stream-job", got.function)
			}
			// The token reaches the function untouched, for it to check.
			if h := got.event.Headers["authorization"]; h != tt.auth {
				t.Errorf("authorization header in the event: got %q, want %q", h, tt.auth)
			}
			if bytes.Contains(got.raw, []byte(`"authorizer"`)) {
				t.Errorf("event has an authorizer: %s", got.raw)
			}
		})
	}
}

// The function gets a Function URL event: the API Gateway v2 fields a
// Function URL sends, none of routeKey, pathParameters or authorizer.
func TestStreamEventMapping(t *testing.T) {
	inv := &fakeInvoker{}
	g := newGateway(inv)
	r := httptest.NewRequest("GET", "/api/jobs/j_01/stream?since=5&x=a&x=b", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	r.Header.Set("Authorization", "Bearer abc")
	r.Header.Set("Last-Event-ID", "42")
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("User-Agent", "test-agent/1.0")
	r.Header.Add("Cookie", "session=abc; theme=dark")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200 (body %q)", w.Code, w.Body.String())
	}
	got := inv.onlyStream(t)
	ev := got.event

	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"version", ev.Version, "2.0"},
		{"rawPath", ev.RawPath, "/api/jobs/j_01/stream"},
		{"rawQueryString", ev.RawQueryString, "since=5&x=a&x=b"},
		{"queryStringParameters", ev.QueryStringParameters, map[string]string{"since": "5", "x": "a,b"}},
		{"cookies", ev.Cookies, []string{"session=abc", "theme=dark"}},
		{"headers[authorization]", ev.Headers["authorization"], "Bearer abc"},
		{"headers[last-event-id]", ev.Headers["last-event-id"], "42"},
		{"headers[accept]", ev.Headers["accept"], "text/event-stream"},
		{"requestContext.http", ev.RequestContext.HTTP, events.LambdaFunctionURLRequestContextHTTPDescription{
			Method: "GET", Path: "/api/jobs/j_01/stream", Protocol: "HTTP/1.1", SourceIP: "192.0.2.7", UserAgent: "test-agent/1.0",
		}},
		{"requestContext.requestId", ev.RequestContext.RequestID, w.Header().Get("Apigw-Requestid")},
		{"requestContext.domainName", ev.RequestContext.DomainName, "example.com"},
		{"requestContext.domainPrefix", ev.RequestContext.DomainPrefix, ev.RequestContext.APIID},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Errorf("cookie header: got %q, want it moved to cookies", ev.Headers["cookie"])
	}
	if ev.RequestContext.AccountID == "" || ev.RequestContext.APIID == "" || ev.RequestContext.RequestID == "" {
		t.Errorf("requestContext: got %+v, want accountId, apiId and requestId", ev.RequestContext)
	}
	if d := time.Since(time.UnixMilli(ev.RequestContext.TimeEpoch)); d < 0 || d > time.Minute {
		t.Errorf("timeEpoch: got %d, want about now", ev.RequestContext.TimeEpoch)
	}
	var raw map[string]any
	if err := json.Unmarshal(got.raw, &raw); err != nil {
		t.Fatal(err)
	}
	rc, _ := raw["requestContext"].(map[string]any)
	for _, field := range []string{"routeKey", "pathParameters", "stageVariables"} {
		if _, ok := raw[field]; ok {
			t.Errorf("event has %s, which Function URL events lack: %s", field, got.raw)
		}
	}
	for _, field := range []string{"routeKey", "stage", "authorizer"} {
		if _, ok := rc[field]; ok {
			t.Errorf("requestContext has %s, which Function URL events lack: %s", field, got.raw)
		}
	}
}

func TestStreamPrelude(t *testing.T) {
	const delim = "\x00\x00\x00\x00\x00\x00\x00\x00"
	internal := []byte("{\"message\":\"Internal Server Error\"}\n")
	tests := []struct {
		name        string
		parts       [][]byte
		err         error // after the parts; nil means io.EOF
		invokeErr   error
		wantStatus  int
		wantBody    []byte
		wantHeaders map[string][]string
	}{
		{
			name: "status, headers and cookies",
			parts: parts(`{"statusCode":201,"headers":{"Content-Type":"text/event-stream","Cache-Control":"no-cache","X-Accel-Buffering":"no"},"cookies":["a=1; Path=/","b=2"]}`+delim,
				"data: one\n\n", "data: two\n\n"),
			wantStatus: 201, wantBody: []byte("data: one\n\ndata: two\n\n"),
			wantHeaders: map[string][]string{
				"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}, "X-Accel-Buffering": {"no"},
				"Set-Cookie": {"a=1; Path=/", "b=2"},
			},
		},
		{
			name:       "prelude and body in one read",
			parts:      parts(`{"statusCode":200,"headers":{"Content-Type":"text/plain"}}` + delim + "body"),
			wantStatus: 200, wantBody: []byte("body"),
			wantHeaders: map[string][]string{"Content-Type": {"text/plain"}},
		},
		{
			name:       "prelude split across reads, delimiter too",
			parts:      parts(`{"statusCode":`, `404,"headers":{"Content-Type":"application/json"}}`, "\x00\x00\x00", "\x00\x00\x00\x00\x00{\"x\":1}"),
			wantStatus: 404, wantBody: []byte(`{"x":1}`),
			wantHeaders: map[string][]string{"Content-Type": {"application/json"}},
		},
		{
			name:       "no status, no headers: 200, octet-stream",
			parts:      parts(`{}` + delim + "x"),
			wantStatus: 200, wantBody: []byte("x"),
			wantHeaders: map[string][]string{"Content-Type": {"application/octet-stream"}},
		},
		{
			name:       "empty body",
			parts:      parts(`{"statusCode":204}` + delim),
			wantStatus: 204, wantBody: []byte{},
		},
		{
			name:       "NUL bytes in the body are body",
			parts:      parts(`{"statusCode":200}`+delim, "a\x00\x00\x00\x00\x00\x00\x00\x00b"),
			wantStatus: 200, wantBody: []byte("a\x00\x00\x00\x00\x00\x00\x00\x00b"),
		},
		{
			name:       "a buffered Function URL response is no prelude",
			parts:      parts(`{"statusCode":200,"body":"hello"}`),
			wantStatus: 502, wantBody: internal,
		},
		{
			name:       "prelude is not JSON",
			parts:      parts(`status: 200` + delim + "x"),
			wantStatus: 502, wantBody: internal,
		},
		{
			name:       "prelude is a JSON array",
			parts:      parts(`[200]` + delim + "x"),
			wantStatus: 502, wantBody: internal,
		},
		{
			name:       "header value is not a string",
			parts:      parts(`{"statusCode":200,"headers":{"X-N":1}}` + delim),
			wantStatus: 502, wantBody: internal,
		},
		{
			name:       "status out of range",
			parts:      parts(`{"statusCode":42}` + delim),
			wantStatus: 502, wantBody: internal,
		},
		{
			name:       "no delimiter in the first 16 KiB",
			parts:      parts(`{"statusCode":200,"headers":{"X-Big":"`+strings.Repeat("a", 20<<10), `"}}`+delim),
			wantStatus: 502, wantBody: internal,
		},
		{
			name:       "stream fails before the prelude ends",
			parts:      parts(`{"statusCode":200`),
			err:        errors.New("StreamBroken: no"),
			wantStatus: 502, wantBody: internal,
		},
		{
			name:       "function error before the response",
			invokeErr:  errors.New("Runtime.ExitError: secret internal detail"),
			wantStatus: 502, wantBody: internal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &chunks{parts: tt.parts, err: tt.err}
			inv := &fakeInvoker{stream: func(context.Context) (io.ReadCloser, error) {
				if tt.invokeErr != nil {
					return nil, tt.invokeErr
				}
				return c, nil
			}}
			w := serve(newGateway(inv), "GET", "/api/jobs/j1/stream", nil)
			if w.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if !bytes.Equal(w.Body.Bytes(), tt.wantBody) {
				t.Errorf("body: got %q, want %q", w.Body.Bytes(), tt.wantBody)
			}
			for k, want := range tt.wantHeaders {
				if got := w.Header().Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if tt.invokeErr == nil && !c.closed {
				t.Error("the stream was not closed")
			}
		})
	}
}

// Through a real server: status and headers reach the client before the
// first chunk, and each chunk before the function writes the next.
func TestStreamFlushesEachChunk(t *testing.T) {
	inv, streams := liveInvoker()
	srv := httptest.NewServer(newGateway(inv))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type response struct {
		res *http.Response
		err error
	}
	responses := make(chan response, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/jobs/j1/stream", nil)
		if err != nil {
			responses <- response{err: err}
			return
		}
		res, err := srv.Client().Do(req)
		responses <- response{res, err}
	}()
	s := receive(t, streams, "the invocation")
	s.write(t, `{"statusCode":200,"headers":{"Content-Type":"text/event-stream"}}`+"\x00\x00\x00\x00\x00\x00\x00\x00")
	r := receive(t, responses, "the response headers")
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer func() { _ = r.res.Body.Close() }()
	if r.res.StatusCode != 200 || r.res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got %d %q, want 200 text/event-stream", r.res.StatusCode, r.res.Header.Get("Content-Type"))
	}

	for _, chunk := range []string{"data: one\n\n", "data: two\n\n", "data: three\n\n"} {
		s.write(t, chunk)
		// The next chunk is not written yet: what arrives is this one.
		got := make([]byte, len(chunk))
		if _, err := io.ReadFull(r.res.Body, got); err != nil {
			t.Fatalf("reading %q: %v", chunk, err)
		}
		if string(got) != chunk {
			t.Fatalf("got %q, want %q", got, chunk)
		}
	}
	_ = s.pw.Close()
	if rest, err := io.ReadAll(r.res.Body); err != nil || len(rest) != 0 {
		t.Errorf("end of stream: got %q, %v; want a clean end", rest, err)
	}
	receive(t, s.closed, "the stream's Close")
}

// A client that goes away ends the invocation: its context is cancelled and
// the stream closed.
func TestStreamClientDisconnectCancelsInvocation(t *testing.T) {
	inv, streams := liveInvoker()
	srv := httptest.NewServer(newGateway(inv))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/jobs/j1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make(chan error, 1)
	go func() {
		res, err := srv.Client().Do(req)
		if err != nil {
			chunk <- err
			return
		}
		defer func() { _ = res.Body.Close() }()
		got := make([]byte, len("data: one\n\n"))
		_, err = io.ReadFull(res.Body, got)
		chunk <- err
		<-ctx.Done() // keep the connection until the client goes away
	}()
	s := receive(t, streams, "the invocation")
	s.write(t, "{}\x00\x00\x00\x00\x00\x00\x00\x00")
	s.write(t, "data: one\n\n")
	if err := receive(t, chunk, "the first chunk"); err != nil {
		t.Fatal(err)
	}

	cancel() // the client goes away
	receive(t, s.ctx.Done(), "the invocation's context to end")
	receive(t, s.closed, "the stream's Close")
}

// A function error after the response has begun breaks the response off:
// the client sees a truncated body, not a clean end.
func TestStreamErrorMidStreamBreaksResponse(t *testing.T) {
	inv := &fakeInvoker{stream: func(context.Context) (io.ReadCloser, error) {
		return &chunks{parts: parts(`{"statusCode":200}`+"\x00\x00\x00\x00\x00\x00\x00\x00", "data: one\n\n"), err: errors.New("StreamBroken: no")}, nil
	}}
	srv := httptest.NewServer(newGateway(inv))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/api/jobs/j1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if string(body) != "data: one\n\n" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %q, %v; want %q then io.ErrUnexpectedEOF", body, err, "data: one\n\n")
	}
}
