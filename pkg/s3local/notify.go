package s3local

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Notify wraps an S3 server's handler and reports every successful
// object creation the way S3 bucket notifications do: PutObject,
// CopyObject and CompleteMultipartUpload become ObjectCreated events with
// URL-encoded keys. Neither local S3 server emits events that decode as
// events.S3Event, so the local stack and tests put this in front of both.
func Notify(next http.Handler, emit func(events.S3Event)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := createdEvent(r)
		if name == "" {
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if rec.status/100 != 2 {
			return
		}
		bucket, key, ok := bucketKey(r.URL.Path)
		if !ok {
			return
		}
		size := int64(0)
		if name == "ObjectCreated:Put" {
			size = r.ContentLength
		}
		emit(events.S3Event{Records: []events.S3EventRecord{{
			EventVersion: "2.1",
			EventSource:  "aws:s3",
			AWSRegion:    "us-east-1",
			EventTime:    time.Now().UTC(),
			EventName:    name,
			S3: events.S3Entity{
				SchemaVersion: "1.0",
				Bucket:        events.S3Bucket{Name: bucket, Arn: "arn:aws:s3:::" + bucket},
				Object: events.S3Object{
					Key:           encodeKey(key),
					URLDecodedKey: key,
					Size:          size,
					ETag:          strings.Trim(rec.Header().Get("ETag"), `"`),
					Sequencer:     strings.ToUpper(time.Now().UTC().Format("20060102150405.000000000")),
				},
			},
		}}})
	})
}

// createdEvent names the event a request would cause if it succeeds.
func createdEvent(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" && !q.Has("partNumber"):
		return "ObjectCreated:Copy"
	case r.Method == http.MethodPut && !q.Has("partNumber") && !q.Has("uploadId") && !q.Has("tagging") && !q.Has("acl"):
		if _, key, ok := bucketKey(r.URL.Path); ok && key != "" {
			return "ObjectCreated:Put"
		}
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "ObjectCreated:CompleteMultipartUpload"
	}
	return ""
}

// bucketKey splits a path-style URL path.
func bucketKey(p string) (bucket, key string, ok bool) {
	p = strings.TrimPrefix(p, "/")
	bucket, key, ok = strings.Cut(p, "/")
	return bucket, key, ok && bucket != "" && key != ""
}

// encodeKey encodes a key as S3 does in event notifications: form
// encoding (space as '+'), slashes kept.
func encodeKey(k string) string {
	return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
