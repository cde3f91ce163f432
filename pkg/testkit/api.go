package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// API calls a running HTTP API (the local gateway) as a frontend would.
type API struct {
	BaseURL string
	Client  *http.Client
}

// Response is a decoded answer.
type Response struct {
	Status  int
	Header  http.Header
	Raw     []byte
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Error   *struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Fields  map[string][]string `json:"fields"`
	} `json:"error"`
	Message string `json:"message"` // API Gateway's own answers: {"message":"Unauthorized"}
}

// Code is the envelope's error code, or "".
func (r *Response) Code() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

// Into decodes data into v.
func (r *Response) Into(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// Request is one call. Body may be a string (sent as is), []byte, or a
// value encoded as JSON.
type Request struct {
	Method  string
	Path    string
	Token   string
	Body    any
	Headers map[string]string
}

// Do sends r and decodes the answer, whatever its status.
func (a *API) Do(t testing.TB, r Request) *Response {
	t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(r.Method, a.BaseURL+r.Path, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", r.Method, r.Path, raw)
		}
	}
	return out
}

// Expect sends r and fails unless the status (and, if code is not "",
// the error code) match.
func (a *API) Expect(t testing.TB, r Request, status int, code string) *Response {
	t.Helper()
	res := a.Do(t, r)
	if res.Status != status || res.Code() != code {
		t.Fatalf("%s %s: got %d %q (%s), want %d %q", r.Method, r.Path, res.Status, res.Code(), res.Raw, status, code)
	}
	return res
}
