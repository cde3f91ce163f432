package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/brightrun/brightrun/pkg/gateway"
	"github.com/brightrun/brightrun/pkg/localidp"
	"github.com/brightrun/brightrun/pkg/route"
)

const (
	issuer        = "http://127.0.0.1:4000/local-idp"
	audience      = "brightrun-local"
	allowedOrigin = "http://localhost:5173"
)

var (
	now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Generated once: RSA key generation is slow under -race.
	signingKey, otherKey = genKey(), genKey()
)

func genKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

var routes = []route.Route{
	{Method: "POST", Path: "/api/auth/login", Function: "log-in", Public: true},
	{Method: "GET", Path: "/api/me", Function: "get-me"},
	{Method: "POST", Path: "/api/items", Function: "create-item"},
	{Method: "GET", Path: "/api/datasets/{id}", Function: "get-dataset"},
	{Method: "PATCH", Path: "/api/datasets/{id}/files/{name}", Function: "patch-file"},
	{Method: "GET", Path: "/api/jobs/{id}/stream", Function: "stream-job", Stream: true},
}

// fakeInvoker records every invocation and answers with a canned response.
type fakeInvoker struct {
	mu       sync.Mutex
	calls    []invocation
	response []byte
	err      error
	// stream answers InvokeStream (stream.go); nil answers okStream.
	stream  func(ctx context.Context) (io.ReadCloser, error)
	streams []streamInvocation
}

type invocation struct {
	function string
	event    events.APIGatewayV2HTTPRequest
	raw      []byte
}

func (f *fakeInvoker) Invoke(_ context.Context, function string, payload []byte) ([]byte, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, invocation{function: function, event: ev, raw: payload})
	if f.err != nil {
		return nil, f.err
	}
	if f.response != nil {
		return f.response, nil
	}
	return []byte(`{"statusCode":200,"headers":{"Content-Type":"application/json"},"body":"{\"ok\":true}"}`), nil
}

func (f *fakeInvoker) only(t *testing.T) invocation {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) != 1 {
		t.Fatalf("invocations: got %d, want 1", len(f.calls))
	}
	return f.calls[0]
}

// count is the number of invocations, streamed or not.
func (f *fakeInvoker) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls) + len(f.streams)
}

func newGateway(inv *fakeInvoker) *gateway.Gateway {
	return &gateway.Gateway{
		Routes:      routes,
		Invoker:     inv,
		Verifier:    localidp.NewVerifier(&signingKey.PublicKey, issuer, audience, func() time.Time { return now }),
		CORSOrigins: []string{allowedOrigin},
		Logger:      slog.New(slog.DiscardHandler),
	}
}

// claims are those of a valid local ID token.
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":         "user-123",
		"email":       "ada@example.com",
		"custom:role": "ADMIN",
		"token_use":   "id",
		"iss":         issuer,
		"aud":         audience,
		"iat":         now.Add(-time.Minute).Unix(),
		"exp":         now.Add(time.Hour).Unix(),
	}
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validToken(t *testing.T) string {
	return sign(t, signingKey, localidp.KeyID(&signingKey.PublicKey), claims())
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c = maps.Clone(c)
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

type reqOpt func(*http.Request)

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Add(k, v) } }
func bearer(tok string) reqOpt  { return header("Authorization", "Bearer "+tok) }

func serve(g *gateway.Gateway, method, target string, body io.Reader, opts ...reqOpt) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, body)
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	return w
}

func wantMessage(t *testing.T, w *httptest.ResponseRecorder, status int, msg string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status: got %d, want %d (body %q)", w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	if want := map[string]string{"message": msg}; !reflect.DeepEqual(got, want) {
		t.Errorf("body: got %v, want %v", got, want)
	}
}

func TestRouteMatching(t *testing.T) {
	tok := validToken(t)
	tests := []struct {
		method, path string
		wantFunction string // "" means 404
		wantParams   map[string]string
		wantRouteKey string
	}{
		{"GET", "/api/me", "get-me", nil, "GET /api/me"},
		{"POST", "/api/auth/login", "log-in", nil, "POST /api/auth/login"},
		{"GET", "/api/datasets/ds_01H", "get-dataset", map[string]string{"id": "ds_01H"}, "GET /api/datasets/{id}"},
		{"PATCH", "/api/datasets/ds1/files/train.jsonl", "patch-file", map[string]string{"id": "ds1", "name": "train.jsonl"}, "PATCH /api/datasets/{id}/files/{name}"},
		{"GET", "/api/unknown", "", nil, ""},
		{"GET", "/", "", nil, ""},
		{"GET", "/api/datasets", "", nil, ""},
		{"GET", "/api/datasets/ds1/extra", "", nil, ""},
		{"PATCH", "/api/datasets//files/x", "", nil, ""},
		{"DELETE", "/api/me", "", nil, ""},          // wrong method
		{"GET", "/api/auth/login", "", nil, ""},     // wrong method, public path
		{"PATCH", "/api/datasets/ds1", "", nil, ""}, // wrong method, parameterised path
		{"OPTIONS", "/api/me", "", nil, ""},         // no Origin: not a preflight
		{"GET", "/API/ME", "", nil, ""},             // paths are case-sensitive
		{"POST", "/api/auth/login/x", "", nil, ""},  // longer than the route
		{"POST", "/api/auth", "", nil, ""},          // shorter than the route
		{"GET", "/api/datasets/{id}", "get-dataset", map[string]string{"id": "{id}"}, "GET /api/datasets/{id}"},
		// wrong method, stream route
		{"POST", "/api/jobs/j1/stream", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			inv := &fakeInvoker{}
			w := serve(newGateway(inv), tt.method, tt.path, nil, bearer(tok))
			if tt.wantFunction == "" {
				wantMessage(t, w, http.StatusNotFound, "Not Found")
				if n := inv.count(); n != 0 {
					t.Errorf("invocations: got %d, want 0", n)
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200 (body %q)", w.Code, w.Body.String())
			}
			got := inv.only(t)
			if got.function != tt.wantFunction {
				t.Errorf("function: got %q, want %q", got.function, tt.wantFunction)
			}
			if !reflect.DeepEqual(got.event.PathParameters, tt.wantParams) {
				t.Errorf("pathParameters: got %v, want %v", got.event.PathParameters, tt.wantParams)
			}
			if got.event.RouteKey != tt.wantRouteKey || got.event.RequestContext.RouteKey != tt.wantRouteKey {
				t.Errorf("routeKey: got %q / %q, want %q", got.event.RouteKey, got.event.RequestContext.RouteKey, tt.wantRouteKey)
			}
		})
	}
}

func TestNotFoundComesBeforeAuthorization(t *testing.T) {
	inv := &fakeInvoker{}
	w := serve(newGateway(inv), "GET", "/api/nowhere", nil)
	wantMessage(t, w, http.StatusNotFound, "Not Found")
}

func TestPublicRouteNeedsNoToken(t *testing.T) {
	for _, auth := range []string{"", "Bearer garbage"} {
		t.Run("Authorization="+auth, func(t *testing.T) {
			inv := &fakeInvoker{}
			var opts []reqOpt
			if auth != "" {
				opts = append(opts, header("Authorization", auth))
			}
			w := serve(newGateway(inv), "POST", "/api/auth/login", strings.NewReader(`{"email":"a@b.c"}`), opts...)
			if w.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200 (body %q)", w.Code, w.Body.String())
			}
			if a := inv.only(t).event.RequestContext.Authorizer; a != nil {
				t.Errorf("authorizer on a public route: got %+v, want none", a)
			}
		})
	}
}

func TestUnauthorized(t *testing.T) {
	kid := localidp.KeyID(&signingKey.PublicKey)
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	hs256 := func() string {
		// The classic confusion: HMAC keyed with the RSA public key.
		pub, err := x509.MarshalPKIXPublicKey(&signingKey.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
		tok.Header["kid"] = kid
		s, err := tok.SignedString(pub)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	valid := validToken(t)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else","iss":"`+issuer+`","aud":"`+audience+`","exp":9999999999}`)) + "." + parts[2]

	tests := []struct {
		name string
		auth string // Authorization header; "" means none
	}{
		{"missing token", ""},
		{"empty bearer", "Bearer "},
		{"malformed token", "Bearer not.a.jwt"},
		{"garbage", "Bearer garbage"},
		{"other scheme", "Basic dXNlcjpwYXNz"},
		{"expired", "Bearer " + sign(t, signingKey, kid, with(claims(), "exp", now.Add(-time.Second).Unix()))},
		{"no exp", "Bearer " + sign(t, signingKey, kid, with(claims(), "exp", nil))},
		{"not yet valid (nbf)", "Bearer " + sign(t, signingKey, kid, with(claims(), "nbf", now.Add(time.Hour).Unix()))},
		{"issued in the future", "Bearer " + sign(t, signingKey, kid, with(claims(), "iat", now.Add(time.Hour).Unix()))},
		{"signed by another key, its own kid", "Bearer " + sign(t, otherKey, localidp.KeyID(&otherKey.PublicKey), claims())},
		{"signed by another key, our kid", "Bearer " + sign(t, otherKey, kid, claims())},
		{"no kid", "Bearer " + sign(t, signingKey, "", claims())},
		{"payload tampered", "Bearer " + tampered},
		{"wrong issuer", "Bearer " + sign(t, signingKey, kid, with(claims(), "iss", "https://cognito-idp.us-east-1.amazonaws.com/other"))},
		{"no issuer", "Bearer " + sign(t, signingKey, kid, with(claims(), "iss", nil))},
		{"wrong audience", "Bearer " + sign(t, signingKey, kid, with(claims(), "aud", "another-client"))},
		{"no audience", "Bearer " + sign(t, signingKey, kid, with(claims(), "aud", nil))},
		{"alg none", "Bearer " + none},
		{"HS256 keyed with the public key", "Bearer " + hs256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{}
			var opts []reqOpt
			if tt.auth != "" {
				opts = append(opts, header("Authorization", tt.auth))
			}
			w := serve(newGateway(inv), "POST", "/api/items", strings.NewReader(`{"x":1}`), opts...)
			wantMessage(t, w, http.StatusUnauthorized, "Unauthorized")
			if n := inv.count(); n != 0 {
				t.Errorf("invocations: got %d, want 0", n)
			}
		})
	}
}

func TestValidTokenClaimsReachTheFunction(t *testing.T) {
	kid := localidp.KeyID(&signingKey.PublicKey)
	tok := validToken(t)
	tests := []struct {
		name string
		auth string
	}{
		{"Bearer prefix", "Bearer " + tok},
		{"bare token", tok},
		{"audience as client_id (access token)", "Bearer " + sign(t, signingKey, kid, with(with(claims(), "aud", nil), "client_id", audience))},
		{"audience in a list", "Bearer " + sign(t, signingKey, kid, with(claims(), "aud", []string{"x", audience}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{}
			w := serve(newGateway(inv), "GET", "/api/me", nil, header("Authorization", tt.auth))
			if w.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200 (body %q)", w.Code, w.Body.String())
			}
			a := inv.only(t).event.RequestContext.Authorizer
			if a == nil || a.JWT == nil {
				t.Fatalf("requestContext.authorizer.jwt: got %+v, want claims", a)
			}
			want := map[string]string{
				"sub":         "user-123",
				"email":       "ada@example.com",
				"custom:role": "ADMIN",
				"token_use":   "id",
				"iss":         issuer,
				"exp":         strconv.FormatInt(now.Add(time.Hour).Unix(), 10),
			}
			for k, v := range want {
				if got := a.JWT.Claims[k]; got != v {
					t.Errorf("claim %q: got %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	tests := []struct {
		name       string
		size       int
		wantStatus int
	}{
		{"exactly 10 MiB", gateway.MaxBody, http.StatusOK},
		{"one byte over", gateway.MaxBody + 1, http.StatusRequestEntityTooLarge},
		{"far over", 3 * gateway.MaxBody, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{}
			body := bytes.Repeat([]byte("a"), tt.size)
			w := serve(newGateway(inv), "POST", "/api/items", bytes.NewReader(body), bearer(validToken(t)), header("Content-Type", "text/plain"))
			if tt.wantStatus != http.StatusOK {
				wantMessage(t, w, tt.wantStatus, "Request Entity Too Large")
				if n := inv.count(); n != 0 {
					t.Errorf("invocations: got %d, want 0", n)
				}
				return
			}
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if got := len(inv.only(t).event.Body); got != tt.size {
				t.Errorf("body length in the event: got %d, want %d", got, tt.size)
			}
		})
	}
}

func TestRequestBodyEncoding(t *testing.T) {
	binary := []byte{0x89, 'P', 'N', 'G', 0x00, 0xff, 0xfe, '\n'}
	tests := []struct {
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"application/json", []byte(`{"name":"ds","n":1.50}`), false},
		{"application/json; charset=utf-8", []byte(`{"é":"ü"}`), false},
		{"application/merge-patch+json", []byte(`{"a":null}`), false},
		{"text/csv", []byte("a,b\n1,2\n"), false},
		{"application/x-www-form-urlencoded", []byte("a=1&b=2"), false},
		{"", []byte(`{"no":"content-type"}`), false},
		{"application/octet-stream", binary, true},
		{"image/png", binary, true},
		{"multipart/form-data; boundary=x", []byte("--x\r\n\r\n--x--"), true},
		{"not a media type;;", []byte("x"), true},
		{"application/json", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.contentType+"/"+strconv.Itoa(len(tt.body)), func(t *testing.T) {
			inv := &fakeInvoker{}
			opts := []reqOpt{bearer(validToken(t))}
			if tt.contentType != "" {
				opts = append(opts, header("Content-Type", tt.contentType))
			}
			w := serve(newGateway(inv), "POST", "/api/items", bytes.NewReader(tt.body), opts...)
			if w.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", w.Code)
			}
			ev := inv.only(t).event
			if ev.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("isBase64Encoded: got %v, want %v", ev.IsBase64Encoded, tt.wantBase64)
			}
			got := []byte(ev.Body)
			if ev.IsBase64Encoded {
				var err error
				if got, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatalf("body %q is not base64: %v", ev.Body, err)
				}
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("body: got %q, want %q", got, tt.body)
			}
		})
	}
}

func TestEventMapping(t *testing.T) {
	inv := &fakeInvoker{}
	g := newGateway(inv)
	r := httptest.NewRequest("GET", "/api/datasets/ds_1?limit=10&tag=a&tag=b&q=hello%20world", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	r.Header.Set("Authorization", "Bearer "+validToken(t))
	r.Header.Set("X-Custom-Thing", "v1")
	r.Header.Add("Accept", "application/json")
	r.Header.Add("Accept", "text/plain")
	r.Header.Set("Idempotency-Key", "k-1")
	r.Header.Set("User-Agent", "test-agent/1.0")
	r.Header.Add("Cookie", "session=abc; theme=dark")
	r.Header.Add("Cookie", "lang=en")
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200", w.Code)
	}
	got := inv.only(t)
	ev := got.event

	if ev.Version != "2.0" {
		t.Errorf("version: got %q, want 2.0", ev.Version)
	}
	if want := map[string]string{"limit": "10", "tag": "a,b", "q": "hello world"}; !reflect.DeepEqual(ev.QueryStringParameters, want) {
		t.Errorf("queryStringParameters: got %v, want %v", ev.QueryStringParameters, want)
	}
	if want := "limit=10&tag=a&tag=b&q=hello%20world"; ev.RawQueryString != want {
		t.Errorf("rawQueryString: got %q, want %q", ev.RawQueryString, want)
	}
	if want := "/api/datasets/ds_1"; ev.RawPath != want {
		t.Errorf("rawPath: got %q, want %q", ev.RawPath, want)
	}
	for k, v := range map[string]string{
		"x-custom-thing":  "v1",
		"accept":          "application/json,text/plain",
		"idempotency-key": "k-1",
		"user-agent":      "test-agent/1.0",
	} {
		if ev.Headers[k] != v {
			t.Errorf("header %q: got %q, want %q", k, ev.Headers[k], v)
		}
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header name %q is not lower-case", k)
		}
	}
	if c, ok := ev.Headers["cookie"]; ok {
		t.Errorf("cookie header: got %q, want it moved to cookies", c)
	}
	if want := []string{"session=abc", "theme=dark", "lang=en"}; !reflect.DeepEqual(ev.Cookies, want) {
		t.Errorf("cookies: got %q, want %q", ev.Cookies, want)
	}

	rc := ev.RequestContext
	if rc.HTTP.Method != "GET" || rc.HTTP.Path != "/api/datasets/ds_1" || rc.HTTP.SourceIP != "192.0.2.7" || rc.HTTP.UserAgent != "test-agent/1.0" {
		t.Errorf("requestContext.http: got %+v", rc.HTTP)
	}
	if rc.Stage != "$default" || rc.APIID == "" || rc.AccountID == "" || rc.DomainName != "example.com" {
		t.Errorf("requestContext: got stage %q apiId %q accountId %q domainName %q", rc.Stage, rc.APIID, rc.AccountID, rc.DomainName)
	}
	if rc.RequestID == "" || rc.RequestID != w.Header().Get("Apigw-Requestid") {
		t.Errorf("requestId: got %q, want it equal to the Apigw-Requestid header %q", rc.RequestID, w.Header().Get("Apigw-Requestid"))
	}
	if d := time.Since(time.UnixMilli(rc.TimeEpoch)); d < 0 || d > time.Minute {
		t.Errorf("timeEpoch: got %d, want about now", rc.TimeEpoch)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time); err != nil {
		t.Errorf("time %q: %v", rc.Time, err)
	}
	// The raw JSON uses API Gateway's field names.
	for _, field := range []string{`"rawPath"`, `"routeKey"`, `"requestContext"`, `"http"`, `"sourceIp"`} {
		if !bytes.Contains(got.raw, []byte(field)) {
			t.Errorf("event JSON lacks %s: %s", field, got.raw)
		}
	}
}

func TestNoQueryNoCookies(t *testing.T) {
	inv := &fakeInvoker{}
	serve(newGateway(inv), "GET", "/api/me", nil, bearer(validToken(t)))
	ev := inv.only(t).event
	if ev.QueryStringParameters != nil || ev.Cookies != nil || ev.PathParameters != nil {
		t.Errorf("got query %v cookies %v path %v, want all absent", ev.QueryStringParameters, ev.Cookies, ev.PathParameters)
	}
}

func TestSourceIP(t *testing.T) {
	tests := []struct{ remoteAddr, want string }{
		{"127.0.0.1:5555", "127.0.0.1"},
		{"[::1]:5555", "::1"},
		{"[2001:db8::7]:443", "2001:db8::7"},
	}
	for _, tt := range tests {
		t.Run(tt.remoteAddr, func(t *testing.T) {
			inv := &fakeInvoker{}
			serve(newGateway(inv), "POST", "/api/auth/login", nil, func(r *http.Request) { r.RemoteAddr = tt.remoteAddr })
			if got := inv.only(t).event.RequestContext.HTTP.SourceIP; got != tt.want {
				t.Errorf("sourceIp: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFunctionResponse(t *testing.T) {
	png := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
	tests := []struct {
		name        string
		response    string
		err         error
		wantStatus  int
		wantBody    []byte
		wantHeaders map[string][]string
	}{
		{
			name:       "plain JSON",
			response:   `{"statusCode":201,"headers":{"Content-Type":"application/json","Location":"/api/items/1"},"body":"{\"id\":\"1\"}"}`,
			wantStatus: 201, wantBody: []byte(`{"id":"1"}`),
			wantHeaders: map[string][]string{"Content-Type": {"application/json"}, "Location": {"/api/items/1"}},
		},
		{
			name:       "base64 body decoded",
			response:   `{"statusCode":200,"headers":{"Content-Type":"image/png"},"isBase64Encoded":true,"body":"` + base64.StdEncoding.EncodeToString(png) + `"}`,
			wantStatus: 200, wantBody: png,
			wantHeaders: map[string][]string{"Content-Type": {"image/png"}},
		},
		{
			name:       "cookies and multi-value headers",
			response:   `{"statusCode":200,"cookies":["a=1; Path=/","b=2; HttpOnly"],"multiValueHeaders":{"X-Multi":["x","y"]},"body":""}`,
			wantStatus: 200, wantBody: []byte{},
			wantHeaders: map[string][]string{"Set-Cookie": {"a=1; Path=/", "b=2; HttpOnly"}, "X-Multi": {"x", "y"}},
		},
		{
			name:       "error status passed through",
			response:   `{"statusCode":404,"body":"{\"success\":false}"}`,
			wantStatus: 404, wantBody: []byte(`{"success":false}`),
		},
		{
			name:       "invoke error",
			err:        errors.New("Runtime.ExitError: secret internal detail"),
			wantStatus: 500, wantBody: []byte("{\"message\":\"Internal Server Error\"}\n"),
		},
		{
			name:       "response is not JSON",
			response:   `not json`,
			wantStatus: 500, wantBody: []byte("{\"message\":\"Internal Server Error\"}\n"),
		},
		{
			name:       "response without statusCode",
			response:   `{"body":"x"}`,
			wantStatus: 500, wantBody: []byte("{\"message\":\"Internal Server Error\"}\n"),
		},
		{
			name:       "bad base64",
			response:   `{"statusCode":200,"isBase64Encoded":true,"body":"!!!"}`,
			wantStatus: 500, wantBody: []byte("{\"message\":\"Internal Server Error\"}\n"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{response: []byte(tt.response), err: tt.err}
			w := serve(newGateway(inv), "GET", "/api/me", nil, bearer(validToken(t)))
			if w.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if !bytes.Equal(w.Body.Bytes(), tt.wantBody) {
				t.Errorf("body: got %q, want %q", w.Body.Bytes(), tt.wantBody)
			}
			if tt.wantStatus == 500 {
				wantMessage(t, w, 500, "Internal Server Error")
			}
			for k, want := range tt.wantHeaders {
				if got := w.Header().Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if w.Header().Get("Apigw-Requestid") == "" {
				t.Error("Apigw-Requestid header missing")
			}
		})
	}
}

func TestCORS(t *testing.T) {
	tok := validToken(t)
	preflight := []reqOpt{header("Access-Control-Request-Method", "POST"), header("Access-Control-Request-Headers", "authorization,content-type")}
	tests := []struct {
		name        string
		origins     []string
		method      string
		path        string
		opts        []reqOpt
		wantStatus  int
		wantAllowed bool // CORS headers present
		wantInvoked bool
	}{
		{"preflight, allowed origin, protected route, no token", []string{allowedOrigin}, "OPTIONS", "/api/items", append([]reqOpt{header("Origin", allowedOrigin)}, preflight...), 204, true, false},
		{"preflight, allowed origin, unknown route", []string{allowedOrigin}, "OPTIONS", "/api/nowhere", append([]reqOpt{header("Origin", allowedOrigin)}, preflight...), 204, true, false},
		{"preflight, wildcard", []string{"*"}, "OPTIONS", "/api/items", append([]reqOpt{header("Origin", "http://anything.test")}, preflight...), 204, true, false},
		{"preflight, disallowed origin", []string{allowedOrigin}, "OPTIONS", "/api/items", append([]reqOpt{header("Origin", "http://evil.test")}, preflight...), 404, false, false},
		{"preflight, no origins configured", nil, "OPTIONS", "/api/items", append([]reqOpt{header("Origin", allowedOrigin)}, preflight...), 404, false, false},
		{"simple request, allowed origin", []string{allowedOrigin}, "GET", "/api/me", []reqOpt{header("Origin", allowedOrigin), bearer(tok)}, 200, true, true},
		{"simple request, disallowed origin", []string{allowedOrigin}, "GET", "/api/me", []reqOpt{header("Origin", "http://evil.test"), bearer(tok)}, 200, false, true},
		{"401 still readable by an allowed origin", []string{allowedOrigin}, "GET", "/api/me", []reqOpt{header("Origin", allowedOrigin)}, 401, true, false},
		{"preflight, stream route", []string{allowedOrigin}, "OPTIONS", "/api/jobs/j1/stream", append([]reqOpt{header("Origin", allowedOrigin)}, preflight...), 204, true, false},
		{"stream, allowed origin", []string{allowedOrigin}, "GET", "/api/jobs/j1/stream", []reqOpt{header("Origin", allowedOrigin)}, 200, true, true},
		{"stream, disallowed origin", []string{allowedOrigin}, "GET", "/api/jobs/j1/stream", []reqOpt{header("Origin", "http://evil.test")}, 200, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &fakeInvoker{}
			g := newGateway(inv)
			g.CORSOrigins = tt.origins
			w := serve(g, tt.method, tt.path, nil, tt.opts...)
			if w.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if got := inv.count() > 0; got != tt.wantInvoked {
				t.Errorf("function invoked: got %v, want %v", got, tt.wantInvoked)
			}
			h := w.Header()
			if !tt.wantAllowed {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("got header %s: %q, want no CORS headers", k, h.Get(k))
					}
				}
				return
			}
			origin := ""
			for _, o := range tt.opts {
				r := httptest.NewRequest("GET", "/", nil)
				o(r)
				if v := r.Header.Get("Origin"); v != "" {
					origin = v
				}
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, origin)
			}
			if got := h.Get("Vary"); !strings.Contains(got, "Origin") {
				t.Errorf("Vary: got %q, want Origin", got)
			}
			if tt.method != "OPTIONS" {
				if got := h.Get("Access-Control-Allow-Methods"); got != "" {
					t.Errorf("Access-Control-Allow-Methods on a non-preflight: got %q, want none", got)
				}
				return
			}
			for k, want := range map[string][]string{
				"Access-Control-Allow-Methods": {"GET", "POST", "PATCH", "DELETE"},
				"Access-Control-Allow-Headers": {"Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"},
			} {
				for _, v := range want {
					if got := h.Get(k); !strings.Contains(got, v) {
						t.Errorf("%s: got %q, want it to include %q", k, got, v)
					}
				}
			}
			if w.Body.Len() != 0 {
				t.Errorf("preflight body: got %q, want empty", w.Body.String())
			}
		})
	}
}

// Through a real server: the event reaches the function and the response
// comes back over HTTP, including a request the client streams.
func TestOverHTTP(t *testing.T) {
	inv := &fakeInvoker{response: []byte(`{"statusCode":202,"headers":{"X-Fn":"yes"},"body":"accepted"}`)}
	srv := httptest.NewServer(newGateway(inv))
	defer srv.Close()

	req, err := http.NewRequest("POST", srv.URL+"/api/items?x=1", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+validToken(t))
	req.Header.Set("Content-Type", "application/json")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 202 || string(body) != "accepted" || res.Header.Get("X-Fn") != "yes" {
		t.Errorf("got %d %q X-Fn=%q, want 202 \"accepted\" X-Fn=yes", res.StatusCode, body, res.Header.Get("X-Fn"))
	}
	ev := inv.only(t).event
	if ev.Body != `{"a":1}` || ev.QueryStringParameters["x"] != "1" || ev.RequestContext.HTTP.SourceIP != "127.0.0.1" {
		t.Errorf("event: body %q query %v sourceIp %q", ev.Body, ev.QueryStringParameters, ev.RequestContext.HTTP.SourceIP)
	}
}
