// Package lambdahost runs Lambda function binaries locally the way the
// Lambda service does: each worker is a process of the unchanged binary
// (built with lambda.norpc, as deployed) that pulls invocations from its own
// implementation of the Lambda Runtime API. Workers start on demand, stay
// warm, are reused one invocation at a time, and are killed on timeout. A
// response can also reach the caller while the function writes it
// (InvokeStream, stream.go), as through a Function URL in RESPONSE_STREAM
// mode.
package lambdahost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Function describes one deployable function.
type Function struct {
	Name    string
	Binary  string        // path of the bootstrap executable
	Env     []string      // environment, as for the deployed function
	Timeout time.Duration // per invocation; 0 means 30s
	// MaxWorkers bounds concurrent invocations (reserved concurrency);
	// 0 means 4.
	MaxWorkers int
}

// Error is a function error, as Lambda reports it to the caller.
type Error struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Host runs functions.
type Host struct {
	logger *slog.Logger
	output io.Writer // the functions' stdout and stderr, line-prefixed

	mu        sync.Mutex
	functions map[string]*pool
	closed    bool
	async     sync.WaitGroup // queued asynchronous invocations
}

// New returns a Host; output receives every function's log lines.
func New(fns []Function, output io.Writer, logger *slog.Logger) *Host {
	h := &Host{logger: logger, output: output, functions: map[string]*pool{}}
	for _, f := range fns {
		if f.Timeout == 0 {
			f.Timeout = 30 * time.Second
		}
		if f.MaxWorkers == 0 {
			f.MaxWorkers = 4
		}
		h.functions[f.Name] = newPool(h, f)
	}
	return h
}

// Invoke runs one invocation synchronously (RequestResponse) and returns
// the function's response payload, or an *Error for a function error. A
// function that streams its response is read to the end, as Lambda does
// for a RequestResponse call.
func (h *Host) Invoke(ctx context.Context, name string, payload []byte) ([]byte, error) {
	p, err := h.pool(name)
	if err != nil {
		return nil, err
	}
	return p.invoke(ctx, payload)
}

// pool returns the pool of function name, if the host is open.
func (h *Host) pool(name string) (*pool, error) {
	h.mu.Lock()
	p, ok := h.functions[name]
	closed := h.closed
	h.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("lambdahost: no function %q", name)
	}
	if closed {
		return nil, errors.New("lambdahost: host is closed")
	}
	return p, nil
}

// Warm starts one worker of each function, so the first requests do not pay
// for cold starts; errors are returned per function.
func (h *Host) Warm(ctx context.Context) error {
	var errs []error
	for name, p := range h.functions {
		w, err := p.acquire(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		p.release(w)
	}
	return errors.Join(errs...)
}

// Close stops every worker.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	pools := h.functions
	h.mu.Unlock()
	for _, p := range pools {
		p.close()
	}
}

// pool is one function's workers. A slot token is held by every live
// worker, so at most MaxWorkers exist; idle workers wait in a channel.
type pool struct {
	fn    Function
	host  *Host
	slots chan struct{}
	idle  chan *worker

	mu  sync.Mutex
	all map[*worker]bool
}

func newPool(h *Host, f Function) *pool {
	return &pool{fn: f, host: h, slots: make(chan struct{}, f.MaxWorkers), idle: make(chan *worker, f.MaxWorkers), all: map[*worker]bool{}}
}

func (p *pool) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		w, err := p.acquire(ctx)
		if err != nil {
			return nil, err
		}
		out, err := w.invoke(ctx, payload, p.fn.Timeout)
		p.release(w)
		if errors.Is(err, errNotDelivered) {
			// The process exited before taking the invocation (the runtime
			// exits right after reporting a panic, while the worker still
			// looked alive): it never ran, so a fresh worker can run it.
			if attempt < 3 {
				continue
			}
			err = &Error{Type: "Runtime.ExitError", Message: "the function process exited"}
		}
		return out, err
	}
}

// acquire takes an idle worker, or starts one while under MaxWorkers, or
// waits for one to be released.
func (p *pool) acquire(ctx context.Context) (*worker, error) {
	for {
		var w *worker
		select {
		case w = <-p.idle:
		default:
			select {
			case w = <-p.idle:
			case p.slots <- struct{}{}:
				nw, err := startWorker(ctx, p.fn, p.host.output)
				if err != nil {
					<-p.slots
					return nil, err
				}
				if p.host.isClosed() {
					// Close ran while this worker started: it would outlive the host.
					nw.stop()
					<-p.slots
					return nil, errors.New("lambdahost: host is closed")
				}
				p.mu.Lock()
				p.all[nw] = true
				p.mu.Unlock()
				return nw, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if w.alive() {
			return w, nil
		}
		p.discard(w)
	}
}

// release returns a live worker to the idle set and retires a dead one
// (crashed, or killed on timeout), freeing its slot.
func (p *pool) release(w *worker) {
	if !w.alive() {
		p.discard(w)
		return
	}
	p.idle <- w
}

func (p *pool) discard(w *worker) {
	p.mu.Lock()
	if p.all[w] {
		delete(p.all, w)
		<-p.slots
	}
	p.mu.Unlock()
	go w.stop()
}

func (p *pool) close() {
	p.mu.Lock()
	ws := make([]*worker, 0, len(p.all))
	for w := range p.all {
		ws = append(ws, w)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(w.stop)
	}
	wg.Wait()
}

// prefixWriter writes each line of a function's output with its name.
func prefixWriter(out io.Writer, prefix string) io.WriteCloser {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintf(out, "%s %s\n", prefix, sc.Bytes())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return pw
}
