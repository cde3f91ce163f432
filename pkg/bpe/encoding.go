package bpe

import (
	"math"
	"unicode/utf8"
	"unsafe"
)

// Encoding is an immutable BPE vocabulary; share it between goroutines.
type Encoding struct {
	name  string
	ranks *rankTable
}

// Name returns the encoding's name, e.g. "cl100k_base".
func (e *Encoding) Name() string { return e.name }

// Counter counts tokens with an Encoding. It owns a cache and scratch
// buffers, so it is not safe for concurrent use: give each goroutine its own.
type Counter struct {
	enc     *Encoding
	cache   pieceCache
	parts   []part
	scratch mergeScratch
	fixed   []byte // invalid UTF-8 rewritten, reused

	split *splitter // compatSplitter only in differential tests
}

// NewCounter returns a Counter for e (about 330 KiB, mostly the cache).
func (e *Encoding) NewCounter() *Counter {
	return &Counter{enc: e, cache: newPieceCache(), split: tiktokenSplitter}
}

// Count returns the number of tokens tiktoken's encode_ordinary would
// produce for text. Invalid UTF-8 is counted as if each invalid byte were
// U+FFFD, which is what Go's []rune conversion (and so the reference
// library) does; tiktoken itself only accepts valid strings.
func (c *Counter) Count(text []byte) int {
	return c.CountUpTo(text, math.MaxInt)
}

// CountUpTo is Count for callers that only need to know whether text fits
// in limit tokens: the result is exact when it is <= limit, and otherwise
// some number > limit (a lower bound). It stops early, and it never merges
// a piece that alone would exceed the limit (a token is at most
// maxTokenBytes long), which bounds the time and memory a hostile input
// (megabytes of one letter) can take.
func (c *Counter) CountUpTo(text []byte, limit int) int {
	if !utf8.Valid(text) {
		text = c.fixUTF8(text)
	}
	total := 0
	for i := 0; i < len(text); {
		j := c.split.pieceEnd(text, i)
		if c.split.compat && text[i] == 0x7F {
			i = j // dropped by the reference, see clsSkip
			continue
		}
		if n := j - i; n >= heapThreshold {
			if atLeast := (n + maxTokenBytes - 1) / maxTokenBytes; total+atLeast > limit {
				return total + atLeast
			}
		}
		total += c.pieceCount(text[i:j])
		if total > limit {
			return total
		}
		i = j
	}
	return total
}

// CountString is Count for a string, without copying it.
func (c *Counter) CountString(text string) int {
	return c.Count(unsafe.Slice(unsafe.StringData(text), len(text)))
}

// AppendTokens appends the token ids of text to dst. Counting does not need
// ids; this exists so tests can compare whole encodings with the reference.
func (c *Counter) AppendTokens(dst []int, text []byte) []int {
	if !utf8.Valid(text) {
		text = c.fixUTF8(text)
	}
	for i := 0; i < len(text); {
		j := c.split.pieceEnd(text, i)
		if c.split.compat && text[i] == 0x7F {
			i = j
			continue
		}
		piece := text[i:j]
		if r := c.enc.ranks.lookup(piece); r != noRank {
			dst = append(dst, int(r))
		} else {
			parts := c.merge(piece)
			for k := 0; k+1 < len(parts); k++ {
				dst = append(dst, int(c.enc.ranks.lookup(piece[parts[k].start:parts[k+1].start])))
			}
		}
		i = j
	}
	return dst
}

// pieceCount returns the number of tokens of one pre-tokenizer piece.
// Most pieces are whole tokens, answered by the rank table; the cache only
// holds pieces that needed a merge. (Probing the cache first was slower:
// its misses cost more than the rank table's cache misses save.)
func (c *Counter) pieceCount(piece []byte) int {
	if len(piece) == 1 {
		return 1 // every byte is a token
	}
	h := head8(piece)
	hash := hashKey(h, piece)
	if c.enc.ranks.lookupHashed(piece, h, hash) != noRank {
		return 1
	}
	if n, ok := c.cache.get(piece, hash); ok {
		return n
	}
	n := len(c.merge(piece)) - 1
	c.cache.put(piece, hash, n)
	return n
}

func (c *Counter) merge(piece []byte) []part {
	if len(piece) < heapThreshold {
		c.parts = c.enc.ranks.mergeScan(piece, c.parts)
	} else {
		c.parts = c.enc.ranks.mergeHeap(piece, &c.scratch, c.parts)
	}
	return c.parts
}

// fixUTF8 replaces each byte of an invalid sequence with U+FFFD.
func (c *Counter) fixUTF8(text []byte) []byte {
	out := c.fixed[:0]
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, text[i:i+size]...)
		}
		i += size
	}
	c.fixed = out
	return out
}
