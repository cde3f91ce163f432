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
//     them; the others are merged, and a small per-Counter cache remembers
//     the merged ones (rare words repeat).
//
// The vocabulary is OpenAI's cl100k_base.tiktoken, embedded gzipped (776 KB)
// and checked against its published SHA-256 when first used; no network
// access, ever. It was generated (go generate, internal/vocabgen) from the
// data embedded in github.com/tiktoken-go/tokenizer, which production code
// does not import: that library is only the tests' reference.
//
// Unicode classes (\p{L}, \p{N}, \s) come from Go's unicode package
// (Unicode 15.0.0 in Go 1.26). \s is unicode.IsSpace, which is the Unicode
// White_Space property used by tiktoken's Rust regex.
//
// Special tokens such as "<|endoftext|>" are counted as ordinary text, like
// tiktoken's encode_ordinary: training data is plain text.
//
// # Correctness
//
// Three tests pin the behaviour down:
//
//   - golden_test.go: counts and ids equal OpenAI's tiktoken itself (its
//     WASM build, run once by testdata/gen_golden.js) on ~470 texts.
//   - FuzzCountMatchesReference: ids equal github.com/tiktoken-go/tokenizer
//     v0.10.0 on any input. That library deviates from tiktoken in two ways,
//     which the test reproduces with a compat splitter: its generated matcher
//     backtracks \s*[\r\n]+ to the first newline of a whitespace run instead
//     of the last ("a\n \n b" is 4 tokens there, 3 in tiktoken), and it drops
//     every DEL byte (0x7F) instead of counting it as token 221.
//   - FuzzPiecesMatchInterpreter: the production splitter equals regexp2's
//     backtracking interpreter running the pattern, on any valid UTF-8.
//
// Unicode classes follow Go's tables (Unicode 15.0.0); a character assigned
// in a later Unicode version could be classified differently by a tiktoken
// built on newer tables.
package bpe
