package gpusim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	"github.com/brightrun/brightrun/pkg/gpucluster"
)

// fetchDataset GETs the dataset's presigned URL and checks its size and
// SHA-256, as a cluster reading the data would.
func (s *Sim) fetchDataset(ctx context.Context, d gpucluster.Dataset) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL, nil)
	if err != nil {
		return err
	}
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET answered HTTP %d (an expired or wrong presigned URL?)", resp.StatusCode)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if n != d.SizeBytes {
		return fmt.Errorf("got %d bytes, expected size_bytes %d", n, d.SizeBytes)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); d.SHA256 != "" && sum != d.SHA256 {
		return fmt.Errorf("sha256 %s does not match the submitted %s", sum, d.SHA256)
	}
	return nil
}
