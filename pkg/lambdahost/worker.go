package lambdahost

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Runtime API paths (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	pathNext      = "GET /2018-06-01/runtime/invocation/next"
	pathResponse  = "POST /2018-06-01/runtime/invocation/{id}/response"
	pathError     = "POST /2018-06-01/runtime/invocation/{id}/error"
	pathInitError = "POST /2018-06-01/runtime/init/error"
)

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan result // buffered: the runtime never blocks on us
	// sink receives the response as the runtime writes it (InvokeStream);
	// nil: the response is read whole (Invoke).
	sink *streamSink
}

type result struct {
	body []byte
	err  error
}

// worker is one process of a function and the Runtime API it polls.
type worker struct {
	fn     Function
	cmd    *exec.Cmd
	srv    *http.Server
	next   chan *invocation // handed to the process's GET /next
	ready  chan struct{}    // closed at the first GET /next: init is done
	exited chan struct{}    // closed when the process has exited
	dead   atomic.Bool
	log    io.WriteCloser

	mu       sync.Mutex
	inflight map[string]*invocation
	initErr  *Error
	once     sync.Once
}

func startWorker(ctx context.Context, fn Function, out io.Writer) (*worker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &worker{fn: fn, next: make(chan *invocation), ready: make(chan struct{}), exited: make(chan struct{}), inflight: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc(pathNext, w.handleNext)
	mux.HandleFunc(pathResponse, w.handleResult(false))
	mux.HandleFunc(pathError, w.handleResult(true))
	mux.HandleFunc(pathInitError, w.handleInitError)
	w.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = w.srv.Serve(ln) }()

	w.log = prefixWriter(out, "["+fn.Name+"]")
	w.cmd = exec.Command(fn.Binary)
	w.cmd.Env = append(append([]string{}, fn.Env...),
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME="+fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"_HANDLER=bootstrap",
	)
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		_ = w.srv.Close()
		return nil, fmt.Errorf("start %s: %w", fn.Name, err)
	}
	go func() {
		_ = w.cmd.Wait()
		w.dead.Store(true)
		close(w.exited)
	}()

	select {
	case <-w.ready:
		return w, nil
	case <-w.exited:
		w.stop()
		if e := w.initError(); e != nil {
			return nil, fmt.Errorf("%s failed to initialise: %w", fn.Name, e)
		}
		return nil, fmt.Errorf("%s exited during initialisation (see its log)", fn.Name)
	case <-time.After(10 * time.Second): // Lambda's init phase limit
		w.stop()
		return nil, fmt.Errorf("%s did not initialise within 10s", fn.Name)
	case <-ctx.Done():
		w.stop()
		return nil, ctx.Err()
	}
}

func (w *worker) alive() bool { return !w.dead.Load() }

// invoke hands payload to the process and waits for its answer. Like
// Lambda, an invocation runs to completion or timeout even if the caller
// gives up: the worker is not reused before it is free.
func (w *worker) invoke(_ context.Context, payload []byte, timeout time.Duration) ([]byte, error) {
	inv := &invocation{id: newRequestID(), payload: payload, deadline: time.Now().Add(timeout), done: make(chan result, 1)}
	w.track(inv)
	defer w.untrack(inv.id)

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case w.next <- inv:
	case <-w.exited:
		return nil, errNotDelivered
	case <-timer.C:
		w.stop()
		return nil, timedOut(timeout)
	}
	select {
	case r := <-inv.done:
		return r.body, r.err
	case <-w.exited:
		// The runtime reports a panic and then exits: if both are ready by
		// the time we look, the reported result wins.
		select {
		case r := <-inv.done:
			return r.body, r.err
		default:
		}
		return nil, &Error{Type: "Runtime.ExitError", Message: "the function process exited during the invocation"}
	case <-timer.C:
		w.stop()
		return nil, timedOut(timeout)
	}
}

// track makes inv known to the Runtime API until untrack.
func (w *worker) track(inv *invocation) {
	w.mu.Lock()
	w.inflight[inv.id] = inv
	w.mu.Unlock()
}

func (w *worker) untrack(id string) {
	w.mu.Lock()
	delete(w.inflight, id)
	w.mu.Unlock()
}

// take hands out the invocation of a response or error post, once: a
// second post for the same request id finds nothing, as in Lambda.
func (w *worker) take(id string) *invocation {
	w.mu.Lock()
	defer w.mu.Unlock()
	inv := w.inflight[id]
	delete(w.inflight, id)
	return inv
}

// errNotDelivered: the process exited before it took the invocation.
var errNotDelivered = errors.New("lambdahost: the function process exited before the invocation was delivered")

func timedOut(d time.Duration) error {
	return &Error{Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", d.Seconds())}
}

func (w *worker) handleNext(rw http.ResponseWriter, r *http.Request) {
	w.once.Do(func() { close(w.ready) })
	select {
	case inv := <-w.next:
		h := rw.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:"+w.fn.Name)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+inv.id[:8]+"-"+inv.id[9:13]+inv.id[14:18]+inv.id[19:23]+inv.id[24:28])
		h.Set("Content-Type", "application/json")
		_, _ = rw.Write(inv.payload)
	case <-r.Context().Done():
	case <-w.exited:
	}
}

func (w *worker) handleResult(isError bool) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		inv := w.take(r.PathValue("id"))
		if inv == nil {
			http.Error(rw, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		if inv.sink != nil && !isError {
			w.handleStream(rw, r, inv.sink)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1)) // Lambda's 6 MB response limit
		var res result
		switch {
		case err != nil:
			res.err = &Error{Type: "Runtime.ReadError", Message: err.Error()}
		case len(body) > 6<<20:
			res.err = &Error{Type: "Function.ResponseSizeTooLarge", Message: "response payload exceeds 6 MB"}
		case isError:
			e := &Error{}
			if json.Unmarshal(body, e) != nil || e.Type == "" {
				e = &Error{Type: r.Header.Get("Lambda-Runtime-Function-Error-Type"), Message: string(body)}
			}
			res.err = e
		default:
			// A runtime whose response reader failed half-way says so in
			// trailers (read by now: ReadAll reached the end of the body);
			// the partial body is no answer.
			if fe := trailerError(r.Trailer); fe != nil {
				res.err = fe
			} else {
				res.body = body
			}
		}
		inv.done <- res
		rw.WriteHeader(http.StatusAccepted)
	}
}

func (w *worker) handleInitError(rw http.ResponseWriter, r *http.Request) {
	e := &Error{}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, e) != nil {
		e = &Error{Type: "Runtime.InitError", Message: string(body)}
	}
	w.mu.Lock()
	w.initErr = e
	w.mu.Unlock()
	rw.WriteHeader(http.StatusAccepted)
}

func (w *worker) initError() *Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.initErr
}

// stop ends the process group and the Runtime API server.
func (w *worker) stop() {
	w.dead.Store(true)
	if w.cmd != nil && w.cmd.Process != nil {
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(2 * time.Second):
			_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
			<-w.exited
		}
	}
	_ = w.srv.Close()
	if w.log != nil {
		_ = w.log.Close()
	}
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
