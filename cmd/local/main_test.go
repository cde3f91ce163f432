package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/devenv"
	"github.com/brightrun/brightrun/pkg/testkit"
)

// The end-to-end tests start the same stack as `make dev` — function
// binaries, DynamoDB Local (in memory), versitygw, the gateway — once for
// the package, on free loopback ports.
var (
	st  *stack
	api *testkit.API
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	root, err := devenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin, err := os.MkdirTemp("", "brightrun-fn-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := io.Discard
	if os.Getenv("BRIGHTRUN_TEST_LOGS") != "" {
		out = os.Stderr
	}
	flag.Parse()
	// Benchmarks get the long-lived stack's tuning, so their figures are
	// make dev's.
	longLived := flag.Lookup("test.bench").Value.String() != ""
	st, err = startStack(ctx, options{Root: root, BinDir: bin, Output: out, Logger: slog.New(slog.NewTextHandler(out, nil)), LongLived: longLived})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local stack:", err)
		return 1
	}
	defer st.Close()
	api = &testkit.API{BaseURL: st.APIURL}
	return m.Run()
}
