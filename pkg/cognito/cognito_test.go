// Contract test of the Cognito adapter.
//
// What this checks: our use of the AWS SDK and the wire contract as AWS
// documents it. The REAL cognitoidentityprovider client (its own request
// serialisation, signing and error deserialisation) talks to an httptest
// server that speaks Cognito's JSON 1.1 protocol: POST /, X-Amz-Target
// "AWSCognitoIdentityProviderService.<Op>", Content-Type
// "application/x-amz-json-1.1", errors as status 400 with
// {"__type":"<Exception>","message":"…"}. The server's answers are written
// from the API reference, so this test shows which calls we make, with
// which fields, and how we map Cognito's errors.
//
// What it does not check: Cognito itself (pool configuration, password
// policy, attribute permissions, real error messages), which cannot run
// here: for example that the pool accepts email_verified and custom:role
// from AdminCreateUser, or that it refuses SignUp with self sign-up off.
// That needs a deployed pool.
package cognito

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/identity"
)

const (
	poolID   = "us-east-1_Ex4mple01"
	clientID = "3n4mpl3cl13nt1d0000000000"
	region   = "us-east-1"
	sub      = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	email    = "ada@example.com"
	password = "correct horse battery"
)

var ctx = context.Background()

// call is one request the fake Cognito received.
type call struct {
	Op     string
	Header http.Header
	Body   map[string]any
}

// reply is the fake's answer to one call: status and JSON body.
type reply struct {
	status int
	body   string
}

func ok(body string) reply { return reply{http.StatusOK, body} }

// awsError is Cognito's error shape for a client error.
func awsError(typ, msg string) reply {
	b, _ := json.Marshal(map[string]string{"__type": typ, "message": msg})
	return reply{http.StatusBadRequest, string(b)}
}

// fakeCognito speaks the JSON 1.1 protocol. answer decides each reply; the
// defaults are the successful answers of the API reference.
type fakeCognito struct {
	t      *testing.T
	mu     sync.Mutex
	calls  []call
	answer func(op string, body map[string]any) (reply, bool)
}

func (f *fakeCognito) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "AWSCognitoIdentityProviderService."
	target := r.Header.Get("X-Amz-Target")
	raw, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", "11111111-2222-3333-4444-555555555555")
	if r.Method != http.MethodPost || r.URL.Path != "/" || !strings.HasPrefix(target, prefix) ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		f.t.Errorf("request %s %s, X-Amz-Target %q, Content-Type %q: not the JSON 1.1 protocol", r.Method, r.URL.Path, target, r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"UnknownOperationException"}`)
		return
	}
	op := strings.TrimPrefix(target, prefix)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		f.t.Errorf("%s: body %q is not a JSON object: %v", op, raw, err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{Op: op, Header: r.Header.Clone(), Body: body})
	f.mu.Unlock()

	rep, handled := reply{}, false
	if f.answer != nil {
		rep, handled = f.answer(op, body)
	}
	if !handled {
		switch op {
		case "AdminCreateUser":
			rep = ok(createdUser(sub, sub))
		case "AdminSetUserPassword", "AdminUpdateUserAttributes", "AdminDeleteUser":
			rep = ok(`{}`)
		case "InitiateAuth":
			rep = ok(`{"AuthenticationResult":{"AccessToken":"access.jwt","ExpiresIn":3600,"IdToken":"header.payload.signature","RefreshToken":"refresh-token","TokenType":"Bearer"},"ChallengeParameters":{}}`)
		default:
			rep = awsError("UnknownOperationException", op)
		}
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// createdUser is AdminCreateUser's answer as the API reference shows it:
// the new user in FORCE_CHANGE_PASSWORD with its attributes, sub among
// them. In a pool whose username is the email (ours), Username is the sub;
// in a pool with email as an alias it is the name given. subAttr "" leaves
// the sub attribute out.
func createdUser(username, subAttr string) string {
	attrs := []map[string]string{
		{"Name": "email", "Value": email},
		{"Name": "email_verified", "Value": "true"},
		{"Name": "name", "Value": "Ada Lovelace"},
		{"Name": "custom:role", "Value": "USER"},
	}
	if subAttr != "" {
		attrs = append([]map[string]string{{"Name": "sub", "Value": subAttr}}, attrs...)
	}
	b, _ := json.Marshal(map[string]any{"User": map[string]any{
		"Username":             username,
		"Attributes":           attrs,
		"Enabled":              true,
		"UserStatus":           "FORCE_CHANGE_PASSWORD",
		"UserCreateDate":       1.7640612e9,
		"UserLastModifiedDate": 1.7640612e9,
	}})
	return string(b)
}

func (f *fakeCognito) all() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeCognito) ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Op)
	}
	return out
}

func (f *fakeCognito) only(t *testing.T, op string) call {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var found []call
	for _, c := range f.calls {
		if c.Op == op {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s calls, want 1 (calls: %v)", len(found), op, f.opsLocked())
	}
	return found[0]
}

func (f *fakeCognito) opsLocked() []string {
	var out []string
	for _, c := range f.calls {
		out = append(out, c.Op)
	}
	return out
}

// setup returns a Provider on the real SDK client pointed at a fake
// Cognito. Retries keep the SDK's standard policy, without the backoff
// sleep, so a 5xx is retried as in production but the test stays fast.
func setup(t *testing.T, answer func(op string, body map[string]any) (reply, bool)) (*Provider, *fakeCognito) {
	t.Helper()
	fake := &fakeCognito{t: t, answer: answer}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := cip.New(cip.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	p := New(client, poolID, clientID)
	p.now = func() time.Time { return time.Date(2026, 11, 25, 9, 0, 0, 500_000_000, time.UTC) }
	return p, fake
}

// failOn answers op with rep and leaves every other call to the defaults.
func failOn(op string, rep reply) func(string, map[string]any) (reply, bool) {
	return answers(map[string]reply{op: rep})
}

// answers answers each op of the map with its reply and leaves every other
// call to the defaults.
func answers(reps map[string]reply) func(string, map[string]any) (reply, bool) {
	return func(got string, _ map[string]any) (reply, bool) { rep, ok := reps[got]; return rep, ok }
}

func attributes(t *testing.T, c call) map[string]string {
	t.Helper()
	list, ok := c.Body["UserAttributes"].([]any)
	if !ok {
		t.Fatalf("%s: UserAttributes = %#v, want a list", c.Op, c.Body["UserAttributes"])
	}
	out := map[string]string{}
	for _, a := range list {
		m, _ := a.(map[string]any)
		name, _ := m["Name"].(string)
		value, _ := m["Value"].(string)
		if _, dup := out[name]; dup {
			t.Errorf("%s: attribute %q sent twice", c.Op, name)
		}
		out[name] = value
	}
	return out
}

func str(c call, field string) string { s, _ := c.Body[field].(string); return s }

// assertSigned: admin operations need IAM credentials (SigV4 for the
// cognito-idp service); the app-client operations are anonymous.
func assertSigned(t *testing.T, c call, signed bool) {
	t.Helper()
	auth := c.Header.Get("Authorization")
	if !signed {
		if auth != "" {
			t.Errorf("%s: Authorization %q, want none (an app-client operation is unsigned)", c.Op, auth)
		}
		return
	}
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/"+region+"/cognito-idp/aws4_request") {
		t.Errorf("%s: Authorization %q, want SigV4 for cognito-idp in %s", c.Op, auth, region)
	}
}

func wantKind(t *testing.T, err error, kind apperr.Kind, code string) *apperr.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", kind)
	}
	if got := apperr.KindOf(err); got != kind {
		t.Fatalf("kind = %v (%v), want %v", got, err, kind)
	}
	e, _ := apperr.As(err)
	if e.Code != code {
		t.Errorf("code = %q, want %q", e.Code, code)
	}
	return e
}

func registration() identity.Registration {
	return identity.Registration{Email: email, Password: password, Name: "Ada Lovelace", Role: identity.RoleUser}
}

// Register creates the user with the admin API and then sets its password:
// AdminCreateUser (no invitation mail, email taken as verified, name and
// role at once), then AdminSetUserPassword on the new sub, permanent, which
// confirms the account. No app-client call: self sign-up is off in the pool
// (ADR 0002), so SignUp would fail there.
func TestRegister(t *testing.T) {
	p, fake := setup(t, nil)
	got, err := p.Register(ctx, registration())
	if err != nil {
		t.Fatal(err)
	}
	if got != sub {
		t.Errorf("subject = %q, want the new user's sub %q", got, sub)
	}
	if ops, want := fake.ops(), []string{"AdminCreateUser", "AdminSetUserPassword"}; !slices.Equal(ops, want) {
		t.Fatalf("calls = %v, want %v", ops, want)
	}

	create := fake.only(t, "AdminCreateUser")
	assertSigned(t, create, true)
	if str(create, "UserPoolId") != poolID || str(create, "Username") != email {
		t.Errorf("AdminCreateUser UserPoolId %q Username %q, want %q %q", str(create, "UserPoolId"), str(create, "Username"), poolID, email)
	}
	if str(create, "MessageAction") != "SUPPRESS" {
		// Without it Cognito mails an invitation with a temporary password.
		t.Errorf("AdminCreateUser MessageAction %q, want SUPPRESS", str(create, "MessageAction"))
	}
	for _, field := range []string{"TemporaryPassword", "DesiredDeliveryMediums", "ClientId"} {
		if v, ok := create.Body[field]; ok {
			t.Errorf("AdminCreateUser carries %s = %v; want it absent (the password is set by AdminSetUserPassword, nothing is delivered)", field, v)
		}
	}
	want := map[string]string{"email": email, "email_verified": "true", "name": "Ada Lovelace", "custom:role": "USER"}
	if attrs := attributes(t, create); !maps.Equal(attrs, want) {
		t.Errorf("AdminCreateUser attributes = %v, want exactly %v", attrs, want)
	}

	set := fake.only(t, "AdminSetUserPassword")
	assertSigned(t, set, true)
	if str(set, "UserPoolId") != poolID || str(set, "Username") != sub || str(set, "Password") != password {
		t.Errorf("AdminSetUserPassword UserPoolId %q Username %q Password %q, want %q, the sub %q, %q",
			str(set, "UserPoolId"), str(set, "Username"), str(set, "Password"), poolID, sub, password)
	}
	if set.Body["Permanent"] != true {
		// A temporary password leaves the user in FORCE_CHANGE_PASSWORD:
		// log-in would answer a NEW_PASSWORD_REQUIRED challenge.
		t.Errorf("AdminSetUserPassword Permanent = %v, want true", set.Body["Permanent"])
	}
	for _, c := range fake.all() {
		if c.Op != "AdminSetUserPassword" && strings.Contains(fmt.Sprint(c.Body), password) {
			t.Errorf("%s carries the password; only AdminSetUserPassword may", c.Op)
		}
	}
}

// The subject is the `sub` attribute of the created user; Username is the
// fallback (it is the sub in a pool whose username is the email). The
// password is set on that subject.
func TestRegisterSubject(t *testing.T) {
	tests := []struct {
		name string
		user string
	}{
		{"sub attribute wins over Username", createdUser(email, sub)},
		{"Username when there is no sub attribute", createdUser(sub, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fake := setup(t, failOn("AdminCreateUser", ok(tt.user)))
			got, err := p.Register(ctx, registration())
			if err != nil {
				t.Fatal(err)
			}
			if got != sub {
				t.Errorf("subject = %q, want %q", got, sub)
			}
			if u := str(fake.only(t, "AdminSetUserPassword"), "Username"); u != sub {
				t.Errorf("AdminSetUserPassword Username %q, want the sub %q", u, sub)
			}
		})
	}

	t.Run("no user in the answer", func(t *testing.T) {
		p, fake := setup(t, failOn("AdminCreateUser", ok(`{}`)))
		s, err := p.Register(ctx, registration())
		if s != "" {
			t.Errorf("subject = %q on failure, want empty", s)
		}
		wantKind(t, err, apperr.Internal, "")
		if ops, want := fake.ops(), []string{"AdminCreateUser", "AdminDeleteUser"}; !slices.Equal(ops, want) {
			t.Fatalf("calls = %v, want %v (the user may exist: undo it by its email)", ops, want)
		}
		if u := str(fake.only(t, "AdminDeleteUser"), "Username"); u != email {
			t.Errorf("AdminDeleteUser Username %q, want the email %q", u, email)
		}
	})
}

// A failed AdminCreateUser created nothing: nothing is rolled back. Our
// validation runs before Register (identity.Service), so an
// InvalidParameterException is our misconfiguration (500), not the client's
// mistake (400), and Cognito's message is not shown.
func TestRegisterCreateErrors(t *testing.T) {
	tests := []struct {
		name string
		rep  reply
		kind apperr.Kind
		code string
	}{
		{
			name: "email taken",
			rep:  awsError("UsernameExistsException", "An account with the given email already exists."),
			kind: apperr.Conflict, code: identity.CodeEmailExists,
		},
		{
			// The JSON 1.1 protocol allows a namespaced __type; the SDK strips it.
			name: "email taken, namespaced type",
			rep:  awsError("com.amazonaws.cognito.identityprovider.model#UsernameExistsException", "An account with the given email already exists."),
			kind: apperr.Conflict, code: identity.CodeEmailExists,
		},
		{
			name: "invalid parameter",
			rep:  awsError("InvalidParameterException", "Attributes did not conform to the schema: Type for attribute {custom:role} could not be determined"),
			kind: apperr.Internal,
		},
		{
			name: "not authorized (IAM or pool settings)",
			rep:  awsError("NotAuthorizedException", "User is not authorized to perform this action"),
			kind: apperr.Internal,
		},
		{
			name: "throttled",
			rep:  awsError("TooManyRequestsException", "Too many requests"),
			kind: apperr.Internal,
		},
		{
			name: "service error",
			rep:  reply{http.StatusInternalServerError, `{"__type":"InternalErrorException","message":"Internal error"}`},
			kind: apperr.Internal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fake := setup(t, failOn("AdminCreateUser", tt.rep))
			s, err := p.Register(ctx, registration())
			if s != "" {
				t.Errorf("subject = %q on failure, want empty", s)
			}
			e := wantKind(t, err, tt.kind, tt.code)
			if tt.kind == apperr.Conflict && e.Message != "an account with this email already exists" {
				t.Errorf("message = %q", e.Message)
			}
			if tt.kind == apperr.Internal {
				var apiErr interface{ ErrorCode() string }
				if !errors.As(err, &apiErr) {
					t.Errorf("err %v should wrap the SDK's error for the logs", err)
				}
				if len(e.Fields) != 0 {
					t.Errorf("fields = %v on an internal error", e.Fields)
				}
			}
			for _, op := range fake.ops() {
				if op != "AdminCreateUser" {
					t.Errorf("called %s after a failed AdminCreateUser (calls %v); nothing exists to go on with or roll back", op, fake.ops())
				}
			}
		})
	}
}

// A failed AdminSetUserPassword deletes the user it was for, so the email
// is free again, and returns the mapped error: a password the pool's policy
// rejects is the client's (400, field password), anything else ours.
func TestRegisterSetPasswordFails(t *testing.T) {
	tests := []struct {
		name   string
		rep    reply
		kind   apperr.Kind
		fields map[string][]string
	}{
		{
			name:   "weak password",
			rep:    awsError("InvalidPasswordException", "Password did not conform with policy: Password must have symbol characters"),
			kind:   apperr.Invalid,
			fields: map[string][]string{"password": {"Password did not conform with policy: Password must have symbol characters"}},
		},
		{
			name: "invalid parameter",
			rep:  awsError("InvalidParameterException", "1 validation error detected: Value at 'password' failed to satisfy constraint"),
			kind: apperr.Internal,
		},
		{
			name: "not authorized",
			rep:  awsError("NotAuthorizedException", "User is not authorized to perform this action"),
			kind: apperr.Internal,
		},
		{
			name: "service error after retries",
			rep:  reply{http.StatusInternalServerError, `{"__type":"InternalErrorException","message":"Internal error"}`},
			kind: apperr.Internal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fake := setup(t, failOn("AdminSetUserPassword", tt.rep))
			s, err := p.Register(ctx, registration())
			if s != "" {
				t.Errorf("subject = %q on failure, want empty", s)
			}
			e := wantKind(t, err, tt.kind, "")
			if tt.fields != nil && !equalFields(e.Fields, tt.fields) {
				t.Errorf("fields = %v, want %v", e.Fields, tt.fields)
			}
			ops := slices.Compact(fake.ops()) // retries collapsed
			if want := []string{"AdminCreateUser", "AdminSetUserPassword", "AdminDeleteUser"}; !slices.Equal(ops, want) {
				t.Fatalf("calls = %v, want %v", ops, want)
			}
			del := fake.only(t, "AdminDeleteUser")
			assertSigned(t, del, true)
			if str(del, "UserPoolId") != poolID || str(del, "Username") != sub {
				t.Errorf("AdminDeleteUser UserPoolId %q Username %q, want %q and the new sub %q", str(del, "UserPoolId"), str(del, "Username"), poolID, sub)
			}
		})
	}

	t.Run("user already gone", func(t *testing.T) {
		p, _ := setup(t, answers(map[string]reply{
			"AdminSetUserPassword": awsError("InvalidPasswordException", "Password did not conform with policy: Password not long enough"),
			"AdminDeleteUser":      awsError("UserNotFoundException", "User does not exist."),
		}))
		_, err := p.Register(ctx, registration())
		wantKind(t, err, apperr.Invalid, "")
	})

	t.Run("rollback fails too", func(t *testing.T) {
		p, _ := setup(t, answers(map[string]reply{
			"AdminSetUserPassword": awsError("InvalidPasswordException", "Password did not conform with policy: Password must have symbol characters"),
			"AdminDeleteUser":      awsError("NotAuthorizedException", "User is not authorized to perform this action"),
		}))
		_, err := p.Register(ctx, registration())
		// Internal, not the password's 400: the account is left behind and
		// blocks the email until an operator deletes it.
		e := wantKind(t, err, apperr.Internal, "")
		if !strings.Contains(e.Message, sub) {
			t.Errorf("message %q should name the user left behind (for the operator)", e.Message)
		}
		if !strings.Contains(err.Error(), "Password must have symbol characters") || !strings.Contains(err.Error(), "cognito delete user "+sub) {
			t.Errorf("error %q should report both the failure and the failed rollback (for the logs)", err)
		}
	})

	// The request's context is cancelled while the password is being set
	// (client gone, Lambda deadline): the rollback still runs, else the
	// half-created user would block the email.
	t.Run("cancelled request still rolls back", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		p, fake := setup(t, func(op string, _ map[string]any) (reply, bool) {
			if op == "AdminSetUserPassword" {
				cancel()
				return awsError("InternalErrorException", "Internal error"), true
			}
			return reply{}, false
		})
		if _, err := p.Register(cctx, registration()); err == nil {
			t.Fatal("err = nil after a cancelled request")
		}
		if ops := slices.Compact(fake.ops()); len(ops) == 0 || ops[len(ops)-1] != "AdminDeleteUser" {
			t.Fatalf("calls = %v, want the rollback (AdminDeleteUser) last", ops)
		}
		if u := str(fake.only(t, "AdminDeleteUser"), "Username"); u != sub {
			t.Errorf("AdminDeleteUser Username %q, want %q", u, sub)
		}
	})
}

func equalFields(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestAuthenticate(t *testing.T) {
	p, fake := setup(t, nil)
	tok, err := p.Authenticate(ctx, email, password)
	if err != nil {
		t.Fatal(err)
	}
	want := identity.Token{IDToken: "header.payload.signature", TokenType: "Bearer", ExpiresIn: 3600, ExpiresAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	if tok != want {
		t.Errorf("token = %+v, want %+v (the ID token, never the access or refresh token)", tok, want)
	}
	c := fake.only(t, "InitiateAuth")
	assertSigned(t, c, false)
	if str(c, "AuthFlow") != "USER_PASSWORD_AUTH" || str(c, "ClientId") != clientID {
		t.Errorf("InitiateAuth AuthFlow %q ClientId %q, want USER_PASSWORD_AUTH %q", str(c, "AuthFlow"), str(c, "ClientId"), clientID)
	}
	params, _ := c.Body["AuthParameters"].(map[string]any)
	if params["USERNAME"] != email || params["PASSWORD"] != password || len(params) != 2 {
		t.Errorf("AuthParameters = %v, want USERNAME and PASSWORD", params)
	}
}

func TestAuthenticateErrors(t *testing.T) {
	var messages []string
	for _, typ := range []string{"NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException"} {
		t.Run(typ, func(t *testing.T) {
			msg := map[string]string{
				"NotAuthorizedException":    "Incorrect username or password.",
				"UserNotFoundException":     "User does not exist.",
				"UserNotConfirmedException": "User is not confirmed.",
			}[typ]
			p, _ := setup(t, failOn("InitiateAuth", awsError(typ, msg)))
			tok, err := p.Authenticate(ctx, email, "wrong password")
			if tok != (identity.Token{}) {
				t.Errorf("token = %+v on failure", tok)
			}
			e := wantKind(t, err, apperr.Unauthorized, "INVALID_CREDENTIALS")
			if strings.Contains(e.Message, msg) {
				t.Errorf("message %q repeats Cognito's, which tells an unknown user from a wrong password", e.Message)
			}
			messages = append(messages, e.Message)
		})
	}
	if len(slices.Compact(slices.Clone(messages))) != 1 {
		t.Errorf("messages %q differ; an unknown email and a wrong password must look the same", messages)
	}

	// An operator forced a reset (admin-reset-user-password): not wrong
	// credentials, so a code of its own, and the client can tell the user
	// what to do instead of "wrong password".
	t.Run("password reset required", func(t *testing.T) {
		p, _ := setup(t, failOn("InitiateAuth", awsError("PasswordResetRequiredException", "Password reset required for the user")))
		tok, err := p.Authenticate(ctx, email, password)
		if tok != (identity.Token{}) {
			t.Errorf("token = %+v on failure", tok)
		}
		e := wantKind(t, err, apperr.Unauthorized, "PASSWORD_RESET_REQUIRED")
		if e.Message != "a password reset is required for this account" {
			t.Errorf("message = %q", e.Message)
		}
		if identity.CodePasswordResetRequired != "PASSWORD_RESET_REQUIRED" {
			t.Errorf("CodePasswordResetRequired = %q", identity.CodePasswordResetRequired)
		}
	})

	t.Run("challenge", func(t *testing.T) {
		p, _ := setup(t, failOn("InitiateAuth", ok(`{"ChallengeName":"NEW_PASSWORD_REQUIRED","ChallengeParameters":{"USER_ID_FOR_SRP":"ada@example.com","requiredAttributes":"[]","userAttributes":"{}"},"Session":"AYABeEx4mpleSession"}`)))
		_, err := p.Authenticate(ctx, email, password)
		e := wantKind(t, err, apperr.Internal, "")
		if !strings.Contains(e.Message, "NEW_PASSWORD_REQUIRED") {
			t.Errorf("message %q should name the challenge (for the logs)", e.Message)
		}
	})

	t.Run("flow not enabled", func(t *testing.T) {
		p, _ := setup(t, failOn("InitiateAuth", awsError("InvalidParameterException", "USER_PASSWORD_AUTH flow not enabled for this client")))
		_, err := p.Authenticate(ctx, email, password)
		wantKind(t, err, apperr.Internal, "")
	})
}

func TestUnregister(t *testing.T) {
	t.Run("deletes by sub", func(t *testing.T) {
		p, fake := setup(t, nil)
		if err := p.Unregister(ctx, sub); err != nil {
			t.Fatal(err)
		}
		c := fake.only(t, "AdminDeleteUser")
		assertSigned(t, c, true)
		if str(c, "UserPoolId") != poolID || str(c, "Username") != sub {
			t.Errorf("AdminDeleteUser UserPoolId %q Username %q, want %q %q", str(c, "UserPoolId"), str(c, "Username"), poolID, sub)
		}
	})
	t.Run("already gone", func(t *testing.T) {
		p, _ := setup(t, failOn("AdminDeleteUser", awsError("UserNotFoundException", "User does not exist.")))
		if err := p.Unregister(ctx, sub); err != nil {
			t.Errorf("err = %v, want nil: deleting a missing user is done", err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		p, _ := setup(t, failOn("AdminDeleteUser", awsError("NotAuthorizedException", "User is not authorized to perform this action")))
		err := p.Unregister(ctx, sub)
		wantKind(t, err, apperr.Internal, "")
	})
}

func TestSetRole(t *testing.T) {
	p, fake := setup(t, nil)
	if err := p.SetRole(ctx, sub, identity.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c := fake.only(t, "AdminUpdateUserAttributes")
	assertSigned(t, c, true)
	if str(c, "UserPoolId") != poolID || str(c, "Username") != sub {
		t.Errorf("UserPoolId %q Username %q, want %q %q", str(c, "UserPoolId"), str(c, "Username"), poolID, sub)
	}
	if attrs := attributes(t, c); len(attrs) != 1 || attrs["custom:role"] != "ADMIN" {
		t.Errorf("attributes = %v, want only custom:role=ADMIN", attrs)
	}

	t.Run("fails", func(t *testing.T) {
		p, _ := setup(t, failOn("AdminUpdateUserAttributes", awsError("UserNotFoundException", "User does not exist.")))
		err := p.SetRole(ctx, sub, identity.RoleAdmin)
		wantKind(t, err, apperr.Internal, "")
		var apiErr interface{ ErrorCode() string }
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UserNotFoundException" {
			t.Errorf("err %v should wrap the SDK's error for the logs", err)
		}
	})
}
