package bpe

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestCountMatchesTiktoken checks counts and ids against OpenAI's tiktoken
// itself (Rust core, via its WASM build): see testdata/gen_golden.js. This
// is the ground truth where the Go reference library has bugs.
func TestCountMatchesTiktoken(t *testing.T) {
	f, err := os.Open("testdata/tiktoken_cl100k_golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := newTestCounter(t)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var g struct {
			Text  string `json:"text"`
			Count int    `json:"count"`
			IDs   []int  `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &g); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		n++
		if got := c.CountString(g.Text); got != g.Count {
			t.Errorf("CountString(%q) = %d, want %d", g.Text, got, g.Count)
		}
		if got := c.AppendTokens(nil, []byte(g.Text)); !slices.Equal(got, g.IDs) {
			t.Errorf("AppendTokens(%q) = %v, want %v", g.Text, got, g.IDs)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 400 {
		t.Fatalf("read %d golden texts, want >= 400", n)
	}
}
