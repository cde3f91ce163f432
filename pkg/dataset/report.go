package dataset

// Report is the outcome of validating one file. JSON names are snake_case
// because the report is stored and shown to the frontend as is.
type Report struct {
	// Valid is true when the file has no error (warnings are allowed).
	Valid  bool   `json:"valid"`
	Format Format `json:"format"` // "" if no line was recognisable
	SHA256 string `json:"sha256"` // of every byte read, hex
	Bytes  int64  `json:"bytes"`

	// Every non-blank line is either valid or invalid (has >= 1 error):
	// LinesValid + LinesInvalid + LinesBlank == LinesTotal.
	LinesTotal   int `json:"lines_total"`
	LinesBlank   int `json:"lines_blank"`
	LinesValid   int `json:"lines_valid"`
	LinesInvalid int `json:"lines_invalid"`

	ErrorCount   int          `json:"error_count"`
	WarningCount int          `json:"warning_count"`
	CountsByCode map[Code]int `json:"counts_by_code"`
	// Issues holds file-level issues (line 0) first, then the first
	// Options.MaxIssues errors and the first Options.MaxIssues warnings in
	// line order. IssuesTruncated says some were left out (the counts above
	// include them all).
	Issues          []Issue `json:"issues"`
	IssuesTruncated bool    `json:"issues_truncated"`

	Stats Stats `json:"stats"`
	// SampleData is the first Options.SampleSize valid conversations,
	// normalised, with long contents truncated.
	SampleData []Conversation `json:"sample_data"`
}

// Issue is one problem found in the file.
type Issue struct {
	Line       int      `json:"line"` // 1-based physical line; 0 for the whole file
	Path       string   `json:"path"` // e.g. "turns[3].role"; "" for the whole line
	Code       Code     `json:"code"`
	Message    string   `json:"message"`
	Suggestion string   `json:"suggestion"`
	Severity   Severity `json:"severity"`
}

// Stats describe the valid conversations only.
type Stats struct {
	Conversations           int   `json:"conversations"`
	TrainConversations      int   `json:"train_conversations"`
	ValidationConversations int   `json:"validation_conversations"`
	TotalTurns              int64 `json:"total_turns"`
	// A pair is an assistant turn whose previous non-system turn is a user
	// turn, counted in the conversation's split.
	TotalTrainingPairs   int64 `json:"total_training_pairs"`
	TotalValidationPairs int64 `json:"total_validation_pairs"`

	// TotalTokens sums the cl100k_base tokens of every turn's content,
	// without any chat-template overhead. When TokensExact is false it is an
	// estimate (see TokenMethod).
	TotalTokens           int64        `json:"total_tokens"`
	TokensExact           bool         `json:"tokens_exact"`
	TokenMethod           string       `json:"token_method"`
	TokensPerConversation Distribution `json:"tokens_per_conversation"`

	AvgTurnsPerConversation float64 `json:"avg_turns_per_conversation"`
	AvgTokensPerTurn        float64 `json:"avg_tokens_per_turn"`
}

// Distribution summarises tokens per conversation. P50 and P95 use the
// nearest-rank definition; they are exact below 4096 tokens and rounded up
// by less than 0.05% above (see histogram.go). Max and Mean are exact.
type Distribution struct {
	P50  int     `json:"p50"`
	P95  int     `json:"p95"`
	Max  int     `json:"max"`
	Mean float64 `json:"mean"`
}

// Conversation is the normalised form of one line.
type Conversation struct {
	Line           int    `json:"line"`
	ConversationID string `json:"conversation_id"`
	Split          Split  `json:"split"`
	Turns          []Turn `json:"turns"`
	Tokens         int    `json:"tokens"`
}

// Turn is one normalised message.
type Turn struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}
