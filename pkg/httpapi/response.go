// Package httpapi adapts API Gateway HTTP API (payload v2) events to
// BrightRun handlers: strict JSON decoding, the caller's identity from the
// JWT authorizer's claims, role checks, the response envelope, error kinds
// mapped to statuses in one place, pagination and Idempotency-Key support.
package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// Response is what a handler returns on success.
type Response struct {
	Status  int
	Data    any
	Headers map[string]string
}

// OK answers 200 with data.
func OK(data any) Response { return Response{Status: http.StatusOK, Data: data} }

// Created answers 201 with data.
func Created(data any) Response { return Response{Status: http.StatusCreated, Data: data} }

// Accepted answers 202 with data.
func Accepted(data any) Response { return Response{Status: http.StatusAccepted, Data: data} }

// envelope is the body of every response (DESIGN.md §4).
type envelope struct {
	Success bool       `json:"success"`
	Data    any        `json:"data,omitempty"`
	Error   *errorBody `json:"error,omitempty"`
}

type errorBody struct {
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Fields  map[string][]string `json:"fields,omitempty"`
}

// Codes by kind: the one place where an error kind becomes a status.
var statusByKind = map[apperr.Kind]struct {
	status int
	code   string
}{
	apperr.Invalid:            {http.StatusBadRequest, "VALIDATION_ERROR"},
	apperr.Unauthorized:       {http.StatusUnauthorized, "UNAUTHORIZED"},
	apperr.Forbidden:          {http.StatusForbidden, "FORBIDDEN"},
	apperr.NotFound:           {http.StatusNotFound, "NOT_FOUND"},
	apperr.Conflict:           {http.StatusConflict, "CONFLICT"},
	apperr.PreconditionFailed: {http.StatusPreconditionFailed, "PRECONDITION_FAILED"},
	apperr.TooLarge:           {http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE"},
	apperr.Internal:           {http.StatusInternalServerError, "INTERNAL_ERROR"},
}

// errorResponse maps err to a status and envelope. Internal errors never
// reveal their cause.
func errorResponse(err error) (int, envelope) {
	e, ok := apperr.As(err)
	if !ok || e.Kind == apperr.Internal {
		return http.StatusInternalServerError, envelope{Error: &errorBody{Code: "INTERNAL_ERROR", Message: "internal error"}}
	}
	m := statusByKind[e.Kind]
	code := m.code
	if e.Code != "" {
		code = e.Code
	}
	return m.status, envelope{Error: &errorBody{Code: code, Message: e.Message, Fields: e.Fields}}
}

func encode(v envelope) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only an unencodable handler value gets here: a bug, answered as one.
		b, _ = json.Marshal(envelope{Error: &errorBody{Code: "INTERNAL_ERROR", Message: "internal error"}})
	}
	return string(b)
}

// ErrorJSON is err's status and envelope, for a handler that answers
// outside API Gateway (the Function URL of a stream route), so errors map
// to statuses in this one place.
func ErrorJSON(err error) (status int, body string) {
	status, env := errorResponse(err)
	return status, encode(env)
}
