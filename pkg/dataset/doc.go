// Package dataset validates chat fine-tuning datasets (JSONL) and computes
// their statistics. It is pure domain code: it reads an io.Reader and
// returns a Report; it knows nothing about S3 or DynamoDB.
//
// Supported formats, detected from the first recognisable line or forced
// with Options.Format: brightrun_lora_v4, brightrun_lora_v3, openai_chat and
// sharegpt. Every line is normalised to a Conversation (id, split, turns of
// system/user/assistant), checked, and counted with exact cl100k_base token
// counts (package bpe). docs/dataset-formats.md describes the formats and
// every issue code.
//
// Memory stays bounded whatever the input size: lines are streamed through
// one buffer (a line over Options.MaxLineBytes is skipped, not buffered),
// token percentiles come from a fixed-size histogram, and duplicate ids are
// detected with 8-byte hashes (see idset.go for the cost per id).
package dataset
