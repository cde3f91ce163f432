package datasetgen

import "testing"

func BenchmarkAppendLine(b *testing.B) {
	g, err := New(Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	n := 0
	for b.Loop() {
		buf = g.AppendLine(buf[:0])
		n += len(buf)
	}
	b.SetBytes(int64(n / b.N))
}
