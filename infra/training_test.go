package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/workflow/contract"
)

// trainingDefinition is statemachine/training.asl.json as the app reads it.
func trainingDefinition(t *testing.T) []byte {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, contract.Path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stateMachine returns the logical id and resource of the one state machine
// of the service stack.
func (f *fixture) stateMachine(t *testing.T) (string, map[string]interface{}) {
	t.Helper()
	sms := resourcesOfType(f.service, "AWS::StepFunctions::StateMachine")
	if len(sms) != 1 {
		t.Fatalf("state machines: got %d, want 1", len(sms))
	}
	for id, sm := range sms {
		return id, sm
	}
	return "", nil
}

// gpuClusterSecretID is the logical id of the one secret (stateful).
func (f *fixture) gpuClusterSecretID(t *testing.T) string {
	t.Helper()
	secrets := resourcesOfType(f.stateful, "AWS::SecretsManager::Secret")
	if len(secrets) != 1 {
		t.Fatalf("stateful stack: %d secrets, want 1 (the GPU cluster token)", len(secrets))
	}
	for id := range secrets {
		return id
	}
	return ""
}

// envOf returns the environment variables of function fn.
func (f *fixture) envOf(t *testing.T, fn string) map[string]interface{} {
	t.Helper()
	_, lambda := f.functionByName(t, fn)
	env, _ := props(lambda)["Environment"].(map[string]interface{})
	vars, _ := env["Variables"].(map[string]interface{})
	return vars
}

// The training state machine is one Standard workflow named
// brightrun-<stage>-training (the name STATE_MACHINE_ARN and create-job's
// grant were built from), defined by the file itself, logging every state
// to a log group of its own, and output by the stack.
func TestTrainingStateMachine(t *testing.T) {
	f := appFixture(t)
	smID, sm := f.stateMachine(t)
	p := props(sm)
	name := f.stacks.Config.resourceName() + "-training"
	if p["StateMachineName"] != name || p["StateMachineType"] != "STANDARD" {
		t.Errorf("name/type: got %v/%v, want %s/STANDARD", p["StateMachineName"], p["StateMachineType"], name)
	}
	if got := f.render(f.envOf(t, "create-job")["STATE_MACHINE_ARN"]); !strings.HasSuffix(got, ":stateMachine:"+name) {
		t.Errorf("STATE_MACHINE_ARN of create-job: got %s, want the ARN of stateMachine:%s", got, name)
	}
	if got, want := p["DefinitionString"], string(trainingDefinition(t)); got != want {
		t.Errorf("DefinitionString is not %s verbatim (got %.200v…)", contract.Path, got)
	}

	lc, _ := p["LoggingConfiguration"].(map[string]interface{})
	if lc["Level"] != "ALL" || lc["IncludeExecutionData"] != false {
		t.Errorf("logging: level %v, execution data %v; want ALL without execution data", lc["Level"], lc["IncludeExecutionData"])
	}
	dests, _ := lc["Destinations"].([]interface{})
	var lgID string
	if len(dests) == 1 {
		d, _ := dests[0].(map[string]interface{})
		cw, _ := d["CloudWatchLogsLogGroup"].(map[string]interface{})
		lgID = getAttID(cw["LogGroupArn"], "Arn")
	}
	lg := resourcesOfType(f.service, "AWS::Logs::LogGroup")[lgID]
	if lg == nil || props(lg)["LogGroupName"] != "/aws/vendedlogs/states/"+name || props(lg)["RetentionInDays"] != float64(30) {
		t.Errorf("log destination: got %v (%v), want a log group /aws/vendedlogs/states/%s of this stack with 30 days retention", dests, lg, name)
	}

	outs, _ := f.service["Outputs"].(map[string]interface{})
	out, _ := outs["StateMachineArn"].(map[string]interface{})
	if refID(out["Value"]) != smID {
		t.Errorf("output StateMachineArn: got %v, want Ref %s", out["Value"], smID)
	}
}

// Every ${Placeholder} of the file has a substitution, and each is the ARN
// (Fn::GetAtt) of the task function contract.Placeholders names; there is
// no substitution the file does not use.
func TestTrainingDefinitionSubstitutions(t *testing.T) {
	f := appFixture(t)
	_, sm := f.stateMachine(t)
	subs, _ := props(sm)["DefinitionSubstitutions"].(map[string]interface{})
	inFile := contract.Find(trainingDefinition(t))
	if len(inFile) == 0 {
		t.Fatalf("%s has no placeholders: the finder is broken", contract.Path)
	}
	got := make([]string, 0, len(subs))
	for k := range subs {
		got = append(got, k)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, inFile) {
		t.Errorf("substitutions:\n got  %v\n want %v (the placeholders of %s)", got, inFile, contract.Path)
	}
	for _, placeholder := range inFile {
		fn, ok := contract.Placeholders[placeholder]
		if !ok {
			t.Errorf("${%s}: not in contract.Placeholders", placeholder)
			continue
		}
		fnID, _ := f.functionByName(t, fn)
		if got := getAttID(subs[placeholder], "Arn"); got != fnID {
			t.Errorf("${%s}: got %v, want the ARN of %s (%s)", placeholder, subs[placeholder], fn, fnID)
		}
	}
}

// The state machine's role is assumed by Step Functions and may do exactly
// three things: invoke the six task functions (their unqualified ARNs),
// start executions of this state machine (continue-as-new), and set up log
// delivery (the construct's logs:*Delivery actions, which take no resource).
func TestTrainingStateMachineRole(t *testing.T) {
	f := appFixture(t)
	_, sm := f.stateMachine(t)
	roleID := getAttID(props(sm)["RoleArn"], "Arn")
	role, ok := resourcesOfType(f.service, "AWS::IAM::Role")[roleID]
	if !ok {
		t.Fatalf("RoleArn %v is not a role of this stack", props(sm)["RoleArn"])
	}
	trust := 0
	statements(props(role)["AssumeRolePolicyDocument"], "", func(_ string, st map[string]interface{}) {
		principal, _ := st["Principal"].(map[string]interface{})
		if st["Effect"] == "Allow" && st["Action"] == "sts:AssumeRole" && reflect.DeepEqual(principal, map[string]interface{}{"Service": "states.amazonaws.com"}) {
			trust++
		} else {
			t.Errorf("trust policy statement %v, want only states.amazonaws.com", st)
		}
	})
	if trust != 1 {
		t.Errorf("trust policy: %d statements for states.amazonaws.com, want 1", trust)
	}
	if props(role)["Policies"] != nil || props(role)["ManagedPolicyArns"] != nil {
		t.Errorf("role has inline or managed policies %v %v, want only the policy checked below", props(role)["Policies"], props(role)["ManagedPolicyArns"])
	}

	want := map[string]bool{}
	for _, fn := range contract.Functions() {
		id, _ := f.functionByName(t, fn)
		want["lambda:InvokeFunction on ${"+id+".Arn}"] = true
	}
	self := f.render(f.envOf(t, "create-job")["STATE_MACHINE_ARN"])
	want["states:StartExecution on "+self] = true
	logDelivery := map[string]bool{
		"logs:CreateLogDelivery": true, "logs:GetLogDelivery": true, "logs:UpdateLogDelivery": true,
		"logs:DeleteLogDelivery": true, "logs:ListLogDeliveries": true, "logs:PutResourcePolicy": true,
		"logs:DescribeResourcePolicies": true, "logs:DescribeLogGroups": true,
	}
	got := f.grantsOfRole(roleID)
	if len(got) == 0 {
		t.Fatal("the role has no grants: the policy walker is broken")
	}
	var extra []string
	for g := range got {
		action, resource, _ := strings.Cut(g, " on ")
		switch {
		case want[g]:
		case logDelivery[action] && resource == "*":
		default:
			extra = append(extra, g)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("unexpected grants of the state machine role: %v", extra)
	}
	for g := range want {
		if !got[g] {
			t.Errorf("missing grant: %s", g)
		}
	}
}

// Step Functions invokes the task functions synchronously and retries and
// catches errors itself: they have no EventInvokeConfig, no failure queue
// and no resource policy, while validate-dataset (asynchronous) keeps its
// config.
func TestTrainingTasksHaveNoAsyncConfig(t *testing.T) {
	f := appFixture(t)
	configs := map[string]int{}
	for _, c := range resourcesOfType(f.service, "AWS::Lambda::EventInvokeConfig") {
		configs[refID(props(c)["FunctionName"])]++
	}
	queues := map[string]string{} // queue name -> logical id
	for id, q := range resourcesOfType(f.service, "AWS::SQS::Queue") {
		name, _ := props(q)["QueueName"].(string)
		queues[name] = id
	}
	perms := map[string][]string{}
	for id, p := range resourcesOfType(f.service, "AWS::Lambda::Permission") {
		fnID := getAttID(props(p)["FunctionName"], "Arn")
		perms[fnID] = append(perms[fnID], id)
	}
	for _, fn := range contract.Functions() {
		id, _ := f.functionByName(t, fn)
		if configs[id] != 0 {
			t.Errorf("%s: %d EventInvokeConfigs, want none (invoked synchronously by Step Functions)", fn, configs[id])
		}
		if len(perms[id]) != 0 {
			t.Errorf("%s: Lambda permissions %v, want none (the state machine role's IAM grant suffices)", fn, perms[id])
		}
		for g := range f.grantsOf(t, fn) {
			if strings.HasPrefix(g, "sqs:") {
				t.Errorf("%s: grant %s, want no failure queue", fn, g)
			}
		}
		if q := queues[functionName(f.stacks.Config, fn)+"-failures"]; q != "" {
			t.Errorf("%s: failure queue %s, want none", fn, q)
		}
	}
	validateID, _ := f.functionByName(t, validateDatasetFunction)
	if configs[validateID] != 1 || queues[functionName(f.stacks.Config, validateDatasetFunction)+"-failures"] == "" {
		t.Errorf("%s: %d EventInvokeConfigs and queues %v, want 1 and its failure queue", validateDatasetFunction, configs[validateID], queues)
	}
}

// poll-job polls for contract.PollBudgetSeconds inside a Task of
// contract.PollTimeoutSeconds: its Lambda must be allowed at least as long,
// or every poll ends as Sandbox.Timedout. The Poll state of the file says
// the same number.
func TestPollJobTimeout(t *testing.T) {
	f := appFixture(t)
	_, fn := f.functionByName(t, "poll-job")
	timeout, _ := props(fn)["Timeout"].(float64)
	if timeout < contract.PollTimeoutSeconds {
		t.Errorf("poll-job Lambda timeout: got %v s, want >= %d (contract.PollTimeoutSeconds)", props(fn)["Timeout"], contract.PollTimeoutSeconds)
	}
	if contract.PollTimeoutSeconds <= contract.PollBudgetSeconds {
		t.Errorf("contract: PollTimeoutSeconds %d must exceed PollBudgetSeconds %d", contract.PollTimeoutSeconds, contract.PollBudgetSeconds)
	}
}

// The GPU cluster's token lives in a retained secret of the stateful stack,
// created with a generated placeholder (never a value in the template), and
// exactly the functions with the cluster scope may read exactly that secret.
func TestGPUClusterSecretAndGrant(t *testing.T) {
	f := appFixture(t)
	secretID := f.gpuClusterSecretID(t)
	secret := resourcesOfType(f.stateful, "AWS::SecretsManager::Secret")[secretID]
	p := props(secret)
	wantName := f.stacks.Config.resourceName() + "/gpu-cluster-token"
	for _, c := range []struct {
		name      string
		got, want interface{}
	}{
		{"Name", p["Name"], wantName},
		{"DeletionPolicy", secret["DeletionPolicy"], "Retain"},
		{"UpdateReplacePolicy", secret["UpdateReplacePolicy"], "Retain"},
		{"SecretString (must not be in the template)", p["SecretString"], nil},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("secret %s %s: got %v, want %v", secretID, c.name, c.got, c.want)
		}
	}
	if gen, _ := p["GenerateSecretString"].(map[string]interface{}); gen == nil || gen["SecretStringTemplate"] != nil {
		t.Errorf("GenerateSecretString: got %v, want a generated plain string (no JSON template)", p["GenerateSecretString"])
	}
	if d, _ := p["Description"].(string); !strings.Contains(d, "put-secret-value --secret-id "+wantName) {
		t.Errorf("Description %q does not tell the operator how to put the token in", d)
	}
	if n := len(resourcesOfType(f.service, "AWS::SecretsManager::Secret")); n != 0 {
		t.Errorf("service stack: %d secrets, want 0 (the token must survive the service stack)", n)
	}

	if got, want := accessGrants[route.GPUCluster].allActions(), []string{"secretsmanager:GetSecretValue"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%s actions: got %v, want %v", route.GPUCluster, got, want)
	}
	withScope := 0
	for _, fn := range route.Functions() {
		var got, want []string
		for g := range f.grantsOf(t, fn) {
			if strings.HasPrefix(g, "secretsmanager:") {
				got = append(got, g)
			}
		}
		if hasScope(fn, route.GPUCluster) {
			withScope++
			want = []string{"secretsmanager:GetSecretValue on ${" + secretID + "}"}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Secrets Manager grants of %s:\n got  %v\n want %v", fn, got, want)
		}
	}
	if withScope == 0 {
		t.Error("no function has the cluster scope")
	}
}

// models:write is HEAD/GET, PUT and abort on models/* plus ListBucket on the
// models bucket, and only the functions with the scope touch that bucket.
func TestModelsWriteGrant(t *testing.T) {
	if got, want := sortedCopy(accessGrants[route.ModelsWrite].allActions()),
		[]string{"s3:AbortMultipartUpload", "s3:GetObject", "s3:ListBucket", "s3:PutObject"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%s actions: got %v, want %v", route.ModelsWrite, got, want)
	}
	f := appFixture(t)
	bucket := "${" + f.modelsBucketID(t) + ".Arn}"
	objects := bucket + "/models/*"
	withScope := 0
	for _, fn := range route.Functions() {
		var got, want []string
		for g := range f.grantsOf(t, fn) {
			if _, resource, _ := strings.Cut(g, " on "); strings.HasPrefix(resource, bucket) {
				got = append(got, g)
			}
		}
		if hasScope(fn, route.ModelsWrite) {
			withScope++
			want = []string{"s3:AbortMultipartUpload on " + objects, "s3:GetObject on " + objects, "s3:ListBucket on " + bucket, "s3:PutObject on " + objects}
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("models bucket grants of %s:\n got  %v\n want %v", fn, got, want)
		}
	}
	if withScope == 0 {
		t.Error("no function has the models:write scope")
	}
}

// Every function gets the cluster URL of the context, the secret's ARN and
// the models bucket; no environment variable carries the token itself.
func TestTrainingEnvironment(t *testing.T) {
	f := appFixture(t)
	want := map[string]string{
		"GPU_CLUSTER_URL":              f.stacks.Config.GPUClusterURL,
		"GPU_CLUSTER_TOKEN_SECRET_ARN": "${" + f.gpuClusterSecretID(t) + "}",
		"MODELS_BUCKET":                "${" + f.modelsBucketID(t) + "}",
	}
	if want["GPU_CLUSTER_URL"] != cdkContext(t)[ctxGPUCluster] {
		t.Errorf("config GPUClusterURL %q is not cdk.json's %s %v", want["GPU_CLUSTER_URL"], ctxGPUCluster, cdkContext(t)[ctxGPUCluster])
	}
	for id, fn := range f.ownFunctions() {
		env, _ := props(fn)["Environment"].(map[string]interface{})
		vars, _ := env["Variables"].(map[string]interface{})
		for k, v := range want {
			if got := f.render(vars[k]); got != v {
				t.Errorf("%s: %s=%s, want %s", id, k, got, v)
			}
		}
		for k := range vars {
			if strings.Contains(k, "TOKEN") && k != "GPU_CLUSTER_TOKEN_SECRET_ARN" {
				t.Errorf("%s: environment variable %s: the token must only be read from the secret", id, k)
			}
		}
	}
}

// gpuClusterUrl must be an https URL with a host and no credentials.
func TestGPUClusterURLContext(t *testing.T) {
	for _, c := range []struct {
		value interface{} // nil: not set
		want  string      // "" : an error
	}{
		{nil, defaultGPUClusterURL},
		{"https://gpu.example.net", "https://gpu.example.net"},
		{"https://gpu.example.net:8443/v1/", "https://gpu.example.net:8443/v1/"},
		{"http://gpu.example.net", ""},
		{"gpu.example.net", ""},
		{"https://", ""},
		{"https://:8443", ""},
		{"https://user:secret@gpu.example.net", ""},
		{"https://gpu.example.net/?token=secret", ""},
		{"ftp://gpu.example.net", ""},
	} {
		ctx := map[string]interface{}{ctxAssetDir: "/abs/lambda"}
		if c.value != nil {
			ctx[ctxGPUCluster] = c.value
		}
		cfg, err := loadConfig(awscdk.NewApp(&awscdk.AppProps{Context: &ctx}).Node())
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%s=%v: got no error", ctxGPUCluster, c.value)
		case c.want == "" && !strings.Contains(err.Error(), ctxGPUCluster):
			t.Errorf("%s=%v: error %q does not name the context key", ctxGPUCluster, c.value, err)
		case c.want != "" && err != nil:
			t.Errorf("%s=%v: %v", ctxGPUCluster, c.value, err)
		case c.want != "" && cfg.GPUClusterURL != c.want:
			t.Errorf("%s=%v: got %q, want %q", ctxGPUCluster, c.value, cfg.GPUClusterURL, c.want)
		}
	}
}

// trainingTasks refuses a definition, contract and worker list that do not
// agree, naming what is wrong.
func TestTrainingTasksMustMatch(t *testing.T) {
	def := trainingDefinition(t)
	without := func(fn string) []route.Worker {
		var out []route.Worker
		for _, w := range route.Workers {
			if w.Function != fn {
				out = append(out, w)
			}
		}
		return out
	}
	retriggered := append([]route.Worker(nil), route.Workers...)
	for i := range retriggered {
		if retriggered[i].Function == "poll-job" {
			retriggered[i].Trigger = route.TriggerDatasetUpload
		}
	}
	for _, c := range []struct {
		name       string
		definition []byte
		workers    []route.Worker
		wantErr    []string // nil: no error
	}{
		{"the repository's", def, route.Workers, nil},
		{"unknown placeholder", bytes.Replace(def, []byte("${PollJobFunctionArn}"), []byte("${PollJobsFunctionArn}"), 1), route.Workers,
			[]string{"${PollJobsFunctionArn}", "${PollJobFunctionArn}", contract.Path}},
		{"task function not a worker", def, without("poll-job"), []string{`"poll-job"`, "not a worker"}},
		{"task function with another trigger", def, retriggered, []string{`"poll-job"`, route.TriggerDatasetUpload}},
		{"training worker without placeholder", def,
			append(append([]route.Worker(nil), route.Workers...), route.Worker{Function: "rotate-keys", Trigger: route.TriggerTraining, Timeout: 60, MemoryMB: 256}),
			[]string{`"rotate-keys"`}},
		{".sync StartExecution", bytes.Replace(def, []byte(`"`+contract.StartExecutionResource+`"`), []byte(`"`+contract.StartExecutionResource+`.sync:2"`), 1), route.Workers,
			[]string{"ContinueAsNew", ".sync:2"}},
		{"lambda:invoke resource", bytes.Replace(def, []byte(`"${FinalizeJobFunctionArn}"`), []byte(`"arn:aws:states:::lambda:invoke", "Comment": "${FinalizeJobFunctionArn}"`), 1), route.Workers,
			[]string{"Finalize", "lambda:invoke"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := trainingTasks(c.definition, c.workers)
			if c.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, contract.Placeholders) {
					t.Errorf("tasks: got %v, want contract.Placeholders %v", got, contract.Placeholders)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one mentioning %v", c.wantErr)
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
		})
	}
}

// The check runs in the synth: a task function missing from route.Workers
// fails it instead of deploying a state machine with an unfilled resource.
func TestTrainingMismatchFailsSynth(t *testing.T) {
	var workers []route.Worker
	for _, w := range route.Workers {
		if w.Function != "copy-artifacts" {
			workers = append(workers, w)
		}
	}
	_, err := newTestAppWith(t, route.Table, workers, nil)
	if err == nil {
		t.Fatal("got no error for a task function that is not a worker")
	}
	for _, want := range []string{`"copy-artifacts"`, contract.Path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
