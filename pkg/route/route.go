// Package route is the single route table of the HTTP API. The local gateway
// serves exactly these routes and infra creates exactly these API Gateway
// routes and Lambda functions, so local and deployed routes cannot drift.
package route

import (
	"fmt"
	"strings"
	"time"
)

// Role names as stored on user profiles and carried in the token.
const (
	RoleUser         = "USER"
	RoleAdmin        = "ADMIN"
	RoleBillingAdmin = "BILLING_ADMIN"
)

// Route binds one HTTP method and path to one Lambda function.
type Route struct {
	Method   string
	Path     string   // API Gateway syntax: /api/datasets/{id}
	Function string   // functions/<Function>, also the Lambda name suffix
	Public   bool     // no JWT required (signup, login)
	Roles    []string // if set, the caller's role must be one of these
	// Idempotent routes honour the Idempotency-Key header (creating POSTs).
	Idempotent bool
	// Timeout in seconds for the Lambda; 0 means the default.
	Timeout int
	// Access lists the resources the function touches, for least-privilege
	// grants in infra: "table:read", "table:write", "identity".
	Access []string
	// Stream routes answer with a streamed body (Server-Sent Events). API
	// Gateway's HTTP API cannot stream, so in AWS the function sits behind
	// a Lambda Function URL in RESPONSE_STREAM mode and checks the JWT
	// itself (a Function URL has no JWT authorizer); the local gateway
	// streams it the same way and leaves the token to the function too.
	// See docs/adr/0005-job-feed.md.
	Stream bool
}

// Access scopes understood by infra (infra/grants.go turns each into IAM).
const (
	TableRead  = "table:read"
	TableWrite = "table:write"
	// The identity provider (Cognito in AWS). Log-in needs neither: the
	// password flow is an unauthenticated Cognito call.
	IdentityRegister = "identity:register" // create accounts (and roll them back)
	IdentityRoles    = "identity:roles"    // change the role attribute
	DatasetsRead     = "datasets:read"     // read objects under datasets/
	DatasetsWrite    = "datasets:write"    // upload (presign PUT, multipart) under datasets/
	DatasetsTag      = "datasets:tag"      // tag objects for lifecycle deletion
	EventsPut        = "events:put"        // put events on the BrightRun bus
	InvokeValidate   = "invoke:validate-dataset"
	WorkflowStart    = "workflow:start" // start the training state machine
	WorkflowRead     = "workflow:read"  // describe the training state machine's executions
	// The GPU cluster's URL and bearer token (GPU_CLUSTER_URL/TOKEN): an
	// outside HTTP API, no IAM; infra hands the token to these functions only.
	GPUCluster = "cluster"
	// ModelsWrite: HEAD (which needs ListBucket to answer 404 for a missing
	// object), PUT and multipart upload (with abort) of objects under
	// models/ in the models bucket.
	ModelsWrite = "models:write"
)

// Table is every route of the API.
var Table = []Route{
	{Method: "POST", Path: "/api/auth/signup", Function: "sign-up", Public: true, Access: []string{TableWrite, IdentityRegister}},
	{Method: "POST", Path: "/api/auth/login", Function: "log-in", Public: true, Access: []string{TableRead}},
	{Method: "GET", Path: "/api/me", Function: "get-me", Access: []string{TableRead}},
	{Method: "PATCH", Path: "/api/me", Function: "update-me", Access: []string{TableWrite}},
	{Method: "GET", Path: "/api/dashboard/stats", Function: "get-dashboard-stats", Access: []string{TableRead}},
	{Method: "PATCH", Path: "/api/admin/users/{id}", Function: "update-user", Roles: []string{RoleAdmin}, Access: []string{TableWrite, IdentityRoles}},

	{Method: "POST", Path: "/api/datasets", Function: "create-dataset", Idempotent: true, Access: []string{TableWrite, DatasetsWrite}},
	{Method: "GET", Path: "/api/datasets", Function: "list-datasets", Access: []string{TableRead}},
	{Method: "GET", Path: "/api/datasets/{id}", Function: "get-dataset", Access: []string{TableRead}},
	{Method: "PATCH", Path: "/api/datasets/{id}", Function: "update-dataset", Access: []string{TableWrite}},
	{Method: "DELETE", Path: "/api/datasets/{id}", Function: "delete-dataset", Access: []string{TableWrite, DatasetsTag}},
	{Method: "POST", Path: "/api/datasets/{id}/upload/complete", Function: "complete-dataset-upload", Access: []string{TableRead, DatasetsRead, DatasetsWrite}},
	{Method: "POST", Path: "/api/datasets/{id}/confirm", Function: "confirm-dataset-upload", Access: []string{TableWrite, DatasetsRead, InvokeValidate}},

	// Catalogs are data in code: no table, no bucket.
	{Method: "GET", Path: "/api/training/presets", Function: "list-presets"},
	{Method: "GET", Path: "/api/training/gpus", Function: "list-gpus"},
	{Method: "GET", Path: "/api/training/base-models", Function: "list-base-models"},
	{Method: "POST", Path: "/api/jobs/estimate", Function: "estimate-job", Access: []string{TableRead}},
	{Method: "POST", Path: "/api/jobs", Function: "create-job", Idempotent: true, Access: []string{TableWrite, WorkflowStart}},
	{Method: "GET", Path: "/api/jobs", Function: "list-jobs", Access: []string{TableRead}},
	{Method: "GET", Path: "/api/jobs/{id}", Function: "get-job", Access: []string{TableRead}},
	{Method: "POST", Path: "/api/jobs/{id}/cancel", Function: "cancel-job", Access: []string{TableWrite}},
	{Method: "GET", Path: "/api/jobs/{id}/metrics", Function: "get-job-metrics", Access: []string{TableRead}},
	{Method: "GET", Path: "/api/jobs/{id}/logs", Function: "list-job-logs", Access: []string{TableRead}},
	{Method: "GET", Path: "/api/jobs/{id}/checkpoints", Function: "list-job-checkpoints", Access: []string{TableRead}},
	{Method: "GET", Path: "/api/jobs/{id}/events", Function: "list-job-events", Access: []string{TableRead}},
	// A stream lives as long as the job (or until its Lambda's 15 minutes
	// end; EventSource reconnects with Last-Event-ID).
	{Method: "GET", Path: "/api/jobs/{id}/stream", Function: "stream-job-events", Timeout: 900, Stream: true, Access: []string{TableRead}},
}

// Worker is a function started by an event rather than an HTTP request.
type Worker struct {
	Function string
	Trigger  string // what starts it, for infra and the local stack
	// Every is how often TriggerSchedule runs the worker (whole minutes).
	Every    time.Duration
	Timeout  int // seconds
	MemoryMB int
	Access   []string
}

// Triggers.
const (
	// TriggerDatasetUpload: S3 ObjectCreated under datasets/ in the datasets
	// bucket, and asynchronous invocation by confirm-dataset-upload.
	TriggerDatasetUpload = "s3:datasets/ObjectCreated"
	// TriggerTraining: a Task state of the training state machine
	// (statemachine/training.asl.json, pkg/workflow/contract.Placeholders).
	TriggerTraining = "sfn:training"
	// TriggerExecutionStopped: an EventBridge rule on the default bus for
	// the training state machine's executions that end FAILED, TIMED_OUT
	// or ABORTED (event.StoppedExecutions): the backstop for what the
	// machine's own Catch cannot handle.
	TriggerExecutionStopped = "events:aws.states/stopped"
	// TriggerSchedule: an EventBridge schedule, every Worker.Every (the
	// local stack runs it on a ticker, Every ÷ its time scale).
	TriggerSchedule = "schedule"
)

// Workers are the event-driven functions.
var Workers = []Worker{
	// Streams the object through the validator: ~100 MB/s with exact token
	// counts, so 10 GiB takes ~2 minutes; 15 minutes is Lambda's maximum.
	// 1 GB of memory buys a full vCPU; the validator needs < 64 MiB.
	{Function: "validate-dataset", Trigger: TriggerDatasetUpload, Timeout: 900, MemoryMB: 1024, Access: []string{TableWrite, DatasetsRead, DatasetsTag, EventsPut}},

	// The training workflow's tasks (pkg/job.Runner). Every one may publish
	// the job's outbox of events. submit-job presigns a GET of the dataset
	// for the cluster (datasets:read). poll-job polls for up to its 240 s
	// budget, so its timeout is the Poll state's 300 s. copy-artifacts
	// streams the adapter (up to a few GB) through 16 MiB parts, four in
	// flight, hence 1 GB and Lambda's maximum timeout. mark-job-failed
	// cancels the cluster job when it may still be running.
	{Function: "submit-job", Trigger: TriggerTraining, Timeout: 60, MemoryMB: 256, Access: []string{TableWrite, DatasetsRead, GPUCluster, EventsPut}},
	{Function: "poll-job", Trigger: TriggerTraining, Timeout: 300, MemoryMB: 256, Access: []string{TableWrite, GPUCluster, EventsPut}},
	{Function: "copy-artifacts", Trigger: TriggerTraining, Timeout: 900, MemoryMB: 1024, Access: []string{TableWrite, GPUCluster, ModelsWrite, EventsPut}},
	{Function: "finalize-job", Trigger: TriggerTraining, Timeout: 60, MemoryMB: 256, Access: []string{TableWrite, EventsPut}},
	{Function: "mark-job-failed", Trigger: TriggerTraining, Timeout: 60, MemoryMB: 256, Access: []string{TableWrite, GPUCluster, EventsPut}},
	{Function: "mark-job-cancelled", Trigger: TriggerTraining, Timeout: 60, MemoryMB: 256, Access: []string{TableWrite, GPUCluster, EventsPut}},
	// Marks the job of a stopped execution failed (and cancels its cluster
	// job) unless it already ended; a no-op for the usual FAILED ending,
	// where mark-job-failed ran first.
	{Function: "mark-stopped-job", Trigger: TriggerExecutionStopped, Timeout: 60, MemoryMB: 256, Access: []string{TableWrite, GPUCluster, EventsPut}},
	// The sweeper (pkg/job.Sweeper): the second line behind the backstop.
	// Every 15 minutes it publishes outbox events nobody could, and ends
	// failed a job whose create-job died before starting its workflow or
	// whose execution stopped or vanished without the backstop hearing of
	// it (as mark-stopped-job does: the same grants, plus describing
	// executions).
	{Function: "sweep-jobs", Trigger: TriggerSchedule, Every: 15 * time.Minute, Timeout: 300, MemoryMB: 256,
		Access: []string{TableWrite, GPUCluster, EventsPut, WorkflowRead}},
}

// Functions lists every function name: HTTP routes, then workers.
func Functions() []string {
	var out []string
	for _, r := range Table {
		out = append(out, r.Function)
	}
	for _, w := range Workers {
		out = append(out, w.Function)
	}
	return out
}

// ByFunction returns the route served by function fn.
func ByFunction(fn string) (Route, error) {
	for _, r := range Table {
		if r.Function == fn {
			return r, nil
		}
	}
	return Route{}, fmt.Errorf("route: no route for function %q", fn)
}

// Key is the API Gateway route key, "GET /api/me".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Allows reports whether role may call the route.
func (r Route) Allows(role string) bool {
	if len(r.Roles) == 0 {
		return true
	}
	for _, allowed := range r.Roles {
		if allowed == role {
			return true
		}
	}
	return false
}

// Match reports whether method and a concrete path match the route, and
// returns the path parameters the way API Gateway fills pathParameters.
func (r Route) Match(method, path string) (map[string]string, bool) {
	if method != r.Method {
		return nil, false
	}
	// No slash trimming: API Gateway routes /api/me/ apart from /api/me
	// (the trailing slash makes an empty last segment, which never matches).
	want := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	got := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(want) != len(got) {
		return nil, false
	}
	var params map[string]string
	for i, seg := range want {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if got[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[seg[1:len(seg)-1]] = got[i]
			continue
		}
		if seg != got[i] {
			return nil, false
		}
	}
	return params, true
}
