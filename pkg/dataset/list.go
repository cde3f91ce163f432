package dataset

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// ListQuery filters, sorts and pages the caller's datasets.
type ListQuery struct {
	Page, Limit   int
	Status        *Status
	Format        *Format
	TrainingReady *bool
	Search        string // case-insensitive substring of the name
	SortBy        string // "created_at" (default, newest first) or "name" (A→Z)
	Desc          bool
}

// ParseListQuery reads the filters from query parameters; page and limit
// are already validated by the HTTP layer.
func ParseListQuery(q map[string]string, page, limit int) (ListQuery, error) {
	lq := ListQuery{Page: page, Limit: limit, Search: strings.TrimSpace(q["search"]), SortBy: "created_at", Desc: true}
	fields := apperr.Fields{}
	if v, ok := q["status"]; ok {
		st := Status(v)
		if !slices.Contains(Statuses, st) {
			fields.Add("status", "must be one of uploading, validating, ready, error")
		}
		lq.Status = &st
	}
	if v, ok := q["format"]; ok {
		f := Format(v)
		if !f.valid() {
			fields.Add("format", "must be one of %s", formatList())
		}
		lq.Format = &f
	}
	if v, ok := q["training_ready"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			fields.Add("training_ready", "must be true or false")
		}
		lq.TrainingReady = &b
	}
	if utf8.RuneCountInString(lq.Search) > maxName {
		fields.Add("search", "must be at most %d characters", maxName)
	}
	switch v := q["sort_by"]; v {
	case "", "created_at":
	case "name":
		lq.SortBy, lq.Desc = "name", false
	default:
		fields.Add("sort_by", "must be created_at or name")
	}
	switch v := q["sort_direction"]; v {
	case "":
	case "asc", "desc":
		lq.Desc = v == "desc"
	default:
		fields.Add("sort_direction", "must be asc or desc")
	}
	return lq, fields.Err()
}

// List is the GET /api/datasets answer (the spec's DatasetListResponse).
type List struct {
	Datasets   []Dataset `json:"datasets"`
	Total      int       `json:"total"`
	Page       int       `json:"page"`
	Limit      int       `json:"limit"`
	TotalPages int       `json:"totalPages"`
}

// List returns one page of the caller's datasets. Filtering, search and
// sorting happen on the user's summaries (a few hundred bytes each, read
// with one paged Query): a page-numbered list with a total must see every
// match anyway, and a user's datasets number in the hundreds, not millions.
func (s *Service) List(ctx context.Context, userID string, q ListQuery) (List, error) {
	all, err := s.Store.ListDatasets(ctx, userID)
	if err != nil {
		return List{}, err
	}
	needle := strings.ToLower(q.Search)
	match := all[:0]
	for _, d := range all {
		switch {
		case q.Status != nil && d.Status != *q.Status,
			q.Format != nil && (d.Format == nil || *d.Format != *q.Format),
			q.TrainingReady != nil && d.TrainingReady != *q.TrainingReady,
			needle != "" && !strings.Contains(strings.ToLower(d.Name), needle):
			continue
		}
		match = append(match, d)
	}
	slices.SortStableFunc(match, func(a, b Dataset) int {
		c := 0
		if q.SortBy == "name" {
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		if c == 0 {
			c = a.CreatedAt.Compare(b.CreatedAt)
			if c == 0 {
				c = strings.Compare(a.ID, b.ID)
			}
		}
		if q.Desc {
			return -c
		}
		return c
	})
	out := List{Datasets: []Dataset{}, Total: len(match), Page: q.Page, Limit: q.Limit}
	if q.Limit > 0 {
		out.TotalPages = (len(match) + q.Limit - 1) / q.Limit
	}
	if start := (q.Page - 1) * q.Limit; start < len(match) {
		out.Datasets = match[start:min(start+q.Limit, len(match))]
	}
	return out, nil
}
