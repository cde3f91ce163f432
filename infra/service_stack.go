package main

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
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

// ServiceStack is the stateless part: the HTTP API with its JWT authorizer
// and one Lambda per route of route.Table. It holds no data: the table, the
// buckets and the Cognito user pool come from the StatefulStack, so this
// stack can be destroyed and redeployed without losing anything.
type ServiceStack struct {
	awscdk.Stack
	Api       awsapigatewayv2.HttpApi
	Functions map[string]awslambda.Function // by route.Function
}

type serviceStackProps struct {
	awscdk.StackProps
	Config   config
	Stateful *StatefulStack
	Routes   []route.Route // route.Table; a parameter so tests can feed bad routes
}

func newServiceStack(scope constructs.Construct, id string, props *serviceStackProps) (*ServiceStack, error) {
	cfg := props.Config
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	s := &ServiceStack{Stack: stack, Functions: map[string]awslambda.Function{}}

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

	methods, err := corsMethods(props.Routes)
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

	env := map[string]*string{
		"TABLE_NAME":           props.Stateful.Table.TableName(),
		"IDENTITY_PROVIDER":    jsii.String("cognito"),
		"COGNITO_USER_POOL_ID": pool.UserPoolId(),
		"COGNITO_CLIENT_ID":    client.UserPoolClientId(),
		"LOG_LEVEL":            jsii.String("info"),
	}
	res := grantResources{
		TableArn:    *props.Stateful.Table.TableArn(),
		UserPoolArn: *pool.UserPoolArn(),
	}

	for _, r := range props.Routes {
		fn, err := newRouteFunction(stack, cfg, r, env, res)
		if err != nil {
			return nil, err
		}
		s.Functions[r.Function] = fn

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

	output(stack, "ApiUrl", s.Api.Url(), "HTTP API base URL (routes start with /api)")
	return s, nil
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

// newRouteFunction creates the Lambda for one route with its own role, log
// group and the grants of its Access scopes.
func newRouteFunction(stack awscdk.Stack, cfg config, r route.Route, env map[string]*string, res grantResources) (awslambda.Function, error) {
	name := cfg.resourceName() + "-" + r.Function
	if len(name) > 64 {
		return nil, fmt.Errorf("route %q: Lambda name %q is longer than 64 characters", r.Key(), name)
	}
	statements, err := policyStatements(r, res)
	if err != nil {
		return nil, err
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = defaultTimeoutSeconds
	}

	scope := constructs.NewConstruct(stack, jsii.String(r.Function))
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
	for _, st := range statements {
		role.AddToPolicy(st)
	}

	fn := awslambda.NewFunction(scope, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName: jsii.String(name),
		Description:  jsii.String(r.Key()),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(cfg.AssetDir, r.Function)), nil),
		MemorySize:   jsii.Number(defaultMemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
		Environment:  &env,
		Role:         role,
		LogGroup:     logGroup,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Queries on the app table's GSIs are authorised on <table ARN>/index/<name>; " +
			"the wildcard covers exactly GSI1 and GSI2 of that one table, actions stay explicit."),
		AppliesTo: &[]interface{}{
			// The table ARN is a cross-stack reference; cdk-nag renders it as
			// <TableXXXX.Arn> or as the Fn::GetStackOutput of that attribute.
			&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Resource::(<Table[0-9A-F]+\.Arn>|\{"Fn::GetStackOutput":.*"OutputName":"PublishOutputFnGetAttTable[0-9A-F]+Arn[0-9A-F]+"\}\})\/index\/\*$/g`)},
		},
	}}, jsii.Bool(true))
	return fn, nil
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
