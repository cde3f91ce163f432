// Package gateway is the local stand-in for API Gateway's HTTP API: it
// serves the shared route table, checks bearer tokens the way the JWT
// authorizer does, builds payload-format-2.0 events, invokes the route's
// function and translates its response, with API Gateway's own answers for
// unknown routes (404), failed authorization (401), oversized bodies (413)
// and function errors (500).
//
// Stream routes (route.Route.Stream) stand in for a Lambda Function URL in
// RESPONSE_STREAM mode instead, which is how they are deployed: no
// authorizer (the function checks the token), a Function URL event, and
// the function's streamed response passed on chunk by chunk (stream.go).
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/route"
)

// MaxBody is API Gateway's payload limit.
const MaxBody = 10 << 20

// Invoker runs a function (lambdahost.Host in the local stack).
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
	// InvokeStream runs a function whose response is streamed: it returns
	// once the response has begun, and each read yields what the function
	// wrote. Ending ctx or closing the reader ends the invocation.
	InvokeStream(ctx context.Context, function string, payload []byte) (io.ReadCloser, error)
}

// Verifier checks a token and returns its claims as strings.
type Verifier interface {
	Verify(token string) (map[string]string, error)
}

// Gateway is an http.Handler.
type Gateway struct {
	Routes      []route.Route
	Invoker     Invoker
	Verifier    Verifier
	CORSOrigins []string // allowed browser origins; "*" allows any
	Logger      *slog.Logger
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("Apigw-Requestid", reqID)
	if g.cors(w, r) {
		return
	}
	rt, params, ok := g.match(r.Method, r.URL.Path)
	if !ok {
		message(w, http.StatusNotFound, "Not Found")
		return
	}
	if rt.Stream {
		// Before the authorizer: a Function URL has none.
		g.serveStream(w, r, rt, reqID)
		return
	}
	var claims map[string]string
	if !rt.Public {
		tok := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		c, err := g.Verifier.Verify(tok)
		if tok == "" || err != nil {
			message(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		claims = c
	}
	body, ok := readBody(w, r, MaxBody)
	if !ok {
		return
	}
	ev := event(r, rt, params, claims, body, reqID)
	payload, err := json.Marshal(ev)
	if err != nil {
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	out, err := g.Invoker.Invoke(r.Context(), rt.Function, payload)
	if err != nil {
		g.logger().Error("function error", "function", rt.Function, "request_id", reqID, "error", err.Error())
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil || res.StatusCode == 0 {
		g.logger().Error("malformed function response", "function", rt.Function, "request_id", reqID)
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	for k, v := range res.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range res.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range res.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	respBody := []byte(res.Body)
	if res.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
			message(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(respBody)
}

// readBody reads the request body up to limit bytes; it answers 400 or 413
// and reports false if it cannot.
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		message(w, http.StatusBadRequest, "Bad Request")
		return nil, false
	}
	if len(body) > limit {
		message(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return nil, false
	}
	return body, true
}

func (g *Gateway) match(method, path string) (route.Route, map[string]string, bool) {
	for _, rt := range g.Routes {
		if params, ok := rt.Match(method, path); ok {
			return rt, params, true
		}
	}
	return route.Route{}, nil, false
}

// cors answers preflight requests and adds CORS headers, as an HTTP API
// with a CORS configuration does. It reports whether it answered.
func (g *Gateway) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !g.originAllowed(origin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Apigw-Requestid, Idempotent-Replayed")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS")
		// Last-Event-ID: an event stream client resuming after a reconnect.
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

func (g *Gateway) originAllowed(origin string) bool {
	for _, o := range g.CORSOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// event builds the payload-format-2.0 event API Gateway would send.
func event(r *http.Request, rt route.Route, params, claims map[string]string, body []byte, reqID string) events.APIGatewayV2HTTPRequest {
	now := time.Now().UTC()
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		if strings.EqualFold(k, "Cookie") {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					cookies = append(cookies, strings.TrimSpace(c))
				}
			}
			continue
		}
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.Key(),
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   rt.Key(),
			AccountID:  "000000000000",
			Stage:      "$default",
			RequestID:  reqID,
			APIID:      "local",
			DomainName: r.Host,
			Time:       now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto,
				SourceIP: sourceIP(r.RemoteAddr), UserAgent: r.UserAgent(),
			},
		},
	}
	if claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	if len(body) > 0 {
		if textual(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// sourceIP is the client address without its port; IPv6 included.
func sourceIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// textual reports whether API Gateway would pass the body as text.
func textual(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-www-form-urlencoded"
}

func message(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (g *Gateway) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.Default()
	}
	return g.Logger
}
