// Command datagen writes a deterministic, realistic chat fine-tuning dataset
// (JSONL) for benchmarks and manual testing of the dataset validator.
//
//	datagen -mb 100 -seed 1 -format brightrun_lora_v4 -error-rate 0.01 -o data.jsonl
//
// The same flags always produce the same bytes. With -error-rate, about
// that share of lines carry one defect each (invalid JSON, missing field,
// unknown role, empty content, duplicate id, invalid UTF-8, ...).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/brightrun/brightrun/pkg/dataset/datasetgen"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "datagen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("datagen", flag.ContinueOnError)
	mb := fs.Float64("mb", 10, "approximate output size in MiB (the last line is always whole)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same output")
	format := fs.String("format", datasetgen.FormatV4, "brightrun_lora_v4, brightrun_lora_v3, openai_chat or sharegpt")
	errorRate := fs.Float64("error-rate", 0, "share of lines (0..1) with one injected defect")
	out := fs.String("o", "-", `output file, or "-" for standard output`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *mb <= 0 {
		return errors.New("-mb must be positive")
	}
	r, err := datasetgen.NewReader(datasetgen.Options{Seed: *seed, Format: *format, ErrorRate: *errorRate}, int64(*mb*(1<<20)))
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := io.Copy(bw, r); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}
