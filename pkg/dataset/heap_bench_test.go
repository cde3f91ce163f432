package dataset

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/brightrun/brightrun/pkg/dataset/datasetgen"
)

// heapSampler polls runtime/metrics (which, unlike ReadMemStats, does not
// stop the world) and keeps the peaks.
type heapSampler struct {
	stop    chan struct{}
	done    sync.WaitGroup
	samples []metrics.Sample
	peaks   []uint64
}

var sampledMetrics = []string{
	"/memory/classes/heap/objects:bytes", // live + not yet swept objects
	"/gc/heap/live:bytes",                // live heap marked by the last GC
	"/memory/classes/total:bytes",        // everything the runtime mapped
}

func startHeapSampler(every time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), peaks: make([]uint64, len(sampledMetrics))}
	for _, name := range sampledMetrics {
		h.samples = append(h.samples, metrics.Sample{Name: name})
	}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			h.sample()
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) sample() {
	metrics.Read(h.samples)
	for i, s := range h.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			h.peaks[i] = max(h.peaks[i], s.Value.Uint64())
		}
	}
}

func (h *heapSampler) finish() []uint64 {
	close(h.stop)
	h.done.Wait()
	h.sample()
	return h.peaks
}

// BenchmarkValidate1GiBPeakHeap streams 1 GiB of generated JSONL (no file)
// through Validate with exact token counts and reports the peak heap. It
// takes about 30 s; run it explicitly:
//
//	GOMAXPROCS=1 go test ./pkg/dataset -run '^$' -bench Validate1GiB -benchtime 1x
func BenchmarkValidate1GiBPeakHeap(b *testing.B) {
	const size = 1 << 30
	for b.Loop() {
		r, err := datasetgen.NewReader(datasetgen.Options{Seed: 3}, size)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		s := startHeapSampler(5 * time.Millisecond)
		rep, err := Validate(context.Background(), r, Options{})
		peaks := s.finish()
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Valid || rep.Bytes < size {
			b.Fatalf("valid=%v bytes=%d, want a valid 1 GiB stream", rep.Valid, rep.Bytes)
		}
		b.SetBytes(rep.Bytes)
		const mib = 1 << 20
		b.ReportMetric(float64(peaks[0])/mib, "peak-heap-objects-MiB")
		b.ReportMetric(float64(peaks[1])/mib, "peak-live-heap-MiB")
		b.ReportMetric(float64(peaks[2])/mib, "peak-runtime-total-MiB")
		b.ReportMetric(float64(rep.Stats.Conversations), "conversations")
	}
}
