package dataset

import (
	"bytes"
	"context"
	"testing"
)

// FuzzValidate: Validate never panics, and every non-blank line is either
// valid (handed to OnConversation) or has at least one error, never both.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{
		okV4 + "\n" + okV4b + "\n",
		okV3 + "\r\n\r\n" + okV3,
		okOpenAI + "\n" + okShareGPT,
		"\xEF\xBB\xBF" + okV4 + "\n\xff\n",
		`{"conversation_id":"a","turns":[{"role":"user","content":"\ud83d\ude00"},{"role":"assistant"}]}`,
		"[1]\n{\"a\":\n   \n",
	} {
		f.Add([]byte(s))
	}
	const maxLine = 512
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := map[int]bool{}
		opts := Options{
			MaxLineBytes:     maxLine,
			MaxIssues:        1 << 20, // keep every issue
			MaxTokens:        64,
			MinConversations: 2,
			OnConversation: func(c Conversation) error {
				valid[c.Line] = true
				return nil
			},
		}
		rep, err := Validate(context.Background(), bytes.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		errorsOn := map[int]int{}
		for _, is := range rep.Issues {
			if is.Severity == SeverityError {
				errorsOn[is.Line]++
			}
		}
		nonBlank := 0
		for i, line := range splitLines(data) {
			n := i + 1
			if len(line) <= maxLine && isBlank(line) {
				if valid[n] || errorsOn[n] > 0 {
					t.Fatalf("blank line %d %q reported as valid=%v with %d errors", n, line, valid[n], errorsOn[n])
				}
				continue
			}
			nonBlank++
			if valid[n] == (errorsOn[n] > 0) {
				t.Fatalf("line %d %q: valid=%v with %d errors, want exactly one of the two", n, line, valid[n], errorsOn[n])
			}
		}
		if rep.LinesValid+rep.LinesInvalid != nonBlank || rep.LinesValid != len(valid) {
			t.Fatalf("lines valid+invalid = %d+%d, want %d non-blank (%d valid)", rep.LinesValid, rep.LinesInvalid, nonBlank, len(valid))
		}
		total := 0
		for _, n := range rep.CountsByCode {
			total += n
		}
		if total != rep.ErrorCount+rep.WarningCount || rep.Valid != (rep.ErrorCount == 0) {
			t.Fatalf("counts by code sum to %d, errors+warnings = %d+%d, valid = %v", total, rep.ErrorCount, rep.WarningCount, rep.Valid)
		}
	})
}

// splitLines splits like the validator: on '\n', with no empty last line
// after a trailing newline.
func splitLines(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}
