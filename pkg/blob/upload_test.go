package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/blob"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// failingReader yields n bytes of body, then fails.
type failingReader struct {
	body []byte
	n    int
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	k := copy(p, f.body[:min(len(p), f.n)])
	f.body, f.n = f.body[k:], f.n-k
	return k, nil
}

// TestUploadVerified: single PUT and multipart uploads store the bytes with
// their sha256 as metadata; a wrong checksum or size, or a failing body,
// stores nothing (the multipart upload is aborted).
func TestUploadVerified(t *testing.T) {
	for name, start := range servers(t) {
		t.Run(name, func(t *testing.T) {
			srv := start(t, &recorder{})
			store := blob.New(srv.Client())
			ctx := context.Background()
			const part = 5 << 20
			small := randomBytes(3000, 1)
			large := randomBytes(2*part+12345, 2)
			exact := randomBytes(part, 3)

			for _, c := range []struct {
				key       string
				body      []byte
				wantParts int
			}{{"models/u/j/small.json", small, 0}, {"models/u/j/large.bin", large, 3}, {"models/u/j/exact.bin", exact, 1}} {
				got, err := store.Upload(ctx, blob.UploadInput{Bucket: bucket, Key: c.key, Body: bytes.NewReader(c.body), Size: int64(len(c.body)),
					ContentType: "application/octet-stream", SHA256: hexSHA(c.body), PartSize: part, Concurrency: 2})
				if err != nil {
					t.Fatalf("%s: %v", c.key, err)
				}
				if got.Size != int64(len(c.body)) || got.SHA256 != hexSHA(c.body) || got.Parts != c.wantParts {
					t.Errorf("%s: got %+v, want %d bytes in %d parts", c.key, got, len(c.body), c.wantParts)
				}
				info, err := store.Stat(ctx, bucket, c.key)
				if err != nil || info.Size != int64(len(c.body)) || info.Metadata[blob.MetaSHA256] != hexSHA(c.body) {
					t.Errorf("%s: stat %+v, %v; want size %d and sha256 metadata", c.key, info, err, len(c.body))
				}
				rc, err := store.Open(ctx, bucket, c.key)
				if err != nil {
					t.Fatal(err)
				}
				stored, _ := io.ReadAll(rc)
				rc.Close()
				if !bytes.Equal(stored, c.body) {
					t.Errorf("%s: stored bytes differ", c.key)
				}
			}

			// Nothing is stored on a mismatch, single or multipart.
			for _, c := range []struct {
				key  string
				body []byte
				sha  string
				size int64
			}{
				{"models/u/j/bad-small", small, hexSHA(large), int64(len(small))},
				{"models/u/j/bad-large", large, hexSHA(small), int64(len(large))},
				{"models/u/j/short", small, hexSHA(small), int64(len(small)) + 1},
				{"models/u/j/long", small, "", int64(len(small)) - 1},
			} {
				_, err := store.Upload(ctx, blob.UploadInput{Bucket: bucket, Key: c.key, Body: bytes.NewReader(c.body), Size: c.size, SHA256: c.sha, PartSize: part})
				if _, ok := blob.IsChecksumMismatch(err); !ok {
					t.Errorf("%s: got %v, want a checksum mismatch", c.key, err)
				}
				if _, err := store.Stat(ctx, bucket, c.key); apperr.KindOf(err) != apperr.NotFound {
					t.Errorf("%s: stored after a mismatch (%v)", c.key, err)
				}
			}

			// A body that fails mid-way: its error, unwrapped; nothing stored,
			// no multipart upload left behind.
			cut := errors.New("stream cut")
			_, err := store.Upload(ctx, blob.UploadInput{Bucket: bucket, Key: "models/u/j/cut", Body: &failingReader{body: large, n: part + 100, err: cut},
				Size: int64(len(large)), SHA256: hexSHA(large), PartSize: part})
			if err != cut {
				t.Errorf("failing body: got %v, want its own error", err)
			}
			if _, err := store.Stat(ctx, bucket, "models/u/j/cut"); apperr.KindOf(err) != apperr.NotFound {
				t.Errorf("stored after a failing body (%v)", err)
			}
			ups, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			if len(ups.Uploads) != 0 {
				t.Errorf("multipart uploads left: %d", len(ups.Uploads))
			}
			if _, err := store.Stat(ctx, bucket, "models/u/j/none"); apperr.KindOf(err) != apperr.NotFound {
				t.Errorf("stat of a missing object: %v, want NotFound", err)
			}
		})
	}
}
