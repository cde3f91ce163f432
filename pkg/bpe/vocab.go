package bpe

import (
	"fmt"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// cl100kTokens is the number of mergeable ranks in cl100k_base (ids
// 0..100255); the special tokens above them are not used for counting.
const cl100kTokens = 100256

var cl100k struct {
	once sync.Once
	enc  *Encoding
	err  error
}

// Cl100kBase returns the shared cl100k_base encoding. The first call builds
// it from the vocabulary embedded in github.com/tiktoken-go/tokenizer
// (tens of milliseconds, ~6 MiB); later calls return the same value.
func Cl100kBase() (*Encoding, error) {
	cl100k.once.Do(func() {
		cl100k.enc, cl100k.err = loadCl100k()
	})
	return cl100k.enc, cl100k.err
}

// loadCl100k reads every rank's bytes through the library's Decode: its
// vocabulary map is unexported, and decoding one id at a time yields the raw
// token bytes (ErrorModeNone leaves partial UTF-8 sequences as they are).
func loadCl100k() (*Encoding, error) {
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		return nil, fmt.Errorf("bpe: load cl100k_base vocabulary: %w", err)
	}
	tokens := make([][]byte, cl100kTokens)
	ids := make([]uint, 1)
	for id := range tokens {
		ids[0] = uint(id)
		s, err := codec.Decode(ids)
		if err != nil {
			return nil, fmt.Errorf("bpe: cl100k_base token %d: %w", id, err)
		}
		tokens[id] = []byte(s)
	}
	initBMPClass()
	return &Encoding{name: "cl100k_base", ranks: newRankTable(tokens)}, nil
}
