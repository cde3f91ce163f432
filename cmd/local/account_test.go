package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/golang-jwt/jwt/v5"

	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/localidp"
	"github.com/brightrun/brightrun/pkg/testkit"
)

type account struct {
	ID, Email, Password, Token string
}

// signUp creates a user with a unique email and logs in.
func signUp(t testing.TB, name string) account {
	t.Helper()
	a := account{Email: strings.ToLower(name) + "-" + testkit.RandomID() + "@example.com", Password: "correct horse battery"}
	res := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/auth/signup", Body: map[string]any{"email": a.Email, "password": a.Password, "name": name}}, http.StatusCreated, "")
	var body struct{ User identity.User }
	res.Into(t, &body)
	a.ID = body.User.ID
	a.Token = logIn(t, a.Email, a.Password)
	return a
}

func logIn(t testing.TB, email, password string) string {
	t.Helper()
	res := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"email": email, "password": password}}, http.StatusOK, "")
	var tok identity.Token
	res.Into(t, &tok)
	if tok.IDToken == "" || tok.ExpiresIn != 3600 || tok.TokenType != "Bearer" {
		t.Fatalf("login: got %+v, want a bearer id_token valid for 3600 s", tok)
	}
	return tok.IDToken
}

// TestWalkthrough is the README's curl walkthrough: signup, login, me,
// update me, dashboard stats.
func TestWalkthrough(t *testing.T) {
	email := "ada-" + testkit.RandomID() + "@Example.com "
	res := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/auth/signup",
		Body: map[string]any{"email": email, "password": "correct horse", "name": "Ada Lovelace", "organization": "Analytical Engines"}}, http.StatusCreated, "")
	if strings.Contains(string(res.Raw), "correct horse") || strings.Contains(strings.ToLower(string(res.Raw)), "password") {
		t.Fatalf("signup response leaks the password: %s", res.Raw)
	}
	var created struct{ User identity.User }
	res.Into(t, &created)
	wantEmail := strings.ToLower(strings.TrimSpace(email))
	if created.User.Email != wantEmail || created.User.Role != identity.RoleUser || created.User.SubscriptionTier != identity.TierFree || created.User.ID == "" {
		t.Fatalf("signup: got %+v, want email %q, role USER, tier FREE and an id", created.User, wantEmail)
	}

	tok := logIn(t, "  "+strings.ToUpper(wantEmail), "correct horse") // emails are case-insensitive
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatalf("token: %v", err)
	}
	if claims["sub"] != created.User.ID || claims["email"] != wantEmail || claims["name"] != "Ada Lovelace" || claims["custom:role"] != "USER" {
		t.Fatalf("token claims: got %v, want sub, email, name and custom:role of the new user", claims)
	}

	var me identity.User
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/me", Token: tok}, http.StatusOK, "").Into(t, &me)
	if me.ID != created.User.ID || me.Organization == nil || *me.Organization != "Analytical Engines" {
		t.Fatalf("me: got %+v, want the created user", me)
	}

	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/me", Token: tok, Body: `{"monthly_budget": 120.5, "name": "Ada King"}`}, http.StatusOK, "").Into(t, &me)
	if me.Name != "Ada King" || me.MonthlyBudget == nil || *me.MonthlyBudget != 120_500_000 || me.Organization == nil {
		t.Fatalf("patch me: got %+v, want name Ada King, budget 120.5 and the organization unchanged", me)
	}
	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/me", Token: tok, Body: `{"monthly_budget": null, "organization": null}`}, http.StatusOK, "").Into(t, &me)
	if me.MonthlyBudget != nil || me.Organization != nil || me.Name != "Ada King" {
		t.Fatalf("patch me with nulls: got %+v, want budget and organization cleared, name kept", me)
	}

	var stats map[string]float64
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/dashboard/stats", Token: tok}, http.StatusOK, "").Into(t, &stats)
	want := map[string]float64{"total_datasets": 0, "active_jobs": 0, "completed_models": 0, "total_cost": 0}
	if len(stats) != len(want) {
		t.Fatalf("stats: got %v, want exactly %v", stats, want)
	}
	for k, v := range want {
		if got, ok := stats[k]; !ok || got != v {
			t.Errorf("stats[%s]: got %v, want %v", k, got, v)
		}
	}
}

func TestSignUpDuplicateEmail(t *testing.T) {
	a := signUp(t, "Grace")
	api.Expect(t, testkit.Request{Method: "POST", Path: "/api/auth/signup", Body: map[string]any{"email": strings.ToUpper(a.Email), "password": "another password", "name": "Grace Again"}}, http.StatusConflict, "EMAIL_EXISTS")
	// The first account is untouched: its password still works.
	logIn(t, a.Email, a.Password)
}

// TestSignUpDoubleClick sends the same signup twice at once: exactly one
// account is created, the other request is told the email exists.
func TestSignUpDoubleClick(t *testing.T) {
	body := map[string]any{"email": "twice-" + testkit.RandomID() + "@example.com", "password": "correct horse", "name": "Twice"}
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = api.Do(t, testkit.Request{Method: "POST", Path: "/api/auth/signup", Body: body}).Status
		})
	}
	wg.Wait()
	created, conflict := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflict++
		}
	}
	if created != 1 || conflict != 1 {
		t.Fatalf("concurrent signups: got statuses %v, want one 201 and one 409", statuses)
	}
}

func TestLogInWrongCredentials(t *testing.T) {
	a := signUp(t, "Hedy")
	wrongPassword := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"email": a.Email, "password": "not the password"}}, http.StatusUnauthorized, "INVALID_CREDENTIALS")
	unknownEmail := api.Expect(t, testkit.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"email": "nobody-" + testkit.RandomID() + "@example.com", "password": "whatever1"}}, http.StatusUnauthorized, "INVALID_CREDENTIALS")
	if wrongPassword.Error.Message != unknownEmail.Error.Message {
		t.Fatalf("login errors differ (%q vs %q): they must not reveal which part was wrong", wrongPassword.Error.Message, unknownEmail.Error.Message)
	}
}

// TestTenantIsolation: /api/me and /api/dashboard/stats answer each
// caller with their own data only. Stats are seeded with raw items in the
// documented key design (docs/data-model.md) until the dataset, job, model
// and cost endpoints exist; this also checks the stats read those keys.
func TestTenantIsolation(t *testing.T) {
	a, b := signUp(t, "Alice"), signUp(t, "Bob")
	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"name":"Alice Changed"}`}, http.StatusOK, "")

	tokens := map[string]string{"alice": a.Token, "bob": b.Token}
	testkit.AssertOwnView(t, api, testkit.Request{Method: "GET", Path: "/api/me"}, tokens,
		map[string]string{"alice": a.ID + " Alice Changed", "bob": b.ID + " Bob"},
		func(t *testing.T, r *testkit.Response) string {
			var u identity.User
			r.Into(t, &u)
			return u.ID + " " + u.Name
		})

	seed(t, a.ID)
	testkit.AssertOwnView(t, api, testkit.Request{Method: "GET", Path: "/api/dashboard/stats"}, tokens,
		map[string]string{"alice": "datasets=2 active=2 models=2 cost=12.75", "bob": "datasets=0 active=0 models=0 cost=0"},
		func(t *testing.T, r *testkit.Response) string {
			var s map[string]float64
			r.Into(t, &s)
			return strings.Join([]string{
				"datasets=" + num(s["total_datasets"]), "active=" + num(s["active_jobs"]),
				"models=" + num(s["completed_models"]), "cost=" + num(s["total_cost"]),
			}, " ")
		})
}

func num(f float64) string { b, _ := json.Marshal(f); return string(b) }

// seed writes, for user u: 3 datasets (one deleted), jobs in 4 statuses
// (2 active), models in 3 statuses (2 completed, plus a deleted one), and
// two monthly cost summaries (12.5 + 0.25 dollars).
func seed(t *testing.T, u string) {
	t.Helper()
	items := []map[string]string{
		{"PK": "USER#" + u, "SK": "DATASET#d1", "GSI2PK": "USER#" + u, "GSI2SK": "DATASET#ready#d1"},
		{"PK": "USER#" + u, "SK": "DATASET#d2", "GSI2PK": "USER#" + u, "GSI2SK": "DATASET#error#d2"},
		{"PK": "USER#" + u, "SK": "DATASET#d3", "GSI2PK": "USER#" + u, "GSI2SK": "DATASET#ready#d3", "deletedAt": "2026-11-01T00:00:00Z"},
		{"PK": "JOB#j1", "SK": "#META", "GSI1PK": "USER#" + u, "GSI1SK": "JOB#j1", "GSI2PK": "USER#" + u, "GSI2SK": "JOB#queued#j1"},
		{"PK": "JOB#j2", "SK": "#META", "GSI1PK": "USER#" + u, "GSI1SK": "JOB#j2", "GSI2PK": "USER#" + u, "GSI2SK": "JOB#running#j2"},
		{"PK": "JOB#j3", "SK": "#META", "GSI1PK": "USER#" + u, "GSI1SK": "JOB#j3", "GSI2PK": "USER#" + u, "GSI2SK": "JOB#completed#j3"},
		{"PK": "JOB#j4", "SK": "#META", "GSI1PK": "USER#" + u, "GSI1SK": "JOB#j4", "GSI2PK": "USER#" + u, "GSI2SK": "JOB#failed#j4"},
		{"PK": "USER#" + u, "SK": "MODEL#m1", "GSI2PK": "USER#" + u, "GSI2SK": "MODEL#stored#m1"},
		{"PK": "USER#" + u, "SK": "MODEL#m2", "GSI2PK": "USER#" + u, "GSI2SK": "MODEL#deployed#m2"},
		{"PK": "USER#" + u, "SK": "MODEL#m3", "GSI2PK": "USER#" + u, "GSI2SK": "MODEL#archived#m3"},
		{"PK": "USER#" + u, "SK": "MODEL#m4", "GSI2PK": "USER#" + u, "GSI2SK": "MODEL#stored#m4", "deletedAt": "2026-11-01T00:00:00Z"},
	}
	ctx := context.Background()
	ddb := dynamoClient()
	for _, it := range items {
		av := map[string]types.AttributeValue{}
		for k, v := range it {
			av[k] = &types.AttributeValueMemberS{Value: v}
		}
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: av}); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	for sk, micros := range map[string]string{"COSTSUM#2026-10": "12500000", "COSTSUM#2026-11": "250000"} {
		_, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tableName), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "USER#" + u}, "SK": &types.AttributeValueMemberS{Value: sk}, "total": &types.AttributeValueMemberN{Value: micros},
		}})
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
}

func dynamoClient() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{BaseEndpoint: aws.String(st.DynamoURL), Region: "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		})})
}

// TestAdminChangesRole: only an ADMIN may change roles and tiers; the new
// role reaches the next token. The first admin is promoted directly in the
// stores, as an operator would (docs/adr/0002-identity.md).
func TestAdminChangesRole(t *testing.T) {
	admin, user := signUp(t, "Root"), signUp(t, "Member")
	ctx := context.Background()
	if err := st.Store.SetCredentialRole(ctx, admin.ID, identity.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	adminToken := logIn(t, admin.Email, admin.Password)

	path := "/api/admin/users/" + user.ID
	api.Expect(t, testkit.Request{Method: "PATCH", Path: path, Token: user.Token, Body: `{"role":"ADMIN"}`}, http.StatusForbidden, "FORBIDDEN")
	api.Expect(t, testkit.Request{Method: "PATCH", Path: path, Token: admin.Token, Body: `{"role":"ADMIN"}`}, http.StatusForbidden, "FORBIDDEN") // old token: still USER
	api.Expect(t, testkit.Request{Method: "PATCH", Path: path, Token: adminToken, Body: `{"role":"OWNER"}`}, http.StatusBadRequest, "VALIDATION_ERROR")
	api.Expect(t, testkit.Request{Method: "PATCH", Path: "/api/admin/users/nobody", Token: adminToken, Body: `{"role":"ADMIN"}`}, http.StatusNotFound, "NOT_FOUND")

	var u identity.User
	api.Expect(t, testkit.Request{Method: "PATCH", Path: path, Token: adminToken, Body: `{"role":"BILLING_ADMIN","subscription_tier":"PROFESSIONAL"}`}, http.StatusOK, "").Into(t, &u)
	if u.Role != identity.RoleBillingAdmin || u.SubscriptionTier != identity.TierProfessional {
		t.Fatalf("update user: got role %s tier %s, want BILLING_ADMIN PROFESSIONAL", u.Role, u.SubscriptionTier)
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(logIn(t, user.Email, user.Password), claims); err != nil {
		t.Fatal(err)
	}
	if claims["custom:role"] != "BILLING_ADMIN" {
		t.Fatalf("new token role: got %v, want BILLING_ADMIN", claims["custom:role"])
	}
}

// TestBadInput: each client mistake gets its documented status and
// envelope, and nothing is written.
func TestBadInput(t *testing.T) {
	a := signUp(t, "Barbara")
	key, err := localidp.LoadOrCreateKey(st.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := localidp.LoadOrCreateKey(t.TempDir() + "/other.pem")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(k any, method jwt.SigningMethod, claims jwt.MapClaims) string {
		base := jwt.MapClaims{"sub": a.ID, "email": a.Email, "custom:role": "ADMIN", "iss": st.Issuer, "aud": st.Audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		for k, v := range claims {
			base[k] = v
		}
		tok := jwt.NewWithClaims(method, base)
		tok.Header["kid"] = localidp.KeyID(&key.PublicKey)
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	huge := strings.Repeat("x", 11<<20)

	cases := []struct {
		name   string
		req    testkit.Request
		status int
		code   string // "" for API Gateway's own {"message":…} answers
		field  string // a field the error must name
	}{
		{"malformed JSON", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"name": "Bar`}, 400, "VALIDATION_ERROR", "body"},
		{"not an object", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `["name"]`}, 400, "VALIDATION_ERROR", "body"},
		{"two objects", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"name":"Barbara L"}{"name":"x"}`}, 400, "VALIDATION_ERROR", "body"},
		{"empty body", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token}, 400, "VALIDATION_ERROR", "body"},
		{"unknown field", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"monthlyBudget": 10}`}, 400, "VALIDATION_ERROR", "monthlyBudget"},
		{"wrong type", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"monthly_budget": "ten"}`}, 400, "VALIDATION_ERROR", "monthly_budget"},
		{"budget not positive", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"monthly_budget": 0}`}, 400, "VALIDATION_ERROR", "monthly_budget"},
		{"name too short", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"name": " B "}`}, 400, "VALIDATION_ERROR", "name"},
		{"role is not self-service", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: `{"role": "ADMIN"}`}, 400, "VALIDATION_ERROR", "role"},
		{"2 MB body", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: big}, 413, "PAYLOAD_TOO_LARGE", ""},
		{"11 MB body (API Gateway limit)", testkit.Request{Method: "PATCH", Path: "/api/me", Token: a.Token, Body: huge}, 413, "", ""},
		{"signup fields", testkit.Request{Method: "POST", Path: "/api/auth/signup", Body: `{"email":"nope","password":"short","name":"x","organization":"` + strings.Repeat("o", 201) + `"}`}, 400, "VALIDATION_ERROR", "organization"},
		{"signup password over bcrypt's 72 bytes", testkit.Request{Method: "POST", Path: "/api/auth/signup", Body: `{"email":"long@example.com","password":"` + strings.Repeat("p", 73) + `","name":"Long"}`}, 400, "VALIDATION_ERROR", "password"},
		{"login missing fields", testkit.Request{Method: "POST", Path: "/api/auth/login", Body: `{}`}, 400, "VALIDATION_ERROR", "password"},
		{"no token", testkit.Request{Method: "GET", Path: "/api/me"}, 401, "", ""},
		{"garbage token", testkit.Request{Method: "GET", Path: "/api/me", Token: "not.a.jwt"}, 401, "", ""},
		{"expired token", testkit.Request{Method: "GET", Path: "/api/me", Token: sign(key, jwt.SigningMethodRS256, jwt.MapClaims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})}, 401, "", ""},
		{"forged token (other key, same kid)", testkit.Request{Method: "GET", Path: "/api/me", Token: sign(otherKey, jwt.SigningMethodRS256, nil)}, 401, "", ""},
		{"wrong issuer", testkit.Request{Method: "GET", Path: "/api/me", Token: sign(key, jwt.SigningMethodRS256, jwt.MapClaims{"iss": "https://evil.example.com"})}, 401, "", ""},
		{"wrong audience", testkit.Request{Method: "GET", Path: "/api/me", Token: sign(key, jwt.SigningMethodRS256, jwt.MapClaims{"aud": "another-client"})}, 401, "", ""},
		{"HS256 with the public key", testkit.Request{Method: "GET", Path: "/api/me", Token: sign([]byte("secret"), jwt.SigningMethodHS256, nil)}, 401, "", ""},
		{"wrong role", testkit.Request{Method: "PATCH", Path: "/api/admin/users/" + a.ID, Token: a.Token, Body: `{"role":"ADMIN"}`}, 403, "FORBIDDEN", ""},
		{"unknown route", testkit.Request{Method: "GET", Path: "/api/nothing-here", Token: a.Token}, 404, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := api.Do(t, c.req)
			if res.Status != c.status || res.Code() != c.code {
				t.Fatalf("got %d %q (%.300s), want %d %q", res.Status, res.Code(), res.Raw, c.status, c.code)
			}
			if c.status >= 400 && c.code == "" && res.Message == "" {
				t.Errorf("API Gateway answers carry a message: got %s", res.Raw)
			}
			if c.field != "" {
				if _, ok := res.Error.Fields[c.field]; !ok {
					t.Errorf("fields: got %v, want one for %q", res.Error.Fields, c.field)
				}
			}
		})
	}

	// Nothing above changed the profile.
	var me identity.User
	api.Expect(t, testkit.Request{Method: "GET", Path: "/api/me", Token: a.Token}, http.StatusOK, "").Into(t, &me)
	if me.Name != "Barbara" || me.MonthlyBudget != nil || me.Role != identity.RoleUser {
		t.Fatalf("profile after bad input: got %+v, want it unchanged", me)
	}
}
