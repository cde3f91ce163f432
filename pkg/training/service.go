package training

import (
	"context"
	"time"

	"github.com/brightrun/brightrun/pkg/apperr"
	"github.com/brightrun/brightrun/pkg/dataset"
	"github.com/brightrun/brightrun/pkg/identity"
	"github.com/brightrun/brightrun/pkg/money"
)

// Datasets reads the caller's live datasets.
type Datasets interface {
	Dataset(ctx context.Context, userID, id string, withReport bool) (dataset.Dataset, error)
}

// Profiles reads the caller's profile (for the monthly budget).
type Profiles interface {
	Profile(ctx context.Context, id string) (identity.User, error)
}

// Spending reads what a user has spent in a month ("2026-11").
type Spending interface {
	SpentInMonth(ctx context.Context, userID, month string) (money.Amount, error)
}

// Service answers estimates; job creation uses Prepare too.
type Service struct {
	Datasets Datasets
	Profiles Profiles
	Spending Spending
	Now      func() time.Time
}

// Prepared is a validated request with what the estimate needs.
type Prepared struct {
	Config  Config
	Dataset dataset.Dataset
	Profile DatasetProfile
	Budget  Budget
}

// Prepare resolves req for userID: the dataset must be the caller's, live
// and ready; the budget is the profile's, against this month's spending.
func (s *Service) Prepare(ctx context.Context, userID string, req Request) (Prepared, error) {
	var p Prepared
	if req.DatasetID != "" {
		d, err := s.Datasets.Dataset(ctx, userID, req.DatasetID, false)
		switch {
		case err == nil:
			p.Dataset, p.Profile = d, ProfileOf(d)
		case apperr.KindOf(err) != apperr.NotFound:
			return Prepared{}, err
		}
	}
	cfg, _, err := Resolve(req, p.Profile) // warnings travel on cfg
	if err != nil {
		return Prepared{}, err
	}
	p.Config = cfg
	user, err := s.Profiles.Profile(ctx, userID)
	if err != nil {
		return Prepared{}, err
	}
	spent, err := s.Spending.SpentInMonth(ctx, userID, s.Now().UTC().Format("2006-01"))
	if err != nil {
		return Prepared{}, err
	}
	p.Budget = Budget{MonthlyBudget: user.MonthlyBudget, SpentThisMonth: spent}
	return p, nil
}

// Estimate prices and times a run before anything is submitted.
func (s *Service) Estimate(ctx context.Context, userID string, req Request) (Estimate, error) {
	p, err := s.Prepare(ctx, userID, req)
	if err != nil {
		return Estimate{}, err
	}
	return EstimateRun(p.Config, p.Profile, p.Budget), nil
}
