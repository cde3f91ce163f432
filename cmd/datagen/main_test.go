package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRunWritesDeterministicOutput(t *testing.T) {
	var a, b bytes.Buffer
	args := []string{"-mb", "0.1", "-seed", "9", "-error-rate", "0.1", "-format", "sharegpt"}
	if err := run(args, &a); err != nil {
		t.Fatal(err)
	}
	if err := run(args, &b); err != nil {
		t.Fatal(err)
	}
	if a.Len() < 100<<10 || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("got %d and %d bytes (equal=%v), want two equal outputs of >= 100 KiB", a.Len(), b.Len(), bytes.Equal(a.Bytes(), b.Bytes()))
	}
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := run(append(args, "-o", path), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, a.Bytes()) {
		t.Errorf("file output differs from stdout output (err %v)", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-mb", "0"}, {"-format", "csv"}, {"-error-rate", "3"}, {"extra"}} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) error = nil, want an error", args)
		}
	}
}
