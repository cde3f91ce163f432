// Package dashboard computes the caller's overview figures.
package dashboard

import (
	"context"
	"sync"

	"github.com/brightrun/brightrun/pkg/money"
)

// Which statuses count, from the specification's dashboard query (FR-1.6.1).
var (
	ActiveJobStatuses      = []string{"queued", "initializing", "running"}
	CompletedModelStatuses = []string{"stored", "deployed"}
)

// Stats is the dashboard's figures.
type Stats struct {
	TotalDatasets   int          `json:"total_datasets"`
	ActiveJobs      int          `json:"active_jobs"`
	CompletedModels int          `json:"completed_models"`
	TotalCost       money.Amount `json:"total_cost"`
}

// Counter answers the four queries. Deleted resources are not counted.
type Counter interface {
	CountDatasets(ctx context.Context, userID string) (int, error)
	CountJobs(ctx context.Context, userID string, statuses []string) (int, error)
	CountModels(ctx context.Context, userID string, statuses []string) (int, error)
	TotalCost(ctx context.Context, userID string) (money.Amount, error)
}

// Service computes Stats.
type Service struct{ counter Counter }

// NewService returns a Service.
func NewService(c Counter) *Service { return &Service{counter: c} }

// Stats runs the four queries concurrently: the page waits for the slowest.
func (s *Service) Stats(ctx context.Context, userID string) (Stats, error) {
	var (
		st   Stats
		wg   sync.WaitGroup
		errs [4]error
	)
	wg.Go(func() { st.TotalDatasets, errs[0] = s.counter.CountDatasets(ctx, userID) })
	wg.Go(func() { st.ActiveJobs, errs[1] = s.counter.CountJobs(ctx, userID, ActiveJobStatuses) })
	wg.Go(func() { st.CompletedModels, errs[2] = s.counter.CountModels(ctx, userID, CompletedModelStatuses) })
	wg.Go(func() { st.TotalCost, errs[3] = s.counter.TotalCost(ctx, userID) })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Stats{}, err
		}
	}
	return st, nil
}
