// Command fn is the function the lambdahost tests run: a real lambda.Start
// binary (built with -tags lambda.norpc, as deployed functions are) whose
// behaviour each invocation chooses through its payload, and whose init
// behaviour the FN_INIT environment variable chooses.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// Request selects what one invocation does.
type Request struct {
	Op    string   `json:"op"` // echo, env, fail, sleep, panic, exit, log
	Ms    int      `json:"ms,omitempty"`
	Msg   string   `json:"msg,omitempty"`
	Code  int      `json:"code,omitempty"`
	Lines []string `json:"lines,omitempty"`
}

// Response reports where and when an invocation ran.
type Response struct {
	Pid   int    `json:"pid"`
	Start int64  `json:"start"` // unix nanoseconds
	End   int64  `json:"end"`
	Env   string `json:"env,omitempty"`
}

// TestFailure is a named error type: aws-lambda-go reports its type name
// as errorType, which is what the host must pass through.
type TestFailure struct{ Reason string }

func (e *TestFailure) Error() string { return e.Reason }

// handler implements lambda.Handler, so the payload reaches it, and its
// answer leaves it, byte for byte.
type handler struct{}

func (handler) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, err
	}
	res := Response{Pid: os.Getpid(), Start: time.Now().UnixNano()}
	switch req.Op {
	case "echo":
		return payload, nil
	case "env":
		res.Env = os.Getenv("FN_VALUE")
	case "fail":
		return nil, &TestFailure{Reason: req.Msg}
	case "sleep":
		// Deliberately ignores the context's deadline: a stuck function.
		time.Sleep(time.Duration(req.Ms) * time.Millisecond)
	case "panic":
		panic(req.Msg)
	case "exit":
		os.Exit(req.Code)
	case "log":
		for _, l := range req.Lines {
			fmt.Println(l)
		}
	default:
		return nil, fmt.Errorf("unknown op %q", req.Op)
	}
	res.End = time.Now().UnixNano()
	return json.Marshal(res)
}

func main() {
	switch os.Getenv("FN_INIT") {
	case "exit": // crash before the runtime loop starts
		fmt.Fprintln(os.Stderr, "init: configuration missing")
		os.Exit(3)
	case "report": // report an init error through the Runtime API, as custom runtimes do
		api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
		body := `{"errorType":"ConfigError","errorMessage":"TABLE_NAME is not set"}`
		resp, err := http.Post("http://"+api+"/2018-06-01/runtime/init/error", "application/json", strings.NewReader(body))
		if err == nil {
			_ = resp.Body.Close()
		}
		os.Exit(4)
	case "hang": // never reaches the runtime loop
		time.Sleep(time.Hour)
	}
	lambda.Start(handler{})
}
