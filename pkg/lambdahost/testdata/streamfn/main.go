// Command streamfn is the streaming function the lambdahost tests run: a
// real lambda.Start binary (built with -tags lambda.norpc, as deployed
// functions are) that answers a Function URL request the way a response
// streaming function does, with an events.LambdaFunctionURLStreamingResponse.
// The query string chooses the body:
//
//	chunks=N     write "data: chunk i\n\n" for i = 1..N, one write each
//	pause=MS     sleep between chunks
//	gate=URL     before chunk i (i >= 2), GET URL/i and wait for its answer:
//	             the test decides when the function goes on
//	fail_at=I    instead of chunk I, fail the body with a StreamBroken error
//	panic_at=I   instead of chunk I, panic (the runtime process dies)
//	refuse=1     return an error instead of a response
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// StreamBroken fails the body after it has begun; aws-lambda-go reports its
// type name in the Lambda-Runtime-Function-Error-Type trailer.
type StreamBroken struct{ At int }

func (e *StreamBroken) Error() string { return fmt.Sprintf("stream broke before chunk %d", e.At) }

// StreamRefused fails the invocation before any response.
type StreamRefused struct{}

func (*StreamRefused) Error() string { return "refused to stream" }

func handle(ctx context.Context, req events.LambdaFunctionURLRequest) (*events.LambdaFunctionURLStreamingResponse, error) {
	q := req.QueryStringParameters
	if q["refuse"] != "" {
		return nil, &StreamRefused{}
	}
	n, _ := strconv.Atoi(q["chunks"])
	pause, _ := strconv.Atoi(q["pause"])
	failAt, _ := strconv.Atoi(q["fail_at"])
	panicAt, _ := strconv.Atoi(q["panic_at"])
	gate := q["gate"]

	pr, pw := io.Pipe()
	go func() {
		for i := 1; i <= n; i++ {
			if i > 1 {
				time.Sleep(time.Duration(pause) * time.Millisecond)
				if gate != "" {
					if err := wait(ctx, gate+"/"+strconv.Itoa(i)); err != nil {
						_ = pw.CloseWithError(err)
						return
					}
				}
			}
			switch i {
			case failAt:
				_ = pw.CloseWithError(&StreamBroken{At: i})
				return
			case panicAt:
				panic(fmt.Sprintf("panic before chunk %d", i))
			}
			if _, err := fmt.Fprintf(pw, "data: chunk %d\n\n", i); err != nil {
				return
			}
		}
		_ = pw.Close()
	}()
	return &events.LambdaFunctionURLStreamingResponse{
		StatusCode: http.StatusOK,
		Headers: map[string]string{
			"Content-Type": "text/event-stream",
			"X-Pid":        strconv.Itoa(os.Getpid()),
		},
		Cookies: []string{"seen=1; Path=/"},
		Body:    pr,
	}, nil
}

// wait blocks until the test answers GET url.
func wait(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Body.Close()
}

func main() { lambda.Start(handle) }
