package dataset

import "math/bits"

// histogram records tokens per conversation in fixed memory (352 KiB, allocated
// on first use) whatever the number of conversations: exact below 4096,
// then 2048 buckets per power of two, so a bucket's width is under 1/2048
// (0.05%) of its values. Quantiles report a bucket's upper bound (never
// below the true value) capped at the exact maximum.
type histogram struct {
	counts []uint64
	n      uint64
	sum    uint64
	max    uint32
}

const (
	exactBelow = 1 << 12 // values below are their own bucket
	subBits    = 11      // 2^subBits buckets per power of two above
	numBuckets = exactBelow + (32-12)<<subBits
)

func bucketOf(v uint32) int {
	if v < exactBelow {
		return int(v)
	}
	shift := bits.Len32(v) - 1 - subBits // keep the top 12 bits
	return exactBelow + (shift-1)<<subBits + int(v>>shift)&(1<<subBits-1)
}

// bucketMax is the largest value of bucket b.
func bucketMax(b int) uint32 {
	if b < exactBelow {
		return uint32(b)
	}
	b -= exactBelow
	shift := b>>subBits + 1
	top := uint64(1<<subBits|b&(1<<subBits-1)) + 1
	return uint32(top<<shift - 1)
}

func (h *histogram) add(v uint32) {
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += uint64(v)
	h.max = max(h.max, v)
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1): the smallest
// recorded value v such that at least ceil(q*n) values are <= v.
func (h *histogram) quantile(q float64) uint32 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketMax(b), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() float64 {
	if h.n == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.n)
}
