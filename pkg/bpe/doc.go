// Package bpe counts cl100k_base tokens exactly as OpenAI's tiktoken does,
// at several times the speed of the regexp-based Go ports.
//
// Tokenisation has two stages:
//
//  1. Pre-tokenisation splits text into pieces with the cl100k_base pattern
//     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//     This package implements that pattern by hand (split.go) instead of
//     running a backtracking regexp engine, which is where the Go ports spend
//     most of their time.
//  2. Each piece is byte-pair encoded with the cl100k_base merge ranks
//     (merge.go). Most pieces are whole tokens, so a rank lookup answers
//     them; the others go through a small per-Counter cache first.
//
// The vocabulary is not shipped here: it is read once, lazily, from the
// data embedded in github.com/tiktoken-go/tokenizer (no network access, ever).
//
// Unicode classes (\p{L}, \p{N}, \s) come from Go's unicode package
// (Unicode 15.0.0 in Go 1.26). \s is unicode.IsSpace, which is the Unicode
// White_Space property used by tiktoken's Rust regex.
//
// Special tokens such as "<|endoftext|>" are counted as ordinary text, like
// tiktoken's encode_ordinary: training data is plain text.
package bpe
