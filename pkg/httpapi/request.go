package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// DefaultBodyLimit bounds JSON request bodies. API Gateway allows 10 MB;
// no BrightRun request needs more than a few kilobytes.
const DefaultBodyLimit = 1 << 20

// Request is one API call as a handler sees it.
type Request struct {
	Event  events.APIGatewayV2HTTPRequest
	Caller Caller
	body   []byte
}

// PathParam returns a path parameter, e.g. "id" for /api/datasets/{id}.
func (r *Request) PathParam(name string) string { return r.Event.PathParameters[name] }

// Query returns a query string parameter ("" if absent).
func (r *Request) Query(name string) string { return r.Event.QueryStringParameters[name] }

// Header returns a header; API Gateway lower-cases header names.
func (r *Request) Header(name string) string { return r.Event.Headers[strings.ToLower(name)] }

// Body returns the decoded raw body.
func (r *Request) Body() []byte { return r.body }

func readBody(ev events.APIGatewayV2HTTPRequest, limit int) ([]byte, error) {
	if !ev.IsBase64Encoded {
		if len(ev.Body) > limit {
			return nil, tooLarge(limit)
		}
		return []byte(ev.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(ev.Body)) > limit+3 {
		return nil, tooLarge(limit)
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "request body is not valid base64")
	}
	if len(b) > limit {
		return nil, tooLarge(limit)
	}
	return b, nil
}

func tooLarge(limit int) error {
	return apperr.New(apperr.TooLarge, "request body exceeds the limit of %d bytes", limit)
}

// Decode parses the body as one JSON object into v. Unknown fields are
// rejected: a misspelt optional field would otherwise be ignored silently,
// and the client would believe it had set it.
func (r *Request) Decode(v any) error {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return FieldError("body", "is required: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return FieldError("body", "must contain exactly one JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return FieldError("body", fmt.Sprintf("is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return FieldError("body", "is not valid JSON: unexpected end of input")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return FieldError("body", "must be a JSON object")
		}
		return FieldError(typ.Field, "must be "+jsonType(typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return FieldError(name, "is not a known field")
	}
	// Errors from a field's own UnmarshalJSON (e.g. an out-of-range amount).
	return FieldError("body", err.Error())
}

func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of type " + t.String()
}

// FieldError is a validation error about one field.
func FieldError(field, msg string) error {
	return &apperr.Error{Kind: apperr.Invalid, Message: "request validation failed", Fields: map[string][]string{field: {msg}}}
}
