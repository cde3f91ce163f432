package datasetgen

import (
	"math/rand/v2"
	"strconv"
)

// textGen appends pseudo-natural text. Word choice is Zipf-like so that the
// token cache sees a realistic mix of frequent and rare pieces.
type textGen struct {
	rng *rand.Rand
}

var syllables = []string{"ka", "ro", "mi", "tel", "vor", "an", "zu", "qui", "ex", "pla", "dor", "ise", "nth", "ly", "ur", "bo", "sen", "tra"}

// zipf picks an index in [0, n) biased towards 0.
func (t *textGen) zipf(n int) int {
	u := t.rng.Float64()
	return int(u * u * u * float64(n))
}

func (t *textGen) word(dst []byte, capital bool) []byte {
	start := len(dst)
	switch r := t.rng.IntN(1000); {
	case r < 880:
		dst = append(dst, commonWords[t.zipf(len(commonWords))]...)
	case r < 930:
		dst = append(dst, rareWords[t.rng.IntN(len(rareWords))]...)
	case r < 950:
		for n := 2 + t.rng.IntN(3); n > 0; n-- {
			dst = append(dst, syllables[t.rng.IntN(len(syllables))]...)
		}
	case r < 975:
		dst = t.number(dst)
	default:
		dst = append(dst, unicodeWords[t.rng.IntN(len(unicodeWords))]...)
	}
	if capital && dst[start] >= 'a' && dst[start] <= 'z' {
		dst[start] -= 'a' - 'A'
	}
	return dst
}

func (t *textGen) number(dst []byte) []byte {
	switch t.rng.IntN(8) {
	case 0:
		return strconv.AppendInt(dst, int64(1990+t.rng.IntN(40)), 10)
	case 1:
		return strconv.AppendFloat(dst, float64(t.rng.IntN(100000))/100, 'f', 2, 64)
	case 2:
		return append(strconv.AppendInt(dst, int64(t.rng.IntN(101)), 10), '%')
	case 3:
		return strconv.AppendFloat(append(dst, '$'), float64(t.rng.IntN(50000))/100, 'f', 2, 64)
	case 4:
		dst = strconv.AppendInt(append(dst, 'v'), int64(t.rng.IntN(4)), 10)
		dst = strconv.AppendInt(append(dst, '.'), int64(t.rng.IntN(20)), 10)
		return strconv.AppendInt(append(dst, '.'), int64(t.rng.IntN(10)), 10)
	case 5:
		n := t.rng.IntN(1000000)
		if n >= 1000 {
			dst = strconv.AppendInt(dst, int64(n/1000), 10)
			dst = append(dst, ',')
			s := strconv.Itoa(1000 + n%1000)
			return append(dst, s[1:]...)
		}
		return strconv.AppendInt(dst, int64(n), 10)
	default:
		return strconv.AppendInt(dst, int64(t.rng.IntN(100)), 10)
	}
}

func (t *textGen) sentence(dst []byte) []byte { return t.clause(dst, true) }

// clause is a sentence whose first word is capitalised only if capital.
func (t *textGen) clause(dst []byte, capital bool) []byte {
	n := 3 + t.rng.IntN(18)
	if t.rng.IntN(10) == 0 {
		n += 15
	}
	for i := range n {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = t.word(dst, capital && i == 0)
		if i < n-1 && t.rng.IntN(12) == 0 {
			dst = append(dst, ',')
		}
	}
	switch r := t.rng.IntN(20); {
	case r < 16:
		return append(dst, '.')
	case r < 18:
		return append(dst, '?')
	case r < 19:
		return append(dst, '!')
	default:
		return append(dst, "..."...)
	}
}

func (t *textGen) paragraph(dst []byte) []byte {
	for i, n := 0, 1+t.rng.IntN(5); i < n; i++ {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = t.sentence(dst)
	}
	return dst
}

func (t *textGen) list(dst []byte) []byte {
	numbered := t.rng.IntN(2) == 0
	for i, n := 0, 2+t.rng.IntN(4); i < n; i++ {
		if i > 0 {
			dst = append(dst, '\n')
		}
		if numbered {
			dst = append(strconv.AppendInt(dst, int64(i+1), 10), ". "...)
		} else {
			dst = append(dst, "- "...)
		}
		dst = t.sentence(dst)
	}
	return dst
}

func (t *textGen) userText(dst []byte) []byte {
	dst = append(dst, openers[t.rng.IntN(len(openers))]...)
	dst = append(dst, ' ')
	dst = t.clause(dst, false)
	if t.rng.IntN(3) == 0 {
		dst = append(dst, ' ')
		dst = t.paragraph(dst)
	}
	switch t.rng.IntN(25) {
	case 0:
		dst = append(dst, "\n\n"...)
		dst = append(dst, codeBlocks[t.rng.IntN(len(codeBlocks))]...)
	case 1:
		dst = append(dst, "\n\n"...)
		dst = append(dst, cjkSentences[t.rng.IntN(len(cjkSentences))]...)
	}
	return dst
}

func (t *textGen) assistantText(dst []byte) []byte {
	for i, n := 0, 1+t.rng.IntN(4); i < n; i++ {
		if i > 0 {
			dst = append(dst, "\n\n"...)
		}
		switch r := t.rng.IntN(20); {
		case r < 3:
			dst = t.list(dst)
		case r < 5:
			dst = append(dst, codeBlocks[t.rng.IntN(len(codeBlocks))]...)
		case r < 6:
			dst = append(dst, cjkSentences[t.rng.IntN(len(cjkSentences))]...)
		default:
			dst = t.paragraph(dst)
		}
	}
	return dst
}
