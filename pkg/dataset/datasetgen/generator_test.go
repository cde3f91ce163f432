package datasetgen

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

func TestGeneratorIsDeterministicAndValidJSON(t *testing.T) {
	for _, f := range []string{FormatV4, FormatV3, FormatOpenAI, FormatShareGPT} {
		read := func() []byte {
			r, err := NewReader(Options{Seed: 7, Format: f}, 200<<10)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		a, b := read(), read()
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: two readers with the same seed differ", f)
		}
		if len(a) < 200<<10 || a[len(a)-1] != '\n' {
			t.Fatalf("%s: got %d bytes ending in %q, want >= %d ending in a newline", f, len(a), a[len(a)-1], 200<<10)
		}
		for i, line := range bytes.Split(bytes.TrimSuffix(a, []byte("\n")), []byte("\n")) {
			if !json.Valid(line) {
				t.Fatalf("%s: line %d is not valid JSON: %s", f, i+1, line)
			}
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{Format: "csv"}, {ErrorRate: 2}, {ErrorRate: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) error = nil, want an error", o)
		}
	}
}
