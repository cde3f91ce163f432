package blob_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/rclone/gofakes3/signature"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/blob"
	"github.com/brightrun/brightrun/pkg/devenv"
	"github.com/brightrun/brightrun/pkg/s3local"
)

const bucket = "datasets"

// recorder collects the S3 events a server emits.
type recorder struct {
	mu     sync.Mutex
	events []events.S3EventRecord
}

func (r *recorder) emit(e events.S3Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e.Records...)
}

func (r *recorder) all() []events.S3EventRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.S3EventRecord(nil), r.events...)
}

// servers starts both S3 servers the project uses; every test runs on each.
func servers(t *testing.T) map[string]func(t *testing.T, rec *recorder) *s3local.Server {
	return map[string]func(*testing.T, *recorder) *s3local.Server{
		"gofakes3": func(t *testing.T, rec *recorder) *s3local.Server {
			s, err := s3local.StartInProcess(context.Background(), s3local.InProcessOptions{AccessKey: "AKIDTEST", SecretKey: "secret", Buckets: []string{bucket}, OnEvent: rec.emit})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Stop)
			return s
		},
		"versitygw": func(t *testing.T, rec *recorder) *s3local.Server {
			root, err := devenv.RepoRoot()
			if err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(root, ".local", "bin", "versitygw")
			if _, err := os.Stat(bin); err != nil {
				t.Fatalf("versitygw is not installed (%v): run `make tools`", err)
			}
			s, err := s3local.StartVersity(context.Background(), s3local.VersityOptions{Binary: bin, DataDir: t.TempDir(), AccessKey: "AKIDTEST", SecretKey: "secret", OnEvent: rec.emit})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Stop)
			if err := s.CreateBuckets(context.Background(), bucket); err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func put(t *testing.T, u string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header.Get("ETag")
}

func TestPresignedPut(t *testing.T) {
	for name, start := range servers(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			srv := start(t, rec)
			store := blob.New(srv.Client())
			ctx := context.Background()
			key := "datasets/u1/d1/my data+v2.jsonl"
			body := []byte(`{"conversation_id":"c1"}` + "\n")
			u, err := store.PresignPut(ctx, bucket, key, int64(len(body)), time.Hour)
			if err != nil {
				t.Fatal(err)
			}

			if status, _ := put(t, strings.Replace(u, "X-Amz-Signature=", "X-Amz-Signature=0", 1), body); status != http.StatusForbidden {
				t.Errorf("tampered signature: got %d, want 403", status)
			}
			if status, _ := put(t, strings.Replace(u, "/d1/", "/d2/", 1), body); status != http.StatusForbidden {
				t.Errorf("tampered key: got %d, want 403", status)
			}
			if status, _ := put(t, u, append(body, 'x')); status/100 == 2 {
				t.Errorf("body longer than the signed length: got %d, want a refusal", status)
			}
			if len(rec.all()) != 0 {
				t.Fatalf("refused uploads emitted events: %+v", rec.all())
			}

			if status, _ := put(t, u, body); status != http.StatusOK {
				t.Fatalf("valid presigned PUT: got %d, want 200", status)
			}
			obj, err := store.Head(ctx, bucket, key)
			if err != nil || obj.Size != int64(len(body)) {
				t.Fatalf("head: got %+v, %v; want size %d", obj, err, len(body))
			}
			rc, err := store.Open(ctx, bucket, key)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, body) {
				t.Fatalf("content: got %q, want %q", got, body)
			}

			evs := rec.all()
			if len(evs) != 1 || evs[0].EventName != "ObjectCreated:Put" || evs[0].S3.Bucket.Name != bucket {
				t.Fatalf("events: got %+v, want one ObjectCreated:Put", evs)
			}
			if evs[0].S3.Object.Key != "datasets/u1/d1/my+data%2Bv2.jsonl" {
				t.Errorf("event key: got %q, want S3's form encoding", evs[0].S3.Object.Key)
			}
			if dec, _ := url.QueryUnescape(evs[0].S3.Object.Key); dec != key {
				t.Errorf("decoded key: got %q, want %q", dec, key)
			}

			if _, err := store.Head(ctx, bucket, "datasets/none"); apperr.KindOf(err) != apperr.NotFound {
				t.Errorf("head missing: got %v, want NotFound", err)
			}
			if err := store.Delete(ctx, bucket, key); err != nil {
				t.Fatal(err)
			}
			if err := store.Delete(ctx, bucket, key); err != nil {
				t.Errorf("second delete: %v", err)
			}
		})
	}
}

// TestPresignedPutExpires moves the in-process server's signature clock
// past the URL's expiry (gofakes3 reads signature.TimeNow; versitygw reads
// the real clock, so one server suffices to show our URLs expire).
func TestPresignedPutExpires(t *testing.T) {
	srv := servers(t)["gofakes3"](t, &recorder{})
	u, err := blob.New(srv.Client()).PresignPut(context.Background(), bucket, "datasets/x", 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer func(orig func() time.Time) { signature.TimeNow = orig }(signature.TimeNow)
	signature.TimeNow = func() time.Time { return time.Now().Add(61 * time.Minute) }
	if status, _ := put(t, u, []byte("ok")); status != http.StatusForbidden {
		t.Fatalf("expired URL: got %d, want 403", status)
	}
	signature.TimeNow = time.Now
	if status, _ := put(t, u, []byte("ok")); status != http.StatusOK {
		t.Fatalf("same URL before expiry: got %d, want 200", status)
	}
}

func TestMultipart(t *testing.T) {
	for name, start := range servers(t) {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			srv := start(t, rec)
			store := blob.New(srv.Client())
			ctx := context.Background()
			key := "datasets/u1/d1/big.jsonl"
			partSize := 5 << 20 // S3's minimum for all but the last part
			data := bytes.Repeat([]byte("0123456789abcdef"), (2*partSize+1234)/16)
			id, err := store.CreateMultipart(ctx, bucket, key)
			if err != nil {
				t.Fatal(err)
			}
			var parts []blob.Part
			for i, off := int32(1), 0; off < len(data); i, off = i+1, off+partSize {
				end := min(off+partSize, len(data))
				u, err := store.PresignPart(ctx, bucket, key, id, i, int64(end-off), time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				status, etag := put(t, u, data[off:end])
				if status != http.StatusOK || etag == "" {
					t.Fatalf("part %d: got %d etag %q", i, status, etag)
				}
				parts = append(parts, blob.Part{Number: i, ETag: etag})
			}
			if len(rec.all()) != 0 {
				t.Fatalf("parts must not emit ObjectCreated: %+v", rec.all())
			}
			wrong := append([]blob.Part(nil), parts...)
			wrong[0].ETag = `"00000000000000000000000000000000"`
			if err := store.CompleteMultipart(ctx, bucket, key, id, wrong); apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("complete with a wrong ETag: got %v, want Invalid", err)
			}
			if err := store.CompleteMultipart(ctx, bucket, key, id, parts); err != nil {
				t.Fatal(err)
			}
			obj, err := store.Head(ctx, bucket, key)
			if err != nil || obj.Size != int64(len(data)) {
				t.Fatalf("head: got %+v %v, want size %d", obj, err, len(data))
			}
			evs := rec.all()
			if len(evs) != 1 || evs[0].EventName != "ObjectCreated:CompleteMultipartUpload" || evs[0].S3.Object.URLDecodedKey != key {
				t.Fatalf("events: got %+v, want one CompleteMultipartUpload for %s", evs, key)
			}
		})
	}
}

// TestPresignedPutExpiresOnVersity: versitygw reads the real clock, so the
// URL gets a one-second lifetime and is used after it.
func TestPresignedPutExpiresOnVersity(t *testing.T) {
	srv := servers(t)["versitygw"](t, &recorder{})
	u, err := blob.New(srv.Client()).PresignPut(context.Background(), bucket, "datasets/late", 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, _ := put(t, u, []byte("ok")); status != http.StatusForbidden {
		t.Fatalf("expired URL: got %d, want 403", status)
	}
}
