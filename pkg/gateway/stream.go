package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/route"
)

// MaxStreamBody is a Function URL's request payload limit (Lambda's 6 MB
// for a synchronous invocation).
const MaxStreamBody = 6 << 20

// maxPrelude bounds the JSON before the delimiter. API Gateway documents
// the same format with its metadata within the first 16 KB; a function
// that sends more has not sent a prelude at all.
const maxPrelude = 16 << 10

// preludeDelimiter ends the prelude of a streamed Function URL response.
var preludeDelimiter = make([]byte, 8)

// streamPrelude is what a streamed Function URL response begins with
// (aws-lambda-go: events.LambdaFunctionURLStreamingResponse).
type streamPrelude struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Cookies    []string          `json:"cookies"`
}

// serveStream answers a Stream route as a Function URL in RESPONSE_STREAM
// mode does: the request goes to the function as a Function URL event with
// no authorizer (the function checks the token itself), and its response,
// a prelude (status, headers, cookies) then the body, comes back to the
// client chunk by chunk, each flushed at once. A client that goes away
// ends the invocation (the request's context).
func (g *Gateway) serveStream(w http.ResponseWriter, r *http.Request, rt route.Route, reqID string) {
	body, ok := readBody(w, r, MaxStreamBody)
	if !ok {
		return
	}
	payload, err := json.Marshal(functionURLEvent(event(r, rt, nil, nil, body, reqID)))
	if err != nil {
		message(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	logger := g.logger().With("function", rt.Function, "request_id", reqID)
	s, err := g.Invoker.InvokeStream(r.Context(), rt.Function, payload)
	if err != nil {
		if r.Context().Err() == nil {
			logger.Error("function error", "error", err.Error())
		}
		// A Function URL answers a function error with 502, not API
		// Gateway's 500.
		message(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	defer func() { _ = s.Close() }()

	pre, rest, err := readPrelude(s)
	if err != nil {
		if r.Context().Err() == nil {
			logger.Error("malformed streamed response", "error", err.Error())
		}
		message(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	h := w.Header()
	for k, v := range pre.Headers {
		h.Set(k, v)
	}
	for _, c := range pre.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		// Else net/http would sniff a type from the first chunk.
		h.Set("Content-Type", "application/octet-stream")
	}
	w.WriteHeader(pre.StatusCode)

	rc := http.NewResponseController(w)
	// Status and headers go out before the first event: the client's
	// stream is open even while the function has nothing to say.
	if !send(w, rc, rest) {
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && !send(w, rc, buf[:n]) {
			return // the client went away; Close ends the invocation
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if r.Context().Err() != nil {
				return
			}
			// Status and headers are gone: all that is left is to break the
			// response off, so the client sees it did not end well (an
			// event stream client reconnects) rather than a clean end.
			logger.Error("function error mid-stream", "error", err.Error())
			panic(http.ErrAbortHandler)
		}
	}
}

// send writes p (if any) and flushes; it reports false if the client is
// gone.
func send(w http.ResponseWriter, rc *http.ResponseController, p []byte) bool {
	if len(p) > 0 {
		if _, err := w.Write(p); err != nil {
			return false
		}
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return false
	}
	return true
}

// readPrelude reads the prelude of a streamed Function URL response: a JSON
// object, then 8 NUL bytes. It returns the prelude (status 200 if it has
// none, as aws-lambda-go sends for a zero StatusCode) and the bytes of the
// body read with it.
func readPrelude(r io.Reader) (streamPrelude, []byte, error) {
	var got []byte
	buf := make([]byte, 4<<10)
	for {
		if i := bytes.Index(got, preludeDelimiter); i >= 0 {
			p, err := parsePrelude(got[:i])
			return p, got[i+len(preludeDelimiter):], err
		}
		if len(got) > maxPrelude+len(preludeDelimiter) {
			return streamPrelude{}, nil, fmt.Errorf("no prelude delimiter in the first %d bytes (does the function return an events.LambdaFunctionURLStreamingResponse?)", len(got))
		}
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil && bytes.Index(got, preludeDelimiter) < 0 {
			if errors.Is(err, io.EOF) {
				return streamPrelude{}, nil, fmt.Errorf("the response ended after %d bytes without a prelude delimiter (does the function return an events.LambdaFunctionURLStreamingResponse?)", len(got))
			}
			return streamPrelude{}, nil, fmt.Errorf("reading the prelude: %w", err)
		}
	}
}

func parsePrelude(raw []byte) (streamPrelude, error) {
	var p streamPrelude
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return p, fmt.Errorf("prelude %.100q is not a JSON object", raw)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("prelude %.100q: %w", raw, err)
	}
	switch {
	case p.StatusCode == 0:
		p.StatusCode = http.StatusOK
	case p.StatusCode < 100 || p.StatusCode > 599:
		return p, fmt.Errorf("prelude status %d is not an HTTP status", p.StatusCode)
	}
	return p, nil
}

// functionURLEvent is the Function URL event (payload format 2.0) of the
// same request: the API Gateway event without what only API Gateway adds
// (routeKey, pathParameters, stageVariables, an authorizer). A Function URL
// takes every path, so the function reads its parameters from rawPath.
func functionURLEvent(ev events.APIGatewayV2HTTPRequest) events.LambdaFunctionURLRequest {
	rc := ev.RequestContext
	return events.LambdaFunctionURLRequest{
		Version:               "2.0",
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		Body:                  ev.Body,
		IsBase64Encoded:       ev.IsBase64Encoded,
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID:    rc.AccountID,
			RequestID:    rc.RequestID,
			APIID:        rc.APIID, // a Function URL's id
			DomainName:   rc.DomainName,
			DomainPrefix: rc.APIID,
			Time:         rc.Time,
			TimeEpoch:    rc.TimeEpoch,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method:    rc.HTTP.Method,
				Path:      rc.HTTP.Path,
				Protocol:  rc.HTTP.Protocol,
				SourceIP:  rc.HTTP.SourceIP,
				UserAgent: rc.HTTP.UserAgent,
			},
		},
	}
}
