package bpe

import "unicode/utf8"

// splitter is the cl100k_base pre-tokenizer.
type splitter struct {
	ascii  *[128]uint8 // class of each ASCII byte
	compat bool
}

// tiktokenSplitter splits as tiktoken does.
var tiktokenSplitter = &splitter{ascii: &asciiClass}

// compatSplitter splits as github.com/tiktoken-go/tokenizer v0.10.0 does.
var compatSplitter = &splitter{ascii: &asciiClassCompat, compat: true}

// pieceEnd returns the end of the cl100k_base pre-tokenizer piece that starts
// at s[i] (i < len(s)). It evaluates the pattern's seven alternatives in
// order, as a backtracking engine would, but decides each one from the
// classes of at most the next two runes before scanning a run:
//
//	0 (?i:'s|'t|'re|'ve|'m|'ll|'d)
//	1 [^\r\n\p{L}\p{N}]?\p{L}+
//	2 \p{N}{1,3}
//	3  ?[^\s\p{L}\p{N}]+[\r\n]*
//	4 \s*[\r\n]+
//	5 \s+(?!\S)
//	6 \s+
//
// A splitter with compat set reproduces two bugs of the reference Go
// library's generated matcher, for differential tests only: see
// whitespaceEnd, and clsSkip.
func (sp *splitter) pieceEnd(s []byte, i int) int {
	b := s[i]
	cls, size := uint8(0), 1
	if b < utf8.RuneSelf {
		cls = sp.ascii[b]
	} else {
		cls, size = classAt(s, i)
	}
	switch cls {
	case clsLetter: // 1 without the optional prefix
		return sp.scanLetters(s, i+size)
	case clsNumber: // 2
		return sp.scanNumbers(s, i+size)
	case clsSkip:
		return i + 1
	case clsOther:
		if b == '\'' { // 0
			if j := contractionEnd(s, i); j > 0 {
				return j
			}
		}
		j := i + size
		if j < len(s) {
			if c, sz := sp.classAt(s, j); c == clsLetter { // 1 with the prefix
				return sp.scanLetters(s, j+sz)
			}
		}
		return scanNewlines(s, sp.scanOthers(s, j)) // 3 without the space
	case clsSpace:
		j := i + size
		if j < len(s) {
			c, sz := sp.classAt(s, j)
			if c == clsLetter { // 1: a space, tab, NBSP... prefixes a word
				return sp.scanLetters(s, j+sz)
			}
			if b == ' ' && c == clsOther { // 3 with the space
				return scanNewlines(s, sp.scanOthers(s, j+sz))
			}
		}
	}
	return sp.whitespaceEnd(s, i)
}

// contractionEnd matches alternative 0 at s[i] == '\” and returns its end,
// or 0. (?i) folds 's' to 'ſ' (U+017F) as well as 'S'; no other letter of
// these contractions has a non-ASCII case variant.
func contractionEnd(s []byte, i int) int {
	if i+1 >= len(s) {
		return 0
	}
	switch s[i+1] {
	case 's', 'S', 't', 'T', 'm', 'M', 'd', 'D':
		return i + 2
	case 'r', 'R', 'v', 'V':
		if i+2 < len(s) && s[i+2]|0x20 == 'e' {
			return i + 3
		}
	case 'l', 'L':
		if i+2 < len(s) && s[i+2]|0x20 == 'l' {
			return i + 3
		}
	case 0xC5: // first byte of 'ſ'
		if i+2 < len(s) && s[i+2] == 0xBF {
			return i + 3
		}
	}
	return 0
}

// whitespaceEnd handles alternatives 4, 5 and 6 for a piece starting with
// \s at s[i] (alternatives 1 and 3 were ruled out by the caller).
//
//   - 4: if the whitespace run holds a \r or \n, the greedy \s* backtracks to
//     the last one, so the piece ends just after the last newline of the run.
//   - 5: otherwise, a run that reaches the end of the text is taken whole; a
//     longer run gives back its last rune, which then prefixes the next word
//     or punctuation (" world").
//   - 6: a single whitespace rune before non-space.
//
// The reference library's generated matcher backtracks alternative 4 to the
// FIRST newline instead, so "\n \n" is one piece in tiktoken and two there.
// compat reproduces that for the differential tests.
func (sp *splitter) whitespaceEnd(s []byte, i int) int {
	n := len(s)
	j := i
	lastNL := -1 // index just past the last \r or \n of the run
	firstNL := -1
	runes := 0
	lastRune := i
	for j < n {
		b := s[j]
		if b < utf8.RuneSelf {
			switch sp.ascii[b] {
			case clsNewline:
				if firstNL < 0 {
					firstNL = j
				}
				lastNL = j + 1
			case clsSpace:
			default:
				goto done
			}
			lastRune = j
			j++
		} else {
			c, sz := sp.classAt(s, j)
			if c != clsSpace { // non-ASCII whitespace is never \r or \n
				break
			}
			lastRune = j
			j += sz
		}
		runes++
	}
done:
	if lastNL >= 0 {
		if sp.compat {
			return scanNewlines(s, firstNL)
		}
		return lastNL
	}
	if j == n || runes == 1 {
		return j
	}
	return lastRune
}

func (sp *splitter) scanLetters(s []byte, j int) int {
	for j < len(s) {
		b := s[j]
		if b < utf8.RuneSelf {
			if sp.ascii[b] != clsLetter {
				return j
			}
			j++
			continue
		}
		c, sz := sp.classAt(s, j)
		if c != clsLetter {
			return j
		}
		j += sz
	}
	return j
}

// scanNumbers extends a \p{N} match that already holds one rune to at most
// three runes.
func (sp *splitter) scanNumbers(s []byte, j int) int {
	for k := 1; k < 3 && j < len(s); k++ {
		c, sz := sp.classAt(s, j)
		if c != clsNumber {
			break
		}
		j += sz
	}
	return j
}

func (sp *splitter) scanOthers(s []byte, j int) int {
	for j < len(s) {
		c, sz := sp.classAt(s, j)
		if c != clsOther {
			break
		}
		j += sz
	}
	return j
}

func scanNewlines(s []byte, j int) int {
	for j < len(s) && (s[j] == '\n' || s[j] == '\r') {
		j++
	}
	return j
}
