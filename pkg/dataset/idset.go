package dataset

// idSet remembers conversation ids to find duplicates in bounded memory. It
// stores a 64-bit FNV-1a hash per id (not the id) in an open-addressing
// table kept at most 3/4 full: 8 bytes per slot, so 10.7 to 21.3 bytes per
// id depending on where the last doubling was, plus the old table during a
// doubling. One million ids take 16 MiB; ten million take 128 MiB, which is
// why Options.MaxTrackedIDs exists. Two different ids collide with
// probability about n²/2^65: for ten million ids, 3 in a million files.
type idSet struct {
	slots []uint64 // 0 = empty; hashes of 0 are stored as 1
	n     int
	limit int // 0: no cap
	full  bool
}

// add records id and reports whether it was seen before.
func (s *idSet) add(id []byte) (dup bool) {
	h := fnv1a(id)
	if h == 0 {
		h = 1
	}
	if s.slots == nil {
		s.slots = make([]uint64, 1<<10)
	}
	mask := uint64(len(s.slots) - 1)
	for i := mix(h) & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			if s.limit > 0 && s.n >= s.limit {
				s.full = true
				return false
			}
			s.slots[i] = h
			s.n++
			if s.n*4 > len(s.slots)*3 {
				s.grow()
			}
			return false
		}
	}
}

func (s *idSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	mask := uint64(len(s.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := mix(h) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
}

// fnv1a is the 64-bit FNV-1a hash. It also decides hash splits (see
// splitOf), so it must never change.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix spreads FNV's weak low bits before they index the table.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	return h ^ h>>33
}
