package main

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/brightrun/brightrun/pkg/route"
)

// scheduleWorkers are the workers behind route.TriggerSchedule: each has
// one scheduled EventBridge rule with a dead-letter queue.
func scheduleWorkers() []route.Worker {
	var out []route.Worker
	for _, w := range route.Workers {
		if w.Trigger == route.TriggerSchedule {
			out = append(out, w)
		}
	}
	return out
}

// scheduleRules returns logical id -> rule of every scheduled rule of the
// service stack (a rule with a ScheduleExpression).
func (f *fixture) scheduleRules() map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for id, r := range resourcesOfType(f.service, "AWS::Events::Rule") {
		if _, ok := props(r)["ScheduleExpression"]; ok {
			out[id] = r
		}
	}
	return out
}

// scheduleRule returns the logical id and resource of the one scheduled
// rule that targets worker w's function.
func (f *fixture) scheduleRule(t *testing.T, w route.Worker) (string, map[string]interface{}) {
	t.Helper()
	fnID, _ := f.functionByName(t, w.Function)
	var ids []string
	for id, r := range f.scheduleRules() {
		targets, _ := props(r)["Targets"].([]interface{})
		for _, tg := range targets {
			target, _ := tg.(map[string]interface{})
			if getAttID(target["Arn"], "Arn") == fnID {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) != 1 {
		t.Fatalf("scheduled rules targeting %s: got %v, want exactly one", w.Function, ids)
	}
	return ids[0], f.scheduleRules()[ids[0]]
}

// rateExpression is EventBridge's rate expression for d: the largest whole
// unit of days, hours or minutes, singular for 1 ("rate(1 hour)").
func rateExpression(d time.Duration) string {
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}} {
		if d%u.size == 0 {
			n := int64(d / u.size)
			if n == 1 {
				return "rate(1 " + u.name + ")"
			}
			return fmt.Sprintf("rate(%d %ss)", n, u.name)
		}
	}
	return fmt.Sprintf("no rate for %v", d)
}

// Each worker with route.TriggerSchedule has exactly one enabled rule on
// the default bus, named brightrun-<stage>-<function>-schedule, whose
// schedule is the worker's Every and which matches no events; the stack has
// no other scheduled rule.
func TestScheduleRules(t *testing.T) {
	workers := scheduleWorkers()
	var names []string
	for _, w := range workers {
		names = append(names, w.Function)
	}
	if !contains(names, "sweep-jobs") {
		t.Fatalf("workers with trigger %s: got %v, want sweep-jobs among them", route.TriggerSchedule, names)
	}
	if got := rateExpression(15 * time.Minute); got != "rate(15 minutes)" {
		t.Fatalf("rateExpression(15m): got %s, want rate(15 minutes)", got)
	}
	f := appFixture(t)
	if got := len(f.scheduleRules()); got != len(workers) {
		t.Errorf("scheduled rules: got %d, want one per worker with trigger %s (%d)", got, route.TriggerSchedule, len(workers))
	}
	for _, w := range workers {
		t.Run(w.Function, func(t *testing.T) {
			_, rule := f.scheduleRule(t, w)
			p := props(rule)
			_, hasPattern := p["EventPattern"]
			bus, hasBus := p["EventBusName"]
			for _, c := range []struct {
				name      string
				got, want interface{}
			}{
				{"ScheduleExpression", p["ScheduleExpression"], rateExpression(w.Every)},
				{"State", p["State"], "ENABLED"},
				{"Name", p["Name"], functionName(f.stacks.Config, w.Function) + "-schedule"},
				{"has EventPattern", hasPattern, false},
				{"EventBusName (none or default)", !hasBus || bus == "default", true},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

// A scheduled rule hands its event to the worker as the backstop's rule
// does (checkRuleTarget: retry policy, dead-letter queue, the one Lambda
// permission, for events.amazonaws.com from this rule), and Lambda then
// runs it asynchronously, with the worker's EventInvokeConfig.
func TestScheduleTarget(t *testing.T) {
	if !workerTriggers[route.TriggerSchedule].Async {
		t.Errorf("workerTriggers[%s].Async: got false, want true (EventBridge invokes Lambda asynchronously)", route.TriggerSchedule)
	}
	f := appFixture(t)
	for _, w := range scheduleWorkers() {
		t.Run(w.Function, func(t *testing.T) {
			ruleID, rule := f.scheduleRule(t, w)
			f.checkRuleTarget(t, ruleID, rule, w)
			fnID, _ := f.functionByName(t, w.Function)
			n := 0
			for _, c := range resourcesOfType(f.service, "AWS::Lambda::EventInvokeConfig") {
				if refID(props(c)["FunctionName"]) == fnID {
					n++
				}
			}
			if n != 1 {
				t.Errorf("EventInvokeConfigs of %s: got %d, want 1", w.Function, n)
			}
		})
	}
}

// sweep-jobs gets exactly the grants of its scopes: those of
// mark-stopped-job (table, cluster token, bus) plus its failure queue,
// and states:DescribeExecution on the training machine's executions (and
// nothing wider); it never starts one (TestWorkflowStartGrant). No other
// function may describe executions, and only the roles granted
// route.WorkflowRead carry the cdk-nag suppression of its wildcard.
func TestSweepJobsGrants(t *testing.T) {
	const fn = "sweep-jobs"
	f := appFixture(t)
	for _, s := range []string{route.TableWrite, route.GPUCluster, route.EventsPut, route.WorkflowRead} {
		if !hasScope(fn, s) {
			t.Errorf("%s: no scope %s", fn, s)
		}
	}

	_, sm := f.stateMachine(t)
	name, _ := props(sm)["StateMachineName"].(string)
	machine := f.render(f.envOf(t, "create-job")["STATE_MACHINE_ARN"])
	if name == "" || !strings.HasSuffix(machine, ":stateMachine:"+name) {
		t.Fatalf("state machine ARN %s does not name the state machine %q", machine, name)
	}
	executions := strings.TrimSuffix(machine, ":stateMachine:"+name) + ":execution:" + name + ":*"

	var tableID string
	for id := range resourcesOfType(f.stateful, "AWS::DynamoDB::Table") {
		tableID = id
	}
	table := "${" + tableID + ".Arn}"
	var failures string
	for id, q := range resourcesOfType(f.service, "AWS::SQS::Queue") {
		if props(q)["QueueName"] == functionName(f.stacks.Config, fn)+"-failures" {
			failures = "${" + id + ".Arn}"
		}
	}
	want := []string{
		"events:PutEvents on ${" + f.eventBusID(t) + ".Arn}",
		"secretsmanager:GetSecretValue on ${" + f.gpuClusterSecretID(t) + "}",
		"sqs:SendMessage on " + failures,
		"states:DescribeExecution on " + executions,
	}
	for _, a := range append(append([]string{}, tableReadActions...), tableWriteActions...) {
		want = append(want, a+" on "+table, a+" on "+table+"/index/*")
	}
	sort.Strings(want)
	var got []string
	for g := range f.grantsOf(t, fn) {
		if !strings.HasPrefix(g, "logs:") {
			got = append(got, g)
		}
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants of %s:\n got  %v\n want %v", fn, got, want)
	}

	for _, other := range route.Functions() {
		describes := false
		for g := range f.grantsOf(t, other) {
			describes = describes || strings.HasPrefix(g, "states:DescribeExecution ")
		}
		if describes != hasScope(other, route.WorkflowRead) {
			t.Errorf("%s: states:DescribeExecution granted %v, want %v (scope %s)", other, describes, !describes, route.WorkflowRead)
		}
	}

	// The suppression sits on the role and its policy of every function
	// with the scope, and nowhere else.
	fnID, lambda := f.functionByName(t, fn)
	roleID := getAttID(props(lambda)["Role"], "Arn")
	var suppressed []string
	for _, typ := range []string{"AWS::IAM::Role", "AWS::IAM::Policy"} {
		for id, r := range resourcesOfType(f.service, typ) {
			if s := fmt.Sprint(r["Metadata"]); strings.Contains(s, ":execution:"+name) && strings.Contains(s, "AwsSolutions-IAM5") {
				suppressed = append(suppressed, id)
			}
		}
	}
	sort.Strings(suppressed)
	var policyID string
	for id, p := range resourcesOfType(f.service, "AWS::IAM::Policy") {
		for _, role := range props(p)["Roles"].([]interface{}) {
			if refID(role) == roleID {
				policyID = id
			}
		}
	}
	if wantIDs := sortedCopy([]string{roleID, policyID}); !reflect.DeepEqual(suppressed, wantIDs) {
		t.Errorf("IAM5 suppressions of the execution wildcard: got %v, want %v (role and policy of %s, %s)", suppressed, wantIDs, fn, fnID)
	}
}

// The suppression matches the execution wildcard as cdk-nag renders it,
// with pseudo parameters (environment-agnostic) or literals (the CLI's
// CDK_DEFAULT_ACCOUNT/REGION), and nothing wider or of another machine.
func TestWorkflowReadSuppression(t *testing.T) {
	cfg := config{Stage: "dev"}
	nag := accessGrants[route.WorkflowRead].Nag
	if nag == nil {
		t.Fatalf("accessGrants[%s].Nag is nil, want the IAM5 suppression of the execution wildcard", route.WorkflowRead)
	}
	sup := nag(cfg)
	if len(sup) != 1 || *sup[0].Id != "AwsSolutions-IAM5" || sup[0].AppliesTo == nil || len(*sup[0].AppliesTo) != 1 {
		t.Fatalf("suppressions: got %v, want one AwsSolutions-IAM5 with one appliesTo", sup)
	}
	if !strings.Contains(*sup[0].Reason, "brightrun-dev-training") || !strings.Contains(*sup[0].Reason, "named per job") {
		t.Errorf("reason %q: want it to name the state machine and why its executions need a wildcard", *sup[0].Reason)
	}
	ra, ok := (*sup[0].AppliesTo)[0].(*cdknag.RegexAppliesTo)
	if !ok {
		t.Fatalf("appliesTo: got %T, want a *cdknag.RegexAppliesTo", (*sup[0].AppliesTo)[0])
	}
	js := *ra.Regex
	re := regexp.MustCompile(strings.TrimSuffix(strings.TrimPrefix(js, "/"), "/g"))
	for _, c := range []struct {
		finding string
		want    bool
	}{
		{"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:brightrun-dev-training:*", true},
		{"Resource::arn:aws:states:eu-west-1:111122223333:execution:brightrun-dev-training:*", true},
		{"Resource::arn:aws-us-gov:states:us-gov-west-1:111122223333:execution:brightrun-dev-training:*", true},
		{"Resource::arn:aws:states:eu-west-1:111122223333:execution:brightrun-prod-training:*", false},
		{"Resource::arn:aws:states:eu-west-1:111122223333:execution:brightrun-dev-training-x:*", false},
		{"Resource::arn:aws:states:eu-west-1:111122223333:execution:*", false},
		{"Resource::arn:aws:states:eu-west-1:111122223333:stateMachine:*", false},
		{"Resource::*", false},
	} {
		if got := re.MatchString(c.finding); got != c.want {
			t.Errorf("%s matches %s: got %v, want %v", js, c.finding, got, c.want)
		}
	}
}

// cdk-nag stays clean with a concrete account and region, as `cdk synth`
// runs with (TestNoUnsuppressedNagFindings covers the environment-agnostic
// stacks): the execution wildcard then has literals where pseudo
// parameters were.
func TestNagCleanWithEnvironment(t *testing.T) {
	t.Setenv("CDK_DEFAULT_ACCOUNT", "111122223333")
	t.Setenv("CDK_DEFAULT_REGION", "eu-west-1")
	checkNag(t)
}

// A scheduled worker whose Every is not a positive whole number of minutes,
// or a worker with Every and another trigger, fails the synth with an error
// naming the worker.
func TestScheduleEveryFailsSynth(t *testing.T) {
	for _, c := range []struct {
		name    string
		edit    func(w *route.Worker)
		worker  string
		mention []string
	}{
		{"schedule without Every", func(w *route.Worker) {
			if w.Function == "sweep-jobs" {
				w.Every = 0
			}
		}, "sweep-jobs", []string{"Every", route.TriggerSchedule, "whole number of minutes", "got 0s"}},
		{"schedule every 90 s", func(w *route.Worker) {
			if w.Function == "sweep-jobs" {
				w.Every = 90 * time.Second
			}
		}, "sweep-jobs", []string{"Every", "whole number of minutes", "got 1m30s"}},
		{"schedule every -15 min", func(w *route.Worker) {
			if w.Function == "sweep-jobs" {
				w.Every = -15 * time.Minute
			}
		}, "sweep-jobs", []string{"Every", "whole number of minutes", "got -15m0s"}},
		{"Every on another trigger", func(w *route.Worker) {
			if w.Function == "mark-stopped-job" {
				w.Every = 15 * time.Minute
			}
		}, "mark-stopped-job", []string{"Every", route.TriggerSchedule, route.TriggerExecutionStopped}},
	} {
		t.Run(c.name, func(t *testing.T) {
			workers := append([]route.Worker(nil), route.Workers...)
			for i := range workers {
				c.edit(&workers[i])
			}
			if reflect.DeepEqual(workers, route.Workers) {
				t.Fatalf("the edit changed no worker (is %s still in route.Workers?)", c.worker)
			}
			_, err := newTestAppWith(t, route.Table, workers, nil)
			if err == nil {
				t.Fatal("got no error")
			}
			for _, want := range append([]string{`"` + c.worker + `"`}, c.mention...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
		})
	}
}
