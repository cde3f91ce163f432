// Package s3local runs S3 servers that verify SigV4 signatures and
// presigned URLs: versitygw (posix backend, persistent) for the local stack
// and rclone/gofakes3 (in memory, in process) for tests, both behind Notify,
// which turns successful uploads into S3 event notifications.
// Applications reach it through the unchanged SDK client with a different
// endpoint and path-style addressing.
package s3local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/brightrun/brightrun/pkg/devenv"
)

// Server is a running S3 endpoint.
type Server struct {
	URL       string
	AccessKey string
	SecretKey string
	stop      func()
}

// VersityOptions configure the persistent server.
type VersityOptions struct {
	Binary    string // the versitygw executable (make tools installs it)
	DataDir   string // bucket directories live here
	Port      int    // 0 picks a free port
	AccessKey string
	SecretKey string
	Log       io.Writer
	OnEvent   func(events.S3Event) // object-created notifications; nil drops them
}

// StartVersity starts versitygw with the posix backend on an internal
// loopback port, behind Notify on o.Port. The proxy keeps the Host header,
// so SigV4 signatures made for the public address still verify.
func StartVersity(ctx context.Context, o VersityOptions) (*Server, error) {
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, err
	}
	internal, err := devenv.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("%s:%d", devenv.Loopback, internal)
	cmd := exec.Command(o.Binary, "--port", addr, "--access", o.AccessKey, "--secret", o.SecretKey, "--quiet", "posix", o.DataDir)
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start versitygw (run `make tools`): %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := devenv.WaitTCP(wctx, addr); err != nil {
		stop()
		return nil, fmt.Errorf("versitygw: %w", err)
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", devenv.Loopback, o.Port))
	if err != nil {
		stop()
		return nil, err
	}
	emit := o.OnEvent
	if emit == nil {
		emit = func(events.S3Event) {}
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	proxy.FlushInterval = -1 // stream multi-GB bodies both ways
	front := &http.Server{Handler: Notify(proxy, emit), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = front.Serve(ln) }()
	return &Server{URL: "http://" + ln.Addr().String(), AccessKey: o.AccessKey, SecretKey: o.SecretKey, stop: func() {
		_ = front.Close()
		stop()
	}}, nil
}

// Stop ends the server.
func (s *Server) Stop() { s.stop() }

// Client returns an SDK client for the server: path-style, static keys.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.URL),
		Region:       "us-east-1",
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// CreateBuckets creates each bucket unless it exists.
func (s *Server) CreateBuckets(ctx context.Context, names ...string) error {
	c := s.Client()
	for _, n := range names {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(n)})
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
			return fmt.Errorf("create bucket %s: %w", n, err)
		}
	}
	return nil
}
