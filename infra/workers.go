package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3notifications"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/route"
)

// Asynchronous invocation of workers (S3 notifications, the confirm
// route's InvocationType=Event and EventBridge rules all are; see
// workerTrigger.Async): Lambda retries a failed run twice,
// drops events older than 6 hours, and sends what it gives up on to the
// worker's failure queue, where it stays 14 days.
const (
	workerRetryAttempts       = 2
	workerMaxEventAgeSeconds  = 6 * 60 * 60
	workerFailureRetentionDay = 14
)

// EventBridge's delivery of a rule's event to a worker (workerRule: the
// rules of executionStoppedTrigger and scheduleTrigger).
// What EventBridge retries is only the hand-over to Lambda's asynchronous
// queue, which fails on throttling or a missing permission, not on the
// function's errors (those are Lambda's retries above). A few retries with
// EventBridge's backoff ride out a throttle; a missing permission does not
// heal by retrying the default 185 times over 24 hours, so the event goes to
// the rule's dead-letter queue early, kept as long as a failure record. The
// age limit is the worker's own: an event Lambda would drop is not worth
// delivering.
const (
	ruleRetryAttempts      = 8
	ruleMaxEventAgeSeconds = workerMaxEventAgeSeconds
)

// workerTrigger wires one kind of route.Worker.Trigger to a function.
type workerTrigger struct {
	Describe string
	// Async: the trigger invokes the function asynchronously (Lambda's
	// event queue), so Lambda's retries, maximum event age and on-failure
	// destination apply and addAsyncInvokeConfig sets them. A synchronous
	// caller (Step Functions) retries and catches failures itself; an
	// EventInvokeConfig and a failure queue would never be used.
	Async bool
	Add   func(t *triggers, fn awslambda.Function, w route.Worker) error
}

// workerTriggers is the only place that knows what a trigger means in AWS;
// an unknown trigger fails synth.
var workerTriggers = map[string]workerTrigger{
	route.TriggerDatasetUpload: {
		Describe: "S3 ObjectCreated under " + datasetsPrefix + " in the datasets bucket",
		Async:    true, // S3 notifications and confirm-dataset-upload's InvocationType=Event
		Add:      datasetUploadTrigger,
	},
	route.TriggerTraining: {
		Describe: "Task state of the training state machine",
		Async:    false, // Step Functions invokes Task resources synchronously (Retry/Catch in the definition)
		Add:      trainingTaskTrigger,
	},
	route.TriggerExecutionStopped: {
		Describe: "EventBridge rule (default bus) for training executions that end FAILED, TIMED_OUT or ABORTED",
		Async:    true, // EventBridge invokes Lambda targets asynchronously
		Add:      executionStoppedTrigger,
	},
	route.TriggerSchedule: {
		Describe: "EventBridge scheduled rule (default bus) at the worker's rate (route.Worker.Every)",
		Async:    true, // EventBridge invokes Lambda targets asynchronously
		Add:      scheduleTrigger,
	},
}

func knownTriggers() []string {
	s := make([]string, 0, len(workerTriggers))
	for k := range workerTriggers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func workerSpec(w route.Worker) (functionSpec, error) {
	owner := fmt.Sprintf("worker %q", w.Function)
	tr, ok := workerTriggers[w.Trigger]
	if !ok {
		return functionSpec{}, fmt.Errorf("%s: unknown trigger %q; known triggers: %v (add it to workerTriggers in infra/workers.go)",
			owner, w.Trigger, knownTriggers())
	}
	if w.Every != 0 && w.Trigger != route.TriggerSchedule {
		// Every would be ignored: the worker would never run on a schedule.
		return functionSpec{}, fmt.Errorf("%s: Every (%v) is only used by trigger %q, not %q",
			owner, w.Every, route.TriggerSchedule, w.Trigger)
	}
	return functionSpec{
		Function:    w.Function,
		Owner:       owner,
		Description: "worker: " + tr.Describe,
		Access:      w.Access,
		Timeout:     w.Timeout,
		MemoryMB:    w.MemoryMB,
	}, nil
}

// triggers holds what the triggers of one service stack share.
type triggers struct {
	stack    awscdk.Stack
	cfg      config
	stateful *StatefulStack
	datasets awss3.IBucket // imported once, see datasetUploadTrigger
}

// addWorkerTriggers wires every worker to its trigger.
func addWorkerTriggers(stack awscdk.Stack, cfg config, stateful *StatefulStack, fns map[string]awslambda.Function, workers []route.Worker) error {
	t := &triggers{stack: stack, cfg: cfg, stateful: stateful}
	for _, w := range workers {
		if err := workerTriggers[w.Trigger].Add(t, fns[w.Function], w); err != nil {
			return err
		}
	}
	return nil
}

// datasetUploadTrigger: an S3 event notification (s3:ObjectCreated:*, key
// prefix datasets/) from the datasets bucket to the worker.
//
// The bucket is in the stateful stack, the function here. A notification is
// a property of AWS::S3::Bucket, so setting it on the stateful bucket would
// make the stateful stack reference this stack's function while this stack
// references the stateful stack's table and bucket: a cycle. Instead the
// bucket is imported here by name and ARN, and CDK's
// Custom::S3BucketNotifications (one small handler Lambda per stack)
// merges this stack's notification into the bucket's configuration and
// removes it again when this stack is deleted (Managed: false for imported
// buckets: other notifications on the bucket are left alone). The
// dependency stays one way, service -> stateful. S3 checks at
// PutBucketNotificationConfiguration that it may invoke the function; the
// custom resource depends on the Lambda permission below, so the order is
// right on the first deploy.
func datasetUploadTrigger(t *triggers, fn awslambda.Function, w route.Worker) error {
	if t.datasets == nil {
		t.datasets = awss3.Bucket_FromBucketAttributes(t.stack, jsii.String("DatasetsBucketRef"), &awss3.BucketAttributes{
			BucketName: t.stateful.DatasetsBucket.BucketName(),
			BucketArn:  t.stateful.DatasetsBucket.BucketArn(),
		})
	}
	// LambdaDestination adds the permission: lambda:InvokeFunction for
	// s3.amazonaws.com, SourceArn the bucket, SourceAccount this account.
	t.datasets.AddEventNotification(awss3.EventType_OBJECT_CREATED, awss3notifications.NewLambdaDestination(fn),
		&awss3.NotificationKeyFilter{Prefix: jsii.String(datasetsPrefix)})
	return configureNotificationsHandler(t.stack)
}

// trainingTaskTrigger: nothing per function. The one state machine
// (newTrainingStateMachine, training.go) invokes every task function with
// its own role's lambda:InvokeFunction, so the functions need no resource
// policy; it also checks that the definition names each training worker.
func trainingTaskTrigger(*triggers, awslambda.Function, route.Worker) error { return nil }

// executionStoppedTrigger: an EventBridge rule for the training state
// machine's executions that stop without success, with the worker as its
// target: the backstop for what the machine's own Catch cannot handle
// (StopExecution, States.Runtime errors, the execution timeout).
//
// The rule is on the account's default bus, where Step Functions publishes
// its status changes (the BrightRun bus only carries our own events). Its
// pattern is event.StoppedExecutions, the definition the local runner
// matches too, rendered for the state machine's fixed-name ARN
// (stateMachineArn): no reference to the state machine, which is created
// after the functions and would otherwise have to come first.
func executionStoppedTrigger(t *triggers, fn awslambda.Function, w route.Worker) error {
	return workerRule(t, fn, w, &awsevents.RuleProps{
		RuleName:     jsii.String(t.cfg.resourceName() + "-training-stopped"),
		Description:  jsii.String("Training executions that end FAILED, TIMED_OUT or ABORTED, to " + functionName(t.cfg, w.Function)),
		EventPattern: eventPattern(event.StoppedExecutions(*stateMachineArn(t.stack, t.cfg))),
		// No EventBus: the default bus.
	})
}

// scheduleTrigger: an EventBridge rule on the default bus (scheduled rules
// always are) that invokes the worker every w.Every, rate(<n> minutes),
// named brightrun-<stage>-<function>-schedule. Its event (EventBridge's
// "Scheduled Event") carries nothing but the time; no pattern, no bus.
func scheduleTrigger(t *triggers, fn awslambda.Function, w route.Worker) error {
	minutes, err := scheduleMinutes(w)
	if err != nil {
		return err
	}
	name := functionName(t.cfg, w.Function)
	return workerRule(t, fn, w, &awsevents.RuleProps{
		RuleName:    jsii.String(name + "-schedule"),
		Description: jsii.String(fmt.Sprintf("Every %d min, to %s", minutes, name)),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(float64(minutes)))),
	})
}

// scheduleMinutes is w.Every in minutes: EventBridge's rate expressions
// count whole minutes (at least one), so anything else fails synth rather
// than being rounded.
func scheduleMinutes(w route.Worker) (int64, error) {
	if w.Every <= 0 || w.Every%time.Minute != 0 {
		return 0, fmt.Errorf("worker %q: trigger %q needs Every, a positive whole number of minutes (EventBridge rates count minutes); got %v",
			w.Function, w.Trigger, w.Every)
	}
	return int64(w.Every / time.Minute), nil
}

// maxRuleNameLength is EventBridge's limit on rule names.
const maxRuleNameLength = 64

// workerRule creates the EventBridge rule of props (name, description and
// pattern or schedule; no targets) next to the worker's function, with the
// function as its one target: EventBridge retries the hand-over to Lambda
// ruleRetryAttempts times within ruleMaxEventAgeSeconds, then sends the
// event to the rule's dead-letter queue, <function>-undelivered.
//
// LambdaFunction adds the resource policy (lambda:InvokeFunction for
// events.amazonaws.com, SourceArn this rule) and, for the dead-letter
// queue, a queue policy letting this rule alone send to it. A worker has
// one trigger, so one rule and one such queue.
func workerRule(t *triggers, fn awslambda.Function, w route.Worker, props *awsevents.RuleProps) error {
	if n := len(*props.RuleName); n > maxRuleNameLength {
		return fmt.Errorf("worker %q: EventBridge rule name %q is longer than %d characters", w.Function, *props.RuleName, maxRuleNameLength)
	}
	scope := t.stack.Node().FindChild(jsii.String(w.Function)).(constructs.Construct)
	name := functionName(t.cfg, w.Function)
	dlq := awssqs.NewQueue(scope, jsii.String("RuleDeadLetters"), &awssqs.QueueProps{
		QueueName:       jsii.String(name + "-undelivered"),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(workerFailureRetentionDay)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RemovalPolicy:   awscdk.RemovalPolicy_DESTROY,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the dead-letter queue of the EventBridge rule targeting " + name +
			": it holds events EventBridge could not hand to Lambda, for inspection, and is not consumed, so it needs no DLQ of its own."),
	}}, jsii.Bool(true))
	rule := *props
	rule.Targets = &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		RetryAttempts:   jsii.Number(ruleRetryAttempts),
		MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(ruleMaxEventAgeSeconds)),
	})}
	awsevents.NewRule(scope, jsii.String("Rule"), &rule)
	return nil
}

// eventPattern renders an event.Pattern as a rule's pattern: sources,
// detail types and exact values of top-level detail fields, nothing else.
func eventPattern(p event.Pattern) *awsevents.EventPattern {
	out := &awsevents.EventPattern{
		Source:     jsii.Strings(p.Source...),
		DetailType: jsii.Strings(p.DetailType...),
	}
	if len(p.Detail) > 0 {
		detail := make(map[string]interface{}, len(p.Detail))
		for field, values := range p.Detail {
			detail[field] = jsii.Strings(values...)
		}
		out.Detail = &detail
	}
	return out
}

// configureNotificationsHandler gives CDK's bucket-notifications handler (a
// singleton per stack) a log group with the retention of every other
// function, and suppresses the one cdk-nag finding about it that is CDK's
// design, not ours.
func configureNotificationsHandler(stack awscdk.Stack) error {
	const logsID = "NotificationsHandlerLogs"
	if stack.Node().TryFindChild(jsii.String(logsID)) != nil {
		return nil // configured by an earlier notification
	}
	var handler constructs.Construct
	for _, c := range *stack.Node().Children() {
		if h, ok := c.(constructs.Construct); ok && strings.HasPrefix(*c.Node().Id(), "BucketNotificationsHandler") {
			handler = h
		}
	}
	if handler == nil {
		return fmt.Errorf("infra: CDK's BucketNotificationsHandler not found in %s (did aws-cdk-lib rename it?)", *stack.StackName())
	}
	cfn, ok := handler.Node().DefaultChild().(awscdk.CfnResource)
	if !ok || *cfn.CfnResourceType() != "AWS::Lambda::Function" {
		return fmt.Errorf("infra: BucketNotificationsHandler of %s has no AWS::Lambda::Function", *stack.StackName())
	}
	logs := awslogs.NewLogGroup(stack, jsii.String(logsID), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// Its role has AWSLambdaBasicExecutionRole, which covers any log group.
	cfn.AddPropertyOverride(jsii.String("LoggingConfig"), map[string]interface{}{"LogGroup": logs.LogGroupName()})
	cdknag.NagSuppressions_AddResourceSuppressions(handler, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM4"),
		Reason: jsii.String("CDK's Custom::S3BucketNotifications handler always attaches AWSLambdaBasicExecutionRole (logs only); " +
			"its own permissions are s3:Get/PutBucketNotification on the datasets bucket alone. It runs only during deployments."),
		AppliesTo: &[]interface{}{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
	}}, jsii.Bool(true))
	return nil
}

// addAsyncInvokeConfig sets retries, maximum event age and the on-failure
// destination of a worker. An on-failure destination rather than a DLQ: the
// record carries the request, the function's error and the reason
// (RetriesExhausted, EventAgeExceeded), a DLQ only the request.
func addAsyncInvokeConfig(scope constructs.Construct, fn awslambda.Function, role awsiam.Role, cfg config, w route.Worker) {
	queue := awssqs.NewQueue(scope, jsii.String("Failures"), &awssqs.QueueProps{
		QueueName:       jsii.String(functionName(cfg, w.Function) + "-failures"),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(workerFailureRetentionDay)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RemovalPolicy:   awscdk.RemovalPolicy_DESTROY,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(queue, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is the on-failure destination of " + functionName(cfg, w.Function) +
			": it holds failed asynchronous invocations for inspection and is not consumed, so it needs no DLQ of its own."),
	}}, jsii.Bool(true))
	// Exactly what Lambda needs to deliver to the destination (SqsDestination
	// would also grant GetQueueAttributes and GetQueueUrl).
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: jsii.Strings(*queue.QueueArn()),
	}))
	invokeCfg := awslambda.NewCfnEventInvokeConfig(scope, jsii.String("AsyncInvoke"), &awslambda.CfnEventInvokeConfigProps{
		FunctionName:             fn.FunctionName(),
		Qualifier:                jsii.String("$LATEST"),
		MaximumRetryAttempts:     jsii.Number(workerRetryAttempts),
		MaximumEventAgeInSeconds: jsii.Number(workerMaxEventAgeSeconds),
		DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: queue.QueueArn()},
		},
	})
	// Lambda checks the role may send to the destination when the config
	// is written: the policy must exist first.
	invokeCfg.Node().AddDependency(role)
}
