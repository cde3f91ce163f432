package s3local

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rclone/gofakes3"
	"github.com/rclone/gofakes3/s3mem"

	"github.com/brightrun/brightrun/pkg/devenv"
)

// InProcessOptions configure a test server.
type InProcessOptions struct {
	AccessKey, SecretKey string
	Buckets              []string
	OnEvent              func(events.S3Event) // nil: events are dropped
}

// StartInProcess runs rclone/gofakes3 (memory backend, SigV4 and presigned
// URL verification on) behind Notify on a free loopback port. It starts in
// milliseconds, which is what tests want; it keeps nothing on disk.
func StartInProcess(ctx context.Context, o InProcessOptions) (*Server, error) {
	fake := gofakes3.New(s3mem.New(), gofakes3.WithV4Auth(map[string]string{o.AccessKey: o.SecretKey}), gofakes3.WithAutoBucket(false))
	emit := o.OnEvent
	if emit == nil {
		emit = func(events.S3Event) {}
	}
	ln, err := net.Listen("tcp", devenv.Loopback+":0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: Notify(fake.Server(), emit), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	s := &Server{URL: "http://" + ln.Addr().String(), AccessKey: o.AccessKey, SecretKey: o.SecretKey, stop: func() { _ = srv.Close() }}
	if err := s.CreateBuckets(ctx, o.Buckets...); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}
