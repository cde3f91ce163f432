package dataset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Lines used by many cases.
const (
	okV4       = `{"conversation_id":"c1","turns":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}]}`
	okV4b      = `{"conversation_id":"c2","turns":[{"role":"system","content":"Be brief."},{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}]}`
	okV3       = `{"conversation_id":"c3","turns":[{"speaker":"human","text":"Hi"},{"speaker":"assistant","text":"Hello!"}]}`
	okOpenAI   = `{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!","weight":1}]}`
	okShareGPT = `{"conversations":[{"from":"human","value":"Hi"},{"from":"gpt","value":"Hello!"}]}`
)

// v4 builds a brightrun_lora_v4 line from "role:content" turns.
func v4(id string, turns ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"conversation_id":%q,"turns":[`, id)
	for i, t := range turns {
		role, content, _ := strings.Cut(t, ":")
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"role":%q,"content":%q}`, role, content)
	}
	b.WriteString("]}")
	return b.String()
}

type want struct {
	line int
	path string
	code Code
}

func (w want) String() string { return fmt.Sprintf("%d %s %s", w.line, w.path, w.code) }

func validate(t *testing.T, input string, opts Options) *Report {
	t.Helper()
	if opts.MinConversations == 0 {
		opts.MinConversations = -1 // most cases are about other codes
	}
	rep, err := Validate(context.Background(), strings.NewReader(input), opts)
	if err != nil {
		t.Fatalf("Validate() error = %v", err)
	}
	return rep
}

func issuesOf(rep *Report) []string {
	var out []string
	for _, is := range rep.Issues {
		out = append(out, want{is.Line, is.Path, is.Code}.String())
	}
	slices.Sort(out)
	return out
}

type issueCase struct {
	name        string
	input       string
	opts        Options
	want        []want
	wantValid   int
	wantInvalid int
}

var long = strings.Repeat("word ", 60)

// issueCases has at least one case per code (TestEveryCodeIsTested).
var issueCases = []issueCase{
	{name: "valid v4", input: okV4 + "\n" + okV4b + "\n", wantValid: 2},
	{name: "no trailing newline", input: okV4 + "\n" + okV4b, wantValid: 2},
	{name: "blank lines", input: "\n" + okV4 + "\n\n   \n\t\n" + okV4b + "\n\n", wantValid: 2},
	{name: "CRLF line endings", input: okV4 + "\r\n" + okV4b + "\r\n\r\n", wantValid: 2},
	{name: "valid v3", input: okV3, wantValid: 1},
	{name: "valid openai", input: okOpenAI, wantValid: 1},
	{name: "valid sharegpt", input: okShareGPT, wantValid: 1},
	{
		name: "LINE_TOO_LONG, next line still read", input: v4("a", "user:"+long, "assistant:ok") + "\n" + okV4,
		opts: Options{MaxLineBytes: 200}, want: []want{{1, "", CodeLineTooLong}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "UTF8_BOM", input: "\xEF\xBB\xBF" + okV4 + "\n" + okV4b,
		want: []want{{1, "", CodeUTF8BOM}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "INVALID_UTF8", input: okV4 + "\n" + `{"conversation_id":"b","turns":[{"role":"user","content":"caf` + "\xe9" + `"},{"role":"assistant","content":"ok"}]}`,
		want: []want{{2, "", CodeInvalidUTF8}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "INVALID_JSON", input: okV4 + "\n" + `{"conversation_id":"b","turns":[}`,
		want: []want{{2, "", CodeInvalidJSON}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "INVALID_JSON truncated line", input: okV4[:40],
		want: []want{{1, "", CodeInvalidJSON}}, wantInvalid: 1,
	},
	{
		name: "NOT_AN_OBJECT", input: "[1,2]\n\"text\"\n42\nnull",
		want: []want{{1, "", CodeNotAnObject}, {2, "", CodeNotAnObject}, {3, "", CodeNotAnObject}, {4, "", CodeNotAnObject}}, wantInvalid: 4,
	},
	{
		name: "DUPLICATE_KEY", input: `{"conversation_id":"a","conversation_id":"b","turns":[{"role":"user","content":"Hi","content":"x"},{"role":"assistant","content":"ok"}]}`,
		want: []want{{1, "conversation_id", CodeDuplicateKey}, {1, "turns[0].content", CodeDuplicateKey}}, wantInvalid: 1,
	},
	{
		name: "UNKNOWN_FORMAT", input: `{"prompt":"Hi","completion":"Hello"}` + "\n" + okV4,
		want: []want{{1, "", CodeUnknownFormat}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "FORMAT_MISMATCH", input: okV4 + "\n" + okOpenAI + "\n" + okV3,
		want: []want{{2, "", CodeFormatMismatch}, {3, "", CodeFormatMismatch}}, wantValid: 1, wantInvalid: 2,
	},
	{
		name: "FORMAT_MISMATCH with a forced format", input: okV4, opts: Options{Format: FormatOpenAIChat},
		want: []want{{1, "", CodeFormatMismatch}}, wantInvalid: 1,
	},
	{
		name: "MISSING_FIELD", input: `{"turns":[{"role":"user"},{"content":"ok"}]}` + "\n" + `{"conversation_id":"b"}`,
		opts: Options{Format: FormatLoRAv4},
		want: []want{
			{1, "conversation_id", CodeMissingField}, {1, "turns[0].content", CodeMissingField}, {1, "turns[1].role", CodeMissingField},
			{2, "turns", CodeMissingField},
		},
		wantInvalid: 2,
	},
	{
		name: "MISSING_FIELD openai messages", input: okOpenAI + "\n" + `{"model":"gpt"}`, opts: Options{Format: FormatOpenAIChat},
		want: []want{{2, "messages", CodeMissingField}, {2, "model", CodeUnknownKey}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "INVALID_TYPE", input: strings.Join([]string{
			`{"conversation_id":7,"turns":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok"}]}`,
			`{"conversation_id":"b","turns":{"role":"user"}}`,
			`{"conversation_id":"c","turns":["hi",{"role":"user","content":"Hi"},{"role":["assistant"],"content":5}]}`,
			`{"conversation_id":"d","turns":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok"}],"split":1,"metadata":"x"}`,
		}, "\n"),
		want: []want{
			{1, "conversation_id", CodeInvalidType},
			{2, "turns", CodeInvalidType},
			{3, "turns[0]", CodeInvalidType}, {3, "turns[2].content", CodeInvalidType}, {3, "turns[2].role", CodeInvalidType},
			{4, "metadata", CodeInvalidType}, {4, "split", CodeInvalidType},
		},
		wantInvalid: 4,
	},
	{
		name: "UNKNOWN_KEY is a warning", input: `{"conversation_id":"a","source":"web","turns":[{"role":"user","content":"Hi","name":"bob"},{"role":"assistant","content":"ok"}]}`,
		want: []want{{1, "source", CodeUnknownKey}, {1, "turns[0].name", CodeUnknownKey}}, wantValid: 1,
	},
	{
		name: "UNKNOWN_KEY for another format's keys", input: `{"conversation_id":"a","split":"train","turns":[{"speaker":"human","text":"Hi","role":"user"},{"speaker":"assistant","text":"ok"}]}`,
		want: []want{{1, "split", CodeUnknownKey}, {1, "turns[0].role", CodeUnknownKey}}, wantValid: 1,
	},
	{
		name: "EMPTY_CONVERSATION_ID", input: v4("", "user:Hi", "assistant:ok") + "\n" + v4(" \t", "user:Hi", "assistant:ok"),
		want: []want{{1, "conversation_id", CodeEmptyConversationID}, {2, "conversation_id", CodeEmptyConversationID}}, wantInvalid: 2,
	},
	{
		name: "DUPLICATE_CONVERSATION_ID", input: okV4 + "\n" + okV4b + "\n" + okV4,
		want: []want{{3, "conversation_id", CodeDuplicateID}}, wantValid: 2, wantInvalid: 1,
	},
	{
		name: "INVALID_SPLIT", input: `{"conversation_id":"a","split":"test","turns":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok"}]}`,
		want: []want{{1, "split", CodeInvalidSplit}}, wantInvalid: 1,
	},
	{
		name: "null split and metadata are absent", input: `{"conversation_id":"a","split":null,"metadata":null,"turns":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok"}]}`,
		wantValid: 1,
	},
	{
		name: "INVALID_WEIGHT and WEIGHT_IGNORED", input: strings.Join([]string{
			`{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok","weight":2}]}`,
			`{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok","weight":"1"}]}`,
			`{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok","weight":0}]}`,
			`{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"ok","weight":1.0}]}`,
		}, "\n"),
		want:      []want{{1, "messages[1].weight", CodeInvalidWeight}, {2, "messages[1].weight", CodeInvalidWeight}, {3, "messages[1].weight", CodeWeightIgnored}},
		wantValid: 2, wantInvalid: 2,
	},
	{
		name: "UNKNOWN_ROLE", input: v4("a", "user:Hi", "bot:ok") + "\n" + `{"conversations":[{"from":"human","value":"Hi"},{"from":"chatgpt","value":"ok"}]}`,
		opts: Options{Format: FormatLoRAv4},
		want: []want{{1, "turns[1].role", CodeUnknownRole}, {2, "", CodeFormatMismatch}}, wantInvalid: 2,
	},
	{
		name: "UNKNOWN_ROLE v3 uses human", input: `{"conversation_id":"a","turns":[{"speaker":"user","text":"Hi"},{"speaker":"assistant","text":"ok"}]}`,
		want: []want{{1, "turns[0].speaker", CodeUnknownRole}}, wantInvalid: 1,
	},
	{
		name: "EMPTY_CONTENT", input: v4("a", "user:", "assistant:ok") + "\n" + v4("b", "user:Hi", "assistant: \n\u3000"),
		want: []want{{1, "turns[0].content", CodeEmptyContent}, {2, "turns[1].content", CodeEmptyContent}}, wantInvalid: 2,
	},
	{
		name: "NO_TURNS", input: `{"conversation_id":"a","turns":[]}`,
		want: []want{{1, "turns", CodeNoTurns}}, wantInvalid: 1,
	},
	{
		name: "MISSING_USER_TURN", input: v4("a", "system:Be nice", "assistant:ok"),
		want: []want{{1, "turns", CodeMissingUserTurn}, {1, "turns[1].role", CodeFirstTurnNotUser}}, wantInvalid: 1,
	},
	{
		name: "MISSING_ASSISTANT_TURN", input: v4("a", "user:Hi"),
		want: []want{{1, "turns", CodeMissingAssistantTurn}}, wantInvalid: 1,
	},
	{
		name: "FIRST_TURN_NOT_USER", input: v4("a", "system:S", "assistant:Hello", "user:Hi", "assistant:ok"),
		want: []want{{1, "turns[1].role", CodeFirstTurnNotUser}}, wantInvalid: 1,
	},
	{
		name: "CONSECUTIVE_SAME_ROLE", input: v4("a", "user:Hi", "user:Anyone?", "assistant:ok", "assistant:really"),
		want: []want{{1, "turns[1].role", CodeConsecutiveSameRole}, {1, "turns[3].role", CodeConsecutiveSameRole}}, wantInvalid: 1,
	},
	{
		name: "LAST_TURN_NOT_ASSISTANT is a warning", input: v4("a", "user:Hi", "assistant:ok", "user:thanks"),
		want: []want{{1, "turns[2].role", CodeLastTurnNotAssistant}}, wantValid: 1,
	},
	{
		name: "CONVERSATION_TOO_LONG", input: v4("a", "user:"+long, "assistant:ok") + "\n" + okV4, opts: Options{MaxTokens: 50},
		want: []want{{1, "turns", CodeConversationTooLong}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "TOKEN_LIMIT_UNVERIFIED in estimate mode", input: v4("a", "user:"+long, "assistant:ok"), opts: Options{MaxTokens: 50, EstimateTokens: true},
		want: []want{{1, "turns", CodeTokenLimitUnverified}}, wantValid: 1,
	},
	{
		name: "TOO_FEW_CONVERSATIONS", input: okV4 + "\n" + okV4b, opts: Options{MinConversations: 10},
		want: []want{{0, "", CodeTooFewConversations}}, wantValid: 2,
	},
	{
		name: "TOO_FEW_CONVERSATIONS on an empty file", input: "", opts: Options{MinConversations: 10},
		want: []want{{0, "", CodeTooFewConversations}},
	},
	{
		name: "DUPLICATE_CHECK_TRUNCATED", input: okV4 + "\n" + okV4b + "\n" + v4("c9", "user:a", "assistant:b") + "\n" + okV4b, opts: Options{MaxTrackedIDs: 2},
		want: []want{{0, "", CodeDuplicateCheckTruncated}, {4, "conversation_id", CodeDuplicateID}}, wantValid: 3, wantInvalid: 1,
	},
	{
		name: "ambiguous first line then v3", input: `{"conversation_id":"a","turns":[]}` + "\n" + okV3,
		want: []want{{1, "turns", CodeNoTurns}}, wantValid: 1, wantInvalid: 1,
	},
	{
		name: "escaped keys and values", input: `{"conversation_\u0069d":"\u0061","turns":[{"r\u006fle":"us\u0065r","content":"\ud83d\ude00"},{"role":"assistant","content":"ok"}]}`,
		wantValid: 1,
	},
}

func TestValidateIssues(t *testing.T) {
	for _, tt := range issueCases {
		t.Run(tt.name, func(t *testing.T) {
			rep := validate(t, tt.input, tt.opts)
			var wantS []string
			for _, w := range tt.want {
				wantS = append(wantS, w.String())
			}
			slices.Sort(wantS)
			if got := issuesOf(rep); !slices.Equal(got, wantS) {
				t.Errorf("issues:\n got %q\nwant %q", got, wantS)
			}
			if rep.LinesValid != tt.wantValid || rep.LinesInvalid != tt.wantInvalid {
				t.Errorf("lines valid/invalid = %d/%d, want %d/%d", rep.LinesValid, rep.LinesInvalid, tt.wantValid, tt.wantInvalid)
			}
			for _, is := range rep.Issues {
				if is.Message == "" || is.Suggestion == "" || is.Severity != SeverityOf(is.Code) {
					t.Errorf("issue %+v: want a message, a suggestion and severity %q", is, SeverityOf(is.Code))
				}
			}
			if gotValid := rep.ErrorCount == 0; rep.Valid != gotValid {
				t.Errorf("Valid = %v with %d errors", rep.Valid, rep.ErrorCount)
			}
		})
	}
}

func TestEveryCodeIsTested(t *testing.T) {
	seen := map[Code]bool{}
	for _, tc := range issueCases {
		for _, w := range tc.want {
			seen[w.code] = true
		}
	}
	for _, c := range Codes() {
		if !seen[c] {
			t.Errorf("no case in issueCases expects %s", c)
		}
	}
}

func TestHostileLongPieceIsCheap(t *testing.T) {
	// 6 MiB of one letter is a single pre-tokenizer piece; merging it would
	// take seconds and ~120 MiB. It cannot fit the limit, so it is not merged.
	line := v4("a", "user:"+strings.Repeat("a", 6<<20), "assistant:ok")
	rep := validate(t, line, Options{})
	if rep.CountsByCode[CodeConversationTooLong] != 1 {
		t.Errorf("counts = %v, want CONVERSATION_TOO_LONG", rep.CountsByCode)
	}
}
