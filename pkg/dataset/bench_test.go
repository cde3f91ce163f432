package dataset

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/brightrun/brightrun/pkg/dataset/datasetgen"
)

// benchData is 64 MiB of generated brightrun_lora_v4 JSONL, built once.
var benchData = sync.OnceValue(func() []byte {
	r, err := datasetgen.NewReader(datasetgen.Options{Seed: 1}, 64<<20)
	if err != nil {
		panic(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		panic(err)
	}
	return b
})

func benchValidate(b *testing.B, opts Options) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		rep, err := Validate(context.Background(), bytes.NewReader(data), opts)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Valid {
			b.Fatalf("generated data is invalid: %v", rep.CountsByCode)
		}
	}
}

// BenchmarkValidateStructure measures validation without token counting
// (target >= 250 MB/s on one core).
func BenchmarkValidateStructure(b *testing.B) {
	benchValidate(b, Options{EstimateTokens: true})
}

// BenchmarkValidateExactTokens measures validation with exact cl100k_base
// counts (target >= 40 MB/s on one core).
func BenchmarkValidateExactTokens(b *testing.B) {
	if _, err := Validate(context.Background(), bytes.NewReader(nil), Options{}); err != nil {
		b.Fatal(err) // loads the vocabulary outside the timing
	}
	benchValidate(b, Options{})
}
