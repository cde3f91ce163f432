package bpe

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestPiecesMatchRegexpInterpreter(t *testing.T) {
	texts := slices.Clone(sampleTexts)
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		texts = append(texts, randomText(r, 1+r.IntN(60)))
	}
	for _, s := range texts {
		if !utf8.ValidString(s) {
			continue // regexp2 works on runes; covered by the count tests
		}
		got, want := ourPieces(s, tiktokenSplitter), refPieces(t, s)
		if !slices.Equal(got, want) {
			t.Errorf("pieces of %q:\n got %q\nwant %q", s, got, want)
		}
	}
}

func TestCountMatchesReference(t *testing.T) {
	codec, _ := reference(t)
	c := newTestCounter(t)
	c.split = compatSplitter
	texts := slices.Clone(sampleTexts)
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		texts = append(texts, randomText(r, 1+r.IntN(80)))
	}
	for _, s := range texts {
		wantIDs, _, err := codec.Encode(s)
		if err != nil {
			t.Fatalf("reference Encode(%q) error = %v", s, err)
		}
		if got := c.CountString(s); got != len(wantIDs) {
			t.Errorf("CountString(%q) = %d, want %d", s, got, len(wantIDs))
		}
		gotIDs := c.AppendTokens(nil, []byte(s))
		if !slices.EqualFunc(gotIDs, wantIDs, func(a int, b uint) bool { return uint(a) == b }) {
			t.Errorf("AppendTokens(%q) = %v, want %v", s, gotIDs, wantIDs)
		}
	}
}

func TestMergeHeapMatchesScan(t *testing.T) {
	c := newTestCounter(t)
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("aaaabbbcc  eeettthhh\n\xe6\x97\xa5")
	for range 200 {
		piece := make([]byte, 2+r.IntN(400))
		for i := range piece {
			piece[i] = alphabet[r.IntN(len(alphabet))]
		}
		scan := slices.Clone(c.enc.ranks.mergeScan(piece, nil))
		heap := c.enc.ranks.mergeHeap(piece, &mergeScratch{}, nil)
		if len(scan) != len(heap) {
			t.Fatalf("piece %q: scan gives %d parts, heap %d", piece, len(scan), len(heap))
		}
		for i := range scan {
			if scan[i].start != heap[i].start {
				t.Fatalf("piece %q: part %d starts at %d (scan) vs %d (heap)", piece, i, scan[i].start, heap[i].start)
			}
		}
	}
}

func TestCountUpTo(t *testing.T) {
	c := newTestCounter(t)
	text := []byte(sampleTexts[4] + " " + sampleTexts[15])
	exact := c.Count(text)
	for _, limit := range []int{0, 1, exact / 2, exact - 1, exact, exact + 1, 1 << 30} {
		got := c.CountUpTo(text, limit)
		if limit >= exact && got != exact || limit < exact && got <= limit {
			t.Errorf("CountUpTo(limit %d) = %d; exact count %d", limit, got, exact)
		}
	}
	// A 4 MiB piece is not merged when it cannot fit: far faster than Count.
	huge := bytes.Repeat([]byte("a"), 4<<20)
	if got := c.CountUpTo(huge, 1000); got <= 1000 {
		t.Errorf("CountUpTo(4 MiB of 'a', 1000) = %d, want > 1000", got)
	}
}
