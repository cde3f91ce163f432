package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/brightrun/brightrun/pkg/blob"
	"github.com/brightrun/brightrun/pkg/route"
)

// render turns a template value into a string, after resolving weak
// cross-stack references: {"Ref": X} is ${X}, {"Fn::GetAtt": [X, A]} is
// ${X.A}, Fn::Join is joined.
func (f *fixture) render(v interface{}) string {
	var r func(v interface{}) string
	r = func(v interface{}) string {
		switch x := v.(type) {
		case string:
			return x
		case map[string]interface{}:
			if id := refID(x); id != "" {
				return "${" + id + "}"
			}
			if ga, ok := x["Fn::GetAtt"].([]interface{}); ok && len(ga) == 2 {
				return fmt.Sprintf("${%v.%v}", ga[0], ga[1])
			}
			if join, ok := x["Fn::Join"].([]interface{}); ok && len(join) == 2 {
				sep, _ := join[0].(string)
				parts, _ := join[1].([]interface{})
				out := make([]string, len(parts))
				for i, p := range parts {
					out[i] = r(p)
				}
				return strings.Join(out, sep)
			}
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	return r(f.fromStateful(v))
}

// grantsOf returns "action on resource" for every Allow statement of the
// policies attached to the role of function fn.
func (f *fixture) grantsOf(t *testing.T, fn string) map[string]bool {
	t.Helper()
	_, lambda := f.functionByName(t, fn)
	roleID := getAttID(props(lambda)["Role"], "Arn")
	if roleID == "" {
		t.Fatalf("%s: role not found", fn)
	}
	return f.grantsOfRole(roleID)
}

// grantsOfRole returns "action on resource" for every Allow statement of the
// policies attached to the role with logical id roleID.
func (f *fixture) grantsOfRole(roleID string) map[string]bool {
	got := map[string]bool{}
	for _, p := range resourcesOfType(f.service, "AWS::IAM::Policy") {
		attached := false
		for _, role := range props(p)["Roles"].([]interface{}) {
			attached = attached || refID(role) == roleID
		}
		if !attached {
			continue
		}
		statements(props(p)["PolicyDocument"], "", func(_ string, st map[string]interface{}) {
			if st["Effect"] != "Allow" {
				return
			}
			res, ok := st["Resource"].([]interface{})
			if !ok {
				res = []interface{}{st["Resource"]}
			}
			for _, a := range strs(st["Action"]) {
				for _, r := range res {
					got[a+" on "+f.render(r)] = true
				}
			}
		})
	}
	return got
}

// datasetsBucketID is the logical id of the datasets bucket (stateful).
func (f *fixture) datasetsBucketID(t *testing.T) string {
	t.Helper()
	for id := range resourcesOfType(f.stateful, "AWS::S3::Bucket") {
		if strings.HasPrefix(id, "DatasetsBucket") {
			return id
		}
	}
	t.Fatal("stateful stack: no DatasetsBucket")
	return ""
}

// modelsBucketID is the logical id of the models bucket (stateful).
func (f *fixture) modelsBucketID(t *testing.T) string {
	t.Helper()
	for id := range resourcesOfType(f.stateful, "AWS::S3::Bucket") {
		if strings.HasPrefix(id, "ModelsBucket") {
			return id
		}
	}
	t.Fatal("stateful stack: no ModelsBucket")
	return ""
}

func (f *fixture) eventBusID(t *testing.T) string {
	t.Helper()
	buses := resourcesOfType(f.stateful, "AWS::Events::EventBus")
	if len(buses) != 1 {
		t.Fatalf("stateful stack: %d event buses, want 1", len(buses))
	}
	for id := range buses {
		return id
	}
	return ""
}

// Every function of route.Functions() (routes, then workers) has exactly one
// Lambda, named brightrun-<stage>-<fn>.
func TestEveryFunctionHasALambda(t *testing.T) {
	f := appFixture(t)
	if got, want := len(f.ownFunctions()), len(route.Functions()); got != want {
		t.Errorf("own Lambdas: got %d, want %d", got, want)
	}
	for _, fn := range route.Functions() {
		f.functionByName(t, fn)
	}
}

// Each worker is an arm64 provided.al2023 Lambda with the worker's memory
// and timeout, its own role and its own log group with 30-day retention.
func TestWorkerFunctions(t *testing.T) {
	f := appFixture(t)
	if len(route.Workers) == 0 {
		t.Skip("no workers")
	}
	roleOwners := map[string][]string{}
	for _, fn := range f.ownFunctions() {
		roleOwners[getAttID(props(fn)["Role"], "Arn")] = append(roleOwners[getAttID(props(fn)["Role"], "Arn")], props(fn)["FunctionName"].(string))
	}
	logGroups := resourcesOfType(f.service, "AWS::Logs::LogGroup")
	for _, w := range route.Workers {
		t.Run(w.Function, func(t *testing.T) {
			_, fn := f.functionByName(t, w.Function)
			p := props(fn)
			if p["MemorySize"] != float64(w.MemoryMB) || p["Timeout"] != float64(w.Timeout) {
				t.Errorf("memory/timeout: got %v/%v, want %d/%d", p["MemorySize"], p["Timeout"], w.MemoryMB, w.Timeout)
			}
			if got := strs(p["Architectures"]); !reflect.DeepEqual(got, []string{"arm64"}) {
				t.Errorf("architectures: got %v, want [arm64]", got)
			}
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
				t.Errorf("runtime/handler: got %v/%v", p["Runtime"], p["Handler"])
			}
			if owners := roleOwners[getAttID(p["Role"], "Arn")]; len(owners) != 1 {
				t.Errorf("role shared by %v, want its own", owners)
			}
			lc, _ := p["LoggingConfig"].(map[string]interface{})
			lg := logGroups[refID(lc["LogGroup"])]
			if lg == nil || props(lg)["RetentionInDays"] != float64(30) ||
				props(lg)["LogGroupName"] != "/aws/lambda/"+f.stacks.Config.resourceName()+"-"+w.Function {
				t.Errorf("log group: got %v, want /aws/lambda/<name> with 30 days retention", lg)
			}
		})
	}
}

// Every Lambda of the service stack, CDK's notifications handler included,
// logs to a log group of the stack that has a retention.
func TestEveryLambdaLogGroupHasRetention(t *testing.T) {
	f := appFixture(t)
	logGroups := resourcesOfType(f.service, "AWS::Logs::LogGroup")
	for id, fn := range resourcesOfType(f.service, "AWS::Lambda::Function") {
		lc, _ := props(fn)["LoggingConfig"].(map[string]interface{})
		lg := logGroups[refID(lc["LogGroup"])]
		if lg == nil || props(lg)["RetentionInDays"] == nil {
			t.Errorf("%s: no log group with a retention (LoggingConfig %v)", id, props(fn)["LoggingConfig"])
		}
	}
}

// One S3 notification: ObjectCreated:* under datasets/ of the datasets
// bucket to validate-dataset, set from the service stack (unmanaged, so
// other notifications of the bucket stay), after S3 may invoke the function.
func TestDatasetUploadNotification(t *testing.T) {
	f := appFixture(t)
	validateID, _ := f.functionByName(t, validateDatasetFunction)
	bucketID := f.datasetsBucketID(t)
	notifs := resourcesOfType(f.service, "Custom::S3BucketNotifications")
	if len(notifs) != 1 {
		t.Fatalf("Custom::S3BucketNotifications: got %d, want 1", len(notifs))
	}
	perm := s3InvokePermission(t, f, validateID)
	for id, n := range notifs {
		p := props(n)
		if got, want := f.render(p["BucketName"]), "${"+bucketID+"}"; got != want {
			t.Errorf("%s: BucketName %s, want %s", id, got, want)
		}
		want := []interface{}{map[string]interface{}{
			"Events":            []interface{}{"s3:ObjectCreated:*"},
			"Filter":            map[string]interface{}{"Key": map[string]interface{}{"FilterRules": []interface{}{map[string]interface{}{"Name": "prefix", "Value": "datasets/"}}}},
			"LambdaFunctionArn": map[string]interface{}{"Fn::GetAtt": []interface{}{validateID, "Arn"}},
		}}
		nc, _ := p["NotificationConfiguration"].(map[string]interface{})
		if !reflect.DeepEqual(nc["LambdaFunctionConfigurations"], want) {
			t.Errorf("%s: LambdaFunctionConfigurations\n got  %v\n want %v", id, nc["LambdaFunctionConfigurations"], want)
		}
		if len(nc) != 1 {
			t.Errorf("%s: NotificationConfiguration has %d kinds, want only Lambda", id, len(nc))
		}
		if p["Managed"] != false {
			t.Errorf("%s: Managed %v, want false (the bucket belongs to the stateful stack)", id, p["Managed"])
		}
		if !contains(strs(n["DependsOn"]), perm) {
			t.Errorf("%s: DependsOn %v, want the Lambda permission %s (S3 validates the destination)", id, n["DependsOn"], perm)
		}
	}
	if nc := props(resourcesOfType(f.stateful, "AWS::S3::Bucket")[bucketID])["NotificationConfiguration"]; nc != nil {
		t.Errorf("stateful datasets bucket has NotificationConfiguration %v: it would reference the service stack", nc)
	}
}

// s3InvokePermission returns the logical id of the one permission letting
// S3 (the datasets bucket of this account) invoke function fnID.
func s3InvokePermission(t *testing.T, f *fixture, fnID string) string {
	t.Helper()
	bucketArn := "${" + f.datasetsBucketID(t) + ".Arn}"
	var found []string
	for id, p := range resourcesOfType(f.service, "AWS::Lambda::Permission") {
		pp := props(p)
		if pp["Principal"] != "s3.amazonaws.com" {
			continue
		}
		found = append(found, id)
		if pp["Action"] != "lambda:InvokeFunction" || getAttID(pp["FunctionName"], "Arn") != fnID ||
			f.render(pp["SourceArn"]) != bucketArn || refID(pp["SourceAccount"]) != "AWS::AccountId" {
			t.Errorf("%s: got %v, want lambda:InvokeFunction of %s for s3.amazonaws.com, SourceArn %s, SourceAccount AWS::AccountId", id, pp, fnID, bucketArn)
		}
	}
	if len(found) != 1 {
		t.Fatalf("Lambda permissions for s3.amazonaws.com: got %v, want 1", found)
	}
	return found[0]
}

func TestS3MayInvokeValidateDataset(t *testing.T) {
	f := appFixture(t)
	validateID, _ := f.functionByName(t, validateDatasetFunction)
	s3InvokePermission(t, f, validateID)
}

// The service stack depends on the stateful stack, never the reverse.
func TestNoDependencyFromStatefulToService(t *testing.T) {
	f := appFixture(t)
	if deps := *f.stacks.Stateful.Dependencies(); len(deps) != 0 {
		names := []string{}
		for _, d := range deps {
			names = append(names, *d.StackName())
		}
		t.Errorf("stateful stack depends on %v, want nothing", names)
	}
	raw, _ := json.Marshal(f.stateful)
	if svc := *f.stacks.Service.StackName(); strings.Contains(string(raw), svc) {
		t.Errorf("stateful template mentions %s", svc)
	}
	deps := *f.stacks.Service.Dependencies()
	if len(deps) != 1 || *deps[0].StackName() != *f.stacks.Stateful.StackName() {
		t.Errorf("service stack dependencies: got %d, want exactly the stateful stack", len(deps))
	}
}

// asyncWorkers are the workers whose trigger invokes them asynchronously
// (workerTrigger.Async): they, and only they, get an EventInvokeConfig.
func asyncWorkers() []route.Worker {
	var out []route.Worker
	for _, w := range route.Workers {
		if workerTriggers[w.Trigger].Async {
			out = append(out, w)
		}
	}
	return out
}

// Each asynchronously invoked worker retries twice, drops events older than
// 6 hours and sends failures to an encrypted queue that keeps them 14 days;
// its role may send there and nothing more on SQS. (Synchronously invoked
// workers have none: TestTrainingTasksHaveNoAsyncConfig.)
func TestWorkerAsyncInvokeConfig(t *testing.T) {
	f := appFixture(t)
	queues := resourcesOfType(f.service, "AWS::SQS::Queue")
	configs := resourcesOfType(f.service, "AWS::Lambda::EventInvokeConfig")
	async := asyncWorkers()
	if len(async) == 0 {
		t.Fatal("no asynchronously invoked worker: validate-dataset should be one")
	}
	rules := len(stoppedWorkers()) + len(scheduleWorkers())
	if len(configs) != len(async) || len(queues) != len(async)+rules {
		t.Errorf("EventInvokeConfigs/queues: got %d/%d, want one per asynchronously invoked worker (%d), plus a dead-letter queue per EventBridge rule (%d)",
			len(configs), len(queues), len(async), rules)
	}
	for _, w := range async {
		t.Run(w.Function, func(t *testing.T) {
			fnID, fn := f.functionByName(t, w.Function)
			roleID := getAttID(props(fn)["Role"], "Arn")
			var cfg map[string]interface{}
			for _, c := range configs {
				if refID(props(c)["FunctionName"]) == fnID {
					cfg = c
				}
			}
			if cfg == nil {
				t.Fatal("no EventInvokeConfig")
			}
			p := props(cfg)
			if p["MaximumRetryAttempts"] != float64(2) || p["MaximumEventAgeInSeconds"] != float64(21600) || p["Qualifier"] != "$LATEST" {
				t.Errorf("retries/age/qualifier: got %v/%v/%v, want 2/21600/$LATEST", p["MaximumRetryAttempts"], p["MaximumEventAgeInSeconds"], p["Qualifier"])
			}
			dc, _ := p["DestinationConfig"].(map[string]interface{})
			of, _ := dc["OnFailure"].(map[string]interface{})
			queueID := getAttID(of["Destination"], "Arn")
			q, ok := queues[queueID]
			if !ok {
				t.Fatalf("OnFailure destination %v is not a queue of this stack", of["Destination"])
			}
			if props(q)["MessageRetentionPeriod"] != float64(14*24*3600) || props(q)["SqsManagedSseEnabled"] != true {
				t.Errorf("queue: retention %v, SSE %v; want 1209600 and SQS-managed encryption", props(q)["MessageRetentionPeriod"], props(q)["SqsManagedSseEnabled"])
			}
			if !contains(strs(cfg["DependsOn"]), roleID) {
				t.Errorf("DependsOn %v: want the role %s (Lambda checks sqs:SendMessage when the config is written)", cfg["DependsOn"], roleID)
			}
			sqs := []string{}
			for g := range f.grantsOf(t, w.Function) {
				if strings.HasPrefix(g, "sqs:") {
					sqs = append(sqs, g)
				}
			}
			if want := []string{"sqs:SendMessage on ${" + queueID + ".Arn}"}; !reflect.DeepEqual(sqs, want) {
				t.Errorf("SQS grants: got %v, want %v", sqs, want)
			}
		})
	}
}

// The dataset functions get exactly the S3, EventBridge and Lambda
// permissions their work needs (table and log grants are checked by
// TestLeastPrivilegePerRoute and TestLeastPrivilegePerWorker, SQS by
// TestWorkerAsyncInvokeConfig): create can upload but not read, get has no
// S3 access at all, confirm can read and invoke validate-dataset and
// nothing else. s3:ListBucket comes with datasets:read (404 instead of 403
// for a missing object, see grants.go). The training tasks all publish
// events; submit-job reads datasets (it presigns a GET for the cluster) and
// copy-artifacts writes models (models:write, TestModelsWriteGrant).
func TestDatasetGrants(t *testing.T) {
	f := appFixture(t)
	bucket := "${" + f.datasetsBucketID(t) + ".Arn}"
	objects := bucket + "/datasets/*"
	models := "${" + f.modelsBucketID(t) + ".Arn}"
	modelObjects := models + "/models/*"
	bus := "${" + f.eventBusID(t) + ".Arn}"
	validateID, _ := f.functionByName(t, validateDatasetFunction)
	validate := "${" + validateID + ".Arn}"
	want := map[string][]string{
		"create-dataset":          {"s3:AbortMultipartUpload on " + objects, "s3:PutObject on " + objects},
		"list-datasets":           nil,
		"get-dataset":             nil,
		"update-dataset":          nil,
		"delete-dataset":          {"s3:PutObjectTagging on " + objects},
		"complete-dataset-upload": {"s3:AbortMultipartUpload on " + objects, "s3:GetObject on " + objects, "s3:ListBucket on " + bucket, "s3:PutObject on " + objects},
		"confirm-dataset-upload":  {"lambda:InvokeFunction on " + validate, "s3:GetObject on " + objects, "s3:ListBucket on " + bucket},
		"validate-dataset":        {"events:PutEvents on " + bus, "s3:GetObject on " + objects, "s3:ListBucket on " + bucket, "s3:PutObjectTagging on " + objects},

		"submit-job":         {"events:PutEvents on " + bus, "s3:GetObject on " + objects, "s3:ListBucket on " + bucket},
		"poll-job":           {"events:PutEvents on " + bus},
		"copy-artifacts":     {"events:PutEvents on " + bus, "s3:AbortMultipartUpload on " + modelObjects, "s3:GetObject on " + modelObjects, "s3:ListBucket on " + models, "s3:PutObject on " + modelObjects},
		"finalize-job":       {"events:PutEvents on " + bus},
		"mark-job-failed":    {"events:PutEvents on " + bus},
		"mark-job-cancelled": {"events:PutEvents on " + bus},
		"mark-stopped-job":   {"events:PutEvents on " + bus},
		"sweep-jobs":         {"events:PutEvents on " + bus},
	}
	for fn, want := range want {
		t.Run(fn, func(t *testing.T) {
			var got []string
			for g := range f.grantsOf(t, fn) {
				if strings.HasPrefix(g, "s3:") || strings.HasPrefix(g, "events:") || strings.HasPrefix(g, "lambda:") {
					got = append(got, g)
				}
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("grants of %s:\n got  %v\n want %v", fn, got, want)
			}
		})
	}
	// Nobody else touches dataset objects, the bus or another function.
	for _, fn := range route.Functions() {
		if _, ok := want[fn]; ok {
			continue
		}
		for g := range f.grantsOf(t, fn) {
			if strings.HasPrefix(g, "s3:") || strings.HasPrefix(g, "events:") || strings.HasPrefix(g, "lambda:") {
				t.Errorf("%s: unexpected grant %s", fn, g)
			}
		}
	}
}

// Each worker's role gets exactly the actions of its Access scopes, writing
// its own logs and, if invoked asynchronously, sending to its failure queue.
func TestLeastPrivilegePerWorker(t *testing.T) {
	f := appFixture(t)
	for _, w := range route.Workers {
		t.Run(w.Function, func(t *testing.T) {
			got := map[string]bool{}
			for g := range f.grantsOf(t, w.Function) {
				got[strings.SplitN(g, " on ", 2)[0]] = true
			}
			want := map[string]bool{"logs:CreateLogStream": true, "logs:PutLogEvents": true}
			if workerTriggers[w.Trigger].Async {
				want["sqs:SendMessage"] = true
			}
			for _, scope := range w.Access {
				for _, a := range accessGrants[scope].allActions() {
					want[a] = true
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("actions:\n got  %v\n want %v", keys(got), keys(want))
			}
		})
	}
}

// Objects tagged blob.DeletedTag=true expire after a day, on both buckets.
func TestDeletedObjectsExpire(t *testing.T) {
	f := appFixture(t)
	for id, b := range resourcesOfType(f.stateful, "AWS::S3::Bucket") {
		lc, _ := props(b)["LifecycleConfiguration"].(map[string]interface{})
		rules, _ := lc["Rules"].([]interface{})
		found := false
		for _, r := range rules {
			rule, _ := r.(map[string]interface{})
			if reflect.DeepEqual(rule["TagFilters"], []interface{}{map[string]interface{}{"Key": blob.DeletedTag, "Value": "true"}}) {
				found = true
				if rule["ExpirationInDays"] != float64(1) || rule["Status"] != "Enabled" || rule["Prefix"] != nil {
					t.Errorf("%s: deleted-object rule %v, want enabled, whole bucket, ExpirationInDays 1", id, rule)
				}
			}
		}
		if !found {
			t.Errorf("%s: no lifecycle rule for tag %s=true", id, blob.DeletedTag)
		}
	}
}

// The bus brightrun-<stage> is in the stateful stack, archived 30 days, and
// every function gets its name, the datasets bucket and the validate
// function.
func TestEventBusAndDatasetEnvironment(t *testing.T) {
	f := appFixture(t)
	busID := f.eventBusID(t)
	bus := resourcesOfType(f.stateful, "AWS::Events::EventBus")[busID]
	if props(bus)["Name"] != f.stacks.Config.resourceName() {
		t.Errorf("bus name: got %v, want %s", props(bus)["Name"], f.stacks.Config.resourceName())
	}
	if n := len(resourcesOfType(f.service, "AWS::Events::EventBus")); n != 0 {
		t.Errorf("service stack: %d event buses, want 0", n)
	}
	archives := resourcesOfType(f.stateful, "AWS::Events::Archive")
	if len(archives) != 1 {
		t.Fatalf("archives: got %d, want 1", len(archives))
	}
	for id, a := range archives {
		p := props(a)
		if getAttID(p["SourceArn"], "Arn") != busID || p["RetentionDays"] != float64(30) || p["EventPattern"] == nil {
			t.Errorf("%s: got %v, want the bus, 30 days, a pattern", id, p)
		}
	}

	_, validate := f.functionByName(t, validateDatasetFunction)
	want := map[string]string{
		"DATASETS_BUCKET":           "${" + f.datasetsBucketID(t) + "}",
		"EVENT_BUS_NAME":            "${" + busID + "}",
		"VALIDATE_DATASET_FUNCTION": props(validate)["FunctionName"].(string),
	}
	for id, fn := range f.ownFunctions() {
		env, _ := props(fn)["Environment"].(map[string]interface{})
		vars, _ := env["Variables"].(map[string]interface{})
		for k, v := range want {
			if got := f.render(vars[k]); got != v {
				t.Errorf("%s: %s=%s, want %s", id, k, got, v)
			}
		}
	}
}

// A worker whose trigger infra does not know fails the synth, naming it.
func TestUnknownTriggerFailsSynth(t *testing.T) {
	workers := []route.Worker{{Function: "resize-image", Trigger: "sqs:images", Timeout: 60, MemoryMB: 256}}
	_, err := newTestAppWith(t, route.Table, workers, nil)
	if err == nil {
		t.Fatal("got no error for an unknown trigger")
	}
	for _, want := range []string{`"sqs:images"`, `"resize-image"`, "infra/workers.go", route.TriggerDatasetUpload} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// invoke:validate-dataset without the worker, or on itself, fails the synth
// with a message instead of an empty ARN or a CloudFormation cycle.
func TestInvokeScopeNeedsAnotherFunction(t *testing.T) {
	confirm := []route.Route{{Method: "POST", Path: "/api/x", Function: "confirm-dataset-upload", Access: []string{route.InvokeValidate}}}
	if _, err := newTestAppWith(t, confirm, nil, nil); err == nil || !strings.Contains(err.Error(), route.InvokeValidate) {
		t.Errorf("invoke scope without its function: got %v, want an error naming %s", err, route.InvokeValidate)
	}
	self := []route.Worker{{Function: validateDatasetFunction, Trigger: route.TriggerDatasetUpload, Timeout: 60, MemoryMB: 256, Access: []string{route.InvokeValidate}}}
	if _, err := newTestAppWith(t, nil, self, nil); err == nil || !strings.Contains(err.Error(), "itself") {
		t.Errorf("self-invoke: got %v, want an error", err)
	}
}

// Every scope of route.Workers has a grant, every invoke scope's function
// exists, and the validate function is a worker.
func TestWorkerScopesAndInvokeTargets(t *testing.T) {
	for _, w := range route.Workers {
		for _, s := range w.Access {
			if _, ok := accessGrants[s]; !ok {
				t.Errorf("worker %s: scope %q has no row in accessGrants", w.Function, s)
			}
		}
		if _, ok := workerTriggers[w.Trigger]; !ok {
			t.Errorf("worker %s: trigger %q has no row in workerTriggers", w.Function, w.Trigger)
		}
	}
	if !contains(route.Functions(), validateDatasetFunction) {
		t.Errorf("validateDatasetFunction %q is not in route.Functions()", validateDatasetFunction)
	}
	if want := "invoke:" + validateDatasetFunction; route.InvokeValidate != want {
		t.Errorf("route.InvokeValidate = %q, want %q", route.InvokeValidate, want)
	}
}

// TestWorkflowStartGrant: only create-job may start the training state
// machine, and only that one (by its fixed name); only the sweeper may
// describe its executions (TestSweepJobsGrants).
func TestWorkflowStartGrant(t *testing.T) {
	f := appFixture(t)
	var starters []string
	for _, fn := range route.Functions() {
		var got []string
		for grant := range f.grantsOf(t, fn) {
			// DescribeExecution: TestSweepJobsGrants.
			if strings.HasPrefix(grant, "states:") && !strings.HasPrefix(grant, "states:DescribeExecution ") {
				got = append(got, grant)
			}
		}
		switch {
		case hasScope(fn, route.WorkflowStart):
			starters = append(starters, fn)
			if len(got) != 1 || !strings.HasPrefix(got[0], "states:StartExecution on ") || !strings.HasSuffix(got[0], ":stateMachine:brightrun-dev-training") {
				t.Errorf("%s: got %v, want states:StartExecution on the training state machine only", fn, got)
			}
		case len(got) != 0:
			t.Errorf("%s may not start executions: %v", fn, got)
		}
	}
	if want := []string{"create-job"}; !reflect.DeepEqual(starters, want) {
		t.Errorf("functions with %s: got %v, want %v", route.WorkflowStart, starters, want)
	}
}
