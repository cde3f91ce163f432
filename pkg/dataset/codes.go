package dataset

import "slices"

// Code identifies a kind of issue. Codes are stable: clients may match on
// them. docs/dataset-formats.md has an example of each.
type Code string

// Severity says whether an issue makes its line (or the file) invalid.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Line-level encoding and syntax.
const (
	CodeLineTooLong  Code = "LINE_TOO_LONG"
	CodeUTF8BOM      Code = "UTF8_BOM"
	CodeInvalidUTF8  Code = "INVALID_UTF8"
	CodeInvalidJSON  Code = "INVALID_JSON"
	CodeNotAnObject  Code = "NOT_AN_OBJECT"
	CodeDuplicateKey Code = "DUPLICATE_KEY"
)

// Format.
const (
	CodeUnknownFormat  Code = "UNKNOWN_FORMAT"
	CodeFormatMismatch Code = "FORMAT_MISMATCH"
)

// Schema: keys, types and values.
const (
	CodeMissingField        Code = "MISSING_FIELD"
	CodeInvalidType         Code = "INVALID_TYPE"
	CodeUnknownKey          Code = "UNKNOWN_KEY" // warning
	CodeEmptyConversationID Code = "EMPTY_CONVERSATION_ID"
	CodeDuplicateID         Code = "DUPLICATE_CONVERSATION_ID"
	CodeInvalidSplit        Code = "INVALID_SPLIT"
	CodeInvalidWeight       Code = "INVALID_WEIGHT"
	CodeWeightIgnored       Code = "WEIGHT_IGNORED" // warning
	CodeUnknownRole         Code = "UNKNOWN_ROLE"
	CodeEmptyContent        Code = "EMPTY_CONTENT"
)

// Conversation structure.
const (
	CodeNoTurns              Code = "NO_TURNS"
	CodeMissingUserTurn      Code = "MISSING_USER_TURN"
	CodeMissingAssistantTurn Code = "MISSING_ASSISTANT_TURN"
	CodeFirstTurnNotUser     Code = "FIRST_TURN_NOT_USER"
	CodeConsecutiveSameRole  Code = "CONSECUTIVE_SAME_ROLE"
	CodeLastTurnNotAssistant Code = "LAST_TURN_NOT_ASSISTANT" // warning
	CodeConversationTooLong  Code = "CONVERSATION_TOO_LONG"
	CodeTokenLimitUnverified Code = "TOKEN_LIMIT_UNVERIFIED" // warning, estimate mode only
)

// File level (line 0).
const (
	CodeTooFewConversations     Code = "TOO_FEW_CONVERSATIONS"
	CodeDuplicateCheckTruncated Code = "DUPLICATE_CHECK_TRUNCATED" // warning
)

// codeInfo is the fixed part of every issue of a code.
type codeInfo struct {
	severity   Severity
	suggestion string
}

var codes = map[Code]codeInfo{
	CodeLineTooLong:             {SeverityError, "Split very long conversations, or remove embedded binary data; lines are limited to keep validation memory bounded."},
	CodeUTF8BOM:                 {SeverityError, "Save the file as UTF-8 without a byte order mark (BOM)."},
	CodeInvalidUTF8:             {SeverityError, "Re-encode the file as UTF-8 (it may be Latin-1 or Windows-1252)."},
	CodeInvalidJSON:             {SeverityError, "Each line must be one complete JSON object; check quotes, commas and brackets, and that the line is not cut off."},
	CodeNotAnObject:             {SeverityError, "Each line must be a JSON object ({...}), not an array, string or number."},
	CodeDuplicateKey:            {SeverityError, "Remove the repeated key: readers disagree on which value wins."},
	CodeUnknownFormat:           {SeverityError, `Use one of the supported formats: an object with "turns" (brightrun_lora_v4/v3), "messages" (openai_chat) or "conversations" (sharegpt).`},
	CodeFormatMismatch:          {SeverityError, "Use one format for every line of the file."},
	CodeMissingField:            {SeverityError, "Add the required key."},
	CodeInvalidType:             {SeverityError, "Use the JSON type the format requires for this key."},
	CodeUnknownKey:              {SeverityWarning, "Remove the key or check its spelling; it is ignored."},
	CodeEmptyConversationID:     {SeverityError, "Give every conversation a non-empty, unique conversation_id."},
	CodeDuplicateID:             {SeverityError, "Give every conversation a unique conversation_id."},
	CodeInvalidSplit:            {SeverityError, `Use "train" or "validation", or omit split to let BrightRun assign it.`},
	CodeInvalidWeight:           {SeverityError, "Use weight 0 or 1."},
	CodeWeightIgnored:           {SeverityWarning, "BrightRun trains on every assistant turn; remove the turn if it must not be learned."},
	CodeUnknownRole:             {SeverityError, "Use one of the roles of the format (see docs/dataset-formats.md)."},
	CodeEmptyContent:            {SeverityError, "Remove the turn or give it text."},
	CodeNoTurns:                 {SeverityError, "Add at least one user turn and one assistant turn."},
	CodeMissingUserTurn:         {SeverityError, "Add a user turn: the model learns to answer user turns."},
	CodeMissingAssistantTurn:    {SeverityError, "Add an assistant turn: it is what the model learns to produce."},
	CodeFirstTurnNotUser:        {SeverityError, "Start the conversation (after any system turns) with a user turn."},
	CodeConsecutiveSameRole:     {SeverityError, "Merge consecutive turns of the same role into one turn."},
	CodeLastTurnNotAssistant:    {SeverityWarning, "End the conversation with an assistant turn; a trailing turn teaches nothing."},
	CodeConversationTooLong:     {SeverityError, "Shorten the conversation or split it into several conversations."},
	CodeTokenLimitUnverified:    {SeverityWarning, "Validate with exact token counting to check this conversation against the limit."},
	CodeTooFewConversations:     {SeverityError, "Add more conversations: fine-tuning needs at least the minimum to learn anything."},
	CodeDuplicateCheckTruncated: {SeverityWarning, "Split the dataset into smaller files to check every id for duplicates."},
}

// Codes returns every code, sorted, for documentation and tests.
func Codes() []Code {
	out := make([]Code, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// SeverityOf returns the severity of code.
func SeverityOf(code Code) Severity { return codes[code].severity }
