package bpe

import (
	"slices"
	"testing"
	"unicode/utf8"
)

func addSeeds(f *testing.F) {
	for _, s := range sampleTexts {
		f.Add(s)
	}
}

// FuzzCountMatchesReference: the compat Counter must produce exactly the
// reference library's token ids, for any input including invalid UTF-8.
func FuzzCountMatchesReference(f *testing.F) {
	addSeeds(f)
	codec, _ := reference(f)
	c := newTestCounter(f)
	c.split = compatSplitter
	f.Fuzz(func(t *testing.T, s string) {
		want, _, err := codec.Encode(s)
		if err != nil {
			t.Skip()
		}
		got := c.AppendTokens(nil, []byte(s))
		if !slices.EqualFunc(got, want, func(a int, b uint) bool { return uint(a) == b }) {
			t.Fatalf("AppendTokens(%q) = %v, want %v", s, got, want)
		}
		if n := c.CountString(s); n != len(want) {
			t.Fatalf("CountString(%q) = %d, want %d", s, n, len(want))
		}
	})
}

// FuzzPiecesMatchInterpreter: the production pre-tokenizer must split valid
// UTF-8 exactly as a backtracking engine runs the cl100k_base pattern.
func FuzzPiecesMatchInterpreter(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip()
		}
		got, want := ourPieces(s, tiktokenSplitter), refPieces(t, s)
		if !slices.Equal(got, want) {
			t.Fatalf("pieces of %q:\n got %q\nwant %q", s, got, want)
		}
	})
}
