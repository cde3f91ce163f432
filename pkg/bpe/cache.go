package bpe

// pieceCache remembers the token count of pieces that are not single
// tokens: rare words and identifiers repeat within a dataset, and a merge
// costs tens of rank lookups. Direct-mapped: a collision just overwrites.
type pieceCache struct {
	slots []cacheSlot
	shift uint
}

// cacheSlot holds a key of up to maxCachedPiece bytes, zero-padded.
type cacheSlot struct {
	key   [maxCachedPiece / 8]uint64
	n     uint16 // key length; 0 marks an empty slot
	count uint16
}

const (
	maxCachedPiece = 32
	cacheBits      = 13 // 8192 slots × 40 bytes = 320 KiB
)

func newPieceCache() pieceCache {
	return pieceCache{slots: make([]cacheSlot, 1<<cacheBits), shift: 64 - cacheBits}
}

func (pc *pieceCache) get(piece []byte, hash uint64) (int, bool) {
	if len(piece) > maxCachedPiece {
		return 0, false
	}
	s := &pc.slots[hash>>pc.shift]
	if int(s.n) != len(piece) || s.key != packKey(piece) {
		return 0, false
	}
	return int(s.count), true
}

func (pc *pieceCache) put(piece []byte, hash uint64, count int) {
	if len(piece) > maxCachedPiece || count > 0xFFFF {
		return
	}
	pc.slots[hash>>pc.shift] = cacheSlot{key: packKey(piece), n: uint16(len(piece)), count: uint16(count)}
}

func packKey(piece []byte) (k [maxCachedPiece / 8]uint64) {
	for i := 0; len(piece) > 0; i++ {
		k[i] = head8(piece)
		piece = piece[min(8, len(piece)):]
	}
	return k
}
