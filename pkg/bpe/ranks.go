package bpe

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// rankTable maps a token's bytes to its rank (= token id) with open
// addressing. It replaces map[string]int because the lookups take []byte
// sub-slices of the input: no string conversion, and a key of up to 8 bytes
// (most of them) is compared as one uint64.
type rankTable struct {
	slots []rankSlot
	shift uint // 64 - log2(len(slots))
	arena []byte
}

// rankSlot is 16 bytes, so four fit in a cache line.
type rankSlot struct {
	head uint64 // the key's first 8 bytes, zero-padded
	meta uint32 // len<<24 | rank; 0 marks an empty slot (len is never 0)
	off  uint32 // the key's offset in arena
}

const (
	maxRank   = 1<<24 - 1
	maxKeyLen = 255
	noRank    = ^uint32(0)
)

func newRankTable(tokens [][]byte) *rankTable {
	size := 1 << bits.Len(uint(len(tokens)*5/2)) // load factor <= 0.4
	t := &rankTable{
		slots: make([]rankSlot, size),
		shift: uint(64 - bits.TrailingZeros(uint(size))),
	}
	for rank, tok := range tokens {
		if len(tok) == 0 || len(tok) > maxKeyLen || rank > maxRank {
			continue
		}
		off := len(t.arena)
		t.arena = append(t.arena, tok...)
		i := t.index(tok)
		for t.slots[i].meta != 0 {
			i = (i + 1) & (len(t.slots) - 1)
		}
		t.slots[i] = rankSlot{head: head8(tok), meta: uint32(len(tok))<<24 | uint32(rank), off: uint32(off)}
	}
	return t
}

// lookup returns the rank of key, or noRank.
func (t *rankTable) lookup(key []byte) uint32 {
	n := len(key)
	if n == 0 || n > maxKeyLen {
		return noRank
	}
	h := head8(key)
	return t.lookupHashed(key, h, hashKey(h, key))
}

// lookupHashed is lookup with head8(key) and hashKey already computed, so a
// caller that also probes the piece cache hashes once.
func (t *rankTable) lookupHashed(key []byte, h, hash uint64) uint32 {
	n := len(key)
	if n == 0 || n > maxKeyLen {
		return noRank
	}
	i := int(hash >> t.shift)
	mask := len(t.slots) - 1
	for {
		s := &t.slots[i]
		if s.meta == 0 {
			return noRank
		}
		if s.head == h && int(s.meta>>24) == n &&
			(n <= 8 || bytes.Equal(t.arena[int(s.off)+8:int(s.off)+n], key[8:])) {
			return s.meta & maxRank
		}
		i = (i + 1) & mask
	}
}

func (t *rankTable) index(key []byte) int { return t.indexFrom(head8(key), key) }

func (t *rankTable) indexFrom(h uint64, key []byte) int {
	return int(hashKey(h, key) >> t.shift)
}

// hashKey mixes the head word, the length and, for long keys, the rest.
// Multiply-xorshift constants from wyhash/splitmix64; quality only needs to
// spread ~100k distinct tokens.
func hashKey(h uint64, key []byte) uint64 {
	x := h ^ uint64(len(key))*0x9E3779B97F4A7C15
	for rest := key[min(8, len(key)):]; len(rest) > 0; {
		x = (x ^ head8(rest)) * 0xBF58476D1CE4E5B9
		x ^= x >> 31
		rest = rest[min(8, len(rest)):]
	}
	x *= 0x94D049BB133111EB
	return x ^ x>>29
}

// head8 loads the first min(8, len(b)) bytes little-endian, zero-padded.
// When the slice's capacity allows, it reads 8 bytes and masks, avoiding a
// byte loop; the bytes past len are never used unmasked.
func head8(b []byte) uint64 {
	n := len(b)
	if n >= 8 {
		return binary.LittleEndian.Uint64(b)
	}
	if cap(b) >= 8 {
		return binary.LittleEndian.Uint64(b[:8]) & (1<<(8*uint(n)) - 1)
	}
	var x uint64
	for i := n - 1; i >= 0; i-- {
		x = x<<8 | uint64(b[i])
	}
	return x
}
