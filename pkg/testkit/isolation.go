package testkit

import (
	"net/http"
	"testing"
)

// AssertNotFoundForOthers checks tenant isolation for resources addressed
// by id: each request, made with the other user's token, must answer 404
// NOT_FOUND — never 403, which would confirm the resource exists — and the
// same request with the owner's token must not be a 404 (so the check
// cannot pass because the path is simply wrong).
func AssertNotFoundForOthers(t *testing.T, api *API, ownerToken, otherToken string, reqs ...Request) {
	t.Helper()
	for _, r := range reqs {
		t.Run("isolation "+r.Method+" "+r.Path, func(t *testing.T) {
			other := r
			other.Token = otherToken
			res := api.Do(t, other)
			if res.Status != http.StatusNotFound || res.Code() != "NOT_FOUND" {
				t.Errorf("other user: got %d %q (%s), want 404 NOT_FOUND", res.Status, res.Code(), res.Raw)
			}
			owner := r
			owner.Token = ownerToken
			if res := api.Do(t, owner); res.Status == http.StatusNotFound {
				t.Errorf("owner: got 404 (%s); the request must address an existing resource", res.Raw)
			}
		})
	}
}

// AssertOwnView checks isolation for caller-scoped endpoints (/api/me,
// /api/dashboard/stats): the same request answers each user with their own
// view. view extracts what must differ (an id, a count) from a response.
func AssertOwnView(t *testing.T, api *API, r Request, tokens map[string]string, want map[string]string, view func(*testing.T, *Response) string) {
	t.Helper()
	for user, tok := range tokens {
		req := r
		req.Token = tok
		res := api.Expect(t, req, http.StatusOK, "")
		if got := view(t, res); got != want[user] {
			t.Errorf("%s %s as %s: got %q, want %q", r.Method, r.Path, user, got, want[user])
		}
	}
}
