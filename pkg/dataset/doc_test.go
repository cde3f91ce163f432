package dataset

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDocExamples runs every example of docs/dataset-formats.md's "Issue
// codes" section and checks it produces its code, and that every code has
// an example.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/dataset-formats.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	start := strings.Index(section, "\n## Issue codes")
	end := strings.Index(section, "\n## Statistics")
	if start < 0 || end < start {
		t.Fatal(`docs/dataset-formats.md lost its "Issue codes" or "Statistics" heading`)
	}
	section = section[start:end]
	example := regexp.MustCompile("(?s)\n### ([A-Z0-9_]+)\n(.*?)```jsonl\n(.*?)```")
	options := regexp.MustCompile(`<!-- options: (\{.*?\}) -->`)
	rawByte := regexp.MustCompile(`\\x[0-9A-Fa-f]{2}`)
	seen := map[Code]bool{}
	for _, m := range example.FindAllStringSubmatch(section, -1) {
		code, prose, input := Code(m[1]), m[2], m[3]
		seen[code] = true
		opts := Options{MinConversations: -1}
		if o := options.FindStringSubmatch(prose); o != nil {
			if err := json.Unmarshal([]byte(o[1]), &opts); err != nil {
				t.Fatalf("%s: options %s: %v", code, o[1], err)
			}
		}
		input = rawByte.ReplaceAllStringFunc(input, func(h string) string {
			b, _ := strconv.ParseUint(h[2:], 16, 8)
			return string([]byte{byte(b)})
		})
		rep, err := Validate(context.Background(), strings.NewReader(input), opts)
		if err != nil {
			t.Fatalf("%s: Validate() error = %v", code, err)
		}
		if rep.CountsByCode[code] == 0 {
			t.Errorf("%s: the example gives %v, want %s", code, rep.CountsByCode, code)
		}
		if !strings.HasPrefix(strings.TrimSpace(prose), string(SeverityOf(code))) {
			t.Errorf("%s: the text should start with its severity %q", code, SeverityOf(code))
		}
	}
	for _, c := range Codes() {
		if !seen[c] {
			t.Errorf("docs/dataset-formats.md has no example for %s", c)
		}
	}
}
