package lambdahost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/lambdahost"
)

// gate lets a test decide when testdata/streamfn writes its next chunk: the
// function GETs <URL>/<i> before chunk i and goes on when the answer comes.
type gate struct {
	URL     string
	reached chan int      // i, each time the function waits before chunk i
	release chan struct{} // each send lets one waiting function go on
	stop    chan struct{} // closed at cleanup: every waiter goes on
}

func newGate(t *testing.T) *gate {
	t.Helper()
	g := &gate{reached: make(chan int, 16), release: make(chan struct{}), stop: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(path.Base(r.URL.Path))
		g.reached <- i
		select {
		case <-g.release:
		case <-g.stop:
		case <-r.Context().Done(): // the function was stopped
		}
	}))
	g.URL = srv.URL + "/gate"
	t.Cleanup(func() {
		close(g.stop)
		srv.Close()
	})
	return g
}

// waitReached fails the test unless the function now waits before chunk i.
func (g *gate) waitReached(t *testing.T, i int) {
	t.Helper()
	select {
	case got := <-g.reached:
		if got != i {
			t.Fatalf("function waits before chunk %d, want %d", got, i)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("function never reached the gate before chunk %d", i)
	}
}

// urlRequest is a Function URL event whose query string tells
// testdata/streamfn what to do.
func urlRequest(t *testing.T, query map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(events.LambdaFunctionURLRequest{
		Version:               "2.0",
		RawPath:               "/api/jobs/j1/stream",
		QueryStringParameters: query,
		RequestContext:        events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "GET", Path: "/api/jobs/j1/stream"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type prelude struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Cookies    []string          `json:"cookies"`
}

// reader reads a stream write by write and remembers what it has seen.
type reader struct {
	t    *testing.T
	r    io.Reader
	seen bytes.Buffer
	err  error // the error that ended the reads, if any
}

// until reads until the bytes seen contain want, and returns false if the
// stream ended (or failed) first.
func (rd *reader) until(want string) bool {
	buf := make([]byte, 64<<10)
	for !bytes.Contains(rd.seen.Bytes(), []byte(want)) {
		if rd.err != nil {
			return false
		}
		n, err := rd.r.Read(buf)
		rd.seen.Write(buf[:n])
		rd.err = err
	}
	return true
}

// mustUntil is until for bytes that must come.
func (rd *reader) mustUntil(want string) {
	rd.t.Helper()
	if !rd.until(want) {
		rd.t.Fatalf("stream ended with %v after %q, want it to contain %q", rd.err, rd.seen.String(), want)
	}
}

// prelude reads and decodes the Function URL prelude: a JSON object, then
// 8 NUL bytes.
func (rd *reader) prelude() prelude {
	rd.t.Helper()
	const delim = "\x00\x00\x00\x00\x00\x00\x00\x00"
	rd.mustUntil(delim)
	raw, _, _ := strings.Cut(rd.seen.String(), delim)
	var p prelude
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		rd.t.Fatalf("prelude %q: %v", raw, err)
	}
	return p
}

// rest reads to the end and returns the error that ended the stream (nil
// for io.EOF).
func (rd *reader) rest() error {
	for rd.err == nil {
		rd.until("\xff never sent \xff")
	}
	if errors.Is(rd.err, io.EOF) {
		return nil
	}
	return rd.err
}

func openStream(t *testing.T, ctx context.Context, h *lambdahost.Host, name string, query map[string]string) (io.ReadCloser, *reader) {
	t.Helper()
	s, err := h.InvokeStream(ctx, name, urlRequest(t, query))
	if err != nil {
		t.Fatalf("InvokeStream %v: %v", query, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, &reader{t: t, r: s}
}

// streamPid runs a one-chunk stream and returns the pid of its worker.
func streamPid(t *testing.T, h *lambdahost.Host, name string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, rd := openStream(t, ctx, h, name, map[string]string{"chunks": "1"})
	p := rd.prelude()
	if err := rd.rest(); err != nil {
		t.Fatalf("one-chunk stream: got %v, want its end", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pid, err := strconv.Atoi(p.Headers["X-Pid"])
	if err != nil {
		t.Fatalf("prelude headers %v: no X-Pid", p.Headers)
	}
	return pid
}

// The first chunk reaches the caller while the function still runs: it is
// held at the gate before chunk 2 until the test has read chunk 1.
func TestStreamDeliversEachWriteAsItHappens(t *testing.T) {
	h, _ := newHost(t, lambdahost.Function{Name: "stream", Binary: streamBinary, MaxWorkers: 1})
	g := newGate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, rd := openStream(t, ctx, h, "stream", map[string]string{"chunks": "3", "gate": g.URL})

	p := rd.prelude()
	if p.StatusCode != 200 || p.Headers["Content-Type"] != "text/event-stream" {
		t.Errorf("prelude: got status %d headers %v, want 200 and Content-Type text/event-stream", p.StatusCode, p.Headers)
	}
	if want := []string{"seen=1; Path=/"}; strings.Join(p.Cookies, "|") != strings.Join(want, "|") {
		t.Errorf("prelude cookies: got %q, want %q", p.Cookies, want)
	}
	for i := 1; i <= 3; i++ {
		if i > 1 {
			g.waitReached(t, i)
			g.release <- struct{}{}
		}
		rd.mustUntil("data: chunk " + strconv.Itoa(i) + "\n\n")
		if i < 3 && bytes.Contains(rd.seen.Bytes(), []byte("chunk "+strconv.Itoa(i+1))) {
			t.Fatalf("got chunk %d before the gate let the function write it", i+1)
		}
	}
	if err := rd.rest(); err != nil {
		t.Errorf("end of stream: got %v, want io.EOF", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	// A stream read to its end leaves a warm worker behind.
	pid, _ := strconv.Atoi(p.Headers["X-Pid"])
	if got := streamPid(t, h, "stream"); got != pid {
		t.Errorf("worker after a finished stream: got pid %d, want the same worker %d", got, pid)
	}
}

func TestStreamErrors(t *testing.T) {
	tests := []struct {
		name    string
		query   map[string]string
		timeout time.Duration
		before  bool // the function fails before its response begins
		// gated: the function waits before chunk 2 until chunk 1 was read
		// (a panic would otherwise kill the process before chunk 1 left it).
		gated    bool
		wantType string
		wantMsg  string
		reused   bool
	}{
		{
			name:     "error mid-stream, reported in trailers",
			query:    map[string]string{"chunks": "3", "fail_at": "2"},
			wantType: "StreamBroken", wantMsg: "stream broke before chunk 2", reused: true,
		},
		{
			name:     "error before the response",
			query:    map[string]string{"refuse": "1"},
			before:   true,
			wantType: "StreamRefused", wantMsg: "refused to stream", reused: true,
		},
		{
			name:     "panic mid-stream kills the runtime",
			query:    map[string]string{"chunks": "3", "panic_at": "2"},
			gated:    true,
			wantType: "Runtime.ExitError",
		},
		{
			name:     "timeout mid-stream",
			query:    map[string]string{"chunks": "3", "pause": "60000"},
			timeout:  500 * time.Millisecond,
			wantType: "Sandbox.Timedout", wantMsg: "Task timed out after 0.50 seconds",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHost(t, lambdahost.Function{Name: "stream", Binary: streamBinary, MaxWorkers: 1, Timeout: tt.timeout})
			before := streamPid(t, h, "stream")

			var g *gate
			if tt.gated {
				g = newGate(t)
				tt.query["gate"] = g.URL
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := h.InvokeStream(ctx, "stream", urlRequest(t, tt.query))
			if tt.before {
				if err == nil {
					_ = s.Close()
					t.Fatalf("InvokeStream: got a stream, want a %s error", tt.wantType)
				}
			} else {
				if err != nil {
					t.Fatalf("InvokeStream: %v", err)
				}
				rd := &reader{t: t, r: s}
				rd.mustUntil("data: chunk 1\n\n")
				if g != nil {
					g.waitReached(t, 2)
					g.release <- struct{}{}
				}
				err = rd.rest()
				_ = s.Close()
			}
			if err == nil {
				t.Fatalf("got the end of the stream, want a %s error", tt.wantType)
			}
			fe := asFunctionError(t, err)
			if fe.Type != tt.wantType || !strings.Contains(fe.Message, tt.wantMsg) {
				t.Errorf("got %s: %q, want %s containing %q", fe.Type, fe.Message, tt.wantType, tt.wantMsg)
			}

			after := streamPid(t, h, "stream")
			if tt.reused && after != before {
				t.Errorf("worker after a function error: got pid %d, want the same worker %d", after, before)
			}
			if !tt.reused && after == before {
				t.Errorf("worker after a crash or timeout: got the same pid %d, want a new worker", after)
			}
		})
	}
}

// A caller that goes away (Close, or its context) ends the invocation: the
// worker is stopped and its slot is free for the next call at once.
func TestStreamAbandonedFreesWorker(t *testing.T) {
	for _, how := range []string{"Close", "context cancelled"} {
		t.Run(how, func(t *testing.T) {
			h, _ := newHost(t, lambdahost.Function{Name: "stream", Binary: streamBinary, MaxWorkers: 1})
			g := newGate(t) // never opened: the function would wait forever
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, rd := openStream(t, ctx, h, "stream", map[string]string{"chunks": "3", "gate": g.URL})
			pid, _ := strconv.Atoi(rd.prelude().Headers["X-Pid"])
			rd.mustUntil("data: chunk 1\n\n")
			g.waitReached(t, 2)

			if how == "Close" {
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				if _, err := s.Read(make([]byte, 1)); err == nil {
					t.Error("Read after Close: got no error")
				}
			} else {
				cancel()
				if err := rd.rest(); !errors.Is(err, context.Canceled) {
					t.Errorf("Read after the context ended: got %v, want context.Canceled", err)
				}
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
			if processExists(pid) {
				t.Errorf("worker pid %d of the abandoned stream still exists, want it stopped", pid)
			}
			// MaxWorkers is 1: this waits forever if the slot leaked.
			next := streamPid(t, h, "stream")
			if next == pid {
				t.Errorf("next invocation ran in pid %d, the stopped worker", next)
			}
		})
	}
}

// holdOnlyWorker opens a two-chunk stream on a host whose function has
// one worker and returns once chunk 1 is read and the function waits at
// the gate before chunk 2: the only worker is busy streaming.
func holdOnlyWorker(t *testing.T) (*lambdahost.Host, *gate, io.ReadCloser, *reader) {
	t.Helper()
	h, _ := newHost(t, lambdahost.Function{Name: "stream", Binary: streamBinary, MaxWorkers: 1})
	g := newGate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	s, rd := openStream(t, ctx, h, "stream", map[string]string{"chunks": "2", "gate": g.URL})
	rd.mustUntil("data: chunk 1\n\n")
	g.waitReached(t, 2)
	return h, g, s, rd
}

// A stream holds its worker: with MaxWorkers 1 a second call waits until
// the first stream has ended.
func TestStreamCountsAgainstMaxWorkers(t *testing.T) {
	h, g, s, rd := holdOnlyWorker(t)

	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if s2, err := h.InvokeStream(short, "stream", urlRequest(t, map[string]string{"chunks": "1"})); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			_ = s2.Close()
		}
		t.Fatalf("second stream while the only worker streams: got %v, want context.DeadlineExceeded", err)
	}
	if _, err := h.Invoke(short, "stream", urlRequest(t, map[string]string{"chunks": "1"})); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke while the only worker streams: got %v, want context.DeadlineExceeded", err)
	}

	g.release <- struct{}{}
	rd.mustUntil("data: chunk 2\n\n")
	if err := rd.rest(); err != nil {
		t.Fatalf("first stream: got %v, want its end", err)
	}
	_ = s.Close()
	streamPid(t, h, "stream")
}

// A function that does not stream answers InvokeStream with its whole
// response; a function that streams answers Invoke with its whole body.
func TestStreamAndBufferedMix(t *testing.T) {
	h, _ := newHost(t,
		lambdahost.Function{Name: "buffered"},
		lambdahost.Function{Name: "stream", Binary: streamBinary},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("InvokeStream of a buffered response", func(t *testing.T) {
		payload := `{"op":"echo","pad":"` + strings.Repeat("x", 100_000) + `"}`
		s, err := h.InvokeStream(ctx, "buffered", []byte(payload))
		if err != nil {
			t.Fatalf("InvokeStream: %v", err)
		}
		defer func() { _ = s.Close() }()
		got, err := io.ReadAll(s)
		if err != nil || string(got) != payload {
			t.Errorf("got %d bytes, %v; want the %d bytes of the payload", len(got), err, len(payload))
		}
	})
	t.Run("InvokeStream of a buffered function error", func(t *testing.T) {
		_, err := h.InvokeStream(ctx, "buffered", []byte(`{"op":"fail","msg":"no"}`))
		if fe := asFunctionError(t, err); fe.Type != "TestFailure" {
			t.Errorf("errorType: got %q, want TestFailure", fe.Type)
		}
	})
	t.Run("Invoke of a streamed response", func(t *testing.T) {
		out, err := h.Invoke(ctx, "stream", urlRequest(t, map[string]string{"chunks": "3", "pause": "20"}))
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		_, body, ok := bytes.Cut(out, []byte("\x00\x00\x00\x00\x00\x00\x00\x00"))
		if want := "data: chunk 1\n\ndata: chunk 2\n\ndata: chunk 3\n\n"; !ok || string(body) != want {
			t.Errorf("got %q, want the prelude, 8 NUL bytes and %q", out, want)
		}
	})
	t.Run("Invoke of a stream that fails half-way", func(t *testing.T) {
		_, err := h.Invoke(ctx, "stream", urlRequest(t, map[string]string{"chunks": "3", "fail_at": "3"}))
		if fe := asFunctionError(t, err); fe.Type != "StreamBroken" {
			t.Errorf("errorType: got %q, want StreamBroken (from the trailers)", fe.Type)
		}
	})
}

// Close of the host ends an open stream with an error, and the stream's
// Close returns.
func TestHostCloseEndsOpenStream(t *testing.T) {
	h, _, s, rd := holdOnlyWorker(t)

	h.Close()
	if err := rd.rest(); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read after the host closed: got %v, want the function's exit", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
