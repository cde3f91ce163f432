package main

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/brightrun/brightrun/pkg/dynamo/schema"
	"github.com/brightrun/brightrun/pkg/route"
)

// Every route of route.Table has its own arm64 provided.al2023 Lambda, an
// integration pointing at it and a route with the same key and the right
// authorization; except Stream routes, which have no API route (their
// function has a Function URL instead, stream_test.go).
func TestEveryRouteHasFunctionIntegrationAndRoute(t *testing.T) {
	f := appFixture(t)
	fns := f.ownFunctions()
	integrations := resourcesOfType(f.service, "AWS::ApiGatewayV2::Integration")
	routes := resourcesOfType(f.service, "AWS::ApiGatewayV2::Route")
	authorizers := resourcesOfType(f.service, "AWS::ApiGatewayV2::Authorizer")

	apiRoutes := 0
	for _, r := range route.Table {
		if !r.Stream {
			apiRoutes++
		}
	}
	if got := len(routes); got != apiRoutes {
		t.Errorf("API routes: got %d, want %d (one per route.Table entry but the Stream routes)", got, apiRoutes)
	}
	if got := len(integrations); got != apiRoutes {
		t.Errorf("API integrations: got %d, want %d", got, apiRoutes)
	}
	if got, want := len(fns), len(route.Functions()); got != want {
		t.Errorf("Lambda functions: got %d, want %d (one per route and worker)", got, want)
	}

	byKey := map[string]map[string]interface{}{}
	for _, r := range routes {
		byKey[props(r)["RouteKey"].(string)] = props(r)
	}
	for _, r := range route.Table {
		t.Run(r.Function, func(t *testing.T) {
			rp, ok := byKey[r.Key()]
			var fn map[string]interface{}
			switch {
			case r.Stream:
				if ok {
					t.Fatalf("Stream route: got an API route %v with key %q, want none (the HTTP API cannot stream)", rp, r.Key())
				}
				_, fn = f.functionByName(t, r.Function)
			case !ok:
				t.Fatalf("no API route with key %q", r.Key())
			default:
				fn = f.integratedFunction(t, fns, integrations, rp)
			}
			fp := props(fn)
			wantName := f.stacks.Config.resourceName() + "-" + r.Function
			if fp["FunctionName"] != wantName {
				t.Errorf("function name: got %v, want %s", fp["FunctionName"], wantName)
			}
			if got := strs(fp["Architectures"]); !reflect.DeepEqual(got, []string{"arm64"}) {
				t.Errorf("architectures: got %v, want [arm64]", got)
			}
			if fp["Runtime"] != "provided.al2023" || fp["Handler"] != "bootstrap" {
				t.Errorf("runtime/handler: got %v/%v, want provided.al2023/bootstrap", fp["Runtime"], fp["Handler"])
			}
			wantTimeout := float64(r.Timeout)
			if wantTimeout == 0 {
				wantTimeout = defaultTimeoutSeconds
			}
			if fp["Timeout"] != wantTimeout || fp["MemorySize"] != float64(defaultMemoryMB) {
				t.Errorf("timeout/memory: got %v/%v, want %v/%v", fp["Timeout"], fp["MemorySize"], wantTimeout, defaultMemoryMB)
			}
			env, _ := fp["Environment"].(map[string]interface{})
			vars, _ := env["Variables"].(map[string]interface{})
			for _, k := range []string{"TABLE_NAME", "IDENTITY_PROVIDER", "COGNITO_USER_POOL_ID", "COGNITO_CLIENT_ID", "LOG_LEVEL"} {
				if _, ok := vars[k]; !ok {
					t.Errorf("environment: %s missing", k)
				}
			}
			if vars["IDENTITY_PROVIDER"] != "cognito" || vars["LOG_LEVEL"] != "info" {
				t.Errorf("environment: IDENTITY_PROVIDER=%v LOG_LEVEL=%v, want cognito/info", vars["IDENTITY_PROVIDER"], vars["LOG_LEVEL"])
			}
			lc, _ := fp["LoggingConfig"].(map[string]interface{})
			if lg := resourcesOfType(f.service, "AWS::Logs::LogGroup")[refID(lc["LogGroup"])]; lg == nil || props(lg)["RetentionInDays"] == nil {
				t.Errorf("log group: function does not log to a log group of this stack with a retention")
			}

			// authorization
			if r.Stream {
				return // the function's own (stream_test.go)
			}
			if r.Public {
				if rp["AuthorizationType"] != "NONE" || rp["AuthorizerId"] != nil {
					t.Errorf("public route: got authorization %v (authorizer %v), want NONE", rp["AuthorizationType"], rp["AuthorizerId"])
				}
				return
			}
			if rp["AuthorizationType"] != "JWT" {
				t.Errorf("authorization: got %v, want JWT", rp["AuthorizationType"])
			}
			if a, ok := authorizers[refID(rp["AuthorizerId"])]; !ok || props(a)["AuthorizerType"] != "JWT" {
				t.Errorf("authorizer: %v is not the JWT authorizer", rp["AuthorizerId"])
			}
		})
	}
}

// integratedFunction follows an API route to its integration and the
// Lambda of this stack the integration invokes.
func (f *fixture) integratedFunction(t *testing.T, fns, integrations map[string]map[string]interface{}, rp map[string]interface{}) map[string]interface{} {
	t.Helper()
	target, _ := rp["Target"].(map[string]interface{})
	join, _ := target["Fn::Join"].([]interface{})
	if len(join) != 2 {
		t.Fatalf("route target: got %v, want integrations/<ref>", rp["Target"])
	}
	parts, _ := join[1].([]interface{})
	if len(parts) != 2 || parts[0] != "integrations/" {
		t.Fatalf("route target: got %v, want integrations/<ref>", rp["Target"])
	}
	integ, ok := integrations[refID(parts[1])]
	if !ok {
		t.Fatalf("route target %v is not an integration of this stack", parts[1])
	}
	ip := props(integ)
	if ip["IntegrationType"] != "AWS_PROXY" || ip["PayloadFormatVersion"] != "2.0" {
		t.Errorf("integration: got type %v payload %v, want AWS_PROXY 2.0", ip["IntegrationType"], ip["PayloadFormatVersion"])
	}
	fn, ok := fns[getAttID(ip["IntegrationUri"], "Arn")]
	if !ok {
		t.Fatalf("integration URI %v is not a Lambda of this stack", ip["IntegrationUri"])
	}
	return fn
}

// The JWT authorizer trusts exactly the user pool's issuer and app client,
// both of the stateful stack (weak cross-stack references).
func TestJwtAuthorizerTrustsUserPoolClient(t *testing.T) {
	f := appFixture(t)
	poolID, clientID := userPoolAndClientIDs(t, f)
	auth := resourcesOfType(f.service, "AWS::ApiGatewayV2::Authorizer")
	if len(auth) != 1 {
		t.Fatalf("authorizers: got %d, want 1", len(auth))
	}
	for _, a := range auth {
		p := props(a)
		if p["AuthorizerType"] != "JWT" {
			t.Errorf("AuthorizerType: got %v, want JWT", p["AuthorizerType"])
		}
		if got := strs(p["IdentitySource"]); !reflect.DeepEqual(got, []string{"$request.header.Authorization"}) {
			t.Errorf("IdentitySource: got %v", got)
		}
		jc, _ := f.fromStateful(p["JwtConfiguration"]).(map[string]interface{})
		aud, _ := jc["Audience"].([]interface{})
		if len(aud) != 1 || refID(aud[0]) != clientID {
			t.Errorf("Audience: got %v, want [Ref %s] of the stateful stack", p["JwtConfiguration"], clientID)
		}
		// https://cognito-idp.<region>.amazonaws.com/<pool id>, the region
		// being a literal (CDK_DEFAULT_REGION set) or AWS::Region.
		issuer := flattenJoin(jc["Issuer"])
		re := regexp.MustCompile(`^https://cognito-idp\.([a-z0-9-]+|\$\{AWS::Region\})\.amazonaws\.com/\$\{` + poolID + `\}$`)
		if !re.MatchString(issuer) {
			t.Errorf("Issuer: got %s, want https://cognito-idp.<region>.amazonaws.com/${%s} (pool of the stateful stack)", issuer, poolID)
		}
	}
}

// The service stack holds no Cognito resource: its functions get the pool
// and client of the stateful stack (env vars, identity grant), so
// destroying or replacing it cannot orphan the pool.
func TestServiceUsesUserPoolOfStatefulStack(t *testing.T) {
	f := appFixture(t)
	for _, typ := range []string{"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient"} {
		if n := len(resourcesOfType(f.service, typ)); n != 0 {
			t.Errorf("service stack: %d %s, want 0 (it belongs to the stateful stack)", n, typ)
		}
	}
	poolID, clientID := userPoolAndClientIDs(t, f)
	fns := f.ownFunctions()
	if len(fns) == 0 {
		t.Fatal("no functions")
	}
	for id, fn := range fns {
		env, _ := props(fn)["Environment"].(map[string]interface{})
		vars, _ := f.fromStateful(env["Variables"]).(map[string]interface{})
		if refID(vars["COGNITO_USER_POOL_ID"]) != poolID || refID(vars["COGNITO_CLIENT_ID"]) != clientID {
			t.Errorf("%s: COGNITO_USER_POOL_ID=%v COGNITO_CLIENT_ID=%v, want Ref %s / Ref %s of the stateful stack",
				id, env["Variables"].(map[string]interface{})["COGNITO_USER_POOL_ID"], env["Variables"].(map[string]interface{})["COGNITO_CLIENT_ID"], poolID, clientID)
		}
	}
	identity := map[string]bool{}
	for _, scope := range []string{route.IdentityRegister, route.IdentityRoles} {
		for _, a := range accessGrants[scope].Actions {
			identity[a] = true
		}
	}
	n := 0
	for id, p := range resourcesOfType(f.service, "AWS::IAM::Policy") {
		statements(props(p)["PolicyDocument"], id, func(path string, st map[string]interface{}) {
			if acts := strs(st["Action"]); len(acts) == 0 || !identity[acts[0]] {
				return
			}
			n++
			res, _ := f.fromStateful(st["Resource"]).([]interface{})
			if res == nil {
				res = []interface{}{f.fromStateful(st["Resource"])}
			}
			if len(res) != 1 || getAttID(res[0], "Arn") != poolID {
				t.Errorf("%s: identity grant on %v, want exactly the ARN of %s of the stateful stack", path, st["Resource"], poolID)
			}
		})
	}
	if n == 0 {
		t.Error("no identity grant found")
	}
}

// The identity scope is exactly the admin calls pkg/cognito makes, on the
// pool of the stateful stack: create a user and set its password (sign-up;
// self sign-up is off), delete it (rollback of a failed sign-up) and set
// custom:role (update-user). Nothing else: no AdminConfirmSignUp (there is
// no SignUp to confirm), no AdminGetUser (unused). Only the functions with
// the scope get any Cognito action.
func TestIdentityGrant(t *testing.T) {
	wantByScope := map[string][]string{
		route.IdentityRegister: {"cognito-idp:AdminCreateUser", "cognito-idp:AdminDeleteUser", "cognito-idp:AdminSetUserPassword"},
		route.IdentityRoles:    {"cognito-idp:AdminUpdateUserAttributes"},
	}
	for scope, want := range wantByScope {
		if got := sortedCopy(accessGrants[scope].allActions()); !reflect.DeepEqual(got, want) {
			t.Errorf("%s actions:\n got  %v\n want %v", scope, got, want)
		}
	}

	f := appFixture(t)
	poolID, _ := userPoolAndClientIDs(t, f)
	pool := "${" + poolID + ".Arn}"
	withScope := 0
	for _, fn := range route.Functions() {
		var got, want []string
		for grant := range f.grantsOf(t, fn) {
			if strings.HasPrefix(grant, "cognito-idp:") {
				got = append(got, grant)
			}
		}
		for scope, actions := range wantByScope {
			if hasScope(fn, scope) {
				withScope++
				for _, a := range actions {
					want = append(want, a+" on "+pool)
				}
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Cognito grants of %s:\n got  %v\n want %v", fn, got, want)
		}
	}
	if withScope != 2 {
		t.Errorf("functions with an identity scope: got %d, want 2 (sign-up, update-user; log-in needs none)", withScope)
	}
}

// hasScope reports whether the route or worker behind function fn has the
// access scope.
func hasScope(fn, scope string) bool {
	for _, r := range route.Table {
		if r.Function == fn && contains(r.Access, scope) {
			return true
		}
	}
	for _, w := range route.Workers {
		if w.Function == fn && contains(w.Access, scope) {
			return true
		}
	}
	return false
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// userPoolAndClientIDs returns the logical ids of the one user pool and the
// one app client of the stateful stack.
func userPoolAndClientIDs(t *testing.T, f *fixture) (poolID, clientID string) {
	t.Helper()
	pools := resourcesOfType(f.stateful, "AWS::Cognito::UserPool")
	clients := resourcesOfType(f.stateful, "AWS::Cognito::UserPoolClient")
	if len(pools) != 1 || len(clients) != 1 {
		t.Fatalf("stateful stack: got %d pools and %d clients, want 1 and 1", len(pools), len(clients))
	}
	for id := range pools {
		poolID = id
	}
	for id, c := range clients {
		clientID = id
		if refID(props(c)["UserPoolId"]) != poolID {
			t.Fatalf("client %s: UserPoolId %v, want Ref %s", id, props(c)["UserPoolId"], poolID)
		}
	}
	return poolID, clientID
}

// flattenJoin renders {"Fn::Join": ["", [...]]} with {"Ref": X} as ${X}.
func flattenJoin(v interface{}) string {
	if s, ok := v.(string); ok {
		return s
	}
	if id := refID(v); id != "" {
		return "${" + id + "}"
	}
	m, _ := v.(map[string]interface{})
	join, _ := m["Fn::Join"].([]interface{})
	if len(join) != 2 {
		return fmt.Sprint(v)
	}
	sep, _ := join[0].(string)
	var parts []string
	for _, p := range join[1].([]interface{}) {
		parts = append(parts, flattenJoin(p))
	}
	return strings.Join(parts, sep)
}

// The pool is in the stateful stack, retained and deletion-protected, and
// only admins create users: self sign-up is off, because the app client id
// is public (the `aud` of every ID token) and Cognito's SignUp would let
// anyone squat someone else's email (ADR 0002). The app client signs in
// with a password, has no secret, issues 1 h id tokens and cannot write
// custom:role (so no user can choose their role).
func TestUserPoolAndClient(t *testing.T) {
	f := appFixture(t)
	poolID, _ := userPoolAndClientIDs(t, f)
	pool := resourcesOfType(f.stateful, "AWS::Cognito::UserPool")[poolID]
	adminCreate, _ := props(pool)["AdminCreateUserConfig"].(map[string]interface{})
	for _, c := range []struct {
		name      string
		got, want interface{}
	}{
		{"DeletionProtection", props(pool)["DeletionProtection"], "ACTIVE"},
		{"DeletionPolicy", pool["DeletionPolicy"], "Retain"},
		{"UpdateReplacePolicy", pool["UpdateReplacePolicy"], "Retain"},
		{"AdminCreateUserConfig.AllowAdminCreateUserOnly (self sign-up off)", adminCreate["AllowAdminCreateUserOnly"], true},
	} {
		if c.got != c.want {
			t.Errorf("user pool %s %s: got %v, want %v", poolID, c.name, c.got, c.want)
		}
	}
	if got := strs(props(pool)["AutoVerifiedAttributes"]); len(got) != 0 {
		// No verification mails: sign-up marks the email verified itself.
		t.Errorf("user pool %s AutoVerifiedAttributes: got %v, want none", poolID, got)
	}
	for _, c := range resourcesOfType(f.stateful, "AWS::Cognito::UserPoolClient") {
		p := props(c)
		if got := strs(p["WriteAttributes"]); len(got) == 0 {
			t.Errorf("WriteAttributes: empty means all attributes are writable; want an explicit list")
		} else {
			for _, a := range got {
				if a == "custom:role" {
					t.Errorf("WriteAttributes %v: the client must not write custom:role", got)
				}
			}
		}
		if !contains(strs(p["ReadAttributes"]), "custom:role") {
			t.Errorf("ReadAttributes %v: want custom:role (it is a claim of the id token)", strs(p["ReadAttributes"]))
		}
		if !contains(strs(p["ExplicitAuthFlows"]), "ALLOW_USER_PASSWORD_AUTH") {
			t.Errorf("ExplicitAuthFlows %v: want ALLOW_USER_PASSWORD_AUTH", p["ExplicitAuthFlows"])
		}
		if p["GenerateSecret"] != false {
			t.Errorf("GenerateSecret: got %v, want false", p["GenerateSecret"])
		}
		units, _ := p["TokenValidityUnits"].(map[string]interface{})
		if p["IdTokenValidity"] != float64(60) || units["IdToken"] != "minutes" {
			t.Errorf("id token validity: got %v %v, want 60 minutes", p["IdTokenValidity"], units["IdToken"])
		}
		if len(strs(p["AllowedOAuthFlows"])) != 0 {
			t.Errorf("AllowedOAuthFlows: got %v, want none (no hosted UI)", p["AllowedOAuthFlows"])
		}
	}
	check(t, "user pool", func() {
		f.tplState.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]interface{}{
			"UsernameAttributes":    []interface{}{"email"},
			"AdminCreateUserConfig": assertions.Match_ObjectLike(&map[string]interface{}{"AllowAdminCreateUserOnly": true}),
			"Policies":              map[string]interface{}{"PasswordPolicy": assertions.Match_ObjectLike(&map[string]interface{}{"MinimumLength": 8})},
			"Schema": assertions.Match_ArrayWith(&[]interface{}{
				assertions.Match_ObjectLike(&map[string]interface{}{"Name": "name", "Mutable": true}),
				assertions.Match_ObjectLike(&map[string]interface{}{"Name": "role", "AttributeDataType": "String", "Mutable": true}),
			}),
		})
	})
}

// No Allow statement anywhere grants "*" or "<service>:*". Deny statements
// may (the buckets deny s3:* without TLS, which is the point).
func TestNoWildcardActions(t *testing.T) {
	f := appFixture(t)
	for name, tpl := range map[string]map[string]interface{}{"stateful": f.stateful, "service": f.service} {
		n := 0
		statements(tpl, name, func(path string, st map[string]interface{}) {
			if st["Effect"] != "Allow" {
				return
			}
			n++
			if _, ok := st["NotAction"]; ok {
				t.Errorf("%s: Allow with NotAction", path)
			}
			for _, a := range strs(st["Action"]) {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s: wildcard action %q", path, a)
				}
			}
		})
		if name == "service" && n == 0 {
			t.Errorf("service: found no Allow statements; the walker is broken")
		}
	}
}

// Each route's role gets exactly the actions of its Access scopes (plus
// writing its own logs): a read-only route cannot write, and only routes with
// the identity scope can call Cognito admin APIs.
func TestLeastPrivilegePerRoute(t *testing.T) {
	f := appFixture(t)
	fns := f.ownFunctions()
	policies := resourcesOfType(f.service, "AWS::IAM::Policy")
	for _, r := range route.Table {
		t.Run(r.Function, func(t *testing.T) {
			var roleID string
			for _, fn := range fns {
				if props(fn)["FunctionName"] == f.stacks.Config.resourceName()+"-"+r.Function {
					roleID = getAttID(props(fn)["Role"], "Arn")
				}
			}
			if roleID == "" {
				t.Fatal("function or role not found")
			}
			got := map[string]bool{}
			for _, p := range policies {
				attached := false
				for _, role := range props(p)["Roles"].([]interface{}) {
					attached = attached || refID(role) == roleID
				}
				if !attached {
					continue
				}
				statements(props(p)["PolicyDocument"], "", func(_ string, st map[string]interface{}) {
					for _, a := range strs(st["Action"]) {
						got[a] = true
					}
				})
			}
			want := map[string]bool{"logs:CreateLogStream": true, "logs:PutLogEvents": true}
			for _, scope := range r.Access {
				for _, a := range accessGrants[scope].allActions() {
					want[a] = true
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("actions of %s:\n got  %v\n want %v", r.Function, keys(got), keys(want))
			}
		})
	}
}

// The table is exactly schema.Definition(), with PITR and deletion
// protection on, on-demand and retained.
func TestTableMatchesSchema(t *testing.T) {
	f := appFixture(t)
	def := schema.Definition()
	tables := resourcesOfType(f.stateful, "AWS::DynamoDB::Table")
	if len(tables) != 1 {
		t.Fatalf("tables: got %d, want 1", len(tables))
	}
	keySchema := func(pk, sk string) []interface{} {
		return []interface{}{
			map[string]interface{}{"AttributeName": pk, "KeyType": "HASH"},
			map[string]interface{}{"AttributeName": sk, "KeyType": "RANGE"},
		}
	}
	attrs := []interface{}{}
	addAttr := func(n string) {
		attrs = append(attrs, map[string]interface{}{"AttributeName": n, "AttributeType": "S"})
	}
	addAttr(def.PartitionKey)
	addAttr(def.SortKey)
	gsis := []interface{}{}
	for _, ix := range def.Indexes {
		addAttr(ix.PartitionKey)
		addAttr(ix.SortKey)
		gsis = append(gsis, map[string]interface{}{
			"IndexName":  ix.Name,
			"KeySchema":  keySchema(ix.PartitionKey, ix.SortKey),
			"Projection": map[string]interface{}{"ProjectionType": "ALL"},
		})
	}
	for id, tbl := range tables {
		p := props(tbl)
		for _, c := range []struct {
			name      string
			got, want interface{}
		}{
			{"KeySchema", p["KeySchema"], keySchema(def.PartitionKey, def.SortKey)},
			{"AttributeDefinitions", sortedByName(p["AttributeDefinitions"]), sortedByName(attrs)},
			{"GlobalSecondaryIndexes", p["GlobalSecondaryIndexes"], gsis},
			{"TimeToLiveSpecification", p["TimeToLiveSpecification"], map[string]interface{}{"AttributeName": def.TTLAttribute, "Enabled": true}},
			{"PointInTimeRecoverySpecification", p["PointInTimeRecoverySpecification"], map[string]interface{}{"PointInTimeRecoveryEnabled": true}},
			{"DeletionProtectionEnabled", p["DeletionProtectionEnabled"], true},
			{"BillingMode", p["BillingMode"], "PAY_PER_REQUEST"},
			{"SSESpecification", p["SSESpecification"], map[string]interface{}{"SSEEnabled": true}},
			{"DeletionPolicy", tbl["DeletionPolicy"], "Retain"},
			{"UpdateReplacePolicy", tbl["UpdateReplacePolicy"], "Retain"},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("table %s %s:\n got  %v\n want %v", id, c.name, c.got, c.want)
			}
		}
	}
}

// Both buckets block public access, deny non-TLS requests, allow browser
// uploads with ETag exposed, abort stale multipart uploads and are retained.
func TestBucketsArePrivateAndTLSOnly(t *testing.T) {
	f := appFixture(t)
	buckets := resourcesOfType(f.stateful, "AWS::S3::Bucket")
	if len(buckets) != 2 {
		t.Fatalf("buckets: got %d, want 2 (datasets, models)", len(buckets))
	}
	bucketPolicies := resourcesOfType(f.stateful, "AWS::S3::BucketPolicy")
	for id, b := range buckets {
		p := props(b)
		wantBlock := map[string]interface{}{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}
		if !reflect.DeepEqual(p["PublicAccessBlockConfiguration"], wantBlock) {
			t.Errorf("%s: PublicAccessBlockConfiguration got %v, want all four true", id, p["PublicAccessBlockConfiguration"])
		}
		if b["DeletionPolicy"] != "Retain" {
			t.Errorf("%s: DeletionPolicy got %v, want Retain", id, b["DeletionPolicy"])
		}
		if _, versioned := p["VersioningConfiguration"]; versioned {
			t.Errorf("%s: versioning is on, want off (see newUploadBucket)", id)
		}
		cors := p["CorsConfiguration"].(map[string]interface{})["CorsRules"].([]interface{})[0].(map[string]interface{})
		if !contains(strs(cors["ExposedHeaders"]), "ETag") {
			t.Errorf("%s: CORS ExposedHeaders %v, want ETag", id, cors["ExposedHeaders"])
		}
		if m := strs(cors["AllowedMethods"]); !contains(m, "PUT") || !contains(m, "GET") || !contains(m, "HEAD") {
			t.Errorf("%s: CORS AllowedMethods %v, want PUT GET HEAD", id, m)
		}
		if got, want := strs(cors["AllowedOrigins"]), f.stacks.Config.CorsOrigins; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: CORS AllowedOrigins %v, want %v", id, got, want)
		}
		rules := p["LifecycleConfiguration"].(map[string]interface{})["Rules"].([]interface{})
		aborts := false
		for _, r := range rules {
			amu, _ := r.(map[string]interface{})["AbortIncompleteMultipartUpload"].(map[string]interface{})
			aborts = aborts || amu["DaysAfterInitiation"] == float64(1)
		}
		if !aborts {
			t.Errorf("%s: no lifecycle rule aborting incomplete multipart uploads after 1 day", id)
		}

		denies := false
		for _, bp := range bucketPolicies {
			if refID(props(bp)["Bucket"]) != id {
				continue
			}
			statements(props(bp)["PolicyDocument"], "", func(_ string, st map[string]interface{}) {
				cond, _ := st["Condition"].(map[string]interface{})
				b, _ := cond["Bool"].(map[string]interface{})
				if st["Effect"] == "Deny" && b["aws:SecureTransport"] == "false" && contains(strs(st["Action"]), "s3:*") {
					denies = true
				}
			})
		}
		if !denies {
			t.Errorf("%s: no bucket policy denying requests without TLS", id)
		}
	}
}

// Nothing fails the AWS Solutions checks without a written suppression.
func TestNoUnsuppressedNagFindings(t *testing.T) {
	checkNag(t)
}

// checkNag builds the app (with route.Table and route.Workers), runs the
// AWS Solutions checks on it and reports every error and every unsuppressed
// cdk-nag warning.
func checkNag(t *testing.T) {
	t.Helper()
	// Keep findings as annotations instead of a failed validation, to list them.
	s, err := newTestApp(t, route.Table, map[string]interface{}{"@aws-cdk/core:annotationsInValidationReport": false})
	if err != nil {
		t.Fatal(err)
	}
	addNagChecks(s.Service.Stack.Node().Root())
	for _, st := range []awscdk.Stack{s.Stateful.Stack, s.Service.Stack} {
		check(t, *st.StackName(), func() {
			a := assertions.Annotations_FromStack(st)
			for _, m := range *a.FindError(jsii.String("*"), assertions.Match_AnyValue()) {
				t.Errorf("%s: %v", *m.Id, m.Entry.Data)
			}
			for _, m := range *a.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
				t.Errorf("unsuppressed cdk-nag warning %s: %v", *m.Id, m.Entry.Data)
			}
		})
	}
}

// Stack outputs the frontend, scripts and docs rely on.
func TestOutputs(t *testing.T) {
	f := appFixture(t)
	for name, want := range map[string][]string{
		"stateful": {"TableName", "DatasetsBucketName", "ModelsBucketName", "UserPoolId", "UserPoolClientId", "EventBusName", "GpuClusterTokenSecretArn"},
		"service":  {"ApiUrl", "StateMachineArn", "StreamUrl"},
	} {
		tpl := f.stateful
		if name == "service" {
			tpl = f.service
		}
		outs, _ := tpl["Outputs"].(map[string]interface{})
		for _, o := range want {
			if _, ok := outs[o]; !ok {
				t.Errorf("%s: output %s missing", name, o)
			}
		}
	}
}

// A scope that accessGrants does not know fails the synth with a message
// naming the route and the scope.
func TestUnknownScopeFailsSynth(t *testing.T) {
	routes := []route.Route{{Method: "GET", Path: "/api/things", Function: "list-things", Access: []string{"things:read"}}}
	_, err := newTestApp(t, routes, nil)
	if err == nil {
		t.Fatal("got no error for an unknown access scope")
	}
	for _, want := range []string{`"things:read"`, "GET /api/things", "infra/grants.go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// Every scope route.Table uses has a grant.
func TestEveryScopeHasAGrant(t *testing.T) {
	for _, r := range route.Table {
		for _, s := range r.Access {
			if _, ok := accessGrants[s]; !ok {
				t.Errorf("route %s: scope %q has no row in accessGrants", r.Key(), s)
			}
		}
	}
	for scope, g := range accessGrants {
		for _, a := range g.allActions() {
			if a == "*" || strings.HasSuffix(a, ":*") {
				t.Errorf("scope %s: wildcard action %q", scope, a)
			}
		}
	}
}

// The CLI's -c corsOrigins=a,b passes a string; cdk.json passes a list.
func TestContextOverrides(t *testing.T) {
	ctx := map[string]interface{}{
		ctxStage:       "prod",
		ctxCorsOrigins: "https://app.example.com, https://admin.example.com",
		ctxAssetDir:    "/abs/lambda",
	}
	app := awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
	cfg, err := loadConfig(app.Node())
	if err != nil {
		t.Fatal(err)
	}
	want := config{Stage: "prod", AssetDir: "/abs/lambda", CorsOrigins: []string{"https://app.example.com", "https://admin.example.com"},
		GPUClusterURL: defaultGPUClusterURL}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v, want %+v", cfg, want)
	}

	for _, bad := range []map[string]interface{}{
		{ctxStage: "Prod"},
		{ctxStage: "a-very-long-stage-name"},
		{ctxCorsOrigins: "http://app.example.com"},
	} {
		app := awscdk.NewApp(&awscdk.AppProps{Context: &bad})
		if _, err := loadConfig(app.Node()); err == nil {
			t.Errorf("context %v: got no error", bad)
		}
	}
}

// A missing bootstrap is reported as "run make build", not as a CDK stack trace.
func TestMissingAssetsAreReported(t *testing.T) {
	err := checkAssets(t.TempDir(), route.Functions()[:1])
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("got %v, want an error telling to run make build", err)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedByName(v interface{}) []interface{} {
	list, _ := v.([]interface{})
	out := append([]interface{}{}, list...)
	sort.Slice(out, func(i, j int) bool {
		return out[i].(map[string]interface{})["AttributeName"].(string) < out[j].(map[string]interface{})["AttributeName"].(string)
	})
	return out
}
