package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/httpapi"
	"github.com/brightrun/brightrun/pkg/route"
	"github.com/brightrun/brightrun/pkg/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.MainWithDynamo(m)) }

var ctx = context.Background()

type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Fields  map[string][]string `json:"fields"`
	} `json:"error"`
}

func decode(t *testing.T, r events.APIGatewayV2HTTPResponse) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	if e.Success != (r.StatusCode < 400) {
		t.Fatalf("success=%v with status %d", e.Success, r.StatusCode)
	}
	return e
}

func authed(userID, role string, body string) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{Body: body, RawPath: "/api/things", Headers: map[string]string{}}
	ev.RequestContext.RequestID = "req-1"
	ev.RequestContext.HTTP.Method = "POST"
	claims := map[string]string{"sub": userID}
	if role != "" {
		claims["custom:role"] = role
	}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}}
	return ev
}

func server(logs *bytes.Buffer) *httpapi.Server {
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	return &httpapi.Server{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
}

var plain = route.Route{Method: "POST", Path: "/api/things", Function: "make-thing"}

func TestErrorKindsMapToStatus(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"invalid", apperr.New(apperr.Invalid, "bad"), 400, "VALIDATION_ERROR"},
		{"fields", apperr.Fields{"name": {"is required"}}.Err(), 400, "VALIDATION_ERROR"},
		{"unauthorized", apperr.New(apperr.Unauthorized, "no"), 401, "UNAUTHORIZED"},
		{"forbidden", apperr.New(apperr.Forbidden, "no"), 403, "FORBIDDEN"},
		{"not found", apperr.NotFoundf("thing"), 404, "NOT_FOUND"},
		{"conflict", apperr.New(apperr.Conflict, "state"), 409, "CONFLICT"},
		{"refined code", apperr.New(apperr.Conflict, "taken").WithCode("EMAIL_EXISTS"), 409, "EMAIL_EXISTS"},
		{"precondition", apperr.New(apperr.PreconditionFailed, "etag"), 412, "PRECONDITION_FAILED"},
		{"too large", apperr.New(apperr.TooLarge, "big"), 413, "PAYLOAD_TOO_LARGE"},
		{"wrapped kind", errors.Join(errors.New("ctx"), apperr.NotFoundf("thing")), 404, "NOT_FOUND"},
		{"internal", apperr.Wrap(errors.New("dynamodb: secret table arn"), "get"), 500, "INTERNAL_ERROR"},
		{"plain error", errors.New("boom at 10.0.0.1"), 500, "INTERNAL_ERROR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs := &bytes.Buffer{}
			h := server(logs).Handle(plain, func(context.Context, *httpapi.Request) (httpapi.Response, error) { return httpapi.Response{}, c.err })
			res, err := h(ctx, authed("u1", "", "{}"))
			if err != nil {
				t.Fatalf("handler returned error %v: API handlers must answer, not fail", err)
			}
			e := decode(t, res)
			if res.StatusCode != c.status || e.Error.Code != c.code {
				t.Fatalf("got %d %s, want %d %s", res.StatusCode, e.Error.Code, c.status, c.code)
			}
			if c.status == 500 {
				if e.Error.Message != "internal error" || strings.Contains(res.Body, "secret") || strings.Contains(res.Body, "10.0.0.1") {
					t.Errorf("internal error leaked: %s", res.Body)
				}
				if n := strings.Count(logs.String(), `"level":"ERROR"`); n != 1 || !strings.Contains(logs.String(), `"request_id":"req-1"`) {
					t.Errorf("want the internal error logged once with the request id, got %d: %s", n, logs)
				}
			} else if strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("client errors must not be logged as errors: %s", logs)
			}
		})
	}
}

func TestPanicIsAnInternalError(t *testing.T) {
	logs := &bytes.Buffer{}
	h := server(logs).Handle(plain, func(context.Context, *httpapi.Request) (httpapi.Response, error) { panic("nil map") })
	res, err := h(ctx, authed("u1", "", "{}"))
	if err != nil || res.StatusCode != 500 || decode(t, res).Error.Message != "internal error" {
		t.Fatalf("got %d %s %v, want 500 internal error", res.StatusCode, res.Body, err)
	}
	if !strings.Contains(logs.String(), "nil map") {
		t.Errorf("panic not logged: %s", logs)
	}
}

func TestAuthAndRoles(t *testing.T) {
	admin := route.Route{Method: "POST", Path: "/api/admin/x", Function: "admin-x", Roles: []string{route.RoleAdmin}}
	public := route.Route{Method: "POST", Path: "/api/auth/x", Function: "auth-x", Public: true}
	noClaims := authed("u1", "", "{}")
	noClaims.RequestContext.Authorizer = nil
	emptySub := authed("", "USER", "{}")
	cases := []struct {
		name   string
		r      route.Route
		ev     events.APIGatewayV2HTTPRequest
		status int
		caller string
	}{
		{"no claims", plain, noClaims, 401, ""},
		{"empty subject", plain, emptySub, 401, ""},
		{"user on plain route", plain, authed("u1", "USER", "{}"), 200, "u1 USER"},
		{"missing role claim means USER", plain, authed("u1", "", "{}"), 200, "u1 USER"},
		{"user on admin route", admin, authed("u1", "USER", "{}"), 403, ""},
		{"billing admin on admin route", admin, authed("u1", "BILLING_ADMIN", "{}"), 403, ""},
		{"admin on admin route", admin, authed("u2", "ADMIN", "{}"), 200, "u2 ADMIN"},
		{"public route without claims", public, noClaims, 200, " "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			called := ""
			h := server(nil).Handle(c.r, func(_ context.Context, req *httpapi.Request) (httpapi.Response, error) {
				called = req.Caller.UserID + " " + req.Caller.Role
				return httpapi.OK(nil), nil
			})
			res, _ := h(ctx, c.ev)
			if res.StatusCode != c.status || called != c.caller {
				t.Fatalf("got %d, handler saw %q; want %d, %q", res.StatusCode, called, c.status, c.caller)
			}
		})
	}
}

type thing struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Inner struct {
		Flag bool `json:"flag"`
	} `json:"inner"`
}

func TestDecode(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name   string
		body   string
		base64 bool
		status int
		field  string
	}{
		{"valid", `{"name":"a","count":2,"inner":{"flag":true}}`, false, 200, ""},
		{"valid base64", b64(`{"name":"a"}`), true, 200, ""},
		{"empty", ``, false, 400, "body"},
		{"whitespace", " \n", false, 400, "body"},
		{"malformed", `{"name":`, false, 400, "body"},
		{"syntax error", `{"name" "a"}`, false, 400, "body"},
		{"array", `[1]`, false, 400, "body"},
		{"trailing object", `{"name":"a"} {"name":"b"}`, false, 400, "body"},
		{"trailing garbage", `{"name":"a"} x`, false, 400, "body"},
		{"wrong type", `{"count":"two"}`, false, 400, "count"},
		{"nested wrong type", `{"inner":{"flag":"yes"}}`, false, 400, "inner.flag"},
		{"unknown field", `{"nmae":"a"}`, false, 400, "nmae"},
		{"bad base64", `%%%`, true, 400, ""},
		{"over 1 MiB", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, false, 413, ""},
		{"over 1 MiB base64", b64(`{"name":"` + strings.Repeat("a", 1<<20) + `"}`), true, 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := server(nil).Handle(plain, func(_ context.Context, req *httpapi.Request) (httpapi.Response, error) {
				var v thing
				if err := req.Decode(&v); err != nil {
					return httpapi.Response{}, err
				}
				return httpapi.OK(v), nil
			})
			ev := authed("u1", "", c.body)
			ev.IsBase64Encoded = c.base64
			res, _ := h(ctx, ev)
			e := decode(t, res)
			if res.StatusCode != c.status {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Body, c.status)
			}
			if c.field != "" {
				if msgs := e.Error.Fields[c.field]; len(msgs) == 0 || msgs[0] == "" {
					t.Fatalf("fields: got %v, want a message for %q", e.Error.Fields, c.field)
				}
			}
		})
	}
}

func TestPageParams(t *testing.T) {
	cases := []struct {
		query map[string]string
		want  httpapi.Page
		bad   []string
	}{
		{nil, httpapi.Page{Number: 1, Limit: 20}, nil},
		{map[string]string{"page": "3", "limit": "100"}, httpapi.Page{Number: 3, Limit: 100}, nil},
		{map[string]string{"cursor": "abc", "limit": "5"}, httpapi.Page{Number: 1, Limit: 5, Cursor: "abc"}, nil},
		{map[string]string{"page": "0"}, httpapi.Page{}, []string{"page"}},
		{map[string]string{"page": "x", "limit": "101"}, httpapi.Page{}, []string{"page", "limit"}},
		{map[string]string{"limit": "0"}, httpapi.Page{}, []string{"limit"}},
		{map[string]string{"limit": "-1"}, httpapi.Page{}, []string{"limit"}},
		{map[string]string{"page": "2", "cursor": "abc"}, httpapi.Page{}, []string{"page"}},
		{map[string]string{"cursor": strings.Repeat("c", 3000)}, httpapi.Page{}, []string{"cursor"}},
	}
	for _, c := range cases {
		req := &httpapi.Request{Event: events.APIGatewayV2HTTPRequest{QueryStringParameters: c.query}}
		got, err := req.PageParams()
		if len(c.bad) == 0 {
			if err != nil || got != c.want {
				t.Errorf("%v: got %+v, %v; want %+v", c.query, got, err, c.want)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Invalid {
			t.Errorf("%v: got %v, want Invalid", c.query, err)
			continue
		}
		for _, f := range c.bad {
			if len(e.Fields[f]) == 0 {
				t.Errorf("%v: fields %v, want %q", c.query, e.Fields, f)
			}
		}
	}
	if got := httpapi.TotalPages(41, 20); got != 3 {
		t.Errorf("TotalPages(41, 20): got %d, want 3", got)
	}
	if got := httpapi.TotalPages(0, 20); got != 0 {
		t.Errorf("TotalPages(0, 20): got %d, want 0", got)
	}
}

func TestBodyLimitIsConfigurable(t *testing.T) {
	s := server(nil)
	s.BodyLimit = 10
	h := s.Handle(plain, func(context.Context, *httpapi.Request) (httpapi.Response, error) { return httpapi.OK(nil), nil })
	res, _ := h(ctx, authed("u1", "", `{"name":"abcdef"}`))
	if e := decode(t, res); res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(e.Error.Message, "10 bytes") {
		t.Fatalf("got %d %s, want 413 naming the limit", res.StatusCode, res.Body)
	}
}
