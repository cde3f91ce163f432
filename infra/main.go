// Command infra is the BrightRun CDK app: a stateful stack (table, buckets,
// Cognito user pool and app client, event bus, GPU cluster token secret) and
// a service stack (HTTP API with the Cognito JWT authorizer, one Lambda per
// route of route.Table and per worker of route.Workers, the training state
// machine). Run it through the CDK CLI from the repository root
// (`make synth`); cdk.json there points at this directory.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/route"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	defer jsii.Close()
	app := awscdk.NewApp(nil) // reads cdk.json and -c context from the CLI
	if _, err := defineApp(app, route.Table, route.Workers); err != nil {
		return err
	}
	addNagChecks(app)
	app.Synth(nil)
	return nil
}

// stacks is what defineApp built, for tests.
type stacks struct {
	Config   config
	Stateful *StatefulStack
	Service  *ServiceStack
}

// defineApp adds BrightRun's stacks to app. main and the tests call it with
// the same context, so the tested template is the deployed one.
func defineApp(app awscdk.App, routes []route.Route, workers []route.Worker) (*stacks, error) {
	cfg, err := loadConfig(app.Node())
	if err != nil {
		return nil, err
	}
	if err := checkAssets(cfg.AssetDir, functionNames(routes, workers)); err != nil {
		return nil, err
	}

	env := &awscdk.Environment{
		// Empty outside the CLI: the stacks are then environment-agnostic.
		Account: envOrNil("CDK_DEFAULT_ACCOUNT"),
		Region:  envOrNil("CDK_DEFAULT_REGION"),
	}
	prefix := "BrightRun-" + cfg.Stage
	stateful := newStatefulStack(app, prefix+"-Stateful", &statefulStackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("BrightRun " + cfg.Stage + ": DynamoDB table, S3 buckets, Cognito user pool and GPU cluster token secret (all retained); EventBridge bus and archive"),
		},
		Config: cfg,
	})
	service, err := newServiceStack(app, prefix+"-Service", &serviceStackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			Description: jsii.String("BrightRun " + cfg.Stage + ": HTTP API, JWT authorizer, route and worker Lambdas, training state machine"),
		},
		Config:   cfg,
		Stateful: stateful,
		Routes:   routes,
		Workers:  workers,
	})
	if err != nil {
		return nil, err
	}

	awscdk.Tags_Of(app).Add(jsii.String("project"), jsii.String("brightrun"), nil)
	awscdk.Tags_Of(app).Add(jsii.String("stage"), jsii.String(cfg.Stage), nil)
	return &stacks{Config: cfg, Stateful: stateful, Service: service}, nil
}

// addNagChecks runs the AWS Solutions rules of cdk-nag on every synth.
// Findings are error annotations, which fail the synth (feature flag
// @aws-cdk/core:annotationsInValidationReport) unless suppressed next to the
// resource with a written reason. The aspect only adds annotations, so the
// template is the same with or without it; the tests check the template
// without it (a finding would otherwise hide every other check) and run the
// rules in a test of their own.
func addNagChecks(app constructs.IConstruct) {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// functionNames lists the functions of routes then workers, like
// route.Functions() does for route.Table and route.Workers.
func functionNames(routes []route.Route, workers []route.Worker) []string {
	out := make([]string, 0, len(routes)+len(workers))
	for _, r := range routes {
		out = append(out, r.Function)
	}
	for _, w := range workers {
		out = append(out, w.Function)
	}
	return out
}

func envOrNil(key string) *string {
	if v := os.Getenv(key); v != "" {
		return jsii.String(v)
	}
	return nil
}
