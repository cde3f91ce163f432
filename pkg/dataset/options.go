package dataset

import (
	"fmt"

	"github.com/brightrun/brightrun/pkg/bpe"
)

// Defaults for zero Options fields.
const (
	DefaultMaxTokens         = 32768
	DefaultMinConversations  = 10
	DefaultMaxLineBytes      = 8 << 20
	DefaultMaxIssues         = 100
	DefaultSampleSize        = 3
	DefaultSampleMaxChars    = 2000
	DefaultValidationPercent = 10
)

// Options tune Validate. The zero value validates with exact token counts
// and the defaults above.
type Options struct {
	// Format forces the format; "" detects it from the first recognisable line.
	Format Format
	// EstimateTokens skips exact cl100k_base counting (about 5x faster):
	// statistics then use ceil(UTF-8 bytes / 4) per content, and the token
	// limit is only checked against an upper bound (TOKEN_LIMIT_UNVERIFIED).
	EstimateTokens bool
	// MaxTokens is the per-conversation token limit (CONVERSATION_TOO_LONG).
	MaxTokens int
	// MinConversations is the fewest valid conversations a file needs
	// (TOO_FEW_CONVERSATIONS); negative disables the check.
	MinConversations int
	// MaxLineBytes is the longest accepted line, without its newline. Longer
	// lines are reported (LINE_TOO_LONG) and skipped without being buffered.
	MaxLineBytes int
	// MaxIssues caps Report.Issues: this many errors plus this many warnings.
	MaxIssues int
	// SampleSize is how many valid conversations Report.SampleData keeps;
	// SampleMaxChars truncates their contents (in runes).
	SampleSize     int
	SampleMaxChars int
	// ValidationPercent is the share of conversations without an explicit
	// split that go to validation (see splitOf).
	ValidationPercent int
	// MaxTrackedIDs caps the duplicate-id set (8 to 21 bytes per id; see
	// idset.go). 0 means no cap. Past the cap, new ids are still checked
	// against the tracked ones but not added (DUPLICATE_CHECK_TRUNCATED).
	MaxTrackedIDs int
	// Encoding counts tokens; nil means bpe.Cl100kBase().
	Encoding *bpe.Encoding
	// OnConversation, if set, receives every valid conversation, normalised,
	// in line order. An error it returns stops Validate and is returned.
	OnConversation func(Conversation) error
}

func (o Options) withDefaults() (Options, error) {
	if o.Format != "" && !o.Format.valid() {
		return o, fmt.Errorf("dataset: unknown format %q", o.Format)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxTokens, DefaultMaxTokens)
	if o.MinConversations == 0 {
		o.MinConversations = DefaultMinConversations
	}
	def(&o.MaxLineBytes, DefaultMaxLineBytes)
	def(&o.MaxIssues, DefaultMaxIssues)
	def(&o.SampleSize, DefaultSampleSize)
	def(&o.SampleMaxChars, DefaultSampleMaxChars)
	def(&o.ValidationPercent, DefaultValidationPercent)
	if o.ValidationPercent > 100 {
		return o, fmt.Errorf("dataset: validation percent %d is over 100", o.ValidationPercent)
	}
	if o.Encoding == nil && !o.EstimateTokens {
		enc, err := bpe.Cl100kBase()
		if err != nil {
			return o, err
		}
		o.Encoding = enc
	}
	return o, nil
}
