// Package datasetgen writes deterministic, realistic chat fine-tuning data
// as JSONL: the same Options always give the same bytes. Benchmarks and
// cmd/datagen use it; it can also inject defects at a given rate so that
// the validator's error paths get exercised at scale.
//
// It does not import package dataset (whose tests import this package), so
// format names are repeated here as strings.
package datasetgen
