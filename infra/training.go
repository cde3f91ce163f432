package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// trainingStateMachineName is brightrun-<stage>-training. The name is fixed
// so its ARN (stateMachineArn) is known without a reference: create-job's
// workflow:start grant, STATE_MACHINE_ARN and the machine's own
// StartExecution grant (continue-as-new) use it, and none of them makes a
// cycle with the state machine, which depends on the functions.
func trainingStateMachineName(cfg config) string { return cfg.resourceName() + "-training" }

// newTrainingStateMachine deploys statemachine/training.asl.json (read from
// the repository root, like the Lambda assets) as a Standard workflow, the
// same file the local runner executes: every ${XxxFunctionArn} of
// contract.Placeholders becomes the ARN of that task function through
// DefinitionSubstitutions.
//
// Its role may invoke exactly the task functions and start executions of
// itself (ContinueAsNew: arn:aws:states:::states:startExecution on
// $$.StateMachine.Id, not .sync, so no DescribeExecution or EventBridge
// rule permissions); the L2 construct adds only what log delivery needs.
func newTrainingStateMachine(stack awscdk.Stack, cfg config, fns map[string]awslambda.Function, workers []route.Worker) (awsstepfunctions.StateMachine, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	definition, err := os.ReadFile(filepath.Join(root, contract.Path))
	if err != nil {
		return nil, fmt.Errorf("training state machine: %w", err)
	}
	tasks, err := trainingTasks(definition, workers)
	if err != nil {
		return nil, err
	}

	name := trainingStateMachineName(cfg)
	scope := constructs.NewConstruct(stack, jsii.String("Training"))
	substitutions := map[string]*string{}
	invoke := make([]string, 0, len(tasks))
	for placeholder, fn := range tasks {
		substitutions[placeholder] = fns[fn].FunctionArn()
		invoke = append(invoke, *fns[fn].FunctionArn())
	}
	sort.Strings(invoke) // tokens: stable order, stable template

	role := awsiam.NewRole(scope, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the " + name + " state machine"),
	})
	// Plain Lambda ARNs as Task resources invoke the unqualified function:
	// its ARN is the whole resource, no ":*" for versions or aliases.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(invoke...),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings("states:StartExecution"),
		Resources: jsii.Strings(*stateMachineArn(stack, cfg)),
	}))

	// /aws/vendedlogs/: Step Functions delivers through CloudWatch Logs'
	// vended logs, which under this prefix do not add a statement per log
	// group to the account's size-limited logs resource policy.
	logs := awslogs.NewLogGroup(scope, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/vendedlogs/states/" + name),
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	sm := awsstepfunctions.NewStateMachine(scope, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(name),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(definition))),
		DefinitionSubstitutions: &substitutions,
		// No Timeout here: the definition's own TimeoutSeconds (7 days,
		// contract.ExecutionTimeoutSeconds) is the one the local runner
		// enforces too.
		Role: role,
		// ALL without execution data: every state entered and left, with
		// timestamps, so the log shows where a job is or stopped (a stuck
		// job is not an ERROR); inputs and outputs (user ids, job ids,
		// cluster error causes) stay in the execution history, which
		// needs states:GetExecutionHistory to read. ~4 transitions per
		// 4-minute poll loop make this a few hundred events per job-hour.
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(false),
		},
		TracingEnabled: jsii.Bool(false),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(sm, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SF2"),
		Reason: jsii.String("X-Ray would trace the state machine alone: the task functions are not instrumented, and the execution history " +
			"already records every state and task with its timing (90 days). Tracing would add xray:Put* on * to the role for no new data."),
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Added by the StateMachine construct for logging: CloudWatch Logs' log delivery actions " +
			"(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, " +
			"DescribeResourcePolicies, DescribeLogGroups) support no resource-level permissions, so Step Functions documents Resource *. " +
			"Task and StartExecution permissions name exact ARNs."),
		AppliesTo: &[]interface{}{"Resource::*"},
	}}, jsii.Bool(true))
	return sm, nil
}

// trainingTasks checks the definition against contract.Placeholders and the
// workers, and returns placeholder -> function for DefinitionSubstitutions:
//   - every ${Placeholder} of the file is in contract.Placeholders, and every
//     entry of contract.Placeholders is used by the file (an unused one
//     would be granted invoke for nothing);
//   - every function of contract.Placeholders is a worker with trigger
//     route.TriggerTraining, and every such worker is a task of the file;
//   - every Task resource is a placeholder or contract.StartExecutionResource,
//     the two kinds the role allows (a literal ARN or lambda:invoke would
//     fail at run time with States.TaskFailed / AccessDenied).
func trainingTasks(definition []byte, workers []route.Worker) (map[string]string, error) {
	const where = "training state machine (" + contract.Path + ")"
	var problems []string
	inFile := map[string]bool{}
	for _, p := range contract.Find(definition) {
		inFile[p] = true
		if _, ok := contract.Placeholders[p]; !ok {
			problems = append(problems, fmt.Sprintf("placeholder ${%s} names no function (add it to contract.Placeholders in pkg/workflow/contract)", p))
		}
	}
	trigger := map[string]string{}
	for _, w := range workers {
		trigger[w.Function] = w.Trigger
	}
	tasks := map[string]string{}
	taskFns := map[string]bool{}
	for _, p := range sortedKeys(contract.Placeholders) {
		fn := contract.Placeholders[p]
		taskFns[fn] = true
		switch t, ok := trigger[fn]; {
		case !inFile[p]:
			problems = append(problems, fmt.Sprintf("contract.Placeholders has ${%s} (%s), which the definition does not use", p, fn))
		case !ok:
			problems = append(problems, fmt.Sprintf("${%s} names %q, which is not a worker of route.Workers", p, fn))
		case t != route.TriggerTraining:
			problems = append(problems, fmt.Sprintf("${%s} names worker %q, whose trigger is %q, not %q", p, fn, t, route.TriggerTraining))
		default:
			tasks[p] = fn
		}
	}
	for _, w := range workers {
		if w.Trigger == route.TriggerTraining && !taskFns[w.Function] {
			problems = append(problems, fmt.Sprintf("worker %q has trigger %q but no placeholder of contract.Placeholders names it", w.Function, route.TriggerTraining))
		}
	}
	resources, err := contract.TaskResources(definition)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	for _, state := range sortedKeys(resources) {
		r := resources[state]
		if found := contract.Find([]byte(r)); r != contract.StartExecutionResource && (len(found) != 1 || r != "${"+found[0]+"}") {
			problems = append(problems, fmt.Sprintf("Task state %s: resource %q is neither a ${...FunctionArn} placeholder nor %s, the only resources the role allows", state, r, contract.StartExecutionResource))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", where, strings.Join(problems, "; "))
	}
	return tasks, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
