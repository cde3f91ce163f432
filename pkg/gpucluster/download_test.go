package gpucluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

func TestDownload(t *testing.T) {
	content := strings.Repeat("0123456789", 1000)
	tests := []struct {
		name      string
		handler   func(w http.ResponseWriter, r *http.Request, call int) // call counts from 1
		offset    int64
		want      string
		wantCalls int32
		wantErr   func(error) bool
	}{
		{name: "whole file", offset: 0, want: content, wantCalls: 1, handler: serveContent(content)},
		{name: "resume with Range", offset: 4321, want: content[4321:], wantCalls: 1, handler: serveContent(content)},
		{name: "server ignores Range", offset: 4321, want: content[4321:], wantCalls: 1, handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			_, _ = io.WriteString(w, content)
		}},
		{name: "offset at the end", offset: int64(len(content)), want: "", wantCalls: 1, handler: serveContent(content)},
		{name: "offset past the end", offset: int64(len(content)) + 1, wantCalls: 1, handler: serveContent(content),
			wantErr: func(err error) bool { var r *gpucluster.Rejected; return errors.As(err, &r) && r.StatusCode == 416 }},
		{name: "503 then the file", offset: 10, want: content[10:], wantCalls: 2, handler: func(w http.ResponseWriter, r *http.Request, call int) {
			if call == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			serveContent(content)(w, r, call)
		}},
		{name: "expired URL not retried", wantCalls: 1, handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":"URL_EXPIRED","message":"list again"}}`)
		}, wantErr: func(err error) bool {
			var r *gpucluster.Rejected
			return errors.As(err, &r) && r.Code == gpucluster.CodeURLExpired && r.Op == "Download"
		}},
		{name: "404 is a rejection, not a lost job", wantCalls: 1, handler: func(w http.ResponseWriter, r *http.Request, _ int) {
			http.NotFound(w, r)
		}, wantErr: func(err error) bool { var r *gpucluster.Rejected; return errors.As(err, &r) && r.StatusCode == 404 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if r.Header.Get("Authorization") != "" {
					t.Errorf("download sent Authorization %q", r.Header.Get("Authorization"))
				}
				if want := fmt.Sprintf("bytes=%d-", tt.offset); tt.offset > 0 && r.Header.Get("Range") != want {
					t.Errorf("Range %q, want %q", r.Header.Get("Range"), want)
				}
				tt.handler(w, r, int(n))
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, gpucluster.Options{Sleep: func(context.Context, time.Duration) error { return nil }})
			rc, err := c.Download(context.Background(), srv.URL+"/files/x?sig=1", tt.offset)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Errorf("err = %v", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(b) != tt.want {
					t.Errorf("read %d bytes (%v), want %d", len(b), err, len(tt.want))
				}
			}
			if calls.Load() != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), tt.wantCalls)
			}
		})
	}
}

func serveContent(content string) func(w http.ResponseWriter, r *http.Request, _ int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		http.ServeContent(w, r, "f", time.Time{}, strings.NewReader(content))
	}
}

// A stream that stalls ends with an error after the timeout, so a copier
// can resume; the offset it reached is right.
func TestDownloadStall(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, strings.Repeat("x", 100))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, srv.URL, gpucluster.Options{Timeout: 100 * time.Millisecond})
	rc, err := c.Download(context.Background(), srv.URL+"/f", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	start := time.Now()
	b, err := io.ReadAll(rc)
	if err == nil || len(b) != 100 || time.Since(start) > 2*time.Second {
		t.Errorf("read %d bytes, err %v after %v; want 100 and a timeout", len(b), err, time.Since(start))
	}
}
