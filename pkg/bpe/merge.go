package bpe

// part is a token boundary during a merge: the token starts at start, and
// rank is the rank of the token that merging it with the next part would
// make (noRank if there is none).
type part struct {
	start int32
	rank  uint32
}

// heapThreshold is the piece length from which mergeHeap replaces
// mergeScan. Below it the O(n²) scan wins: it touches one small array.
const heapThreshold = 128

// mergeScan is tiktoken's _byte_pair_merge: repeatedly merge the adjacent
// pair whose concatenation has the lowest rank, the leftmost on ties.
// It returns the boundaries of the resulting tokens followed by len(piece).
// len(piece) must be >= 2.
func (t *rankTable) mergeScan(piece []byte, parts []part) []part {
	n := len(piece)
	parts = parts[:0]
	for i := 0; i < n-1; i++ {
		parts = append(parts, part{int32(i), t.lookup(piece[i : i+2])})
	}
	parts = append(parts, part{int32(n - 1), noRank}, part{int32(n), noRank})
	for {
		best, at := noRank, -1
		for i := 0; i < len(parts)-1; i++ {
			if parts[i].rank < best {
				best, at = parts[i].rank, i
			}
		}
		if at < 0 {
			return parts
		}
		// parts[at+1] disappears; the ranks that spanned it change.
		if at+3 < len(parts) {
			parts[at].rank = t.lookup(piece[parts[at].start:parts[at+3].start])
		} else {
			parts[at].rank = noRank
		}
		if at > 0 {
			parts[at-1].rank = t.lookup(piece[parts[at-1].start:parts[at+2].start])
		}
		parts = append(parts[:at+1], parts[at+2:]...)
	}
}

// mergeNode is one byte position in mergeHeap's linked list of parts.
type mergeNode struct {
	prev, next int32 // next == -1: merged away
	rank       uint32
}

// mergeScratch holds mergeHeap's buffers so a Counter reuses them.
type mergeScratch struct {
	nodes []mergeNode
	heap  []uint64 // rank<<32 | position: the min is the lowest rank, leftmost
}

// mergeHeap gives the same result as mergeScan in O(n log n), for long
// pieces (a CJK paragraph or a base64 blob is one piece). Stale heap
// entries are skipped when popped instead of being removed.
func (t *rankTable) mergeHeap(piece []byte, sc *mergeScratch, parts []part) []part {
	n := int32(len(piece))
	nodes := sc.nodes[:0]
	for i := int32(0); i <= n; i++ {
		nodes = append(nodes, mergeNode{prev: i - 1, next: i + 1, rank: noRank})
	}
	nodes[n].next = n // sentinel
	h := sc.heap[:0]
	rankAt := func(i int32) uint32 {
		j := nodes[i].next
		if j >= n {
			return noRank
		}
		return t.lookup(piece[i:nodes[j].next])
	}
	for i := int32(0); i < n-1; i++ {
		r := t.lookup(piece[i : i+2])
		nodes[i].rank = r
		if r != noRank {
			h = heapPush(h, uint64(r)<<32|uint64(i))
		}
	}
	for len(h) > 0 {
		var top uint64
		top, h = heapPop(h)
		r, i := uint32(top>>32), int32(uint32(top))
		if nodes[i].next < 0 || nodes[i].rank != r {
			continue // stale: merged away or re-ranked since pushed
		}
		j := nodes[i].next
		k := nodes[j].next
		nodes[i].next = k
		nodes[k].prev = i
		nodes[j].next = -1
		if nodes[i].rank = rankAt(i); nodes[i].rank != noRank {
			h = heapPush(h, uint64(nodes[i].rank)<<32|uint64(i))
		}
		if p := nodes[i].prev; p >= 0 {
			if nodes[p].rank = rankAt(p); nodes[p].rank != noRank {
				h = heapPush(h, uint64(nodes[p].rank)<<32|uint64(p))
			}
		}
	}
	parts = parts[:0]
	for i := int32(0); i < n; i = nodes[i].next {
		parts = append(parts, part{start: i, rank: noRank})
	}
	parts = append(parts, part{start: n, rank: noRank})
	sc.nodes, sc.heap = nodes, h
	return parts
}

func heapPush(h []uint64, x uint64) []uint64 {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func heapPop(h []uint64) (uint64, []uint64) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h) && h[l] < h[m] {
			m = l
		}
		if r := l + 1; r < len(h) && h[r] < h[m] {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return top, h
}
