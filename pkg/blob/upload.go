package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// MetaSHA256 is the user-metadata key (x-amz-meta-sha256) holding an
// uploaded object's hex SHA-256, as Upload computed it from the bytes.
const MetaSHA256 = "sha256"

// Upload defaults.
const (
	DefaultPartSize    = 16 << 20 // S3's minimum is 5 MiB (but the last part)
	DefaultConcurrency = 4        // parts in flight: memory is PartSize × (Concurrency + 1)
	maxParts           = 10_000
)

// UploadInput is one streamed upload.
type UploadInput struct {
	Bucket, Key string
	Body        io.Reader
	// Size is the number of bytes Body yields; -1 if unknown. A known size
	// is checked like the checksum.
	Size        int64
	ContentType string
	Metadata    map[string]string
	// SHA256 (hex), if set, is what the bytes must hash to: otherwise the
	// upload is abandoned (nothing is stored) with *ChecksumMismatch. The
	// object's metadata records it under MetaSHA256.
	SHA256 string
	// PartSize and Concurrency tune the multipart upload (0: defaults).
	PartSize    int64
	Concurrency int
}

// Uploaded is what was stored.
type Uploaded struct {
	Size   int64
	SHA256 string // hex
	Parts  int    // 0 for a single PUT
}

// ChecksumMismatch: the streamed bytes are not the expected ones; nothing
// was stored.
type ChecksumMismatch struct {
	WantSHA256, GotSHA256 string
	WantSize, GotSize     int64
}

func (e *ChecksumMismatch) Error() string {
	return fmt.Sprintf("blob: checksum mismatch: want sha256 %s (%d bytes), got %s (%d bytes)", e.WantSHA256, e.WantSize, e.GotSHA256, e.GotSize)
}

// Upload streams Body to the object, hashing it with SHA-256 on the way:
// one PutObject for a body that fits in one part, else a multipart upload
// (parts uploaded Concurrency at a time while the body is read). The
// object appears only once every byte is in and, when in.SHA256 or in.Size
// are given, only if they match — a multipart upload is completed after the
// check, or aborted. A Body read error aborts the upload and is returned
// unwrapped, so callers can tell their stream's failures from S3's.
func (s *Store) Upload(ctx context.Context, in UploadInput) (Uploaded, error) {
	partSize := in.PartSize
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	if in.Size > partSize*maxParts {
		partSize = (in.Size + maxParts - 1) / maxParts
	}
	conc := in.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	meta := map[string]string{}
	for k, v := range in.Metadata {
		meta[k] = v
	}
	if in.SHA256 != "" {
		meta[MetaSHA256] = strings.ToLower(in.SHA256)
	}
	h := sha256.New()
	bufSize := partSize
	if in.Size >= 0 && in.Size < partSize {
		bufSize = in.Size + 1 // a small file needs no part-sized buffer
	}
	first := make([]byte, bufSize)
	n, err := io.ReadFull(in.Body, first)
	h.Write(first[:n])
	if err == nil && bufSize < partSize { // more bytes than declared
		rest, rerr := io.Copy(h, in.Body)
		if rerr != nil {
			return Uploaded{}, rerr
		}
		return Uploaded{}, in.verify(Uploaded{Size: int64(n) + rest, SHA256: hex.EncodeToString(h.Sum(nil))})
	}
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF: // the whole body fits in one part
		got := Uploaded{Size: int64(n), SHA256: hex.EncodeToString(h.Sum(nil))}
		if err := in.verify(got); err != nil {
			return Uploaded{}, err
		}
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(in.Bucket), Key: aws.String(in.Key), Body: bytes.NewReader(first[:n]), ContentLength: aws.Int64(int64(n)),
			ContentType: contentType(in.ContentType), Metadata: meta,
		})
		if err != nil {
			return Uploaded{}, apperr.Wrap(err, "put %s", in.Key)
		}
		return got, nil
	case err != nil:
		return Uploaded{}, err
	}
	return s.multipart(ctx, in, meta, h, first, partSize, conc)
}

func (in UploadInput) verify(got Uploaded) error {
	if (in.SHA256 != "" && !strings.EqualFold(in.SHA256, got.SHA256)) || (in.Size >= 0 && in.Size != got.Size) {
		return &ChecksumMismatch{WantSHA256: strings.ToLower(in.SHA256), GotSHA256: got.SHA256, WantSize: in.Size, GotSize: got.Size}
	}
	return nil
}

func contentType(ct string) *string {
	if ct == "" {
		return nil
	}
	return aws.String(ct)
}

func (s *Store) multipart(ctx context.Context, in UploadInput, meta map[string]string, h hash.Hash, first []byte, partSize int64, conc int) (Uploaded, error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(in.Bucket), Key: aws.String(in.Key), ContentType: contentType(in.ContentType), Metadata: meta,
	})
	if err != nil {
		return Uploaded{}, apperr.Wrap(err, "create multipart upload %s", in.Key)
	}
	uploadID := created.UploadId
	abort := func() {
		// A fresh context: the caller's may be what ended the upload.
		_, _ = s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(in.Bucket), Key: aws.String(in.Key), UploadId: uploadID})
	}

	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		parts    []types.CompletedPart
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	pool := make(chan []byte, conc+1)
	for range conc + 1 {
		pool <- nil
	}
	send := func(num int32, buf []byte, n int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { pool <- buf }()
			out, err := s.client.UploadPart(uctx, &s3.UploadPartInput{
				Bucket: aws.String(in.Bucket), Key: aws.String(in.Key), UploadId: uploadID,
				PartNumber: aws.Int32(num), Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
			})
			if err != nil {
				fail(apperr.Wrap(err, "upload part %d of %s", num, in.Key))
				return
			}
			mu.Lock()
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag})
			mu.Unlock()
		}()
	}

	total := int64(len(first))
	<-pool
	send(1, first, len(first))
	var readErr error
	for num := int32(2); ; num++ {
		if failed() != nil {
			break
		}
		buf := <-pool
		if buf == nil {
			buf = make([]byte, partSize)
		}
		n, err := io.ReadFull(in.Body, buf)
		h.Write(buf[:n])
		total += int64(n)
		if n > 0 {
			send(num, buf, n)
		} else {
			pool <- buf
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	wg.Wait()
	if readErr != nil {
		abort()
		return Uploaded{}, readErr
	}
	if err := failed(); err != nil {
		abort()
		return Uploaded{}, err
	}
	got := Uploaded{Size: total, SHA256: hex.EncodeToString(h.Sum(nil)), Parts: len(parts)}
	if err := in.verify(got); err != nil {
		abort()
		return Uploaded{}, err
	}
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(in.Bucket), Key: aws.String(in.Key), UploadId: uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		abort()
		return Uploaded{}, apperr.Wrap(err, "complete multipart upload %s", in.Key)
	}
	return got, nil
}

// ObjectInfo is an object's HEAD: size, ETag, content type and metadata
// (lower-case keys, without the x-amz-meta- prefix).
type ObjectInfo struct {
	Size        int64
	ETag        string
	ContentType string
	Metadata    map[string]string
}

// Stat returns the object's HEAD, or NotFound.
func (s *Store) Stat(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return ObjectInfo{}, apperr.NotFoundf("object")
	}
	if err != nil {
		return ObjectInfo{}, apperr.Wrap(err, "head %s", key)
	}
	meta := make(map[string]string, len(out.Metadata))
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return ObjectInfo{Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), ContentType: aws.ToString(out.ContentType), Metadata: meta}, nil
}

// IsChecksumMismatch reports whether err is a *ChecksumMismatch.
func IsChecksumMismatch(err error) (*ChecksumMismatch, bool) {
	var cm *ChecksumMismatch
	ok := errors.As(err, &cm)
	return cm, ok
}
