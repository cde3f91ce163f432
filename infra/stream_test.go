package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/brightrun/brightrun/pkg/route"
)

// streamRoutes are the Stream routes of route.Table.
func streamRoutes(t *testing.T) []route.Route {
	t.Helper()
	var out []route.Route
	for _, r := range route.Table {
		if r.Stream {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Skip("route.Table has no Stream route")
	}
	return out
}

// cfnURLMethods are the values AWS::Lambda::Url accepts in
// Cors.AllowMethods (its CloudFormation schema); CDK's HttpMethod also has
// OPTIONS, which would fail the deployment.
var cfnURLMethods = map[string]bool{"GET": true, "PUT": true, "HEAD": true, "POST": true, "PATCH": true, "DELETE": true, "*": true}

// A Stream route's function has a Function URL that streams, needs no AWS
// credentials (the function checks the JWT) and lets the frontend's
// origins call it with the token and Last-Event-ID; no other function has
// one.
func TestStreamRouteHasFunctionURL(t *testing.T) {
	f := appFixture(t)
	urls := resourcesOfType(f.service, "AWS::Lambda::Url")
	if got, want := len(urls), len(streamRoutes(t)); got != want {
		t.Errorf("Function URLs: got %d, want %d (one per Stream route)", got, want)
	}
	byFunction := map[string]map[string]interface{}{}
	for id, u := range urls {
		fnID := getAttID(props(u)["TargetFunctionArn"], "Arn")
		if fnID == "" {
			t.Errorf("Function URL %s: TargetFunctionArn %v, want a function of this stack", id, props(u)["TargetFunctionArn"])
		}
		byFunction[fnID] = props(u)
	}
	for _, r := range streamRoutes(t) {
		t.Run(r.Function, func(t *testing.T) {
			fnID, _ := f.functionByName(t, r.Function)
			up, ok := byFunction[fnID]
			if !ok {
				t.Fatalf("no Function URL targets %s", fnID)
			}
			cors, _ := up["Cors"].(map[string]interface{})
			for _, c := range []struct {
				name      string
				got, want interface{}
			}{
				{"AuthType", up["AuthType"], "NONE"},
				{"InvokeMode", up["InvokeMode"], "RESPONSE_STREAM"},
				{"Cors.AllowOrigins", strs(cors["AllowOrigins"]), f.stacks.Config.CorsOrigins},
				{"Cors.AllowMethods", strs(cors["AllowMethods"]), []string{"GET"}},
				{"Cors.AllowHeaders", strs(cors["AllowHeaders"]), []string{"Authorization", "Last-Event-ID", "Content-Type"}},
				{"Cors.MaxAge", cors["MaxAge"], float64(3600)},
				// The token travels in a header, never in a cookie.
				{"Cors.AllowCredentials", cors["AllowCredentials"], nil},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
				}
			}
			for _, m := range strs(cors["AllowMethods"]) {
				if !cfnURLMethods[m] {
					t.Errorf("Cors.AllowMethods %q: CloudFormation accepts only GET PUT HEAD POST PATCH DELETE *", m)
				}
			}
		})
	}
}

// Anyone may invoke a Stream route's function through its URL and only
// through it: since October 2025 a public Function URL needs both
// lambda:InvokeFunctionUrl and lambda:InvokeFunction (the latter limited to
// calls via the URL) for principal *. No other function is public.
func TestStreamURLPermissions(t *testing.T) {
	f := appFixture(t)
	public := map[string][]map[string]interface{}{} // function id -> its permissions for *
	for _, p := range resourcesOfType(f.service, "AWS::Lambda::Permission") {
		pp := props(p)
		if pp["Principal"] == "*" {
			fnID := getAttID(pp["FunctionName"], "Arn")
			public[fnID] = append(public[fnID], pp)
		}
	}
	streams := map[string]bool{}
	for _, r := range streamRoutes(t) {
		fnID, _ := f.functionByName(t, r.Function)
		streams[fnID] = true
		perms := public[fnID]
		var url, invoke bool
		for _, pp := range perms {
			switch {
			case pp["Action"] == "lambda:InvokeFunctionUrl" && pp["FunctionUrlAuthType"] == "NONE":
				url = true
			case pp["Action"] == "lambda:InvokeFunction" && pp["InvokedViaFunctionUrl"] == true:
				invoke = true
			default:
				t.Errorf("%s: public permission %v, want only the two of its Function URL", r.Function, pp)
			}
		}
		if !url || !invoke {
			t.Errorf("%s: public permissions %v, want lambda:InvokeFunctionUrl (auth type NONE) and lambda:InvokeFunction via the Function URL", r.Function, perms)
		}
	}
	for fnID, perms := range public {
		if !streams[fnID] {
			t.Errorf("%s: public permissions %v, want none (not a Stream route's function)", fnID, perms)
		}
	}
}

// The StreamUrl output is the URL the frontend prefixes to the route's path.
func TestStreamURLOutput(t *testing.T) {
	f := appFixture(t)
	r := streamRoutes(t)[0]
	outs, _ := f.service["Outputs"].(map[string]interface{})
	o, _ := outs["StreamUrl"].(map[string]interface{})
	if o == nil {
		t.Fatal("output StreamUrl missing")
	}
	urlID := getAttID(o["Value"], "FunctionUrl")
	if _, ok := resourcesOfType(f.service, "AWS::Lambda::Url")[urlID]; !ok {
		t.Errorf("StreamUrl value: got %v, want the FunctionUrl of a Function URL of this stack", o["Value"])
	}
	desc, _ := o["Description"].(string)
	for _, want := range []string{"<StreamUrl>" + strings.TrimPrefix(r.Path, "/"), "Authorization"} {
		if !strings.Contains(desc, want) {
			t.Errorf("StreamUrl description %q: want it to mention %q", desc, want)
		}
	}
}

func TestSplitStreamRoutes(t *testing.T) {
	get := route.Route{Method: "GET", Path: "/api/me", Function: "get-me"}
	streamA := route.Route{Method: "GET", Path: "/api/jobs/{id}/stream", Function: "stream-a", Stream: true}
	streamB := route.Route{Method: "GET", Path: "/api/other/stream", Function: "stream-b", Stream: true}
	post := route.Route{Method: "POST", Path: "/api/jobs/{id}/stream", Function: "stream-post", Stream: true}
	tests := []struct {
		name       string
		routes     []route.Route
		wantAPI    []route.Route
		wantStream []route.Route
		wantErr    []string // substrings of the error; nil: no error
	}{
		{"no stream", []route.Route{get}, []route.Route{get}, nil, nil},
		{"one stream", []route.Route{get, streamA}, []route.Route{get}, []route.Route{streamA}, nil},
		{"two streams, one output", []route.Route{streamA, get, streamB}, nil, nil, []string{"GET /api/jobs/{id}/stream", "GET /api/other/stream", "StreamUrl"}},
		{"stream that is not GET", []route.Route{post}, nil, nil, []string{"POST /api/jobs/{id}/stream", "stream-post", "GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, stream, err := splitStreamRoutes(tt.routes)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("got API %v stream %v, want an error", api, stream)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q: want it to mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(api, tt.wantAPI) || !reflect.DeepEqual(stream, tt.wantStream) {
				t.Errorf("got API %v stream %v, want %v and %v", api, stream, tt.wantAPI, tt.wantStream)
			}
		})
	}
}

// streamConcurrency reserves concurrency for the Stream routes' functions
// and for no other; without it (cdk.json) no function reserves any, so a
// new account (limit 10) can deploy. Bad values are refused by name.
func TestStreamConcurrency(t *testing.T) {
	reserved := func(f *fixture) map[string]interface{} {
		out := map[string]interface{}{}
		for _, fn := range f.ownFunctions() {
			if v, ok := props(fn)["ReservedConcurrentExecutions"]; ok {
				out[props(fn)["FunctionName"].(string)] = v
			}
		}
		return out
	}
	if got := reserved(appFixture(t)); len(got) != 0 {
		t.Errorf("default: reserved concurrency %v, want none", got)
	}

	s, err := newTestApp(t, route.Table, map[string]interface{}{ctxStreamConcurrency: "150"}) // as -c passes it
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{stacks: s}
	f.service = *assertions.Template_FromStack(s.Service.Stack, nil).ToJSON()
	want := map[string]interface{}{}
	for _, r := range streamRoutes(t) {
		want[s.Config.resourceName()+"-"+r.Function] = float64(150)
	}
	if got := reserved(f); !reflect.DeepEqual(got, want) {
		t.Errorf("streamConcurrency=150: reserved %v, want %v", got, want)
	}

	for _, bad := range []interface{}{"-1", "ten", 1.5, "10001", true} {
		_, err := newTestApp(t, route.Table, map[string]interface{}{ctxStreamConcurrency: bad})
		if err == nil || !strings.Contains(err.Error(), ctxStreamConcurrency) {
			t.Errorf("streamConcurrency=%v: got %v, want an error naming %s", bad, err, ctxStreamConcurrency)
		}
	}
}
