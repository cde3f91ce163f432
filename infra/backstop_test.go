package main

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/brightrun/brightrun/pkg/event"
	"github.com/brightrun/brightrun/pkg/route"
)

// stoppedWorkers are the workers behind route.TriggerExecutionStopped: each
// has one EventBridge rule with a dead-letter queue.
func stoppedWorkers() []route.Worker {
	var out []route.Worker
	for _, w := range route.Workers {
		if w.Trigger == route.TriggerExecutionStopped {
			out = append(out, w)
		}
	}
	return out
}

// stoppedRule returns the logical id and resource of the one rule of the
// service stack that matches Step Functions' events.
func (f *fixture) stoppedRule(t *testing.T) (string, map[string]interface{}) {
	t.Helper()
	var ids []string
	for id, r := range resourcesOfType(f.service, "AWS::Events::Rule") {
		pattern, _ := props(r)["EventPattern"].(map[string]interface{})
		if contains(strs(pattern["source"]), event.StepFunctionsSource) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("rules for source %s: got %v, want exactly one", event.StepFunctionsSource, ids)
	}
	return ids[0], resourcesOfType(f.service, "AWS::Events::Rule")[ids[0]]
}

// renderTokens replaces every intrinsic function in v (an ARN built with
// Fn::Join, a Ref, a GetAtt) with its f.render string, leaving plain JSON
// as it is, so a pattern with tokens compares with a plain one.
func (f *fixture) renderTokens(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k := range x {
			if len(x) == 1 && (k == "Ref" || strings.HasPrefix(k, "Fn::")) {
				return f.render(x)
			}
		}
		out := make(map[string]interface{}, len(x))
		for k, e := range x {
			out[k] = f.renderTokens(e)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			out[i] = f.renderTokens(e)
		}
		return out
	}
	return v
}

// The backstop is exactly one enabled rule on the default bus (where Step
// Functions publishes; the stateful stack's bus is not involved) whose
// pattern is event.StoppedExecutions for the training state machine, the
// machine named by its fixed-name ARN rather than a reference to it.
func TestExecutionStoppedRule(t *testing.T) {
	if len(stoppedWorkers()) != 1 {
		t.Fatalf("workers with trigger %s: got %v, want exactly one (mark-stopped-job)", route.TriggerExecutionStopped, stoppedWorkers())
	}
	f := appFixture(t)
	_, rule := f.stoppedRule(t)
	p := props(rule)
	if bus, ok := p["EventBusName"]; ok && bus != "default" {
		t.Errorf("EventBusName: got %v, want none (the default bus)", bus)
	}
	if p["State"] != "ENABLED" {
		t.Errorf("State: got %v, want ENABLED", p["State"])
	}
	if got, want := p["Name"], f.stacks.Config.resourceName()+"-training-stopped"; got != want {
		t.Errorf("Name: got %v, want %s", got, want)
	}

	smID, sm := f.stateMachine(t)
	name, _ := props(sm)["StateMachineName"].(string)
	arn := f.render(f.envOf(t, "create-job")["STATE_MACHINE_ARN"])
	if name == "" || !strings.Contains(arn, ":states:") || !strings.HasSuffix(arn, ":stateMachine:"+name) {
		t.Fatalf("state machine ARN %s does not name the state machine %q", arn, name)
	}
	raw, err := json.Marshal(event.StoppedExecutions(arn))
	if err != nil {
		t.Fatal(err)
	}
	var want interface{}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	got := f.renderTokens(p["EventPattern"])
	if !reflect.DeepEqual(got, want) {
		gotJSON, _ := json.Marshal(got)
		t.Errorf("EventPattern:\n got  %s\n want %s (event.StoppedExecutions of the training state machine)", gotJSON, raw)
	}
	if b, _ := json.Marshal(p); strings.Contains(string(b), `"`+smID+`"`) {
		t.Errorf("rule references the state machine %s: want its fixed-name ARN (no dependency on it)", smID)
	}
}

// The rule's one target is mark-stopped-job, with a short retry policy and
// an encrypted, TLS-only dead-letter queue that only this rule may send to;
// only this rule may invoke the function.
func TestExecutionStoppedTarget(t *testing.T) {
	f := appFixture(t)
	ruleID, rule := f.stoppedRule(t)
	f.checkRuleTarget(t, ruleID, rule, stoppedWorkers()[0])
}

// checkRuleTarget checks the rule of worker w (workerRule): its one target
// is the function, with the retry policy of ruleRetryAttempts and
// ruleMaxEventAgeSeconds and an encrypted, TLS-only dead-letter queue,
// <function>-undelivered, that only this rule may send to; and this rule is
// the only one allowed to invoke the function.
func (f *fixture) checkRuleTarget(t *testing.T, ruleID string, rule map[string]interface{}, w route.Worker) {
	t.Helper()
	fnID, _ := f.functionByName(t, w.Function)

	targets, _ := props(rule)["Targets"].([]interface{})
	if len(targets) != 1 {
		t.Fatalf("targets: got %d, want 1", len(targets))
	}
	target, _ := targets[0].(map[string]interface{})
	if got := getAttID(target["Arn"], "Arn"); got != fnID {
		t.Errorf("target: got %v, want the ARN of %s (%s)", target["Arn"], w.Function, fnID)
	}
	if got, want := target["RetryPolicy"], map[string]interface{}{
		"MaximumRetryAttempts":     float64(ruleRetryAttempts),
		"MaximumEventAgeInSeconds": float64(ruleMaxEventAgeSeconds),
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("RetryPolicy: got %v, want %v", got, want)
	}
	if ruleRetryAttempts != 8 || ruleMaxEventAgeSeconds != 6*3600 {
		t.Errorf("rule retries/age: got %d/%d s, want 8/21600 (see workers.go)", ruleRetryAttempts, ruleMaxEventAgeSeconds)
	}

	dlc, _ := target["DeadLetterConfig"].(map[string]interface{})
	queueID := getAttID(dlc["Arn"], "Arn")
	q, ok := resourcesOfType(f.service, "AWS::SQS::Queue")[queueID]
	if !ok {
		t.Fatalf("DeadLetterConfig %v is not a queue of this stack", target["DeadLetterConfig"])
	}
	qp := props(q)
	for _, c := range []struct {
		name      string
		got, want interface{}
	}{
		{"QueueName", qp["QueueName"], functionName(f.stacks.Config, w.Function) + "-undelivered"},
		{"SqsManagedSseEnabled", qp["SqsManagedSseEnabled"], true},
		{"MessageRetentionPeriod", qp["MessageRetentionPeriod"], float64(14 * 24 * 3600)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("dead-letter queue %s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	var fromRule, denyNoTLS int
	for _, qpol := range resourcesOfType(f.service, "AWS::SQS::QueuePolicy") {
		queues := props(qpol)["Queues"].([]interface{})
		if len(queues) != 1 || refID(queues[0]) != queueID {
			continue
		}
		statements(props(qpol)["PolicyDocument"], "", func(_ string, st map[string]interface{}) {
			principal, _ := st["Principal"].(map[string]interface{})
			cond, _ := st["Condition"].(map[string]interface{})
			switch {
			case st["Effect"] == "Allow":
				arnEq, _ := cond["ArnEquals"].(map[string]interface{})
				if principal["Service"] == "events.amazonaws.com" && reflect.DeepEqual(strs(st["Action"]), []string{"sqs:SendMessage"}) &&
					getAttID(arnEq["aws:SourceArn"], "Arn") == ruleID {
					fromRule++
				} else {
					t.Errorf("dead-letter queue policy: unexpected Allow %v", st)
				}
			case st["Effect"] == "Deny":
				if b, _ := cond["Bool"].(map[string]interface{}); b["aws:SecureTransport"] == "false" {
					denyNoTLS++
				}
			}
		})
	}
	if fromRule != 1 || denyNoTLS != 1 {
		t.Errorf("dead-letter queue policy: %d Allows for this rule, %d TLS denials; want 1 and 1", fromRule, denyNoTLS)
	}

	var perms []map[string]interface{}
	for _, perm := range resourcesOfType(f.service, "AWS::Lambda::Permission") {
		if getAttID(props(perm)["FunctionName"], "Arn") == fnID {
			perms = append(perms, props(perm))
		}
	}
	if len(perms) != 1 || perms[0]["Principal"] != "events.amazonaws.com" || perms[0]["Action"] != "lambda:InvokeFunction" ||
		getAttID(perms[0]["SourceArn"], "Arn") != ruleID {
		t.Errorf("%s permissions: got %v, want one: lambda:InvokeFunction for events.amazonaws.com from %s", w.Function, perms, ruleID)
	}
}

// mark-stopped-job gets exactly the grants of its scopes (the table, the
// cluster token, the bus) plus its logs and its failure queue: it reads the
// stopped execution from the event, so it needs nothing of Step Functions.
func TestMarkStoppedJobGrants(t *testing.T) {
	f := appFixture(t)
	w := stoppedWorkers()[0]
	var tableID string
	for id := range resourcesOfType(f.stateful, "AWS::DynamoDB::Table") {
		tableID = id
	}
	table := "${" + tableID + ".Arn}"
	var failures string
	for id, q := range resourcesOfType(f.service, "AWS::SQS::Queue") {
		if props(q)["QueueName"] == functionName(f.stacks.Config, w.Function)+"-failures" {
			failures = "${" + id + ".Arn}"
		}
	}
	want := []string{
		"events:PutEvents on ${" + f.eventBusID(t) + ".Arn}",
		"secretsmanager:GetSecretValue on ${" + f.gpuClusterSecretID(t) + "}",
		"sqs:SendMessage on " + failures,
	}
	for _, a := range append(append([]string{}, tableReadActions...), tableWriteActions...) {
		want = append(want, a+" on "+table, a+" on "+table+"/index/*")
	}
	sort.Strings(want)
	var got []string
	for g := range f.grantsOf(t, w.Function) {
		if strings.HasPrefix(g, "states:") {
			t.Errorf("%s: grant %s, want nothing of Step Functions", w.Function, g)
		}
		if !strings.HasPrefix(g, "logs:") {
			got = append(got, g)
		}
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants of %s:\n got  %v\n want %v", w.Function, got, want)
	}
	if !hasScope(w.Function, route.TableWrite) || !hasScope(w.Function, route.GPUCluster) || !hasScope(w.Function, route.EventsPut) {
		t.Errorf("%s: scopes %v, want %s, %s and %s", w.Function, w.Access, route.TableWrite, route.GPUCluster, route.EventsPut)
	}
}

// eventPattern carries sources, detail types and detail fields over, and
// leaves detail out when the pattern has none (an empty detail object would
// match nothing).
func TestEventPattern(t *testing.T) {
	for _, c := range []struct {
		name string
		in   event.Pattern
		want string // JSON of the rendered pattern
	}{
		{"our events", event.PatternFor("JobFailed", "JobSucceeded"),
			`{"detail-type":["JobFailed","JobSucceeded"],"source":["brightrun"]}`},
		{"stopped executions", event.StoppedExecutions("arn:aws:states:eu-west-1:111122223333:stateMachine:x"),
			`{"detail":{"stateMachineArn":["arn:aws:states:eu-west-1:111122223333:stateMachine:x"],"status":["FAILED","TIMED_OUT","ABORTED"]},` +
				`"detail-type":["Step Functions Execution Status Change"],"source":["aws.states"]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := eventPattern(c.in)
			plain := map[string]interface{}{"source": p.Source, "detail-type": p.DetailType}
			if p.Detail != nil {
				plain["detail"] = *p.Detail
			}
			got, err := json.Marshal(plain)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
