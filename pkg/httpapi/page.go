package httpapi

import (
	"strconv"

	"github.com/brightrun/brightrun/pkg/apperr"
)

// Page limits from DESIGN.md §4.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	maxPage      = 10_000
	maxCursor    = 2048
)

// Page is a validated page request: either page/limit, or a cursor and limit.
type Page struct {
	Number int
	Limit  int
	Cursor string
}

// PageParams reads page, limit and cursor from the query string.
func (r *Request) PageParams() (Page, error) {
	p := Page{Number: 1, Limit: DefaultLimit, Cursor: r.Query("cursor")}
	fields := apperr.Fields{}
	if v := r.Query("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			fields.Add("page", "must be an integer from 1 to %d", maxPage)
		}
		p.Number = n
	}
	if v := r.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			fields.Add("limit", "must be an integer from 1 to %d", MaxLimit)
		}
		p.Limit = n
	}
	if len(p.Cursor) > maxCursor {
		fields.Add("cursor", "is not a valid cursor")
	}
	if p.Cursor != "" && r.Query("page") != "" {
		fields.Add("page", "cannot be combined with cursor")
	}
	return p, fields.Err()
}

// TotalPages is ceil(total/limit), as the list responses report it.
func TotalPages(total, limit int) int {
	if limit <= 0 {
		return 0
	}
	return (total + limit - 1) / limit
}

// PageNumberParams is PageParams for lists that are numbered pages only
// (their total is exact, so they take no cursor).
func (r *Request) PageNumberParams() (Page, error) {
	p, err := r.PageParams()
	if err == nil && p.Cursor != "" {
		err = FieldError("cursor", "is not supported by this list; use page and limit")
	}
	return p, err
}
