package dataset

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/brightrun/brightrun/pkg/bpe"
)

func TestStatsAndSplits(t *testing.T) {
	lines := []string{
		`{"conversation_id":"t1","split":"train","turns":[{"role":"user","content":"Hi there"},{"role":"assistant","content":"Hello!"},{"role":"user","content":"How are you?"},{"role":"assistant","content":"Fine, thanks."}]}`,
		`{"conversation_id":"v1","split":"validation","turns":[{"role":"system","content":"Be brief."},{"role":"user","content":"2+2?"},{"role":"assistant","content":"4"}]}`,
		`{"conversation_id":"bad","turns":[{"role":"user","content":"not counted"}]}`,
	}
	// Conversations without a split go by hash: find one id of each side.
	var hashedTrain, hashedVal string
	for i := 0; hashedTrain == "" || hashedVal == ""; i++ {
		id := fmt.Sprintf("h%d", i)
		if splitOf([]byte(id), DefaultValidationPercent) == SplitValidation {
			hashedVal = id
		} else {
			hashedTrain = id
		}
	}
	lines = append(lines, v4(hashedTrain, "user:one", "assistant:two"), v4(hashedVal, "user:three", "assistant:four"))
	rep := validate(t, strings.Join(lines, "\n")+"\n", Options{})

	c := mustCounter(t)
	wantTokens := 0
	for _, s := range []string{"Hi there", "Hello!", "How are you?", "Fine, thanks.", "Be brief.", "2+2?", "4", "one", "two", "three", "four"} {
		wantTokens += c.CountString(s)
	}
	got := rep.Stats
	checks := []struct {
		name      string
		got, want any
	}{
		{"conversations", got.Conversations, 4},
		{"train_conversations", got.TrainConversations, 2},
		{"validation_conversations", got.ValidationConversations, 2},
		{"total_turns", got.TotalTurns, int64(11)},
		{"total_training_pairs", got.TotalTrainingPairs, int64(3)},
		{"total_validation_pairs", got.TotalValidationPairs, int64(2)},
		{"total_tokens", got.TotalTokens, int64(wantTokens)},
		{"tokens_exact", got.TokensExact, true},
		{"token_method", got.TokenMethod, TokenMethodExact},
		{"avg_turns_per_conversation", got.AvgTurnsPerConversation, 11.0 / 4},
		{"avg_tokens_per_turn", got.AvgTokensPerTurn, float64(wantTokens) / 11},
		{"format", rep.Format, FormatLoRAv4},
		{"lines_invalid", rep.LinesInvalid, 1},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	var splits []string
	for _, s := range rep.SampleData {
		splits = append(splits, s.ConversationID+":"+string(s.Split))
	}
	wantSplits := []string{"t1:train", "v1:validation", hashedTrain + ":train"}
	if !slices.Equal(splits, wantSplits) {
		t.Errorf("sample splits = %q, want %q", splits, wantSplits)
	}
}

func TestSplitOfIsStable(t *testing.T) {
	// These values are in docs/dataset-formats.md; changing the hash would
	// move conversations between splits on re-upload.
	for id, want := range map[string]Split{"conv-0001": SplitTrain, "conv-0002": SplitValidation, "conv-0016": SplitValidation, "conv-0003": SplitTrain, "line-1": SplitTrain} {
		if got := splitOf([]byte(id), 10); got != want {
			t.Errorf("splitOf(%q) = %s, want %s (FNV-1a-64 %% 100 = %d)", id, got, want, fnv1a([]byte(id))%100)
		}
	}
}

func TestNormalizationOfEveryFormat(t *testing.T) {
	want := []Turn{{RoleUser, "Hi"}, {RoleAssistant, "Hello!"}}
	for _, tc := range []struct {
		line   string
		format Format
		id     string
	}{
		{okV4, FormatLoRAv4, "c1"},
		{okV3, FormatLoRAv3, "c3"},
		{okOpenAI, FormatOpenAIChat, "line-2"},
		{okShareGPT, FormatShareGPT, "line-2"},
		{`{"conversations":[{"from":"user","value":"Hi"},{"from":"assistant","value":"Hello!"}]}`, FormatShareGPT, "line-2"},
	} {
		rep := validate(t, "\n"+tc.line+"\n", Options{})
		if rep.Format != tc.format || len(rep.SampleData) != 1 {
			t.Fatalf("%s: format %q with %d samples, want %q with 1", tc.line, rep.Format, len(rep.SampleData), tc.format)
		}
		s := rep.SampleData[0]
		if s.ConversationID != tc.id || s.Line != 2 || !slices.Equal(s.Turns, want) {
			t.Errorf("%s: normalised to %+v, want id %q, line 2, turns %+v", tc.line, s, tc.id, want)
		}
	}
}

func TestSampleTruncation(t *testing.T) {
	content := strings.Repeat("é", 2500)
	rep := validate(t, v4("a", "user:"+content, "assistant:ok")+"\n"+okV4b+"\n"+okV4+"\n"+v4("d", "user:x", "assistant:y"), Options{})
	if len(rep.SampleData) != DefaultSampleSize {
		t.Fatalf("got %d samples, want %d", len(rep.SampleData), DefaultSampleSize)
	}
	got := rep.SampleData[0].Turns[0].Content
	want := strings.Repeat("é", DefaultSampleMaxChars) + TruncationMarker
	if got != want {
		t.Errorf("truncated content has %d runes ending %q, want %d runes ending %q",
			utf8.RuneCountInString(got), got[len(got)-20:], utf8.RuneCountInString(want), want[len(want)-20:])
	}
}

func TestOnConversationGetsFullContent(t *testing.T) {
	content := strings.Repeat("x", 3000)
	var got []Conversation
	opts := Options{OnConversation: func(c Conversation) error { got = append(got, c); return nil }}
	validate(t, v4("a", "user:"+content, "assistant:ok")+"\n"+v4("b", "user:hi"), opts)
	if len(got) != 1 || got[0].Turns[0].Content != content || got[0].Tokens == 0 {
		t.Errorf("OnConversation got %d conversations (first content %d bytes), want 1 with the full 3000 bytes and tokens", len(got), len(got[0].Turns[0].Content))
	}
}

func TestReportJSONIsSnakeCase(t *testing.T) {
	rep := validate(t, okV4+"\n"+`{"x":1}`, Options{})
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"valid", "format", "sha256", "lines_total", "lines_valid", "lines_invalid", "error_count", "warning_count", "counts_by_code", "issues", "stats", "sample_data"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report JSON has no %q key: %s", k, b)
		}
	}
	stats := m["stats"].(map[string]any)
	for _, k := range []string{"total_training_pairs", "total_validation_pairs", "total_tokens", "tokens_per_conversation", "avg_turns_per_conversation", "avg_tokens_per_turn"} {
		if _, ok := stats[k]; !ok {
			t.Errorf("stats JSON has no %q key", k)
		}
	}
	issue := m["issues"].([]any)[0].(map[string]any)
	for _, k := range []string{"line", "path", "code", "message", "suggestion", "severity"} {
		if _, ok := issue[k]; !ok {
			t.Errorf("issue JSON has no %q key", k)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for v := 1; v <= 100; v++ {
		h.add(uint32(v))
	}
	if p50, p95, mx := h.quantile(0.5), h.quantile(0.95), h.max; p50 != 50 || p95 != 95 || mx != 100 {
		t.Errorf("1..100: p50, p95, max = %d, %d, %d, want 50, 95, 100", p50, p95, mx)
	}
	// Above 4096 a quantile may round up, by less than 1/2048.
	r := rand.New(rand.NewPCG(1, 1))
	var big histogram
	var vals []uint32
	for range 10000 {
		v := uint32(r.Int64N(1 << 31))
		vals = append(vals, v)
		big.add(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.95, 0.999, 1} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := big.quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/2048 {
			t.Errorf("quantile(%v) = %d, exact %d: want within +%d", q, got, exact, exact/2048)
		}
	}
	for _, v := range []uint32{0, 1, 4095, 4096, 4097, 8191, 8192, 1<<31 + 12345, 1<<32 - 1} {
		b := bucketOf(v)
		if bucketMax(b) < v || (b > 0 && bucketMax(b-1) >= v) || b >= numBuckets {
			t.Errorf("value %d in bucket %d with max %d (previous max %d)", v, b, bucketMax(b), bucketMax(b-1))
		}
	}
}

func TestIDSet(t *testing.T) {
	var s idSet
	for i := range 5000 {
		if s.add([]byte(fmt.Sprint("id-", i))) {
			t.Fatalf("id-%d reported as a duplicate on first sight", i)
		}
	}
	for i := range 5000 {
		if !s.add([]byte(fmt.Sprint("id-", i))) {
			t.Fatalf("id-%d not reported as a duplicate", i)
		}
	}
	if s.n != 5000 || len(s.slots) != 8192 {
		t.Errorf("n, slots = %d, %d, want 5000, 8192", s.n, len(s.slots))
	}
}

func mustCounter(t *testing.T) *bpe.Counter {
	t.Helper()
	enc, err := bpe.Cl100kBase()
	if err != nil {
		t.Fatal(err)
	}
	return enc.NewCounter()
}
