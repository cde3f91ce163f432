package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/route"
)

// Lambda defaults; a route's Timeout overrides the timeout.
const (
	defaultMemoryMB       = 256
	defaultTimeoutSeconds = 10
	logRetention          = awslogs.RetentionDays_ONE_MONTH
)

// ServiceStack is the stateless part: the HTTP API with its JWT authorizer,
// one Lambda per route of route.Table and one per worker of route.Workers
// with its trigger, a Function URL for each Stream route (the HTTP API
// cannot stream a response), and the training state machine. It holds no data: the
// table, the buckets, the Cognito user pool, the event bus and the GPU
// cluster token come from the StatefulStack, so this stack can be destroyed
// and redeployed without losing anything (destroying it stops running
// training executions; the jobs' state is in the table).
type ServiceStack struct {
	awscdk.Stack
	Api          awsapigatewayv2.HttpApi
	Functions    map[string]awslambda.Function // by route.Function / route.Worker.Function
	StateMachine awsstepfunctions.StateMachine // the training workflow (training.go)
	// StreamURLs are the Function URLs of the Stream routes, by function.
	StreamURLs map[string]awslambda.FunctionUrl
}

type serviceStackProps struct {
	awscdk.StackProps
	Config   config
	Stateful *StatefulStack
	Routes   []route.Route  // route.Table; a parameter so tests can feed bad routes
	Workers  []route.Worker // route.Workers, likewise
}

func newServiceStack(scope constructs.Construct, id string, props *serviceStackProps) (*ServiceStack, error) {
	cfg := props.Config
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &ServiceStack{Stack: stack, Functions: map[string]awslambda.Function{}, StreamURLs: map[string]awslambda.FunctionUrl{}}
	apiRoutes, streamRoutes, err := splitStreamRoutes(props.Routes)
	if err != nil {
		return nil, err
	}

	// The pool and its client live in the stateful stack; their ids and ARN
	// are cross-stack references (weak: Fn::GetStackOutput, cdk.json).
	pool, client := props.Stateful.UserPool, props.Stateful.Client

	// Issuer of Cognito tokens; the id token's aud is the app client id.
	issuer := fmt.Sprintf("https://cognito-idp.%s.amazonaws.com/%s", *stack.Region(), *pool.UserPoolId())
	jwt := awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("CognitoJwt"), jsii.String(issuer),
		&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{
			AuthorizerName: jsii.String("cognito-jwt"),
			JwtAudience:    jsii.Strings(*client.UserPoolClientId()),
			IdentitySource: jsii.Strings("$request.header.Authorization"),
		})

	methods, err := corsMethods(apiRoutes)
	if err != nil {
		return nil, err
	}
	s.Api = awsapigatewayv2.NewHttpApi(stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName: jsii.String(cfg.resourceName()),
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: jsii.Strings(cfg.CorsOrigins...),
			AllowMethods: &methods,
			AllowHeaders: jsii.Strings("Authorization", "Content-Type", "Idempotency-Key"),
			MaxAge:       awscdk.Duration_Hours(jsii.Number(1)),
		},
		// Safety net: a route added without an explicit authorizer is
		// protected. Public routes opt out explicitly below.
		DefaultAuthorizer: jwt,
	})
	configureStage(stack, s.Api)

	// Every function gets the same environment (pkg/app/config.go reads it
	// once per cold start): none of it is secret, and a function without the
	// matching scope is refused by IAM anyway. The GPU cluster's token is
	// not here: only the ARN of the secret holding it, which functions with
	// the cluster scope may read. VALIDATE_DATASET_FUNCTION is the fixed
	// function name, a literal: no reference, so no cycle even on
	// validate-dataset itself.
	env := map[string]*string{
		"TABLE_NAME":                props.Stateful.Table.TableName(),
		"IDENTITY_PROVIDER":         jsii.String("cognito"),
		"COGNITO_USER_POOL_ID":      pool.UserPoolId(),
		"COGNITO_CLIENT_ID":         client.UserPoolClientId(),
		"LOG_LEVEL":                 jsii.String("info"),
		"DATASETS_BUCKET":           props.Stateful.DatasetsBucket.BucketName(),
		"MODELS_BUCKET":             props.Stateful.ModelsBucket.BucketName(),
		"EVENT_BUS_NAME":            props.Stateful.EventBus.EventBusName(),
		"VALIDATE_DATASET_FUNCTION": jsii.String(functionName(cfg, validateDatasetFunction)),
		// The training state machine has a fixed name, so its ARN is known
		// without a reference to it (it is created below, after the
		// functions it invokes; training.go).
		"STATE_MACHINE_ARN":            stateMachineArn(stack, cfg),
		"GPU_CLUSTER_URL":              jsii.String(cfg.GPUClusterURL),
		"GPU_CLUSTER_TOKEN_SECRET_ARN": props.Stateful.GPUClusterToken.SecretArn(),
	}

	// Two passes: every function (with its role) first, then the grants.
	// An invoke:<fn> scope then always finds its target, whatever the order
	// of route.Table and route.Workers.
	specs := make([]functionSpec, 0, len(props.Routes)+len(props.Workers))
	for _, r := range props.Routes {
		spec := routeSpec(r)
		if r.Stream {
			// Streams hold a Lambda for up to 14 minutes each; a cap keeps
			// them from taking the concurrency the API needs (config.go).
			spec.ReservedConcurrency = cfg.StreamConcurrency
		}
		specs = append(specs, spec)
	}
	for _, w := range props.Workers {
		spec, err := workerSpec(w)
		if err != nil {
			return nil, err
		}
		specs = append(specs, spec)
	}
	res := grantResources{
		TableArn:          *props.Stateful.Table.TableArn(),
		UserPoolArn:       *pool.UserPoolArn(),
		DatasetsBucketArn: *props.Stateful.DatasetsBucket.BucketArn(),
		ModelsBucketArn:   *props.Stateful.ModelsBucket.BucketArn(),
		EventBusArn:       *props.Stateful.EventBus.EventBusArn(),
		StateMachineArn:   *stateMachineArn(stack, cfg),
		FunctionArns:      map[string]string{},

		TrainingExecutionsArn: *trainingExecutionsArn(stack, cfg),

		GPUClusterTokenSecretArn: *props.Stateful.GPUClusterToken.SecretArn(),
	}
	roles := map[string]awsiam.Role{}
	for _, spec := range specs {
		if _, dup := s.Functions[spec.Function]; dup {
			return nil, fmt.Errorf("%s: function %q is defined twice in route.Table / route.Workers", spec.Owner, spec.Function)
		}
		fn, role, err := newFunction(stack, cfg, spec, env)
		if err != nil {
			return nil, err
		}
		s.Functions[spec.Function] = fn
		roles[spec.Function] = role
		res.FunctionArns[spec.Function] = *fn.FunctionArn()
	}
	for _, spec := range specs {
		statements, err := policyStatements(spec.Owner, spec.Function, spec.Access, res)
		if err != nil {
			return nil, err
		}
		for _, st := range statements {
			roles[spec.Function].AddToPolicy(st)
		}
		if nag := grantSuppressions(cfg, spec.Access); len(nag) > 0 {
			cdknag.NagSuppressions_AddResourceSuppressions(roles[spec.Function], &nag, jsii.Bool(true))
		}
	}

	for _, w := range props.Workers {
		if !workerTriggers[w.Trigger].Async {
			continue
		}
		// Next to the function, role and log group: <stack>/<fn>/…
		scope := stack.Node().FindChild(jsii.String(w.Function)).(constructs.Construct)
		addAsyncInvokeConfig(scope, s.Functions[w.Function], roles[w.Function], cfg, w)
	}
	if err := addWorkerTriggers(stack, cfg, props.Stateful, s.Functions, props.Workers); err != nil {
		return nil, err
	}
	if s.StateMachine, err = newTrainingStateMachine(stack, cfg, s.Functions, props.Workers); err != nil {
		return nil, err
	}

	for _, r := range apiRoutes {
		fn := s.Functions[r.Function]
		var auth awsapigatewayv2.IHttpRouteAuthorizer = jwt
		if r.Public {
			auth = awsapigatewayv2.NewHttpNoneAuthorizer()
		}
		routes := s.Api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(r.Method)},
			Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(r.Function+"-integration"), fn, nil),
			Authorizer:  auth,
		})
		if r.Public {
			reason := jsii.String("Public by design: route.Table marks it Public (sign-up and log-in are called before the caller has a token).")
			for _, rt := range *routes {
				cdknag.NagSuppressions_AddResourceSuppressions(rt, &[]*cdknag.NagPackSuppression{
					{Id: jsii.String("AwsSolutions-APIG4"), Reason: reason},
				}, jsii.Bool(true))
			}
		}
	}

	for _, r := range streamRoutes {
		s.StreamURLs[r.Function] = addStreamURL(s.Functions[r.Function], cfg)
	}

	output(stack, "ApiUrl", s.Api.Url(), "HTTP API base URL (routes start with /api)")
	for _, r := range streamRoutes { // at most one (splitStreamRoutes)
		output(stack, "StreamUrl", s.StreamURLs[r.Function].Url(),
			"Function URL of "+r.Key()+" (Server-Sent Events, streamed): the frontend calls <StreamUrl>"+strings.TrimPrefix(r.Path, "/")+
				" with the ID token in Authorization, as for ApiUrl; the function checks it itself")
	}
	output(stack, "StateMachineArn", s.StateMachine.StateMachineArn(), "Training state machine (STATE_MACHINE_ARN)")
	return s, nil
}

// splitStreamRoutes separates the routes the HTTP API serves from the
// Stream routes, which get a Function URL instead. One Stream route at
// most: its URL is the StreamUrl output the frontend reads; a second one
// needs an output name of its own. Stream routes are GET, the one method
// their Function URL's CORS allows (an EventSource or a fetch reading a
// stream).
func splitStreamRoutes(routes []route.Route) (api, stream []route.Route, err error) {
	for _, r := range routes {
		if !r.Stream {
			api = append(api, r)
			continue
		}
		if r.Method != "GET" {
			return nil, nil, fmt.Errorf("route %q (function %s): a Stream route must be GET", r.Key(), r.Function)
		}
		stream = append(stream, r)
	}
	if len(stream) > 1 {
		return nil, nil, fmt.Errorf("route %q and %q: more than one Stream route, but one StreamUrl output (give the second an output of its own in infra/service_stack.go)", stream[0].Key(), stream[1].Key())
	}
	return api, stream, nil
}

// streamURLHeaders are the request headers a browser may send to a Stream
// route: the token, where an event stream resumes after a reconnect, and
// Content-Type.
var streamURLHeaders = []string{"Authorization", "Last-Event-ID", "Content-Type"}

// addStreamURL gives fn a Function URL in RESPONSE_STREAM mode: API
// Gateway's HTTP API buffers responses, a Function URL passes each chunk
// on as the function writes it, for up to the function's timeout. The URL
// has no IAM auth (browsers call it, with no AWS credentials); the function
// checks the caller's JWT itself, as the HTTP API's authorizer does for the
// other routes. Lambda answers the CORS preflight itself, from this
// configuration.
func addStreamURL(fn awslambda.Function, cfg config) awslambda.FunctionUrl {
	return fn.AddFunctionUrl(&awslambda.FunctionUrlOptions{
		AuthType:   awslambda.FunctionUrlAuthType_NONE,
		InvokeMode: awslambda.InvokeMode_RESPONSE_STREAM,
		Cors: &awslambda.FunctionUrlCorsOptions{
			AllowedOrigins: jsii.Strings(cfg.CorsOrigins...),
			// GET only: CloudFormation rejects OPTIONS in AllowMethods
			// (AWS::Lambda::Url allows GET PUT HEAD POST PATCH DELETE *),
			// and the preflight needs no entry: Lambda answers it.
			AllowedMethods: &[]awslambda.HttpMethod{awslambda.HttpMethod_GET},
			AllowedHeaders: jsii.Strings(streamURLHeaders...),
			MaxAge:         awscdk.Duration_Hours(jsii.Number(1)),
		},
	})
}

// configureStage adds access logs and throttling to the $default stage
// through the L1 stage (the L2 HttpApi creates the stage itself).
func configureStage(stack awscdk.Stack, api awsapigatewayv2.HttpApi) {
	logs := awslogs.NewLogGroup(stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	stage := api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(),
		Format: jsii.String(`{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",` +
			`"routeKey":"$context.routeKey","status":"$context.status","latency":"$context.responseLatency",` +
			`"integrationError":"$context.integrationErrorMessage","authorizerError":"$context.authorizer.error","sub":"$context.authorizer.claims.sub"}`),
	})
	// A ceiling for a runaway client or a loop in the frontend; far above
	// what the product needs, far below the account's 10,000 rps.
	stage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{
		ThrottlingBurstLimit: jsii.Number(200),
		ThrottlingRateLimit:  jsii.Number(100),
	})
}

// functionSpec is what newFunction needs of a route or a worker.
type functionSpec struct {
	Function    string // functions/<Function>; the Lambda is brightrun-<stage>-<Function>
	Owner       string // for errors: `route "GET /api/me" (function get-me)`, `worker validate-dataset`
	Description string
	Access      []string
	Timeout     int // seconds; 0: defaultTimeoutSeconds
	MemoryMB    int // 0: defaultMemoryMB
	// ReservedConcurrency caps (and reserves) the function's concurrent
	// executions; 0: none, the account's unreserved pool.
	ReservedConcurrency int
}

func routeSpec(r route.Route) functionSpec {
	return functionSpec{
		Function:    r.Function,
		Owner:       fmt.Sprintf("route %q (function %s)", r.Key(), r.Function),
		Description: r.Key(),
		Access:      r.Access,
		Timeout:     r.Timeout,
	}
}

// functionName is the Lambda name of functions/<fn>: fixed, so logs, the
// console and VALIDATE_DATASET_FUNCTION can name it without a reference.
func functionName(cfg config, fn string) string { return cfg.resourceName() + "-" + fn }

// newFunction creates the Lambda of one route or worker with its own role
// and log group. The caller adds the grants of its Access scopes to the role
// once every function exists.
func newFunction(stack awscdk.Stack, cfg config, spec functionSpec, env map[string]*string) (awslambda.Function, awsiam.Role, error) {
	name := functionName(cfg, spec.Function)
	if len(name) > 64 {
		return nil, nil, fmt.Errorf("%s: Lambda name %q is longer than 64 characters", spec.Owner, name)
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = defaultTimeoutSeconds
	}
	memory := spec.MemoryMB
	if memory == 0 {
		memory = defaultMemoryMB
	}
	if timeout < 1 || timeout > 900 {
		return nil, nil, fmt.Errorf("%s: timeout %d s is outside Lambda's 1..900", spec.Owner, timeout)
	}
	if memory < 128 || memory > 10240 {
		return nil, nil, fmt.Errorf("%s: memory %d MB is outside Lambda's 128..10240", spec.Owner, memory)
	}

	scope := constructs.NewConstruct(stack, jsii.String(spec.Function))
	logGroup := awslogs.NewLogGroup(scope, jsii.String("Logs"), &awslogs.LogGroupProps{
		// Lambda's conventional name, so `aws logs tail /aws/lambda/<fn>` works.
		LogGroupName:  jsii.String("/aws/lambda/" + name),
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// An own role instead of AWSLambdaBasicExecutionRole, whose logs
	// permissions apply to every log group of the account.
	role := awsiam.NewRole(scope, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runtime role of " + name),
	})
	logGroup.GrantWrite(role)

	fn := awslambda.NewFunction(scope, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName: jsii.String(name),
		Description:  jsii.String(spec.Description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(cfg.AssetDir, spec.Function)), nil),
		MemorySize:   jsii.Number(float64(memory)),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
		Environment:  &env,
		Role:         role,
		LogGroup:     logGroup,
	})
	if spec.ReservedConcurrency > 0 {
		fn.Node().DefaultChild().(awslambda.CfnFunction).SetReservedConcurrentExecutions(jsii.Number(float64(spec.ReservedConcurrency)))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Queries on the app table's GSIs are authorised on <table ARN>/index/<name>; " +
			"the wildcard covers exactly GSI1 and GSI2 of that one table, actions stay explicit. " +
			"Dataset objects are authorised on <datasets bucket ARN>/datasets/*: keys are per user and dataset " +
			"(datasets/<user>/<dataset>/...), created at run time; the wildcard stops at the datasets/ prefix and actions stay explicit. " +
			"Model artifacts are authorised on <models bucket ARN>/models/* likewise: keys are models/<user>/<job>/<file>, " +
			"created at run time by copy-artifacts; the wildcard stops at the models/ prefix and actions stay explicit."),
		AppliesTo: &[]interface{}{
			// The table and bucket ARNs are cross-stack references; cdk-nag
			// renders them as <TableXXXX.Arn> or as the Fn::GetStackOutput
			// of that attribute.
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::(<Table[0-9A-F]+\.Arn>|\{"Fn::GetStackOutput":.*"OutputName":"PublishOutputFnGetAttTable[0-9A-F]+Arn[0-9A-F]+"\}\})\/index\/\*$/g`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::(<DatasetsBucket[0-9A-F]+\.Arn>|\{"Fn::GetStackOutput":.*"OutputName":"PublishOutputFnGetAttDatasetsBucket[0-9A-F]+Arn[0-9A-F]+"\}\})\/datasets\/\*$/g`)},
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::(<ModelsBucket[0-9A-F]+\.Arn>|\{"Fn::GetStackOutput":.*"OutputName":"PublishOutputFnGetAttModelsBucket[0-9A-F]+Arn[0-9A-F]+"\}\})\/models\/\*$/g`)},
		},
	}}, jsii.Bool(true))
	return fn, role, nil
}

// corsMethods lists the methods of the route table for the CORS preflight
// answer, so a new DELETE route does not need a CORS change.
func corsMethods(routes []route.Route) ([]awsapigatewayv2.CorsHttpMethod, error) {
	seen := map[string]bool{}
	for _, r := range routes {
		switch r.Method {
		case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
			seen[r.Method] = true
		default:
			return nil, fmt.Errorf("route %q: unsupported method %q", r.Key(), r.Method)
		}
	}
	names := make([]string, 0, len(seen))
	for m := range seen {
		names = append(names, m)
	}
	sort.Strings(names)
	out := make([]awsapigatewayv2.CorsHttpMethod, 0, len(names))
	for _, m := range names {
		out = append(out, awsapigatewayv2.CorsHttpMethod(m))
	}
	return out, nil
}

// stateMachineArn is the ARN of the training state machine, named
// brightrun-<stage>-training (trainingStateMachineName).
func stateMachineArn(stack awscdk.Stack, cfg config) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("stateMachine"),
		ResourceName: jsii.String(trainingStateMachineName(cfg)),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}

// trainingExecutionsArn matches every execution of the training state
// machine: arn:<partition>:states:<region>:<account>:execution:<name>:*,
// built from the fixed name like stateMachineArn (no reference, no cycle).
func trainingExecutionsArn(stack awscdk.Stack, cfg config) *string {
	return stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("states"),
		Resource:     jsii.String("execution"),
		ResourceName: jsii.String(trainingStateMachineName(cfg) + ":*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
}
