package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/devenv"
	"github.com/brightrun/brightrun/pkg/dynamo"
	"github.com/brightrun/brightrun/pkg/dynamolocal"
	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/eventlocal"
	"github.com/brightrun/brightrun/pkg/gateway"
	"github.com/brightrun/brightrun/pkg/gpusim"
	"github.com/brightrun/brightrun/pkg/job"
	"github.com/brightrun/brightrun/pkg/lambdahost"
	"github.com/brightrun/brightrun/pkg/localidp"
	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/s3local"
	"github.com/brightrun/brightrun/pkg/workflow"
)

// Local names. The deployed stack gets its names from infra.
const (
	tableName      = "brightrun"
	datasetsBucket = "brightrun-datasets"
	modelsBucket   = "brightrun-models"
	eventBusName   = "brightrun"
	// The stand-in's default name and region (workflow.LocalOptions).
	localStateMachineARN = "arn:aws:states:us-east-1:000000000000:stateMachine:brightrun-training"
	localIssuer          = "brightrun-local-idp"
	localAudience        = "brightrun-local-client"
	clusterToken         = "brightrun-local-cluster-token"
	s3AccessKey          = "brightrunlocal"
	s3SecretKey          = "brightrunlocalsecret"
)

// Workers per function (processes, started on demand): enough that 100
// monitoring clients do not queue behind one slow request, and one per open
// event stream.
const (
	apiWorkers    = 8
	streamWorkers = 64
)

// options choose where the stack keeps its data and listens.
type options struct {
	Root        string // repository root
	DataDir     string // persistent data; "" keeps DynamoDB in memory and S3 in a temp dir
	BinDir      string // where function binaries are built
	APIPort     int    // 0 picks a free port
	DynamoPort  int
	S3Port      int
	AWSPort     int // Lambda Invoke API + EventBridge
	ClusterPort int
	// TimeScale speeds the simulated cluster up: simulated seconds per
	// second (100 runs a 45-minute job in under 30 s).
	TimeScale float64
	// LongLived: the stack serves for a while (make dev, benchmarks), so
	// DynamoDB Local is tuned for throughput rather than a fast start.
	LongLived bool
	Output    io.Writer // function and server logs
	Logger    *slog.Logger
}

// stack is the running local platform.
type stack struct {
	APIURL     string
	DynamoURL  string
	S3URL      string
	AWSURL     string // the local Lambda Invoke API and EventBridge bus
	ClusterURL string // the GPU-cluster simulator
	Cluster    *gpusim.Sim
	TimeScale  float64 // the simulator's simulated seconds per second
	Issuer     string
	Audience   string
	KeyFile    string
	Store      *dynamo.Store
	Host       *lambdahost.Host
	Bus        *eventlocal.Bus
	DefaultBus *eventlocal.Bus // AWS's own events (Step Functions status changes)
	Workflow   *workflow.Local // Step Functions

	closers []func()
}

// startStack builds every function, starts DynamoDB Local, the S3 server,
// the Lambda host and the gateway, and returns when all answer.
func startStack(ctx context.Context, o options) (_ *stack, err error) {
	// Every early return is (nil, err): the deferred Close must see the
	// stack itself, not the named result.
	st := &stack{Issuer: localIssuer, Audience: localAudience}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	if err := buildFunctions(ctx, o.Root, o.BinDir); err != nil {
		return nil, err
	}

	dynamoDir, s3Dir, keyDir := "", "", ""
	if o.DataDir != "" {
		dynamoDir, s3Dir, keyDir = filepath.Join(o.DataDir, "dynamodb"), filepath.Join(o.DataDir, "s3"), filepath.Join(o.DataDir, "idp")
	} else {
		tmp, err := os.MkdirTemp("", "brightrun-local-")
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() { os.RemoveAll(tmp) })
		s3Dir, keyDir = filepath.Join(tmp, "s3"), filepath.Join(tmp, "idp")
	}

	ddb, err := dynamolocal.Start(ctx, dynamolocal.Options{DataDir: dynamoDir, Port: o.DynamoPort, Throughput: o.LongLived})
	if err != nil {
		return nil, err
	}
	st.closers = append(st.closers, ddb.Stop)
	st.DynamoURL = ddb.URL
	if err := dynamo.CreateTable(ctx, ddb.Client(), tableName); err != nil {
		return nil, err
	}
	st.Store = dynamo.New(ddb.Client(), tableName)

	// S3 notifications go to validate-dataset as asynchronous invocations,
	// as the bucket notification does in AWS. The host starts after S3 (its
	// functions need S3's address), hence the late binding.
	var host atomic.Pointer[lambdahost.Host]
	onUpload := func(ev events.S3Event) {
		h := host.Load()
		if h == nil || !strings.HasPrefix(ev.Records[0].S3.Object.URLDecodedKey, "datasets/") || ev.Records[0].S3.Bucket.Name != datasetsBucket {
			return
		}
		payload, _ := json.Marshal(ev)
		if err := h.InvokeAsync("validate-dataset", payload); err != nil {
			o.Logger.Error("S3 notification", "error", err.Error())
		}
	}
	s3srv, err := s3local.StartVersity(ctx, s3local.VersityOptions{
		Binary: filepath.Join(o.Root, ".local", "bin", "versitygw"), DataDir: s3Dir, Port: o.S3Port,
		AccessKey: s3AccessKey, SecretKey: s3SecretKey, Log: o.Output, OnEvent: onUpload,
	})
	if err != nil {
		return nil, err
	}
	st.closers = append(st.closers, s3srv.Stop)
	st.S3URL = s3srv.URL
	if err := s3srv.CreateBuckets(ctx, datasetsBucket, modelsBucket); err != nil {
		return nil, err
	}

	st.KeyFile = filepath.Join(keyDir, "signing-key.pem")
	key, err := localidp.LoadOrCreateKey(st.KeyFile)
	if err != nil {
		return nil, err
	}

	// The GPU cluster: the simulator of docs/gpu-cluster-api.md, in process.
	clusterLn, err := net.Listen("tcp", fmt.Sprintf("%s:%d", devenv.Loopback, o.ClusterPort))
	if err != nil {
		return nil, err
	}
	st.ClusterURL = "http://" + clusterLn.Addr().String()
	if o.TimeScale == 0 {
		o.TimeScale = 100
	}
	st.TimeScale = o.TimeScale
	sim, err := gpusim.New(gpusim.Options{Token: clusterToken, TimeScale: o.TimeScale, PublicURL: st.ClusterURL, FetchDatasets: true,
		Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	st.Cluster = sim
	clusterSrv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = clusterSrv.Serve(clusterLn) }()
	st.closers = append(st.closers, func() { _ = clusterSrv.Close() })

	// One loopback endpoint for the Lambda Invoke API and the event bus.
	awsLn, err := net.Listen("tcp", fmt.Sprintf("%s:%d", devenv.Loopback, o.AWSPort))
	if err != nil {
		return nil, err
	}
	st.AWSURL = "http://" + awsLn.Addr().String()
	st.Bus = &eventlocal.Bus{Name: eventBusName, Logger: o.Logger}

	env := functionEnv(st)
	var fns []lambdahost.Function
	for _, r := range route.Table {
		// Like Lambda's concurrency: a request waits for a free worker. An
		// open stream holds one for its whole life (50 streams need 50).
		workers := apiWorkers
		if r.Stream {
			workers = streamWorkers
		}
		fns = append(fns, lambdahost.Function{Name: r.Function, Binary: filepath.Join(o.BinDir, r.Function), Env: env, Timeout: seconds(r.Timeout, 10), MaxWorkers: workers})
	}
	for _, w := range route.Workers {
		fns = append(fns, lambdahost.Function{Name: w.Function, Binary: filepath.Join(o.BinDir, w.Function), Env: env, Timeout: seconds(w.Timeout, 60)})
	}
	h := lambdahost.New(fns, o.Output, o.Logger)
	st.closers = append(st.closers, h.Close)
	st.Host = h
	host.Store(h)

	// Step Functions: the same ASL file in a real ASL interpreter, its Task
	// states calling the functions through the Invoke API above. Waits
	// shrink with the simulator's time scale. Registered after the host, so
	// it stops first.
	// The account's default bus: Step Functions' status changes, with the
	// same rule infra creates (event.StoppedExecutions → mark-stopped-job).
	st.DefaultBus = &eventlocal.Bus{Name: "default", Logger: o.Logger, Rules: []eventlocal.Rule{{
		Name:    "training-stopped",
		Pattern: event.StoppedExecutions(localStateMachineARN),
		Target: func(_ context.Context, ev events.CloudWatchEvent) error {
			payload, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			return h.InvokeAsync("mark-stopped-job", payload)
		},
	}}}
	wf, err := workflow.NewLocal(workflow.LocalOptions{Root: o.Root, LambdaEndpoint: st.AWSURL, WaitScale: 1 / o.TimeScale, Output: o.Output, Logger: o.Logger,
		OnEnd: func(e workflow.Execution) { st.DefaultBus.Publish(statusChange(e)) }})
	if err != nil {
		return nil, err
	}
	st.Workflow = wf
	st.closers = append(st.closers, wf.Close)
	st.closers = append(st.closers, runSchedules(h, o.TimeScale, o.Logger))

	mux := http.NewServeMux()
	mux.Handle("/2015-03-31/", h.InvokeAPI())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.") {
			wf.ServeHTTP(w, r)
			return
		}
		st.Bus.ServeHTTP(w, r)
	})
	awsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = awsSrv.Serve(awsLn) }()
	st.closers = append(st.closers, func() { _ = awsSrv.Close() })

	if err := h.Warm(ctx); err != nil {
		return nil, err
	}

	gw := &gateway.Gateway{
		Routes:      route.Table,
		Invoker:     h,
		Verifier:    localidp.NewVerifier(&key.PublicKey, localIssuer, localAudience, nil),
		CORSOrigins: []string{"*"},
		Logger:      o.Logger,
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", devenv.Loopback, o.APIPort))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Logger.Error("gateway", "error", err.Error())
		}
	}()
	st.closers = append(st.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	st.APIURL = "http://" + ln.Addr().String()
	return st, nil
}

// functionEnv is the environment every local function gets: the same
// variables as in AWS, plus endpoint overrides that the unchanged SDK
// clients read. Nothing is inherited from the developer's shell, so a
// local function can never reach a real AWS account.
func functionEnv(st *stack) []string {
	return []string{
		"PATH=/usr/bin:/bin",
		"TABLE_NAME=" + tableName,
		"DATASETS_BUCKET=" + datasetsBucket,
		"MODELS_BUCKET=" + modelsBucket,
		"IDENTITY_PROVIDER=local",
		"LOCAL_IDP_KEY_FILE=" + st.KeyFile,
		"LOCAL_IDP_ISSUER=" + localIssuer,
		"LOCAL_IDP_AUDIENCE=" + localAudience,
		"LOG_LEVEL=info",
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + s3AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s3SecretKey,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_DYNAMODB=" + st.DynamoURL,
		"AWS_ENDPOINT_URL_S3=" + st.S3URL,
		"AWS_ENDPOINT_URL_LAMBDA=" + st.AWSURL,
		"AWS_ENDPOINT_URL_EVENTBRIDGE=" + st.AWSURL,
		"EVENT_BUS_NAME=" + eventBusName,
		"VALIDATE_DATASET_FUNCTION=validate-dataset",
		"GPU_CLUSTER_URL=" + st.ClusterURL,
		"GPU_CLUSTER_TOKEN=" + clusterToken,
		// Polls follow the simulator's clock: 20 s of simulated time between
		// polls, as in AWS, so a local run makes the same polls and state
		// transitions per simulated hour as a deployed one (the interpreter
		// scales its Waits the same way).
		fmt.Sprintf("POLL_INTERVAL_SECONDS=%g", job.DefaultPollInterval.Seconds()/st.TimeScale),
		// An open event stream reads the feed every 2 s, as in AWS: on a
		// 2-core machine 50 streams polling faster took a third of the CPU
		// the API needs (docs/performance.md).
		"STREAM_POLL_SECONDS=2",
		"AWS_ENDPOINT_URL_SFN=" + st.AWSURL,
		"STATE_MACHINE_ARN=" + localStateMachineARN,
		// The sweeper runs on the simulator's clock too (runSchedules).
		fmt.Sprintf("SWEEP_MIN_IDLE_SECONDS=%g", job.DefaultSweepMinIdle.Seconds()/st.TimeScale),
	}
}

// runSchedules is EventBridge's schedules for the route.TriggerSchedule
// workers: each is invoked asynchronously, with a scheduled event, every
// Worker.Every ÷ the time scale (the sweeper's 15 minutes are 9 s at
// 100×). The returned func stops them.
func runSchedules(h *lambdahost.Host, timeScale float64, log *slog.Logger) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range route.Workers {
		if w.Trigger != route.TriggerSchedule {
			continue
		}
		every := time.Duration(float64(w.Every) / timeScale)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case now := <-t.C:
					payload, _ := json.Marshal(events.CloudWatchEvent{Version: "0", ID: fmt.Sprintf("local-%d", now.UnixNano()),
						Source: "aws.events", DetailType: "Scheduled Event", AccountID: "000000000000", Time: now.UTC(),
						Region: "us-east-1", Detail: json.RawMessage("{}")})
					if err := h.InvokeAsync(w.Function, payload); err != nil {
						log.Error("schedule", "function", w.Function, "error", err.Error())
					}
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

func seconds(s, def int) time.Duration {
	if s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Duration(def) * time.Second
}

// buildFunctions compiles every function of the route table for this
// machine, with the same tags as the deployed build, in one go build.
func buildFunctions(ctx context.Context, root, binDir string) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-tags", "lambda.norpc", "-o", binDir + string(os.PathSeparator)}
	for _, fn := range route.Functions() {
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building functions: %v\n%s", err, out)
	}
	return nil
}

// Close stops everything in reverse order of start.
func (st *stack) Close() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		st.closers[i]()
	}
	st.closers = nil
}

// statusChange is the event Step Functions puts on the default bus when an
// execution ends.
func statusChange(e workflow.Execution) events.CloudWatchEvent {
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	stop := e.StopDate.UnixMilli()
	d := event.ExecutionStatusChangeDetail{ExecutionArn: e.ARN, StateMachineArn: localStateMachineARN, Name: e.Name, Status: e.Status,
		StartDate: e.StartDate.UnixMilli(), StopDate: &stop, Input: opt(e.Input), Error: opt(e.Error), Cause: opt(e.Cause)}
	detail, _ := json.Marshal(d)
	return events.CloudWatchEvent{Version: "0", Source: event.StepFunctionsSource, DetailType: event.ExecutionStatusChange, AccountID: "000000000000",
		Time: time.Now().UTC(), Region: "us-east-1", Resources: []string{e.ARN}, Detail: detail}
}
