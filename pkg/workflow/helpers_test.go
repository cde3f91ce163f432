package workflow_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/brightrun/brightrun/pkg/workflow"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// repoRoot is the repository root (this package is pkg/workflow).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s", root)
	}
	return root
}

// requireNode fails (never skips) when the pinned Node 22 and the ASL
// interpreter are not installed: CI must run `make tools` first.
func requireNode(t *testing.T) (root, node string) {
	t.Helper()
	root = repoRoot(t)
	if err := workflow.CheckRunner(root, ""); err != nil {
		t.Fatalf("%v\nthese tests run the state machine in Node 22; run `make tools` first", err)
	}
	return root, filepath.Join(root, workflow.NodePath)
}

func readDefinition(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), contract.Path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply is what the fake Lambda answers to one invocation.
type reply struct {
	Body      any    // the function's result
	ErrorType string // if set, a function error {errorType, errorMessage}
	Message   string
	Status    int           // if set, an HTTP error of the Invoke API itself (e.g. 503, 429)
	Block     chan struct{} // if set, answer only once closed (or the caller went away)
}

// call is one invocation the fake Lambda received.
type call struct {
	Function string
	Payload  map[string]any
}

// functions scripts the fake Lambda: functions[fn](n, payload) answers the
// n-th (1-based) call of fn.
type functions = map[string]func(n int, payload map[string]any) reply

// fakeLambda implements the Lambda Invoke API with scripted functions.
// Functions without a script succeed with a plausible result.
type fakeLambda struct {
	mu     sync.Mutex
	script functions
	calls  []call
	counts map[string]int
	seen   chan string // every function called, if non-nil (buffered)
}

func newFakeLambda(t *testing.T, script functions) (*fakeLambda, string) {
	f := &fakeLambda{script: script, counts: map[string]int{}, seen: make(chan string, 10_000)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix, suffix = "/2015-03-31/functions/", "/invocations"
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, prefix) || !strings.HasSuffix(r.URL.Path, suffix) {
		http.Error(w, "not the Invoke API", http.StatusNotFound)
		return
	}
	fn := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), suffix)
	var payload map[string]any
	if err := json.NewDecoder(r.Body).Decode(&payload); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.counts[fn]++
	n := f.counts[fn]
	f.calls = append(f.calls, call{fn, payload})
	s := f.script[fn]
	f.mu.Unlock()
	select {
	case f.seen <- fn:
	default:
	}
	var rep reply
	if s != nil {
		rep = s(n, payload)
	} else {
		rep = defaultReply(fn)
	}
	if rep.Block != nil {
		select {
		case <-rep.Block:
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case rep.Status != 0:
		w.Header().Set("X-Amzn-ErrorType", "ServiceException")
		w.WriteHeader(rep.Status)
		_, _ = w.Write([]byte(`{"Type":"Service","message":"scripted failure"}`))
	case rep.ErrorType != "":
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		_ = json.NewEncoder(w).Encode(map[string]string{"errorType": rep.ErrorType, "errorMessage": rep.Message})
	default:
		_ = json.NewEncoder(w).Encode(rep.Body)
	}
}

func defaultReply(fn string) reply {
	switch fn {
	case "submit-job":
		return reply{Body: contract.SubmitOutput{WaitSeconds: 30}}
	case "poll-job":
		return reply{Body: contract.PollOutput{Status: contract.StatusCompleted, WaitSeconds: 5, Polls: 1}}
	case "copy-artifacts":
		return reply{Body: contract.CopyOutput{Artifacts: 3}}
	case "finalize-job":
		return reply{Body: contract.FinalizeOutput{ModelID: "model-1"}}
	default:
		return reply{Body: map[string]any{}}
	}
}

// sequence is the functions called, in order, space-separated.
func (f *fakeLambda) sequence() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, c := range f.calls {
		names = append(names, c.Function)
	}
	return strings.Join(names, " ")
}

// callsTo returns the payloads fn received.
func (f *fakeLambda) callsTo(fn string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, c := range f.calls {
		if c.Function == fn {
			out = append(out, c.Payload)
		}
	}
	return out
}

// runLine is one line of the runner's output.
type runLine struct {
	Record        string  `json:"record"`
	Name          string  `json:"name"`
	Status        string  `json:"status"`
	Input         string  `json:"input"`
	Output        string  `json:"output"`
	Error         string  `json:"error"`
	Cause         string  `json:"cause"`
	Transitions   int     `json:"transitions"`
	WaitedSeconds float64 `json:"waitedSeconds"`
	Execution     string  `json:"execution"`
	Type          string  `json:"type"`
	State         string  `json:"state"`
	StateType     string  `json:"stateType"`
	Executions    []struct {
		Name          string  `json:"name"`
		Status        string  `json:"status"`
		Transitions   int     `json:"transitions"`
		WaitedSeconds float64 `json:"waitedSeconds"`
	} `json:"executions"`
}

// run is the parsed output of one runner process.
type run struct {
	Lines  []runLine
	Result runLine
	Exit   int
	Stderr string
}

// ended returns the final record of the named execution.
func (r run) ended(t *testing.T, name string) runLine {
	t.Helper()
	for _, l := range r.Lines {
		if l.Record == "execution" && l.Name == name && l.Status != workflow.StatusRunning {
			return l
		}
	}
	t.Fatalf("execution %s never ended; stderr:\n%s", name, r.Stderr)
	return runLine{}
}

// states returns the states entered by the named execution, in order.
func (r run) states(name string) []string {
	var out []string
	for _, l := range r.Lines {
		if l.Record == "event" && l.Execution == name && l.Type == "StateEntered" {
			out = append(out, l.State)
		}
	}
	return out
}

// count returns how many events of type typ (for state, if not "") the
// named execution had.
func (r run) count(name, typ, state string) int {
	n := 0
	for _, l := range r.Lines {
		if l.Record == "event" && l.Execution == name && l.Type == typ && (state == "" || l.State == state) {
			n++
		}
	}
	return n
}

// runASL runs the real definition through statemachine/local/run.mjs with
// waits skipped, Task states calling lambdaURL.
func runASL(t *testing.T, lambdaURL, name, input string) run {
	t.Helper()
	root, node := requireNode(t)
	fns, _ := json.Marshal(contract.Placeholders)
	cmd := exec.Command(node, filepath.Join(root, workflow.RunnerPath),
		"--definition", filepath.Join(root, contract.Path),
		"--name", name, "--input", input, "--functions", string(fns))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "AWS_ENDPOINT_URL_LAMBDA=" + lambdaURL, "BRIGHTRUN_WAIT_SCALE=0"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var r run
	r.Stderr = stderr.String()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("runner: %v", err)
	}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l runLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("runner printed a non-JSON line %q: %v", sc.Text(), err)
		}
		r.Lines = append(r.Lines, l)
		if l.Record == "result" {
			r.Result = l
		}
	}
	if r.Result.Record != "result" {
		t.Fatalf("runner exited %d without a result; stderr:\n%s", r.Exit, r.Stderr)
	}
	return r
}
