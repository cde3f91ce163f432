package bpe

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"sync"
)

//go:generate go run ./internal/vocabgen -o cl100k_base.tiktoken.gz

// cl100kGz is OpenAI's cl100k_base.tiktoken (base64 token, space, rank per
// line), gzipped: 776 KB. It was generated from the vocabulary embedded in
// github.com/tiktoken-go/tokenizer, so production code needs neither that
// library (10 MB of Go map literals for four encodings) nor the network.
//
//go:embed cl100k_base.tiktoken.gz
var cl100kGz []byte

// cl100kSHA256 is the SHA-256 of the uncompressed file; tiktoken checks the
// same value when it downloads cl100k_base.tiktoken.
const cl100kSHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

// cl100kTokens is the number of mergeable ranks in cl100k_base (ids
// 0..100255); the special tokens above them are not used for counting.
const cl100kTokens = 100256

// maxTokenBytes is the length of cl100k_base's longest token (128 spaces);
// a piece of n bytes has at least ceil(n/maxTokenBytes) tokens.
const maxTokenBytes = 128

var cl100k struct {
	once sync.Once
	enc  *Encoding
	err  error
}

// Cl100kBase returns the shared cl100k_base encoding. The first call builds
// it from the embedded vocabulary (a few milliseconds, ~5 MiB); later calls
// return the same value.
func Cl100kBase() (*Encoding, error) {
	cl100k.once.Do(func() {
		cl100k.enc, cl100k.err = loadCl100k()
	})
	return cl100k.enc, cl100k.err
}

func loadCl100k() (*Encoding, error) {
	tokens, err := parseTiktoken(cl100kGz, cl100kSHA256)
	if err != nil {
		return nil, fmt.Errorf("bpe: cl100k_base vocabulary: %w", err)
	}
	if len(tokens) != cl100kTokens {
		return nil, fmt.Errorf("bpe: cl100k_base vocabulary has %d tokens, want %d", len(tokens), cl100kTokens)
	}
	initBMPClass()
	return &Encoding{name: "cl100k_base", ranks: newRankTable(tokens)}, nil
}

// parseTiktoken reads a gzipped .tiktoken file, checks its hash, and
// returns the tokens indexed by rank. Ranks must be dense from 0.
func parseTiktoken(gz []byte, wantSHA256 string) ([][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	file, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(file); hex.EncodeToString(sum[:]) != wantSHA256 {
		return nil, fmt.Errorf("sha256 %x, want %s", sum, wantSHA256)
	}
	var tokens [][]byte
	arena := make([]byte, 0, len(file)) // decoded tokens are shorter than their lines
	for n := 1; len(file) > 0; n++ {
		line := file
		if i := bytes.IndexByte(file, '\n'); i >= 0 {
			line, file = file[:i], file[i+1:]
		} else {
			file = nil
		}
		b64, rankText, ok := bytes.Cut(line, []byte(" "))
		rank, err := strconv.Atoi(string(rankText))
		if !ok || err != nil || rank != len(tokens) {
			return nil, fmt.Errorf("line %d: want %q followed by rank %d", n, "base64 ", len(tokens))
		}
		start := len(arena)
		arena, err = base64.StdEncoding.AppendDecode(arena, b64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		tokens = append(tokens, arena[start:len(arena):len(arena)])
	}
	return tokens, nil
}
