package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/golang-jwt/jwt/v5"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/localidp"
)

const (
	testRegion    = "eu-west-1"
	testPool      = "eu-west-1_AbCdEf123"
	testClient    = "client-123"
	testIssuer    = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
	testJWKSURL   = testIssuer + "/.well-known/jwks.json"
	testKid       = "cognito-kid-1"
	localIssuer   = "http://localhost:4000/local-idp"
	localAudience = "local-client"
)

var poolKey, otherKey = mustRSA(), mustRSA()

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// cognitoPool stands in for the user pool's JWKS endpoint: a loopback
// HTTPS server, reached through a client that sends every request there
// and records the URL the code asked for, so the test sees the real
// cognito-idp URL the function would fetch.
type cognitoPool struct {
	srv  *httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	urls []string
}

func newCognitoPool(t *testing.T) *cognitoPool {
	p := &cognitoPool{}
	doc, err := json.Marshal(map[string]any{"keys": []map[string]string{
		// An EC key next to ours, as a pool never has but a JWKS may: ignored.
		{"kty": "EC", "crv": "P-256", "kid": "ec-kid", "use": "sig", "x": "AA", "y": "AA"},
		{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": testKid,
			"n": base64.RawURLEncoding.EncodeToString(poolKey.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(poolKey.E)).Bytes()),
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		if r.URL.Path != "/"+testPool+"/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// Do implements aws.HTTPClient.
func (p *cognitoPool) Do(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.urls = append(p.urls, r.URL.String())
	p.mu.Unlock()
	target, _ := url.Parse(p.srv.URL)
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, ""
	return p.srv.Client().Do(r)
}

func (p *cognitoPool) app() *App {
	return &App{
		Config: Config{IdentityProvider: ProviderCognito, CognitoPoolID: testPool, CognitoClientID: testClient},
		AWS:    aws.Config{Region: testRegion, HTTPClient: p},
	}
}

func cognitoClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": "user-123", "email": "ada@example.com", "custom:role": "ADMIN", "cognito:username": "ada@example.com",
		"token_use": "id", "iss": testIssuer, "aud": testClient,
		"auth_time": now.Add(-time.Minute).Unix(), "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func withClaim(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func signToken(t *testing.T, key *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// callerCase is a token presented to a stream's Function URL and the
// caller it must give; nil: 401.
type callerCase struct {
	name       string
	auth       string // Authorization header; "" means none
	query      string // access_token; "" means none
	wantCaller *httpapi.Caller
}

func checkCallers(t *testing.T, auth *StreamAuth, tests []callerCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.Caller(context.Background(), urlRequest(tt.auth, tt.query))
			if tt.wantCaller == nil {
				wantUnauthorized(t, got, err)
				return
			}
			if err != nil {
				t.Fatalf("got %v, want caller %+v", err, *tt.wantCaller)
			}
			if got != *tt.wantCaller {
				t.Errorf("caller: got %+v, want %+v", got, *tt.wantCaller)
			}
		})
	}
}

func urlRequest(auth, query string) events.LambdaFunctionURLRequest {
	req := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: "/api/jobs/j1/stream", Headers: map[string]string{"accept": "text/event-stream"}}
	if auth != "" {
		req.Headers["authorization"] = auth
	}
	if query != "" {
		req.QueryStringParameters = map[string]string{StreamTokenQuery: query}
		req.RawQueryString = StreamTokenQuery + "=" + query
	}
	return req
}

// wantUnauthorized checks the one answer every failure gets: 401
// UNAUTHORIZED with a message that does not say what was wrong.
func wantUnauthorized(t *testing.T, got httpapi.Caller, err error) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Unauthorized || e.Message != "authentication required" {
		t.Fatalf("got caller %+v, error %v; want Unauthorized \"authentication required\"", got, err)
	}
	if got != (httpapi.Caller{}) {
		t.Errorf("caller with an error: got %+v, want zero", got)
	}
}

func TestStreamAuthCognito(t *testing.T) {
	pool := newCognitoPool(t)
	auth, err := pool.app().StreamAuth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pool.urls) != 1 || pool.urls[0] != testJWKSURL {
		t.Fatalf("JWKS requests at cold start: got %v, want [%s]", pool.urls, testJWKSURL)
	}

	ada := httpapi.Caller{UserID: "user-123", Email: "ada@example.com", Role: "ADMIN"}
	valid := signToken(t, poolKey, testKid, cognitoClaims())
	bob := signToken(t, poolKey, testKid, withClaim(withClaim(cognitoClaims(), "sub", "user-456"), "email", "bob@example.com"))
	tests := []callerCase{
		{"valid header token", "Bearer " + valid, "", &ada},
		{"valid query token", "", valid, &ada},
		{"lower-case scheme", "bearer " + valid, "", &ada},
		{"bare token in the header", valid, "", &ada},
		{"header beats query", "Bearer " + valid, bob, &ada},
		{"blank header falls back to the query", "   ", valid, &ada},
		{"no role claim is a plain user", "Bearer " + signToken(t, poolKey, testKid, withClaim(cognitoClaims(), "custom:role", nil)), "",
			&httpapi.Caller{UserID: "user-123", Email: "ada@example.com", Role: "USER"}},

		{"missing token", "", "", nil},
		{"empty bearer", "Bearer ", "", nil},
		{"wrong header beats a valid query", "Bearer " + signToken(t, otherKey, testKid, cognitoClaims()), valid, nil},
		{"other scheme", "Basic dXNlcjpwYXNz", "", nil},
		{"bad signature", "Bearer " + signToken(t, otherKey, testKid, cognitoClaims()), "", nil},
		{"bad signature in the query", "", signToken(t, otherKey, testKid, cognitoClaims()), nil},
		{"wrong issuer", "Bearer " + signToken(t, poolKey, testKid, withClaim(cognitoClaims(), "iss", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other")), "", nil},
		{"wrong audience", "Bearer " + signToken(t, poolKey, testKid, withClaim(cognitoClaims(), "aud", "another-client")), "", nil},
		{"access token instead of id", "Bearer " + signToken(t, poolKey, testKid,
			withClaim(withClaim(withClaim(cognitoClaims(), "aud", nil), "client_id", testClient), "token_use", "access")), "", nil},
		{"expired", "Bearer " + signToken(t, poolKey, testKid, withClaim(cognitoClaims(), "exp", time.Now().Add(-2*time.Minute).Unix())), "", nil},
		{"no subject", "Bearer " + signToken(t, poolKey, testKid, withClaim(cognitoClaims(), "sub", nil)), "", nil},
		{"the EC key's kid", "Bearer " + signToken(t, poolKey, "ec-kid", cognitoClaims()), "", nil},
		{"unknown kid", "Bearer " + signToken(t, otherKey, "rotated-kid", cognitoClaims()), "", nil},
		{"two query values", "", valid + "," + valid, nil},
	}
	checkCallers(t, auth, tests)
	// The unknown kid came within a minute of the cold-start fetch: the
	// JWKS was not fetched again (the rotation itself is pkg/jwtauth's test).
	if got := pool.hits.Load(); got != 1 {
		t.Errorf("JWKS fetches: got %d, want 1 (cold start only)", got)
	}
}

func TestStreamAuthCognitoColdStartFails(t *testing.T) {
	tests := []struct {
		name    string
		app     func(t *testing.T) *App
		wantErr string
	}{
		{"JWKS endpoint down", func(t *testing.T) *App {
			p := newCognitoPool(t)
			p.srv.Close()
			return p.app()
		}, "jwks"},
		{"no region", func(t *testing.T) *App {
			a := newCognitoPool(t).app()
			a.AWS.Region = ""
			return a
		}, "no AWS region"},
		{"no provider", func(t *testing.T) *App {
			a := newCognitoPool(t).app()
			a.Config.IdentityProvider = ""
			return a
		}, "unknown identity provider"},
		{"no client id", func(t *testing.T) *App {
			a := newCognitoPool(t).app()
			a.Config.CognitoClientID = ""
			return a
		}, "empty audience"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := tt.app(t).StreamAuth(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, %v; want an error containing %q", auth, err, tt.wantErr)
			}
		})
	}
}

// writeKeyFile writes key as the local identity provider stores it.
func writeKeyFile(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStreamAuthLocal(t *testing.T) {
	key := mustRSA()
	a := &App{Config: Config{IdentityProvider: ProviderLocal, LocalKeyFile: writeKeyFile(t, key), LocalIssuer: localIssuer, LocalAudience: localAudience}}
	auth, err := a.StreamAuth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kid := localidp.KeyID(&key.PublicKey)
	// The claims localidp.Provider.Authenticate issues.
	claims := func() jwt.MapClaims {
		now := time.Now().Truncate(time.Second)
		return jwt.MapClaims{"sub": "01J0LOCALUSER", "email": "ada@example.com", "name": "Ada", "custom:role": "BILLING_ADMIN",
			"iss": localIssuer, "aud": localAudience, "token_use": "id", "iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	tests := []callerCase{
		{"valid header token", "Bearer " + signToken(t, key, kid, claims()), "", &httpapi.Caller{UserID: "01J0LOCALUSER", Email: "ada@example.com", Role: "BILLING_ADMIN"}},
		{"valid query token", "", signToken(t, key, kid, claims()), &httpapi.Caller{UserID: "01J0LOCALUSER", Email: "ada@example.com", Role: "BILLING_ADMIN"}},
		{"missing token", "", "", nil},
		{"another key under our kid", "Bearer " + signToken(t, otherKey, kid, claims()), "", nil},
		{"a Cognito pool's token", "Bearer " + signToken(t, poolKey, testKid, cognitoClaims()), "", nil},
		{"wrong issuer", "Bearer " + signToken(t, key, kid, withClaim(claims(), "iss", testIssuer)), "", nil},
		{"wrong audience", "Bearer " + signToken(t, key, kid, withClaim(claims(), "aud", testClient)), "", nil},
		{"expired", "Bearer " + signToken(t, key, kid, withClaim(claims(), "exp", time.Now().Add(-2*time.Minute).Unix())), "", nil},
	}
	checkCallers(t, auth, tests)
}

func TestStreamAuthLocalBadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &App{Config: Config{IdentityProvider: ProviderLocal, LocalKeyFile: path, LocalIssuer: localIssuer, LocalAudience: localAudience}}
	if auth, err := a.StreamAuth(context.Background()); err == nil {
		t.Fatalf("got %v, want an error for a corrupt key file", auth)
	}
}
