package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/brightrun/brightrun/pkg/route"
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	defer jsii.Close() // once, after every test: the jsii kernel is process-wide
	dir, err := os.MkdirTemp("", "brightrun-infra-assets-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	assetDir = dir
	return m.Run()
}

// assetDir holds placeholder bootstraps, so the tests need no `make build`.
var assetDir string

// writeAssets creates <assetDir>/<fn>/bootstrap for every function.
func writeAssets(t *testing.T, functions []string) {
	t.Helper()
	for _, fn := range functions {
		p := filepath.Join(assetDir, fn, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("placeholder for "+fn), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// cdkContext is the "context" of the repository's cdk.json: awscdk.NewApp
// ignores cdk.json, so tests pass it in to test the template `cdk synth`
// produces (same feature flags, same stage, same CORS origins).
func cdkContext(t *testing.T) map[string]interface{} {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Context map[string]interface{} `json:"context"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	if len(doc.Context) == 0 {
		t.Fatal("cdk.json has no context")
	}
	return doc.Context
}

// newTestApp builds the app as `cdk synth` does, with assets from assetDir
// and any extra context (for example a CLI-style -c override), with
// route.Workers.
func newTestApp(t *testing.T, routes []route.Route, extra map[string]interface{}) (*stacks, error) {
	t.Helper()
	return newTestAppWith(t, routes, route.Workers, extra)
}

// newTestAppWith is newTestApp with the workers given.
func newTestAppWith(t *testing.T, routes []route.Route, workers []route.Worker, extra map[string]interface{}) (*stacks, error) {
	t.Helper()
	writeAssets(t, functionNames(routes, workers))
	ctx := cdkContext(t)
	ctx[ctxAssetDir] = assetDir
	for k, v := range extra {
		ctx[k] = v
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	var s *stacks
	var err error
	if perr := catch(func() { s, err = defineApp(app, routes, workers) }); perr != nil {
		return nil, perr // a construct rejected its props (jsii panics)
	}
	return s, err
}

// fixture is the app built from route.Table and route.Workers, synthesized
// once for all tests.
type fixture struct {
	stacks   *stacks
	stateful map[string]interface{} // template JSON
	service  map[string]interface{}
	tplSvc   assertions.Template
	tplState assertions.Template
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func appFixture(t *testing.T) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		s, err := newTestApp(t, route.Table, nil)
		if err != nil {
			fixErr = err
			return
		}
		f := &fixture{stacks: s}
		fixErr = catch(func() {
			f.tplState = assertions.Template_FromStack(s.Stateful.Stack, nil)
			f.tplSvc = assertions.Template_FromStack(s.Service.Stack, nil)
			f.stateful = *f.tplState.ToJSON()
			f.service = *f.tplSvc.ToJSON()
		})
		fix = f
	})
	if fixErr != nil {
		t.Fatalf("building the app: %v", fixErr)
	}
	return fix
}

// fromStateful replaces, anywhere in v, each weak cross-stack reference to
// the stateful stack ({"Fn::GetStackOutput": {"StackName": <stateful>,
// "OutputName": O, ...}}) with the Value of output O of that stack's
// template, for example {"Ref": "UserPool6BA7E5F2"}. A reference to an
// output the stateful template lacks stays as it is (and fails the caller's
// comparison).
func (f *fixture) fromStateful(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		if gso, ok := x["Fn::GetStackOutput"].(map[string]interface{}); ok && len(x) == 1 {
			outs, _ := f.stateful["Outputs"].(map[string]interface{})
			name, _ := gso["OutputName"].(string)
			if o, ok := outs[name].(map[string]interface{}); ok && gso["StackName"] == *f.stacks.Stateful.StackName() {
				return o["Value"]
			}
			return v
		}
		out := make(map[string]interface{}, len(x))
		for k, e := range x {
			out[k] = f.fromStateful(e)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			out[i] = f.fromStateful(e)
		}
		return out
	}
	return v
}

// catch turns a panic (a failed assertion or a jsii error crosses into Go
// as a panic) into an error.
func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	f()
	return nil
}

// check runs a CDK assertion and reports its failure with t.Errorf.
func check(t *testing.T, what string, f func()) {
	t.Helper()
	if err := catch(f); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// resourcesOfType returns logical id -> resource of the given type.
func resourcesOfType(tpl map[string]interface{}, typ string) map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	res, _ := tpl["Resources"].(map[string]interface{})
	for id, r := range res {
		m, _ := r.(map[string]interface{})
		if m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

func props(r map[string]interface{}) map[string]interface{} {
	p, _ := r["Properties"].(map[string]interface{})
	return p
}

// ownFunctions returns logical id -> function of the functions built from
// route.Table and route.Workers (named brightrun-<stage>-<fn>), leaving out
// CDK's own (the bucket-notifications handler).
func (f *fixture) ownFunctions() map[string]map[string]interface{} {
	out := map[string]map[string]interface{}{}
	for id, fn := range resourcesOfType(f.service, "AWS::Lambda::Function") {
		if name, _ := props(fn)["FunctionName"].(string); strings.HasPrefix(name, f.stacks.Config.resourceName()+"-") {
			out[id] = fn
		}
	}
	return out
}

// functionByName returns the logical id and resource of brightrun-<stage>-<fn>.
func (f *fixture) functionByName(t *testing.T, fn string) (string, map[string]interface{}) {
	t.Helper()
	for id, r := range f.ownFunctions() {
		if props(r)["FunctionName"] == f.stacks.Config.resourceName()+"-"+fn {
			return id, r
		}
	}
	t.Fatalf("no Lambda named %s-%s", f.stacks.Config.resourceName(), fn)
	return "", nil
}

// getAttID returns X of {"Fn::GetAtt": [X, attr]}.
func getAttID(v interface{}, attr string) string {
	m, _ := v.(map[string]interface{})
	ga, _ := m["Fn::GetAtt"].([]interface{})
	if len(ga) == 2 && ga[1] == attr {
		s, _ := ga[0].(string)
		return s
	}
	return ""
}

// refID returns X of {"Ref": X}.
func refID(v interface{}) string {
	m, _ := v.(map[string]interface{})
	s, _ := m["Ref"].(string)
	return s
}

// strings turns a JSON string or list of strings into a slice.
func strs(v interface{}) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []interface{}:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// statements finds every IAM policy statement anywhere in a template
// (identity policies, inline role policies, resource policies).
func statements(v interface{}, path string, visit func(path string, st map[string]interface{})) {
	switch x := v.(type) {
	case map[string]interface{}:
		if _, ok := x["Effect"]; ok {
			if _, ok := x["Action"]; ok {
				visit(path, x)
				return
			}
			if _, ok := x["NotAction"]; ok {
				visit(path, x)
				return
			}
		}
		for k, e := range x {
			statements(e, path+"/"+k, visit)
		}
	case []interface{}:
		for i, e := range x {
			statements(e, fmt.Sprintf("%s[%d]", path, i), visit)
		}
	}
}
