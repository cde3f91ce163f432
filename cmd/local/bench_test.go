package main

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkAuthenticatedRead measures GET /api/me through the whole local
// path: HTTP → gateway (JWT verification, event building) → Runtime API →
// the get-me binary (claims, DynamoDB GetItem on DynamoDB Local, envelope)
// → back. It reports latency percentiles alongside ns/op.
func BenchmarkAuthenticatedRead(b *testing.B) {
	a := signUp(b, "Bench")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	get := func() time.Duration {
		req, _ := http.NewRequest("GET", st.APIURL+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
		return time.Since(start)
	}
	for range 20 { // warm every worker and connection
		get()
	}

	b.Run("serial", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			lat = append(lat, get())
		}
		reportLatency(b, lat)
	})
	b.Run("parallel-4", func(b *testing.B) {
		var mu sync.Mutex
		lat := make([]time.Duration, 0, b.N)
		b.SetParallelism(2) // 2 × GOMAXPROCS(2) = 4 concurrent clients, the default worker limit
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d := get()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkProfileGetItem is the baseline: the DynamoDB read alone, from
// this process, so the gateway and Runtime API overhead can be read off.
func BenchmarkProfileGetItem(b *testing.B) {
	a := signUp(b, "Baseline")
	ctx := b.Context()
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if _, err := st.Store.Profile(ctx, a.ID); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportLatency(b, lat)
}
