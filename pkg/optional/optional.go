// Package optional models a JSON field in a PATCH body, which has three
// states the standard library cannot tell apart: absent (leave unchanged),
// null (clear it), and a value (set it).
package optional

import (
	"bytes"
	"encoding/json"
)

// Value is a PATCH field. The zero Value is absent.
type Value[T any] struct {
	Set   bool // the field was present in the body
	Null  bool // it was present as null
	Value T
}

// Of returns a present, non-null Value.
func Of[T any](v T) Value[T] { return Value[T]{Set: true, Value: v} }

// Null returns a present null Value.
func Null[T any]() Value[T] { return Value[T]{Set: true, Null: true} }

// UnmarshalJSON is only called when the key is present.
func (v *Value[T]) UnmarshalJSON(data []byte) error {
	v.Set = true
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		v.Null = true
		return nil
	}
	return json.Unmarshal(data, &v.Value)
}

// MarshalJSON writes null for absent or null values.
func (v Value[T]) MarshalJSON() ([]byte, error) {
	if !v.Set || v.Null {
		return []byte("null"), nil
	}
	return json.Marshal(v.Value)
}
