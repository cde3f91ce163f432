package bpe

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// TestVocabularyMatchesLibrary: the embedded file holds exactly the
// reference library's cl100k_base tokens (go generate rebuilds it).
func TestVocabularyMatchesLibrary(t *testing.T) {
	codec, _ := reference(t)
	tokens, err := parseTiktoken(cl100kGz, cl100kSHA256)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != cl100kTokens {
		t.Fatalf("got %d tokens, want %d", len(tokens), cl100kTokens)
	}
	for id, tok := range tokens {
		want, err := codec.Decode([]uint{uint(id)})
		if err != nil || want != string(tok) {
			t.Fatalf("token %d = %q, library has %q (err %v)", id, tok, want, err)
		}
	}
}

func TestParseTiktokenRejectsCorruptData(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	if _, err := parseTiktoken(gz("YQ== 0\n"), cl100kSHA256); err == nil {
		t.Error("a file with the wrong hash was accepted")
	}
	if _, err := parseTiktoken([]byte("not gzip"), cl100kSHA256); err == nil {
		t.Error("data that is not gzip was accepted")
	}
}

// BenchmarkLoad measures the cold-start cost of the vocabulary.
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := loadCl100k(); err != nil {
			b.Fatal(err)
		}
	}
}
