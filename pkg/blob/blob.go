// Package blob is the S3 adapter: presigned uploads (single PUT bound to
// the declared length, or multipart with one URL per part), HEAD, streaming
// reads, presigned downloads and deletes. Callers store object keys, never
// URLs: URLs expire, keys don't.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// Store talks to S3 through the unchanged SDK client.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
}

// New returns a Store.
func New(c *s3.Client) *Store { return &Store{client: c, presign: s3.NewPresignClient(c)} }

// Object describes a stored object.
type Object struct {
	Size int64
	ETag string
}

// PresignPut returns a URL that accepts exactly one PUT of size bytes.
func (s *Store) PresignPut(ctx context.Context, bucket, key string, size int64, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ContentLength: aws.Int64(size)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", apperr.Wrap(err, "presign put %s", key)
	}
	return req.URL, nil
}

// PresignGet returns a download URL.
func (s *Store) PresignGet(ctx context.Context, bucket, key, filename string, ttl time.Duration) (string, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if filename != "" {
		in.ResponseContentDisposition = aws.String(fmt.Sprintf("attachment; filename=%q", filename))
	}
	req, err := s.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", apperr.Wrap(err, "presign get %s", key)
	}
	return req.URL, nil
}

// CreateMultipart starts a multipart upload and returns its id.
func (s *Store) CreateMultipart(ctx context.Context, bucket, key string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", apperr.Wrap(err, "create multipart upload %s", key)
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart returns the URL for one part (numbers start at 1).
func (s *Store) PresignPart(ctx context.Context, bucket, key, uploadID string, part int32, size int64, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(part), ContentLength: aws.Int64(size),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", apperr.Wrap(err, "presign part %d of %s", part, key)
	}
	return req.URL, nil
}

// Part is an uploaded part as the browser reports it.
type Part struct {
	Number int32
	ETag   string
}

// CompleteMultipart assembles the parts. S3's answer to wrong or missing
// ETags is the client's mistake, not ours: it becomes Invalid.
func (s *Store) CompleteMultipart(ctx context.Context, bucket, key, uploadID string, parts []Part) error {
	ps := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		ps[i] = types.CompletedPart{PartNumber: aws.Int32(p.Number), ETag: aws.String(p.ETag)}
	}
	sort.Slice(ps, func(i, j int) bool { return *ps[i].PartNumber < *ps[j].PartNumber })
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: ps},
	})
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML":
			return apperr.New(apperr.Invalid, "the upload could not be completed: %s", api.ErrorMessage())
		}
	}
	if err != nil {
		return apperr.Wrap(err, "complete multipart upload %s", key)
	}
	return nil
}

// Head returns the object's size, or NotFound.
func (s *Store) Head(ctx context.Context, bucket, key string) (Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return Object{}, apperr.NotFoundf("object")
	}
	if err != nil {
		return Object{}, apperr.Wrap(err, "head %s", key)
	}
	return Object{Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag)}, nil
}

// Open streams the object; the caller closes it.
func (s *Store) Open(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if isNotFound(err) {
		return nil, apperr.NotFoundf("object")
	}
	if err != nil {
		return nil, apperr.Wrap(err, "get %s", key)
	}
	return out.Body, nil
}

// Delete removes the object; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, bucket, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return apperr.Wrap(err, "delete %s", key)
	}
	return nil
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// DeletedTag marks objects of deleted resources; the bucket's lifecycle
// rule expires tagged objects (infra), so deletion needs no sweeper.
const DeletedTag = "brightrun-deleted"

// MarkDeleted tags the object for expiry by the bucket's lifecycle rule.
func (s *Store) MarkDeleted(ctx context.Context, bucket, key string) error {
	_, err := s.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String(DeletedTag), Value: aws.String("true")}}},
	})
	if isNotFound(err) {
		return apperr.NotFoundf("object")
	}
	if err != nil {
		return apperr.Wrap(err, "tag %s deleted", key)
	}
	return nil
}
