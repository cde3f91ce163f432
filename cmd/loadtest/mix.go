package main

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// The monitoring endpoints a client may call. A monitoring page lists the
// user's jobs, reads one job, and draws its metrics chart; logs, events and
// checkpoints are there to widen the mix on demand (-mix).
const (
	epList        = "list"
	epGet         = "get"
	epMetrics     = "metrics"
	epLogs        = "logs"
	epEvents      = "events"
	epCheckpoints = "checkpoints"
)

// endpointOrder is the order endpoints are printed in.
var endpointOrder = []string{epList, epGet, epMetrics, epLogs, epEvents, epCheckpoints}

// weight is one endpoint's share of a client's requests.
type weight struct {
	Endpoint string
	Weight   int
}

// parseMix reads "list=1,get=2,metrics=2" into weights, in endpointOrder,
// dropping zero weights.
func parseMix(s string) ([]weight, error) {
	got := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix: %q is not endpoint=weight", part)
		}
		name = strings.TrimSpace(name)
		if !known(name) {
			return nil, fmt.Errorf("mix: unknown endpoint %q (know %s)", name, strings.Join(endpointOrder, ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || n < 0 || n > 100 {
			return nil, fmt.Errorf("mix: weight of %s must be an integer 0..100", name)
		}
		if _, dup := got[name]; dup {
			return nil, fmt.Errorf("mix: %s given twice", name)
		}
		got[name] = n
	}
	var out []weight
	for _, ep := range endpointOrder {
		if got[ep] > 0 {
			out = append(out, weight{ep, got[ep]})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mix: no endpoint with a positive weight")
	}
	return out, nil
}

func known(ep string) bool {
	for _, e := range endpointOrder {
		if e == ep {
			return true
		}
	}
	return false
}

// sequence spreads the weights over one cycle with smooth weighted
// round-robin (as nginx does), so a client alternates its calls instead of
// sending all of one kind in a burst: 1,2,2 gives get metrics list get
// metrics.
func sequence(ws []weight) []string {
	total := 0
	for _, w := range ws {
		total += w.Weight
	}
	current := make([]int, len(ws))
	out := make([]string, 0, total)
	for range total {
		best := 0
		for i, w := range ws {
			current[i] += w.Weight
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		out = append(out, ws[best].Endpoint)
	}
	return out
}

// mixString prints the weights as shares: "list 20%, get 40%, metrics 40%".
func mixString(ws []weight) string {
	total := 0
	for _, w := range ws {
		total += w.Weight
	}
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s %.0f%%", w.Endpoint, 100*float64(w.Weight)/float64(total))
	}
	return strings.Join(parts, ", ")
}

// step is what one client sends on its n-th request: which endpoint, and
// which of its user's jobs (an index; unused by list).
type step struct {
	Endpoint string
	Job      int
}

// plan decides client c's n-th request. Clients start at different points of
// the cycle (so 100 clients do not all list at once) and walk their user's
// jobs one per cycle, starting at different jobs.
func plan(seq []string, c, n, jobs int) step {
	s := step{Endpoint: seq[(n+c)%len(seq)]}
	if jobs > 0 {
		s.Job = (n/len(seq) + c) % jobs
	}
	return s
}

// path is the request path of an endpoint on a job.
func path(ep, jobID string, maxPoints int) string {
	base := "/api/jobs/" + url.PathEscape(jobID)
	switch ep {
	case epList:
		return "/api/jobs?limit=20"
	case epGet:
		return base
	case epMetrics:
		return base + "/metrics?max_points=" + strconv.Itoa(maxPoints)
	case epLogs:
		return base + "/logs?limit=100"
	case epEvents:
		return base + "/events?limit=100"
	case epCheckpoints:
		return base + "/checkpoints"
	}
	panic("unknown endpoint " + ep)
}

// classify names the endpoint of a request URL (the reverse of path), so
// results are counted per endpoint; "other" for anything else.
func classify(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "other"
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "api" || parts[1] != "jobs" {
		return "other"
	}
	switch len(parts) {
	case 2:
		return epList
	case 3:
		return epGet
	case 4:
		switch parts[3] {
		case epMetrics, epLogs, epEvents, epCheckpoints:
			return parts[3]
		}
	}
	return "other"
}

// sortedKeys returns m's keys in endpointOrder, then any others sorted.
func sortedKeys[V any](m map[string]V) []string {
	var out, rest []string
	for _, ep := range endpointOrder {
		if _, ok := m[ep]; ok {
			out = append(out, ep)
		}
	}
	for k := range m {
		if !known(k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
