// Command vocabgen writes cl100k_base.tiktoken.gz for package bpe from the
// vocabulary embedded in github.com/tiktoken-go/tokenizer: the standard
// tiktoken file (base64 token, space, rank, newline per line), gzipped.
// Run it with `go generate ./pkg/bpe`.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/tiktoken-go/tokenizer"
)

func main() {
	out := flag.String("o", "cl100k_base.tiktoken.gz", "output file")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "vocabgen:", err)
		os.Exit(1)
	}
}

// cl100kTokens is the number of mergeable ranks (ids 0..100255).
const cl100kTokens = 100256

func run(out string) error {
	codec, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		return err
	}
	var file []byte
	for id := range cl100kTokens {
		tok, err := codec.Decode([]uint{uint(id)})
		if err != nil {
			return fmt.Errorf("token %d: %w", id, err)
		}
		file = base64.StdEncoding.AppendEncode(file, []byte(tok))
		file = append(file, ' ')
		file = strconv.AppendInt(file, int64(id), 10)
		file = append(file, '\n')
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression) // no name or mtime: reproducible
	if err != nil {
		return err
	}
	if _, err := zw.Write(file); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, gz.Bytes(), 0o644)
}
