// Package apperr defines the error kinds every layer speaks. Domain code
// returns them; the HTTP edge maps each kind to a status in one place
// (httpapi), so a business rule never chooses an HTTP status itself.
package apperr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	Internal           Kind = iota // our fault: logged, answered as "internal error"
	Invalid                        // the request is malformed or breaks a rule
	Unauthorized                   // no or bad credentials
	Forbidden                      // authenticated, but the role does not allow it
	NotFound                       // absent, deleted, or another user's
	Conflict                       // the resource's state forbids the action
	PreconditionFailed             // a precondition named by the client failed
	TooLarge                       // the payload or file is over a limit
)

var kindNames = [...]string{"internal", "invalid", "unauthorized", "forbidden", "not found", "conflict", "precondition failed", "too large"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error with a kind, an optional machine-readable code that
// refines the kind (EMAIL_EXISTS is a Conflict), a message safe to show to the
// client, and per-field messages for validation errors.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  map[string][]string
	Err     error // the cause; never shown to clients
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Code != "" {
		b.WriteString(" [" + e.Code + "]")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Fields) > 0 {
		names := make([]string, 0, len(e.Fields))
		for n := range e.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			b.WriteString("; " + n + ": " + strings.Join(e.Fields[n], ", "))
		}
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind with a client-safe message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// WithCode returns a copy of e with a refining code.
func (e *Error) WithCode(code string) *Error {
	c := *e
	c.Code = code
	return &c
}

// Wrap records cause as an internal error. The message is for logs only.
func Wrap(cause error, format string, args ...any) *Error {
	return &Error{Kind: Internal, Message: fmt.Sprintf(format, args...), Err: cause}
}

// NotFoundf reports a missing resource by its noun, e.g. NotFoundf("dataset").
func NotFoundf(what string) *Error { return New(NotFound, "%s not found", what) }

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Fields collects per-field validation messages; Err returns nil when empty,
// so validators can add freely and return fs.Err() at the end.
type Fields map[string][]string

// Add records msg for field.
func (f Fields) Add(field, format string, args ...any) {
	f[field] = append(f[field], fmt.Sprintf(format, args...))
}

// Err returns an Invalid error listing every field, or nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Kind: Invalid, Message: "request validation failed", Fields: f}
}
