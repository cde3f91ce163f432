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
// here. That needs a deployed pool.
package cognito

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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
		case "SignUp":
			rep = ok(`{"UserConfirmed":false,"UserSub":"` + sub + `","CodeDeliveryDetails":null}`)
		case "AdminConfirmSignUp", "AdminUpdateUserAttributes", "AdminDeleteUser":
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
	return func(got string, _ map[string]any) (reply, bool) { return rep, got == op }
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

func TestRegister(t *testing.T) {
	p, fake := setup(t, nil)
	got, err := p.Register(ctx, registration())
	if err != nil {
		t.Fatal(err)
	}
	if got != sub {
		t.Errorf("subject = %q, want the UserSub %q", got, sub)
	}
	if ops, want := fake.ops(), []string{"SignUp", "AdminConfirmSignUp", "AdminUpdateUserAttributes"}; !slices.Equal(ops, want) {
		t.Fatalf("calls = %v, want %v", ops, want)
	}

	signUp := fake.only(t, "SignUp")
	assertSigned(t, signUp, false)
	if str(signUp, "ClientId") != clientID || str(signUp, "Username") != email || str(signUp, "Password") != password {
		t.Errorf("SignUp ClientId %q Username %q Password %q, want %q %q %q", str(signUp, "ClientId"), str(signUp, "Username"), str(signUp, "Password"), clientID, email, password)
	}
	if _, ok := signUp.Body["UserPoolId"]; ok {
		t.Error("SignUp carries UserPoolId; the app-client API takes only ClientId")
	}
	attrs := attributes(t, signUp)
	if attrs["email"] != email || attrs["name"] != "Ada Lovelace" {
		t.Errorf("SignUp attributes = %v, want email and name", attrs)
	}
	if v, ok := attrs["custom:role"]; ok {
		// The app client cannot write custom:role (ADR 0002); sending it
		// would fail with NotAuthorizedException in a real pool.
		t.Errorf("SignUp sends custom:role=%q; only the admin call may set it", v)
	}
	if len(attrs) != 2 {
		t.Errorf("SignUp attributes = %v, want exactly email and name", attrs)
	}

	confirm := fake.only(t, "AdminConfirmSignUp")
	assertSigned(t, confirm, true)
	if str(confirm, "UserPoolId") != poolID || str(confirm, "Username") != email {
		t.Errorf("AdminConfirmSignUp UserPoolId %q Username %q, want %q %q", str(confirm, "UserPoolId"), str(confirm, "Username"), poolID, email)
	}

	role := fake.only(t, "AdminUpdateUserAttributes")
	assertSigned(t, role, true)
	if str(role, "UserPoolId") != poolID || str(role, "Username") != sub {
		t.Errorf("AdminUpdateUserAttributes UserPoolId %q Username %q, want %q and the sub %q", str(role, "UserPoolId"), str(role, "Username"), poolID, sub)
	}
	if attrs := attributes(t, role); len(attrs) != 1 || attrs["custom:role"] != "USER" {
		t.Errorf("AdminUpdateUserAttributes attributes = %v, want only custom:role=USER", attrs)
	}
}

func TestRegisterSignUpErrors(t *testing.T) {
	tests := []struct {
		name   string
		rep    reply
		kind   apperr.Kind
		code   string
		fields map[string][]string
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
			name:   "weak password",
			rep:    awsError("InvalidPasswordException", "Password did not conform with policy: Password must have symbol characters"),
			kind:   apperr.Invalid,
			fields: map[string][]string{"password": {"Password did not conform with policy: Password must have symbol characters"}},
		},
		{
			name: "invalid parameter",
			rep:  awsError("InvalidParameterException", "Invalid email address format."),
			kind: apperr.Invalid,
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
			p, fake := setup(t, failOn("SignUp", tt.rep))
			s, err := p.Register(ctx, registration())
			if s != "" {
				t.Errorf("subject = %q on failure, want empty", s)
			}
			e := wantKind(t, err, tt.kind, tt.code)
			if tt.kind == apperr.Conflict && e.Message != "an account with this email already exists" {
				t.Errorf("message = %q", e.Message)
			}
			if tt.fields != nil && !equalFields(e.Fields, tt.fields) {
				t.Errorf("fields = %v, want %v", e.Fields, tt.fields)
			}
			for _, op := range fake.ops() {
				if op != "SignUp" {
					t.Errorf("called %s after a failed SignUp (calls %v); nothing exists to confirm or roll back", op, fake.ops())
				}
			}
		})
	}
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

func TestRegisterRollsBack(t *testing.T) {
	tests := []struct {
		name      string
		failingOp string
		rep       reply
		before    []string // calls up to and including the failing one (retries collapsed)
	}{
		{"confirm fails", "AdminConfirmSignUp", awsError("NotAuthorizedException", "User is not authorized to perform this action"), []string{"SignUp", "AdminConfirmSignUp"}},
		{"confirm fails after retries", "AdminConfirmSignUp", reply{http.StatusInternalServerError, `{"__type":"InternalErrorException","message":"Internal error"}`}, []string{"SignUp", "AdminConfirmSignUp"}},
		{"role fails", "AdminUpdateUserAttributes", awsError("InvalidParameterException", "Attribute does not exist in the schema."), []string{"SignUp", "AdminConfirmSignUp", "AdminUpdateUserAttributes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fake := setup(t, failOn(tt.failingOp, tt.rep))
			s, err := p.Register(ctx, registration())
			if s != "" {
				t.Errorf("subject = %q on failure, want empty", s)
			}
			wantKind(t, err, apperr.Internal, "")
			ops := slices.Compact(fake.ops())
			if want := append(slices.Clone(tt.before), "AdminDeleteUser"); !slices.Equal(ops, want) {
				t.Fatalf("calls = %v, want %v", ops, want)
			}
			del := fake.only(t, "AdminDeleteUser")
			assertSigned(t, del, true)
			if str(del, "UserPoolId") != poolID || str(del, "Username") != sub {
				t.Errorf("AdminDeleteUser UserPoolId %q Username %q, want %q and the new sub %q", str(del, "UserPoolId"), str(del, "Username"), poolID, sub)
			}
		})
	}

	t.Run("rollback fails too", func(t *testing.T) {
		p, _ := setup(t, func(op string, _ map[string]any) (reply, bool) {
			switch op {
			case "AdminConfirmSignUp":
				return awsError("NotAuthorizedException", "User is not authorized to perform this action"), true
			case "AdminDeleteUser":
				return awsError("NotAuthorizedException", "User is not authorized to perform this action"), true
			}
			return reply{}, false
		})
		_, err := p.Register(ctx, registration())
		wantKind(t, err, apperr.Internal, "")
		if !strings.Contains(err.Error(), "confirm sign-up") || !strings.Contains(err.Error(), "cognito delete user "+sub) {
			t.Errorf("error %q should report both the failure and the failed rollback (for the logs)", err)
		}
	})
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
