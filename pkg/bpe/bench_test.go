package bpe

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/brightrun/brightrun/pkg/dataset/datasetgen"
)

// benchText is ~4 MB of the generator's chat contents (not JSON): realistic
// English prose with code, numbers and some unicode.
var benchText = sync.OnceValue(func() []byte {
	g, err := datasetgen.New(datasetgen.Options{Seed: 42})
	if err != nil {
		panic(err)
	}
	var out, line []byte
	for len(out) < 4<<20 {
		line = g.AppendLine(line[:0])
		var conv struct {
			Turns []struct{ Content string } `json:"turns"`
		}
		if err := json.Unmarshal(line, &conv); err != nil {
			panic(err)
		}
		for _, t := range conv.Turns {
			out = append(out, t.Content...)
			out = append(out, '\n')
		}
	}
	return out
})

// benchChunks splits benchText into turn-sized pieces, as the validator
// counts them.
func benchChunks() [][]byte {
	return bytes.SplitAfter(benchText(), []byte("\n"))
}

func BenchmarkCount(b *testing.B) {
	c := newTestCounter(b)
	chunks := benchChunks()
	b.SetBytes(int64(len(benchText())))
	for b.Loop() {
		for _, ch := range chunks {
			c.Count(ch)
		}
	}
}

func BenchmarkCountColdCache(b *testing.B) {
	enc, _ := Cl100kBase()
	chunks := benchChunks()
	b.SetBytes(int64(len(benchText())))
	for b.Loop() {
		c := enc.NewCounter()
		for _, ch := range chunks {
			c.Count(ch)
		}
	}
}

func BenchmarkReferenceCount(b *testing.B) {
	codec, _ := reference(b)
	chunks := benchChunks()
	text := benchText()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		for _, ch := range chunks {
			if _, err := codec.Count(string(ch)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
