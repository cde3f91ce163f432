// Command gpucluster-sim serves the GPU-cluster simulator (pkg/gpusim) on
// 127.0.0.1: the contract of docs/gpu-cluster-api.md, in memory, with
// runs compressed by -time-scale and faults injectable through /_sim.
//
//	go run ./cmd/gpucluster-sim -addr 127.0.0.1:8089 -token dev-gpu-token -time-scale 100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/brightrun/brightrun/pkg/gpusim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gpucluster-sim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gpucluster-sim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address; loopback only")
	token := fs.String("token", envOr("GPUCLUSTER_TOKEN", "dev-gpu-token"), "bearer token clients must send (default $GPUCLUSTER_TOKEN or dev-gpu-token)")
	scale := fs.Float64("time-scale", 100, "simulated seconds per real second (100: a 43-minute run takes 26 s)")
	seed := fs.Uint64("seed", 1, "seed of the curves, timings and artifact bytes")
	queue := fs.Float64("queue-seconds", gpusim.DefaultQueueSeconds, "simulated seconds a job waits in the queue (negative: none)")
	exact := fs.Bool("exact-timing", false, "no timing jitter: runs take exactly the estimator's duration")
	fetch := fs.Bool("fetch-datasets", true, "GET each submitted dataset URL and check its size and sha256")
	public := fs.String("public-url", "", "base of artifact download URLs (default: http://<addr>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := *public
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	q := *queue
	if q == 0 {
		q = -1 // the flag's 0 means no queue
	}
	sim, err := gpusim.New(gpusim.Options{
		Token: *token, TimeScale: *scale, Seed: *seed, QueueSeconds: q, ExactTiming: *exact,
		FetchDatasets: *fetch, PublicURL: base, Logger: logger,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("GPU cluster simulator listening", "url", base, "time_scale", *scale, "seed", *seed)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// loopbackOnly refuses an address other machines could reach.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: the simulator binds a loopback address only (e.g. 127.0.0.1:8089)", addr)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
