// Package s3local runs an S3 server that verifies SigV4 signatures and
// presigned URLs: versitygw (posix backend, persistent) for the local stack.
// Applications reach it through the unchanged SDK client with a different
// endpoint and path-style addressing.
package s3local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

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
}

// StartVersity starts versitygw on 127.0.0.1 with the posix backend.
func StartVersity(ctx context.Context, o VersityOptions) (*Server, error) {
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, err
	}
	port := o.Port
	if port == 0 {
		var err error
		if port, err = devenv.FreePort(); err != nil {
			return nil, err
		}
	}
	addr := fmt.Sprintf("%s:%d", devenv.Loopback, port)
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
	return &Server{URL: "http://" + addr, AccessKey: o.AccessKey, SecretKey: o.SecretKey, stop: stop}, nil
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
