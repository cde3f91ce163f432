package bpe

import (
	"unicode"
	"unicode/utf8"
)

// Character classes of the cl100k_base pattern. Every rune is in exactly one.
const (
	clsOther   uint8 = iota // not \s, not \p{L}, not \p{N}
	clsLetter               // \p{L}
	clsNumber               // \p{N}
	clsSpace                // \s except \r and \n
	clsNewline              // \r or \n

	// clsSkip is DEL (0x7F) in the compat splitter only: the reference
	// library's generated matcher leaves 0x7F out of its negated ASCII
	// bitmaps, so no alternative matches it and the text is silently dropped
	// (tiktoken counts it as token 221).
	clsSkip
)

// asciiClass classifies bytes < 0x80 without a table search.
var asciiClass = func() (t [128]uint8) {
	for b := range t {
		t[b] = slowClass(rune(b))
	}
	return t
}()

var asciiClassCompat = func() [128]uint8 {
	t := asciiClass
	t[0x7F] = clsSkip
	return t
}()

// bmpClass classifies the Basic Multilingual Plane in one load; unicode.In
// is a binary search over range tables and dominated CJK-heavy input.
// 64 KiB, built on first use of an Encoding.
var bmpClass [0x10000]uint8

func initBMPClass() {
	for r := range bmpClass {
		bmpClass[r] = slowClass(rune(r))
	}
}

func slowClass(r rune) uint8 {
	switch {
	case r == '\r' || r == '\n':
		return clsNewline
	case unicode.IsSpace(r):
		return clsSpace
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	default:
		return clsOther
	}
}

// classAt returns the class of the rune starting at s[i] and its size.
// Invalid UTF-8 never reaches here (see Counter.Count), so a RuneError is a
// real U+FFFD, which is clsOther.
func (sp *splitter) classAt(s []byte, i int) (uint8, int) {
	b := s[i]
	if b < utf8.RuneSelf {
		return sp.ascii[b], 1
	}
	return classAt(s, i)
}

// classAt classifies a rune that may be non-ASCII.
func classAt(s []byte, i int) (uint8, int) {
	b := s[i]
	if b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, size := utf8.DecodeRune(s[i:])
	if r < 0x10000 {
		return bmpClass[r], size
	}
	return slowClass(r), size
}
