package lambdahost

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// Trailers a runtime sets when its response fails after the body has begun
// (aws-lambda-go: lambda/runtime_api_client.go, errorCapturingReader). The
// body trailer is the error as base64-encoded JSON.
const (
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// errStreamClosed ends a stream its reader gave up on.
var errStreamClosed = errors.New("lambdahost: stream closed by its reader")

// InvokeStream runs one invocation whose response reaches the caller while
// the function writes it, as through a Function URL in RESPONSE_STREAM mode.
// It returns once the function has begun its response (with an *Error if
// the function failed before that); each read then yields the bytes of one
// write of the function's runtime as soon as it arrives. For a Function URL
// response (events.LambdaFunctionURLStreamingResponse) the stream starts
// with the prelude: a JSON object with statusCode, headers and cookies,
// then 8 NUL bytes, then the body. A response the function does not stream
// arrives whole.
//
// Read returns io.EOF at the end of the response, an *Error if the function
// failed mid-stream (the runtime's error trailers), crashed
// (Runtime.ExitError) or ran past its timeout (Sandbox.Timedout, as Lambda
// cuts a stream at the function's timeout), and ctx's error once ctx is done.
//
// The caller must Close the stream. Closing it (or ctx ending) before the
// function has finished stops the worker instead of letting the function
// run on: in AWS the function would go on, unaware that the client left,
// until it returns or times out, which for an event stream can be the whole
// 15 minutes, and locally that would hold one of the function's few
// workers; a stopped worker's slot is free at once. Close returns when the
// worker is back in the pool or gone.
func (h *Host) InvokeStream(ctx context.Context, name string, payload []byte) (io.ReadCloser, error) {
	p, err := h.pool(name)
	if err != nil {
		return nil, err
	}
	return p.invokeStream(ctx, payload)
}

func (p *pool) invokeStream(ctx context.Context, payload []byte) (io.ReadCloser, error) {
	for attempt := 1; ; attempt++ {
		w, err := p.acquire(ctx)
		if err != nil {
			return nil, err
		}
		s, err := w.invokeStream(ctx, payload, p.fn.Timeout, func() { p.release(w) })
		if err == nil {
			return s, nil // the stream releases the worker when it ends
		}
		p.release(w)
		if errors.Is(err, errNotDelivered) {
			// As in invoke: the invocation never ran, a fresh worker can run it.
			if attempt < 3 {
				continue
			}
			err = &Error{Type: "Runtime.ExitError", Message: "the function process exited"}
		}
		return nil, err
	}
}

// streamSink is where the Runtime API puts a streamed response.
type streamSink struct {
	begun chan struct{}  // closed when the runtime posts its response
	pw    *io.PipeWriter // the body, one write per read from the runtime
	// ended gets nil once the whole response and its trailers were read
	// (the worker is free again: a function error in the trailers is a
	// handled error), or why the response broke off. Buffered.
	ended chan error
}

// stream is the caller's end of a streamed response.
type stream struct {
	pr    *io.PipeReader
	abort chan struct{} // closed by Close
	once  sync.Once
	done  chan struct{} // closed when the worker has been released
}

func (s *stream) Read(p []byte) (int, error) { return s.pr.Read(p) }

func (s *stream) Close() error {
	s.once.Do(func() {
		_ = s.pr.CloseWithError(errStreamClosed)
		close(s.abort)
	})
	<-s.done
	return nil
}

// invokeStream hands payload to the process and returns once its response
// has begun. On success the returned stream owns the worker and calls
// release when the response has ended; on error the caller releases it.
func (w *worker) invokeStream(ctx context.Context, payload []byte, timeout time.Duration, release func()) (*stream, error) {
	pr, pw := io.Pipe()
	sink := &streamSink{begun: make(chan struct{}), pw: pw, ended: make(chan error, 1)}
	inv := &invocation{id: newRequestID(), payload: payload, deadline: time.Now().Add(timeout), done: make(chan result, 1), sink: sink}
	w.track(inv)
	timer := time.NewTimer(timeout) // Lambda's timeout covers the whole stream
	fail := func(err error) (*stream, error) {
		timer.Stop()
		w.untrack(inv.id)
		// A response that began all the same must not block on a reader
		// that will never come.
		_ = pr.CloseWithError(errStreamClosed)
		return nil, err
	}

	select {
	case w.next <- inv:
	case <-w.exited:
		return fail(errNotDelivered)
	case <-timer.C:
		w.stop()
		return fail(timedOut(timeout))
	case <-ctx.Done():
		// Not handed over: the worker is as good as before.
		return fail(ctx.Err())
	}
	select {
	case <-sink.begun:
	case r := <-inv.done: // an error the function reported before streaming
		return fail(r.err)
	case <-w.exited:
		select {
		case r := <-inv.done:
			return fail(r.err)
		default:
		}
		return fail(&Error{Type: "Runtime.ExitError", Message: "the function process exited during the invocation"})
	case <-timer.C:
		w.stop()
		return fail(timedOut(timeout))
	case <-ctx.Done():
		// The function runs and nobody will read its answer (see InvokeStream).
		w.stop()
		return fail(ctx.Err())
	}

	s := &stream{pr: pr, abort: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer w.untrack(inv.id)
		defer timer.Stop()
		var err error
		select {
		case err = <-sink.ended:
			if err == nil {
				release()
				return
			}
			err = &Error{Type: "Runtime.ExitError", Message: "the function's response stream broke off: " + err.Error()}
		case <-w.exited:
			err = &Error{Type: "Runtime.ExitError", Message: "the function process exited during the invocation"}
		case <-timer.C:
			err = timedOut(timeout)
		case <-s.abort:
			err = errStreamClosed
		case <-ctx.Done():
			err = ctx.Err()
		}
		// A response read to its end wins over whatever happened at the
		// same time (the caller closing right after the last byte).
		select {
		case e := <-sink.ended:
			if e == nil {
				release()
				return
			}
		default:
		}
		// The reader sees err; a write of the Runtime API blocked on the
		// reader returns. Stopping the process ends its post.
		_ = sink.pw.CloseWithError(err)
		w.stop()
		release()
	}()
	return s, nil
}

// handleStream passes a response to the caller of InvokeStream while the
// runtime posts it. The Go runtime posts every response with chunked
// encoding and flushes each read of the handler's body as one chunk, so one
// read here is one write of the function (and the Function URL prelude
// arrives as a chunk of its own, before the body).
func (w *worker) handleStream(rw http.ResponseWriter, r *http.Request, sink *streamSink) {
	close(sink.begun)
	err := pump(sink.pw, r.Body)
	if err != nil {
		// The caller left (the worker is being stopped) or the connection
		// broke (the process died): no answer is of use to the runtime.
		sink.ended <- err
		return
	}
	// Tell the supervisor first: once the reader sees the end it may close
	// the stream, and a finished function must not be taken for an
	// abandoned one.
	sink.ended <- nil
	if fe := trailerError(r.Trailer); fe != nil {
		_ = sink.pw.CloseWithError(fe)
	} else {
		_ = sink.pw.Close()
	}
	rw.WriteHeader(http.StatusAccepted)
}

// pump copies src to dst one read at a time: each write reaches the reader
// as it was read, with nothing held back to fill a buffer.
func pump(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// trailerError is the function error a runtime reports in the trailers of
// its response, or nil. The body trailer holds the error as base64 JSON
// ({"errorMessage":…,"errorType":…}); if it does not decode, the type
// trailer still names the error.
func trailerError(t http.Header) *Error {
	typ := t.Get(trailerErrorType)
	if typ == "" {
		return nil
	}
	body := t.Get(trailerErrorBody)
	e := &Error{}
	if raw, err := base64.StdEncoding.DecodeString(body); err == nil && json.Unmarshal(raw, e) == nil && e.Type != "" {
		return e
	}
	return &Error{Type: typ, Message: body}
}
