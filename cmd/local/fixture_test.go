package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/devenv"
	"github.com/brightrun/brightrun/pkg/lambdahost"
	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// TestFixtures sends every events/apigw fixture to its function binary, as
// `lambda invoke` would, so the fixtures stay true to the handlers. The
// fixtures' user does not exist in the test database, hence the 404s.
func TestFixtures(t *testing.T) {
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status int
		code   string
	}{
		"sign-up":             {201, ""},
		"log-in":              {200, ""}, // after sign-up: the fixture's credentials
		"get-me":              {404, "NOT_FOUND"},
		"update-me":           {404, "NOT_FOUND"},
		"get-dashboard-stats": {200, ""},
		"update-user":         {404, "NOT_FOUND"},

		"create-dataset":          {201, ""},
		"list-datasets":           {200, ""},
		"get-dataset":             {404, "NOT_FOUND"},
		"update-dataset":          {404, "NOT_FOUND"},
		"delete-dataset":          {404, "NOT_FOUND"},
		"complete-dataset-upload": {404, "NOT_FOUND"},
		"confirm-dataset-upload":  {404, "NOT_FOUND"},

		"list-presets":     {200, ""},
		"list-gpus":        {200, ""},
		"list-base-models": {200, ""},
		"estimate-job":     {400, "VALIDATION_ERROR"}, // the fixture's dataset does not exist
		"create-job":       {400, "VALIDATION_ERROR"},
		"get-job":          {404, "NOT_FOUND"},
		"cancel-job":       {404, "NOT_FOUND"},

		"list-jobs":            {200, ""},
		"get-job-metrics":      {404, "NOT_FOUND"},
		"list-job-logs":        {404, "NOT_FOUND"},
		"list-job-checkpoints": {404, "NOT_FOUND"},
		"list-job-events":      {404, "NOT_FOUND"},
	}
	streams := 0
	for _, r := range route.Table {
		if r.Stream {
			streams++ // a Function URL event: TestStreamFixture
		}
	}
	if len(want) != len(route.Table)-streams {
		t.Fatalf("expectations for %d functions, route table has %d: add the new route's fixture and expectation", len(want), len(route.Table)-streams)
	}
	// sign-up before log-in: the log-in fixture uses the sign-up's credentials.
	for _, fn := range []string{"sign-up", "log-in", "get-me", "update-me", "get-dashboard-stats", "update-user",
		"create-dataset", "list-datasets", "get-dataset", "update-dataset", "delete-dataset", "complete-dataset-upload", "confirm-dataset-upload",
		"list-presets", "list-gpus", "list-base-models", "estimate-job", "create-job", "get-job", "cancel-job",
		"list-jobs", "get-job-metrics", "list-job-logs", "list-job-checkpoints", "list-job-events"} {
		t.Run(fn, func(t *testing.T) {
			payload, err := os.ReadFile(filepath.Join(root, "events", "apigw", fn+".json"))
			if err != nil {
				t.Fatalf("every route needs a fixture: %v", err)
			}
			out, err := st.Host.Invoke(context.Background(), fn, payload)
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			var res events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("response %s: %v", out, err)
			}
			var env struct {
				Success bool
				Error   *struct{ Code string }
			}
			if err := json.Unmarshal([]byte(res.Body), &env); err != nil {
				t.Fatalf("body %s: %v", res.Body, err)
			}
			code := ""
			if env.Error != nil {
				code = env.Error.Code
			}
			if res.StatusCode != want[fn].status || code != want[fn].code || env.Success != (res.StatusCode < 400) {
				t.Fatalf("got %d %q (%s), want %d %q", res.StatusCode, code, res.Body, want[fn].status, want[fn].code)
			}
		})
	}
}

// TestWorkerFixtures: the worker's events, for a dataset that does not
// exist, are accepted and ignored (no error, so no retry).
func TestWorkerFixtures(t *testing.T) {
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"events/s3/dataset-uploaded.json", "events/invoke/validate-dataset-run.json"} {
		payload, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := st.Host.Invoke(context.Background(), "validate-dataset", payload); err != nil || string(out) != "null" {
			t.Errorf("%s: got %s, %v; want null, nil", f, out, err)
		}
	}
	if _, err := st.Host.Invoke(context.Background(), "validate-dataset", []byte(`{"unexpected":true}`)); err == nil {
		t.Error("a malformed payload must fail the invocation")
	}
}

// TestStoppedExecutionFixture: Step Functions' status change of an
// aborted execution whose job does not exist is accepted and changes
// nothing; a malformed event fails (EventBridge retries it).
func TestStoppedExecutionFixture(t *testing.T) {
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := os.ReadFile(filepath.Join(root, "events", "eventbridge", "execution-aborted.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := st.Host.Invoke(context.Background(), "mark-stopped-job", payload); err != nil || string(out) != "null" {
		t.Errorf("got %s, %v; want null, nil", out, err)
	}
	bad := []byte(`{"source":"aws.states","detail-type":"Step Functions Execution Status Change","detail":{"status":"ABORTED","input":"not json"}}`)
	if _, err := st.Host.Invoke(context.Background(), "mark-stopped-job", bad); !isFunctionError(err, "InvalidTaskInput") {
		t.Errorf("unreadable input: got %v, want InvalidTaskInput", err)
	}
}

// TestTaskFixtures sends every events/sfn fixture (the payloads the state
// machine's Task states send) to its task function. The fixtures' job does
// not exist: the tasks that need it fail with the named error the state
// machine's Catch sends to MarkFailed; marking a missing job is a no-op (a
// JobMissing from MarkFailed itself would only be retried in vain).
func TestTaskFixtures(t *testing.T) {
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	wantErrorType := map[string]string{
		"submit-job":         "JobMissing",
		"poll-job":           "JobMissing",
		"copy-artifacts":     "JobMissing",
		"finalize-job":       "JobMissing",
		"mark-job-failed":    "",
		"mark-job-cancelled": "",
	}
	for _, fn := range contract.Functions() {
		t.Run(fn, func(t *testing.T) {
			want, ok := wantErrorType[fn]
			if !ok {
				t.Fatalf("no expectation for task %s: add its fixture and expectation", fn)
			}
			payload, err := os.ReadFile(filepath.Join(root, "events", "sfn", fn+".json"))
			if err != nil {
				t.Fatalf("every task needs a fixture: %v", err)
			}
			out, err := st.Host.Invoke(context.Background(), fn, payload)
			var fe *lambdahost.Error
			switch {
			case want == "" && err != nil:
				t.Fatalf("got %v, want success", err)
			case want != "" && (!errors.As(err, &fe) || fe.Type != want):
				t.Fatalf("got %s, %v; want errorType %s", out, err, want)
			}
		})
	}
	for _, fn := range contract.Functions() {
		if _, err := st.Host.Invoke(context.Background(), fn, []byte(`{"job_id":""}`)); !isFunctionError(err, "InvalidTaskInput") {
			t.Errorf("%s without ids: got %v, want InvalidTaskInput", fn, err)
		}
	}
}

func isFunctionError(err error, typ string) bool {
	var fe *lambdahost.Error
	return errors.As(err, &fe) && fe.Type == typ
}

// TestStreamFixture sends the Function URL fixture of every stream route to
// its function and reads the streamed answer's prelude: the fixture's token
// is not a real one, so the function itself answers 401 (in AWS there is no
// authorizer in front of a Function URL).
func TestStreamFixture(t *testing.T) {
	root, err := devenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range route.Table {
		if !r.Stream {
			continue
		}
		t.Run(r.Function, func(t *testing.T) {
			payload, err := os.ReadFile(filepath.Join(root, "events", "functionurl", r.Function+".json"))
			if err != nil {
				t.Fatalf("every stream route needs a Function URL fixture: %v", err)
			}
			body, err := st.Host.InvokeStream(context.Background(), r.Function, payload)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			raw, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			// The Function URL streaming format: a JSON prelude, 8 NULs, the body.
			prelude, rest, ok := bytes.Cut(raw, make([]byte, 8))
			var head struct {
				StatusCode int `json:"statusCode"`
			}
			if !ok || json.Unmarshal(prelude, &head) != nil || head.StatusCode != 401 || !bytes.Contains(rest, []byte(`"UNAUTHORIZED"`)) {
				t.Fatalf("got %q, want a 401 prelude and an UNAUTHORIZED envelope", raw)
			}
		})
	}
}
